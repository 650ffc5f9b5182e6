/**
 * The structured logger, on stderr. One logger per target (`transport`, `server`, `cli`, ...).
 * `LOG_FORMAT=json` writes one JSON object per line (`time`, `level`, `target`, `message`, then the
 * fields: `connectionId`, `method`, `requestId`, ...); the default is readable text.
 * `CODEX_DESK_LOG=info,transport=debug` sets a default level and per-target levels.
 *
 * It must never write a secret: fields with secret-looking names are censored at any depth, and
 * every string is scrubbed of bearer tokens, JWTs and API keys before it is formatted.
 *
 * Why not pino: it costs ~10 ms at load (a sixth of the 60 ms cold-start budget), and its
 * thread-stream machinery does not bundle cleanly into the utility process. What we need from it
 * (levels, child bindings, JSON lines, redaction) fits in this file. The call shape is pino's,
 * `log.info({ fields }, 'message')`, so swapping it in later is mechanical.
 */

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'
export type LogFormat = 'json' | 'text'
type Fields = Record<string, unknown>

const LEVEL_VALUES: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
}
const LEVELS = Object.keys(LEVEL_VALUES) as LogLevel[]
const REDACTED = '[redacted]'

type LogMethod = {
  (message: string): void
  (fields: Fields, message?: string): void
}

export interface Logger {
  trace: LogMethod
  debug: LogMethod
  info: LogMethod
  warn: LogMethod
  error: LogMethod
  fatal: LogMethod
  isLevelEnabled(level: LogLevel): boolean
  /** A logger with extra fields on every line, at the same level. */
  child(bindings: Fields): Logger
}

export interface LevelSpec {
  defaultLevel: LogLevel
  targets: Map<string, LogLevel>
}

/** Parses `info,transport=debug`. Unknown level names are reported, not silently ignored. */
export function parseLevelSpec(spec: string | undefined): { spec: LevelSpec; problems: string[] } {
  const result: LevelSpec = { defaultLevel: 'info', targets: new Map() }
  const problems: string[] = []
  for (const raw of (spec ?? '').split(',')) {
    const part = raw.trim()
    if (!part) continue
    const eq = part.indexOf('=')
    const target = eq === -1 ? undefined : part.slice(0, eq).trim()
    const level = (eq === -1 ? part : part.slice(eq + 1)).trim().toLowerCase()
    if (!(LEVELS as string[]).includes(level)) {
      problems.push(`unknown log level \`${level}\` in CODEX_DESK_LOG (expected one of ${LEVELS.join(', ')})`)
      continue
    }
    if (target) result.targets.set(target, level as LogLevel)
    else result.defaultLevel = level as LogLevel
  }
  return { spec: result, problems }
}

