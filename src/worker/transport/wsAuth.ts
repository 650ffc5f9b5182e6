/**
 * Websocket listener authentication, matching codex app-server 0.169.0: validates the `--ws-*` flags,
 * loads the capability-token digest or the signed-bearer shared secret, and checks the bearer token
 * of one HTTP upgrade, answering with codex's exact 401 bodies. It must never log, echo or put a
 * presented token, the token file's contents or the shared secret into any message.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { constants as osConstants, homedir } from 'node:os'
import path from 'node:path'
import type * as JoseModule from 'jose'

export type WsAuthMode = 'capability-token' | 'signed-bearer-token'

/** Raw CLI options as parsed from argv (all optional). */
export interface WsAuthOptions {
  wsAuth?: string // --ws-auth
  wsTokenFile?: string // --ws-token-file ABS_PATH
  wsTokenSha256?: string // --ws-token-sha256 HEX (64 hex chars)
  wsSharedSecretFile?: string // --ws-shared-secret-file ABS_PATH
  wsIssuer?: string // --ws-issuer
  wsAudience?: string // --ws-audience
  wsMaxClockSkewSeconds?: string // --ws-max-clock-skew-seconds (default 30)
}

export type WsAuthConfig =
  | { mode: 'none' }
  | { mode: 'capability-token'; tokenSha256: Buffer }
  | {
      mode: 'signed-bearer-token'
      secret: Uint8Array
      issuer?: string
      audience?: string
      maxClockSkewSeconds: number
    }

/** Thrown for misused flags or unreadable/invalid files; message is user-facing (the CLI prints it and exits 2). */
export class WsAuthConfigError extends Error {
  override name = 'WsAuthConfigError'
}

export type WsAuthResult = { ok: true } | { ok: false; status: 401; body: string }

export const WS_PROTOCOL = 'codex-desk'
export const WS_BEARER_PROTOCOL_PREFIX = 'codex-desk.bearer.'

const WS_AUTH_MODES: readonly WsAuthMode[] = ['capability-token', 'signed-bearer-token']
const DEFAULT_MAX_CLOCK_SKEW_SECONDS = 30
const MIN_SIGNED_BEARER_SECRET_BYTES = 32
const I64_MAX = (1n << 63n) - 1n
const U64_MAX = (1n << 64n) - 1n

/** The 401 bodies, verbatim from codex `transport/auth.rs`. */
export const WsAuthMessage = {
  missingToken: 'missing websocket bearer token',
  invalidHeader: 'invalid authorization header',
  invalidToken: 'invalid websocket bearer token',
  invalidJwt: 'invalid websocket jwt',
  expiredJwt: 'expired websocket jwt',
  jwtNotValidYet: 'websocket jwt is not valid yet',
  issuerMismatch: 'websocket jwt issuer mismatch',
  audienceMismatch: 'websocket jwt audience mismatch',
} as const

const SIGNED_ONLY_FLAGS_MESSAGE =
  '`--ws-shared-secret-file`, `--ws-issuer`, `--ws-audience`, and `--ws-max-clock-skew-seconds` require `--ws-auth signed-bearer-token`'

// Rust's `str::trim` strips Unicode White_Space, which differs from JS `trim` (JS also strips U+FEFF and
// keeps U+0085). Token files are compared byte for byte against what codex would have hashed.
const RUST_WHITESPACE =
  '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
const RUST_TRIM = new RegExp(`^[${RUST_WHITESPACE}]+|[${RUST_WHITESPACE}]+$`, 'g')
function rustTrim(value: string): string {
  return value.replace(RUST_TRIM, '')
}

function fail(message: string): never {
  throw new WsAuthConfigError(message)
}

