/**
 * The ChatGPT sign-in at rest: one key in the app's key-value store (electron-store in the app, any
 * `conf`-shaped store in tests) holding base64 of the cipher's encryption (Electron's safeStorage in
 * the app) of the tokens as JSON. No electron import: both are injected.
 *
 * It must never write a token in plain text: when the cipher is unavailable (or is Electron's
 * Linux `basic_text` fallback, a fixed key) `save` throws EncryptionUnavailableError and writes
 * nothing. It must never log a token: a stored value that does not decrypt or parse is dropped with
 * a warning that names only what went wrong.
 */
import * as z from 'zod/mini'

/** Electron safeStorage's synchronous shape. */
export interface Cipher {
  isEncryptionAvailable(): boolean
  encryptString(plain: string): Buffer
  decryptString(data: Buffer): string
  /**
   * Electron's Linux backend name. `basic_text` means a hard-coded key, which is plain text with
   * extra steps, so it counts as unavailable. Optional: other ciphers (and other platforms) omit it.
   */
  getSelectedStorageBackend?(): string
}

/** electron-store / conf's shape. */
export interface KeyValueStore {
  get(key: string): unknown
  set(key: string, value: unknown): void
  delete(key: string): void
}

export interface StoredTokens {
  accessToken: string
  refreshToken: string
  idToken: string | null
  accountId: string
  planType: string | null
  email: string | null
  userId: string | null
  /** ms since the epoch. */
  savedAt: number
}

export interface TokenStoreLog {
  warn(obj: object, msg: string): void
}

/** No dots: conf and electron-store read dots in keys as nesting. */
export const TOKEN_STORE_KEY = 'chatgptSignIn'

/** The envelope inside the ciphertext; `v` lets a later format migrate instead of guessing. */
const FORMAT_VERSION = 1

const StoredTokensSchema = z.object({
  accessToken: z.string().check(z.minLength(1)),
  refreshToken: z.string().check(z.minLength(1)),
  idToken: z.nullable(z.string()),
  accountId: z.string().check(z.minLength(1)),
  planType: z.nullable(z.string()),
  email: z.nullable(z.string()),
  userId: z.nullable(z.string()),
  savedAt: z.number(),
})

const Envelope = z.object({ v: z.literal(FORMAT_VERSION), tokens: StoredTokensSchema })

/** The sign-in cannot be kept on disk on this computer; the message is for the user. */
export class EncryptionUnavailableError extends Error {
  readonly code = 'ENCRYPTION_UNAVAILABLE'
  constructor(message: string) {
    super(message)
    this.name = 'EncryptionUnavailableError'
  }
}

const UNAVAILABLE_MESSAGE =
  'Your ChatGPT sign-in cannot be saved securely on this computer because no system keychain is available'

export class TokenStore {
  private readonly log: TokenStoreLog

  constructor(
    private readonly kv: KeyValueStore,
    private readonly cipher: Cipher,
    log?: TokenStoreLog,
  ) {
    this.log = log ?? { warn: (obj, msg) => console.warn(msg, obj) }
  }

  /** Throws EncryptionUnavailableError with the reason when the cipher cannot be trusted. */
  private assertAvailable(): void {
    if (!this.cipher.isEncryptionAvailable()) throw new EncryptionUnavailableError(`${UNAVAILABLE_MESSAGE}.`)
    let backend: string | undefined
    try {
      backend = this.cipher.getSelectedStorageBackend?.()
    } catch {
      backend = undefined // not on this platform
    }
    if (backend === 'basic_text') {
      throw new EncryptionUnavailableError(
        `${UNAVAILABLE_MESSAGE} (Electron fell back to its built-in key; install or unlock GNOME Keyring or KWallet).`,
      )
    }
  }

  /** Whether `save` would succeed right now. */
  get encryptionAvailable(): boolean {
    try {
      this.assertAvailable()
      return true
    } catch {
      return false
    }
  }

  /**
   * The saved sign-in, or null. A value that does not decrypt or is not a sign-in is cleared (it
   * can never become readable again). Throws EncryptionUnavailableError when a value exists but the
   * cipher is unavailable right now: that value may well be readable next time, so it is kept.
   */
  load(): StoredTokens | null {
    const raw = this.kv.get(TOKEN_STORE_KEY)
    if (raw === undefined || raw === null) return null
    if (typeof raw !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(raw)) {
      return this.drop('the saved sign-in is not in the expected format')
    }
    this.assertAvailable()
    let plain: string
    try {
      plain = this.cipher.decryptString(Buffer.from(raw, 'base64'))
    } catch {
      return this.drop('the saved sign-in could not be decrypted')
    }
    let value: unknown
    try {
      value = JSON.parse(plain)
    } catch {
      return this.drop('the saved sign-in is not valid JSON') // never quote it: it is the tokens
    }
    const parsed = Envelope.safeParse(value)
    if (!parsed.success) return this.drop('the saved sign-in is missing fields')
    return parsed.data.tokens
  }

  /** Throws EncryptionUnavailableError (and writes nothing) when the cipher is unavailable. */
  save(tokens: StoredTokens): void {
    this.assertAvailable()
    const checked = StoredTokensSchema.safeParse(tokens)
    if (!checked.success) {
      const field = checked.error.issues[0]?.path.map(String).join('.') ?? 'tokens'
      throw new Error(`refusing to save an incomplete sign-in (${field})`) // names the field, never the value
    }
    const plain = JSON.stringify({ v: FORMAT_VERSION, tokens: checked.data })
    this.kv.set(TOKEN_STORE_KEY, this.cipher.encryptString(plain).toString('base64'))
  }

  clear(): void {
    this.kv.delete(TOKEN_STORE_KEY)
  }

  private drop(reason: string): null {
    this.log.warn({ key: TOKEN_STORE_KEY, reason }, 'dropped an unreadable saved sign-in; signed out')
    this.clear()
    return null
  }
}
