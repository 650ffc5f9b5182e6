/**
 * The app's settings over an injected key-value store (electron-store in the app, `conf` in tests):
 * the local websocket listener (off by default, loopback only), its capability token (generated on
 * first use), the editor command that opens a file at a line (editorCommand.ts), and the OAuth
 * settings, kept opaque here and parsed by `auth/settings.ts`.
 *
 * It must never write an invalid or half-merged section: `update` validates the whole result first
 * and throws a `SettingsError` naming the field. It must never let a hand-edited file brick the app:
 * a stored value that does not validate is replaced by its default, with one warning naming the
 * field. It never logs the capability token.
 */
import { randomBytes } from 'node:crypto'
import * as z from 'zod/mini'
import type { WebSocketListenerSettings } from '../worker/protocol/control'
import { Emitter, type Disposable, type Event } from '../worker/util/event'
import { editorCommandProblem } from './editorCommand'

/** electron-store / conf's shape. `onDidChange` (both have it) lets changes made elsewhere show up. */
export interface SettingsStore {
  get(key: string): unknown
  set(key: string, value: unknown): void
  onDidChange?(key: string, callback: (newValue: unknown, oldValue: unknown) => void): () => void
}

export interface WebSocketListenerConfig {
  /** Off by default: nothing outside the app can reach the core until the user turns it on. */
  enabled: boolean
  /**
   * The loopback port. 0 (the default) asks the OS for a free port at every start, so the URL can
   * change between runs; set a fixed port for a tool that needs a stable address.
   */
  port: number
  /** Exact origins (`http://localhost:5173`) whose web pages may connect; none by default. */
  allowedOrigins: string[]
}

export interface AppSettings {
  webSocketListener: WebSocketListenerConfig
  /** 32 random bytes, base64url: what a websocket client must present. */
  capabilityToken: string
  /**
   * Opens a file at a line: `code --goto {path}:{line}:{column}`, split into arguments and run
   * without a shell. Empty (the default): the OS default app.
   */
  editorCommand: string
  /** Opaque here; `auth/settings.ts` parses it (an empty object means its defaults). */
  oauth: Record<string, unknown>
}

export interface SettingsPatch {
  webSocketListener?: Partial<WebSocketListenerConfig>
  editorCommand?: string
  oauth?: Record<string, unknown>
}

export interface SettingsLog {
  warn(fields: object, message: string): void
}

/** An update that was refused; `field` is the dotted path of the first bad value. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError'
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message)
  }
}

/** No dots: electron-store and conf read dots in keys as nesting. */
export const SETTINGS_KEYS = {
  webSocketListener: 'webSocketListener',
  capabilityToken: 'capabilityToken',
  editorCommand: 'editorCommand',
  oauth: 'oauth',
} as const

/** Longer than any real command line; a bound so a pasted file cannot bloat the settings. */
const EDITOR_COMMAND_MAX_LENGTH = 4096

export const DEFAULT_WEBSOCKET_LISTENER: Readonly<WebSocketListenerConfig> = Object.freeze({
  enabled: false,
  port: 0,
  allowedOrigins: [],
})

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value
  } catch {
    return false
  }
}

const PORT_MESSAGE = 'must be an integer from 0 to 65535 (0 picks a free port)'

const LISTENER_FIELDS = {
  enabled: z.boolean({ error: 'must be true or false' }),
  port: z
    .int({ error: PORT_MESSAGE })
    .check(z.gte(0, { error: PORT_MESSAGE }), z.lte(65535, { error: PORT_MESSAGE })),
  allowedOrigins: z.array(
    z
      .string({ error: 'must be a string' })
      .check(
        z.refine(isOrigin, 'must be an origin such as http://localhost:5173 (no path, no trailing slash)'),
      ),
    { error: 'must be a list of origins' },
  ),
} satisfies { [K in keyof WebSocketListenerConfig]: z.ZodMiniType<WebSocketListenerConfig[K]> }

const TokenSchema = z.string().check(z.regex(/^[A-Za-z0-9_-]{43}$/))
const OAuthSchema = z.record(z.string(), z.unknown(), { error: 'must be an object' })