/** Validates flag combinations exactly as codex's `try_into_settings`, then reads files as `policy_from_settings`. */
export async function loadWsAuthConfig(opts: WsAuthOptions): Promise<WsAuthConfig> {
  // clap rejects bad values before codex's own checks run, so these come first.
  const mode = parseMode(opts.wsAuth)
  const skew = opts.wsMaxClockSkewSeconds === undefined ? undefined : parseU64(opts.wsMaxClockSkewSeconds)
  const signedOnlyFlagSet =
    opts.wsSharedSecretFile !== undefined ||
    opts.wsIssuer !== undefined ||
    opts.wsAudience !== undefined ||
    opts.wsMaxClockSkewSeconds !== undefined

  if (mode === undefined) {
    if (opts.wsTokenFile !== undefined || opts.wsTokenSha256 !== undefined || signedOnlyFlagSet) {
      fail('websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`')
    }
    return { mode: 'none' }
  }

  if (mode === 'capability-token') {
    if (signedOnlyFlagSet) fail(SIGNED_ONLY_FLAGS_MESSAGE)
    if (opts.wsTokenFile !== undefined && opts.wsTokenSha256 !== undefined) {
      fail('`--ws-token-file` and `--ws-token-sha256` are mutually exclusive')
    }
    if (opts.wsTokenFile !== undefined) {
      const tokenFile = absolutePathArg('--ws-token-file', opts.wsTokenFile)
      const token = await readTrimmedSecret(tokenFile)
      return { mode, tokenSha256: sha256(Buffer.from(token, 'utf8')) }
    }
    if (opts.wsTokenSha256 !== undefined) {
      return { mode, tokenSha256: sha256DigestArg('--ws-token-sha256', opts.wsTokenSha256) }
    }
    fail('`--ws-token-file` or `--ws-token-sha256` is required when `--ws-auth capability-token` is set')
  }

  if (opts.wsTokenFile !== undefined || opts.wsTokenSha256 !== undefined) {
    fail(
      '`--ws-token-file` and `--ws-token-sha256` require `--ws-auth capability-token`, not `signed-bearer-token`',
    )
  }
  if (opts.wsSharedSecretFile === undefined) {
    fail('`--ws-shared-secret-file` is required when `--ws-auth signed-bearer-token` is set')
  }
  const secretFile = absolutePathArg('--ws-shared-secret-file', opts.wsSharedSecretFile)
  const issuer = normalizeClaimArg(opts.wsIssuer)
  const audience = normalizeClaimArg(opts.wsAudience)
  const secret = Buffer.from(await readTrimmedSecret(secretFile), 'utf8')
  if (secret.length < MIN_SIGNED_BEARER_SECRET_BYTES) {
    fail(
      `signed websocket bearer secret ${secretFile} must be at least ${MIN_SIGNED_BEARER_SECRET_BYTES} bytes`,
    )
  }
  const skewSeconds = skew ?? BigInt(DEFAULT_MAX_CLOCK_SKEW_SECONDS)
  if (skewSeconds > I64_MAX) fail('websocket auth clock skew must fit in a signed 64-bit integer')
  return {
    mode,
    secret: new Uint8Array(secret),
    ...(issuer !== undefined && { issuer }),
    ...(audience !== undefined && { audience }),
    maxClockSkewSeconds: Number(skewSeconds),
  }
}

// clap's own wording for a bad `ValueEnum` value; codex never sees the argument.
function parseMode(value: string | undefined): WsAuthMode | undefined {
  if (value === undefined) return undefined
  const possible = `  [possible values: ${WS_AUTH_MODES.join(', ')}]`
  if (value === '') fail(`a value is required for '--ws-auth <MODE>' but none was supplied\n${possible}`)
  const mode = WS_AUTH_MODES.find((m) => m === value)
  if (mode === undefined) fail(`invalid value '${value}' for '--ws-auth <MODE>'\n${possible}`)
  return mode
}

// clap parses the flag as `u64` with Rust's `u64::from_str`, which takes an optional `+` and nothing else.
function parseU64(value: string): bigint {
  const invalid = (reason: string): never =>
    fail(`invalid value '${value}' for '--ws-max-clock-skew-seconds <SECONDS>': ${reason}`)
  if (value === '') invalid('cannot parse integer from empty string')
  const digits = value.startsWith('+') ? value.slice(1) : value
  if (!/^[0-9]+$/.test(digits)) invalid('invalid digit found in string')
  const parsed = BigInt(digits)
  if (parsed > U64_MAX) invalid('number too large to fit in target type')
  return parsed
}

function normalizeClaimArg(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const trimmed = rustTrim(value)
  return trimmed === '' ? undefined : trimmed
}