const SECRET_PATTERNS: readonly [RegExp, string][] = [
  [/\b(Bearer|Basic)\s+[^\s"',;]+/gi, `$1 ${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\bsk-[A-Za-z0-9_-]{8,}/g, REDACTED],
]

const SECRET_KEY =
  /^(authorization|proxy-authorization|cookie|set-cookie|token|secret|password|api_?key|openai_api_key|(access|refresh|id|bearer|capability)_?token|shared_?secret)$/i

/** Removes anything that looks like a credential from free text. */
export function scrubSecrets(text: string): string {
  let out = text
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement)
  return out
}

/** A copy of `value` safe to print: secret-named keys censored, strings scrubbed, depth bounded. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubSecrets(value)
  if (typeof value !== 'object' || value === null) return value
  if (depth > 5) return '[…]'
  if (value instanceof Error) return { name: value.name, message: scrubSecrets(value.message) }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1))
  const out: Fields = {}
  for (const [key, v] of Object.entries(value))
    out[key] = SECRET_KEY.test(key) ? REDACTED : redact(v, depth + 1)
  return out
}

const LEVEL_COLORS: Record<string, string> = {
  trace: '\x1b[90m',
  debug: '\x1b[36m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
  fatal: '\x1b[35m',
}

export interface Sink {
  write(text: string): unknown
}

function formatText(record: Fields, color: boolean): string {
  const { time, level, target, message, ...fields } = record
  const label = String(level).toUpperCase().padEnd(5)
  const head = color ? `${LEVEL_COLORS[String(level)] ?? ''}${label}\x1b[0m` : label
  let line = `${String(time)} ${head} ${target ? `${String(target)}: ` : ''}${String(message ?? '')}`
  for (const [key, value] of Object.entries(fields)) {
    line += ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`
  }
  return line + '\n'
}

class TargetLogger implements Logger {
  readonly trace = this.method('trace')
  readonly debug = this.method('debug')
  readonly info = this.method('info')
  readonly warn = this.method('warn')
  readonly error = this.method('error')
  readonly fatal = this.method('fatal')

  constructor(
    private readonly threshold: number,
    private readonly bindings: Fields,
    private readonly emit: (record: Fields) => void,
  ) {}

  isLevelEnabled(level: LogLevel): boolean {
    return LEVEL_VALUES[level] >= this.threshold
  }

  child(bindings: Fields): Logger {
    return new TargetLogger(this.threshold, { ...this.bindings, ...bindings }, this.emit)
  }

  private method(level: Exclude<LogLevel, 'silent'>): LogMethod {
    const value = LEVEL_VALUES[level]
    return ((fieldsOrMessage: Fields | string, message?: string) => {
      if (value < this.threshold) return
      const fields = typeof fieldsOrMessage === 'string' ? undefined : fieldsOrMessage
      const text = typeof fieldsOrMessage === 'string' ? fieldsOrMessage : message
      this.emit({
        time: new Date().toISOString(),
        level,
        ...this.bindings,
        message: scrubSecrets(text ?? ''),
        ...(fields ? (redact(fields) as Fields) : {}),
      })
    }) as LogMethod
  }
}

export interface LoggerOptions {
  format?: LogFormat
  levels?: LevelSpec
  /** Where lines go; stderr by default. */
  destination?: Sink
  color?: boolean
}

export interface LoggerFactory {
  /** The logger for one target, at the target's configured level. Cached. */
  get(target: string): Logger
}

export function createLoggerFactory(options: LoggerOptions = {}): LoggerFactory {
  const out: Sink = options.destination ?? process.stderr
  const format = options.format ?? 'text'
  const levels: LevelSpec = options.levels ?? { defaultLevel: 'info', targets: new Map<string, LogLevel>() }
  const color = options.color ?? Boolean((out as { isTTY?: boolean }).isTTY)
  const emit =
    format === 'json'
      ? (record: Fields) => void out.write(JSON.stringify(record) + '\n')
      : (record: Fields) => void out.write(formatText(record, color))
  const cache = new Map<string, Logger>()
  return {
    get(target) {
      let logger = cache.get(target)
      if (!logger) {
        const level = levels.targets.get(target) ?? levels.defaultLevel
        logger = new TargetLogger(LEVEL_VALUES[level], { target }, emit)
        cache.set(target, logger)
      }
      return logger
    },
  }
}

/** Reads LOG_FORMAT and CODEX_DESK_LOG; problems with them are logged once at warn. */
export function loggerFromEnv(env: NodeJS.ProcessEnv = process.env, destination?: Sink): LoggerFactory {
  const { spec, problems } = parseLevelSpec(env.CODEX_DESK_LOG)
  const format: LogFormat = env.LOG_FORMAT?.toLowerCase() === 'json' ? 'json' : 'text'
  const factory = createLoggerFactory({ format, levels: spec, ...(destination ? { destination } : {}) })
  for (const problem of problems) factory.get('log').warn(problem)
  return factory
}

/** A logger that drops everything (benchmarks, tests that do not look at logs). */
export const silentLogs: LoggerFactory = createLoggerFactory({
  levels: { defaultLevel: 'silent', targets: new Map() },
  destination: { write: () => undefined },
})