interface Problem {
  field: string
  message: string
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Field by field, so one bad field costs only itself; missing fields take their defaults quietly. */
function parseListener(raw: unknown): { value: WebSocketListenerConfig; problems: Problem[] } {
  const section = SETTINGS_KEYS.webSocketListener
  const value: WebSocketListenerConfig = { ...DEFAULT_WEBSOCKET_LISTENER, allowedOrigins: [] }
  if (raw === undefined) return { value, problems: [] }
  if (!isPlainObject(raw)) return { value, problems: [{ field: section, message: 'must be an object' }] }
  const problems: Problem[] = []
  for (const key of Object.keys(raw)) {
    if (!(key in LISTENER_FIELDS)) problems.push({ field: `${section}.${key}`, message: 'is not a setting' })
  }
  for (const key of Object.keys(LISTENER_FIELDS) as (keyof WebSocketListenerConfig)[]) {
    if (raw[key] === undefined) continue
    const result = LISTENER_FIELDS[key].safeParse(raw[key])
    if (result.success) (value as unknown as Record<string, unknown>)[key] = result.data
    else {
      const issue = result.error.issues[0]
      const path = [section, key, ...(issue?.path ?? [])].join('.')
      problems.push({ field: path, message: issue?.message ?? 'is invalid' })
    }
  }
  return { value, problems }
}

/** Why `raw` is not a usable editor command (a phrase after the field name), or null. */
function editorCommandIssue(raw: unknown): string | null {
  if (typeof raw !== 'string') return 'must be a string'
  if (raw.length > EDITOR_COMMAND_MAX_LENGTH) {
    return `must be at most ${EDITOR_COMMAND_MAX_LENGTH} characters`
  }
  return editorCommandProblem(raw)
}

function describeProblems(problems: Problem[]): string {
  return problems.map((p) => `${p.field} ${p.message}`).join('; ')
}

export function generateCapabilityToken(): string {
  return randomBytes(32).toString('base64url')
}

export interface SettingsOptions {
  store: SettingsStore
  log?: SettingsLog
  generateToken?: () => string
}

export class Settings implements Disposable {
  private readonly store: SettingsStore
  private readonly log: SettingsLog
  private readonly generateToken: () => string
  private readonly changeEmitter = new Emitter<{ settings: AppSettings; previous: AppSettings }>()
  private readonly unsubscribes: (() => void)[] = []
  private readonly warned = new Set<string>()
  private last: AppSettings
  private writing = false

  /** Fires after any change, ours or the store's, with the new and the previous settings. */
  readonly onDidChange: Event<{ settings: AppSettings; previous: AppSettings }> = this.changeEmitter.event

  constructor(options: SettingsOptions) {
    this.store = options.store
    this.log = options.log ?? {
      warn: (fields, message) => console.warn(`codex-desk: ${message}`, fields),
    }
    this.generateToken = options.generateToken ?? generateCapabilityToken
    this.last = this.read()
    const onDidChange = this.store.onDidChange?.bind(this.store)
    if (onDidChange) {
      for (const key of Object.values(SETTINGS_KEYS)) {
        this.unsubscribes.push(onDidChange(key, () => this.refresh()))
      }
    }
  }

  /** The current settings, defaults filled in; repairs a bad stored value (with a warning). */
  get(): AppSettings {
    return this.read()
  }

  /**
   * Merges `patch` (one level deep for `webSocketListener`; `oauth` is replaced whole), validates
   * the result, and only then writes. Throws a SettingsError naming the field and writes nothing
   * when anything is invalid.
   */
  update(patch: SettingsPatch): AppSettings {
    if (!isPlainObject(patch))
      throw new SettingsError('settings', 'Invalid settings: the update must be an object')
    for (const key of Object.keys(patch)) {
      if (key === SETTINGS_KEYS.capabilityToken) {
        throw new SettingsError(
          key,
          'Invalid setting capabilityToken: it cannot be set; regenerate it instead',
        )
      }
      if (
        key !== SETTINGS_KEYS.webSocketListener &&
        key !== SETTINGS_KEYS.oauth &&
        key !== SETTINGS_KEYS.editorCommand
      ) {
        throw new SettingsError(key, `Invalid setting ${key}: is not a setting`)
      }
    }
    const current = this.read()
    const writes: [string, unknown][] = []
    if (patch.webSocketListener !== undefined) {
      if (!isPlainObject(patch.webSocketListener)) {
        throw new SettingsError('webSocketListener', 'Invalid setting webSocketListener: must be an object')
      }
      const merged = { ...current.webSocketListener, ...patch.webSocketListener }
      const { value, problems } = parseListener(merged)
      const first = problems[0]
      if (first) throw new SettingsError(first.field, `Invalid setting ${describeProblems(problems)}`)
      writes.push([SETTINGS_KEYS.webSocketListener, value])
    }
    if (patch.editorCommand !== undefined) {
      const issue = editorCommandIssue(patch.editorCommand)
      if (issue) {
        throw new SettingsError(SETTINGS_KEYS.editorCommand, `Invalid setting editorCommand: ${issue}`)
      }
      writes.push([SETTINGS_KEYS.editorCommand, (patch.editorCommand as string).trim()])
    }
    if (patch.oauth !== undefined) {
      const result = OAuthSchema.safeParse(patch.oauth)
      if (!result.success) throw new SettingsError('oauth', 'Invalid setting oauth: must be an object')
      let stored: unknown
      try {
        // A JSON round trip: what the store keeps is what a later read returns.
        stored = JSON.parse(JSON.stringify(result.data))
      } catch {
        throw new SettingsError('oauth', 'Invalid setting oauth: must be plain JSON data')
      }
      writes.push([SETTINGS_KEYS.oauth, stored])
    }
    this.write(writes)
    return this.refresh()
  }