// Mirrors codex's `AbsolutePathBuf::from_absolute_path`: `~` and `~/…` expand to the home directory,
// anything else relative is refused, and the result is normalized lexically (no symlink resolution).
function absolutePathArg(flag: string, raw: string): string {
  let expanded = raw
  if (raw === '~') expanded = homedir()
  else if (raw.startsWith('~/')) expanded = path.join(homedir(), raw.slice(2).replace(/^\/+/, ''))
  if (!path.isAbsolute(expanded)) fail(`${flag} must be an absolute path`)
  return path.resolve(expanded)
}

function sha256DigestArg(flag: string, value: string): Buffer {
  const trimmed = rustTrim(value)
  if (!/^[0-9a-fA-F]{64}$/.test(trimmed)) fail(`${flag} must be a 64-character hex SHA-256 digest`)
  return Buffer.from(trimmed, 'hex')
}

async function readTrimmedSecret(file: string): Promise<string> {
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err) {
    fail(`failed to read websocket auth secret ${file}: ${rustIoErrorText(err)}`)
  }
  let raw: string
  try {
    // Rust's `read_to_string` refuses invalid UTF-8 instead of replacing it, and keeps a BOM.
    raw = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch {
    fail(`failed to read websocket auth secret ${file}: stream did not contain valid UTF-8`)
  }
  const trimmed = rustTrim(raw)
  if (trimmed === '') fail(`websocket auth secret ${file} must not be empty`)
  return trimmed
}

// Rust prints an OS error as `strerror (os error N)`; libuv's wording differs for some codes
// (EISDIR is "illegal operation on a directory"), so the common ones are spelled as glibc does.
const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  EISDIR: 'Is a directory',
  ENOTDIR: 'Not a directory',
  ELOOP: 'Too many levels of symbolic links',
  ENAMETOOLONG: 'File name too long',
  EMFILE: 'Too many open files',
  EIO: 'Input/output error',
}

function rustIoErrorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException
  const code = typeof e?.code === 'string' ? e.code : undefined
  const errno = code ? (osConstants.errno as Record<string, number | undefined>)[code] : undefined
  if (code && errno !== undefined) {
    const described = STRERROR[code] ?? libuvDescription(e.message, code)
    return `${described} (os error ${errno})`
  }
  return e instanceof Error ? e.message : String(err)
}

function libuvDescription(message: string, code: string): string {
  const text = message.startsWith(`${code}: `)
    ? message.slice(code.length + 2).replace(/, \w+ '.*'$/, '')
    : message
  return text.charAt(0).toUpperCase() + text.slice(1)
}

function sha256(input: Buffer): Buffer {
  return createHash('sha256').update(input).digest()
}

/** Browsers cannot set Authorization on a websocket, so a client may offer the subprotocols `codex-desk` and `codex-desk.bearer.<token>`. Returns the token from the first `codex-desk.bearer.` entry, or undefined. */
export function bearerFromProtocols(protocols: Iterable<string>): string | undefined {
  for (const entry of protocols) {
    const protocol = entry.trim()
    if (protocol.startsWith(WS_BEARER_PROTOCOL_PREFIX))
      return protocol.slice(WS_BEARER_PROTOCOL_PREFIX.length)
  }
  return undefined
}

type Rejection = { ok: false; status: 401; body: string }
const unauthorized = (body: string): Rejection => ({ ok: false, status: 401, body })
const OK: WsAuthResult = { ok: true }

/** Checks one HTTP upgrade request. `bearerFromProtocol` is used only when there is no Authorization header. Never logs or echoes the token. */
export async function authenticate(
  config: WsAuthConfig,
  authorization: string | undefined,
  bearerFromProtocol?: string,
  nowMs: number = Date.now(),
): Promise<WsAuthResult> {
  if (config.mode === 'none') return OK
  const token = presentedToken(authorization, bearerFromProtocol)
  if (typeof token !== 'string') return token
  if (config.mode === 'capability-token') {
    const actual = sha256(Buffer.from(token, 'utf8'))
    const matches = actual.length === config.tokenSha256.length && timingSafeEqual(actual, config.tokenSha256)
    return matches ? OK : unauthorized(WsAuthMessage.invalidToken)
  }
  return verifySignedBearerToken(config, token, nowMs)
}

// Same parse as codex's `bearer_token_from_headers`: the header must be visible ASCII (http's
// `HeaderValue::to_str`), split at the first space, scheme `Bearer` in any case, token trimmed and non-empty.
function presentedToken(
  authorization: string | undefined,
  fromProtocol: string | undefined,
): string | Rejection {
  if (authorization === undefined) {
    if (fromProtocol === undefined) return unauthorized(WsAuthMessage.missingToken)
    const token = fromProtocol.trim()
    return token === '' ? unauthorized(WsAuthMessage.invalidHeader) : token
  }
  if (!/^[\t\x20-\x7e]*$/.test(authorization)) return unauthorized(WsAuthMessage.invalidHeader)
  const space = authorization.indexOf(' ')
  if (space < 0) return unauthorized(WsAuthMessage.invalidHeader)
  if (authorization.slice(0, space).toLowerCase() !== 'bearer')
    return unauthorized(WsAuthMessage.invalidHeader)
  const token = authorization.slice(space + 1).trim()
  return token === '' ? unauthorized(WsAuthMessage.invalidHeader) : token
}

type Jose = typeof JoseModule
let josePromise: Promise<Jose> | undefined
// Loaded on first use so processes without JWT auth never pay for it (cold-start budget).
function loadJose(): Promise<Jose> {
  josePromise ??= import('jose')
  return josePromise
}

interface JwtClaims {
  exp: number
  nbf?: number
  iss?: string
  aud?: string | string[]
}

async function verifySignedBearerToken(
  config: Extract<WsAuthConfig, { mode: 'signed-bearer-token' }>,
  token: string,
  nowMs: number,
): Promise<WsAuthResult> {
  const { compactVerify } = await loadJose()
  let payload: Uint8Array
  try {
    // JWS-level verification only: jose's `jwtVerify` applies its own claim rules (iat, typ, its own
    // skew and messages), while codex decodes with exp/nbf/aud validation off and checks claims itself.
    ;({ payload } = await compactVerify(token, config.secret, { algorithms: ['HS256'] }))
  } catch {
    return unauthorized(WsAuthMessage.invalidJwt)
  }
  const claims = parseClaims(payload)
  if (claims === undefined) return unauthorized(WsAuthMessage.invalidJwt)

  const now = Math.floor(nowMs / 1000)
  const skew = config.maxClockSkewSeconds
  if (now > claims.exp + skew) return unauthorized(WsAuthMessage.expiredJwt)
  if (claims.nbf !== undefined && now < claims.nbf - skew) return unauthorized(WsAuthMessage.jwtNotValidYet)
  if (config.issuer !== undefined && claims.iss !== config.issuer) {
    return unauthorized(WsAuthMessage.issuerMismatch)
  }
  if (config.audience !== undefined && !audienceMatches(claims.aud, config.audience)) {
    return unauthorized(WsAuthMessage.audienceMismatch)
  }
  return OK
}

// The serde shape codex deserializes into: `exp: i64` required, `nbf: Option<i64>`, `iss: Option<String>`,
// `aud` a string or an array of strings; null counts as absent for the optional ones, and any other
// type makes the whole token invalid.
function parseClaims(payload: Uint8Array): JwtClaims | undefined {
  let value: unknown
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload))
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
  const raw = value as Record<string, unknown>
  const optional = (v: unknown): unknown => (v === null ? undefined : v)
  const { exp } = raw
  const nbf = optional(raw.nbf)
  const iss = optional(raw.iss)
  const aud = optional(raw.aud)
  if (!isI64(exp)) return undefined
  if (nbf !== undefined && !isI64(nbf)) return undefined
  if (iss !== undefined && typeof iss !== 'string') return undefined
  if (aud !== undefined && typeof aud !== 'string') {
    if (!Array.isArray(aud) || !aud.every((a) => typeof a === 'string')) return undefined
  }
  return {
    exp,
    ...(nbf !== undefined && { nbf: nbf as number }),
    ...(iss !== undefined && { iss: iss as string }),
    ...(aud !== undefined && { aud: aud as string | string[] }),
  }
}

function isI64(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63
}

function audienceMatches(aud: string | string[] | undefined, expected: string): boolean {
  if (aud === undefined) return false
  return typeof aud === 'string' ? aud === expected : aud.includes(expected)
}