  /** A new capability token; clients holding the old one are refused from the next connection on. */
  regenerateToken(): string {
    const token = this.generateToken()
    this.write([[SETTINGS_KEYS.capabilityToken, token]])
    return this.refresh().capabilityToken
  }

  dispose(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe()
    this.changeEmitter.dispose()
  }

  private read(): AppSettings {
    const repairs: [string, unknown][] = []

    const listener = parseListener(this.readKey(SETTINGS_KEYS.webSocketListener))
    if (listener.problems.length > 0) {
      this.warnOnce(
        listener.problems.map((p) => p.field),
        `settings: ${describeProblems(listener.problems)}; using the default instead`,
      )
      repairs.push([SETTINGS_KEYS.webSocketListener, listener.value])
    }

    const rawToken = this.readKey(SETTINGS_KEYS.capabilityToken)
    let capabilityToken: string
    if (TokenSchema.safeParse(rawToken).success) capabilityToken = rawToken as string
    else {
      if (rawToken !== undefined) {
        this.warnOnce(
          [SETTINGS_KEYS.capabilityToken],
          'settings: the capability token was malformed; made a new one',
        )
      }
      capabilityToken = this.generateToken()
      repairs.push([SETTINGS_KEYS.capabilityToken, capabilityToken])
    }

    const rawEditor = this.readKey(SETTINGS_KEYS.editorCommand)
    let editorCommand = ''
    if (rawEditor !== undefined) {
      const issue = editorCommandIssue(rawEditor)
      if (issue === null) editorCommand = (rawEditor as string).trim()
      else {
        this.warnOnce(
          [SETTINGS_KEYS.editorCommand],
          `settings: editorCommand ${issue}; using the OS default app instead`,
        )
        repairs.push([SETTINGS_KEYS.editorCommand, editorCommand])
      }
    }

    const rawOAuth = this.readKey(SETTINGS_KEYS.oauth)
    let oauth: Record<string, unknown> = {}
    if (rawOAuth !== undefined) {
      const result = OAuthSchema.safeParse(rawOAuth)
      if (result.success) oauth = result.data
      else {
        this.warnOnce([SETTINGS_KEYS.oauth], 'settings: oauth must be an object; using the default instead')
        repairs.push([SETTINGS_KEYS.oauth, oauth])
      }
    }

    if (repairs.length > 0) {
      try {
        this.write(repairs)
      } catch (error) {
        // A read-only or broken file: the defaults still apply for this run.
        this.warnOnce(['write'], `settings: could not save repaired settings (${(error as Error).message})`)
      }
    }
    return { webSocketListener: listener.value, capabilityToken, editorCommand, oauth }
  }

  private readKey(key: string): unknown {
    try {
      return this.store.get(key)
    } catch (error) {
      this.warnOnce(
        ['read'],
        `settings: could not read the settings (${(error as Error).message}); using defaults`,
      )
      return undefined
    }
  }

  private write(writes: [string, unknown][]): void {
    // The store's own change events would fire between two writes; one refresh afterwards instead.
    const wasWriting = this.writing
    this.writing = true
    try {
      for (const [key, value] of writes) this.store.set(key, value)
    } finally {
      this.writing = wasWriting
    }
  }

  private refresh(): AppSettings {
    const settings = this.read()
    if (this.writing) return settings
    const previous = this.last
    if (JSON.stringify(settings) !== JSON.stringify(previous)) {
      this.last = settings
      this.changeEmitter.fire({ settings, previous })
    }
    return settings
  }

  private warnOnce(fields: string[], message: string): void {
    const key = `${fields.join(',')}:${message}`
    if (this.warned.has(key)) return
    this.warned.add(key)
    this.log.warn({ fields }, message)
  }
}

/** What the core's `startWebSocketListener` takes: always loopback, always with the token. */
export function webSocketListenerSettings(settings: AppSettings): WebSocketListenerSettings {
  return {
    host: '127.0.0.1',
    port: settings.webSocketListener.port,
    allowedOrigins: [...settings.webSocketListener.allowedOrigins],
    capabilityToken: settings.capabilityToken,
  }
}
