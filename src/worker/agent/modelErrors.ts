/**
 * The errors the model client raises, already in the shape a turn reports (protocol.md §5: `TurnError`
 * with codex's camelCase `CodexErrorInfo`). The turn turns a `ModelError` into `error {error, willRetry}`
 * and `turn/completed {failed}` without re-classifying anything.
 *
 * It also classifies an HTTP error response (status, body, Retry-After) into how the attempt ends.
 *
 * It must never carry a credential: messages are built from status lines and the server's own error
 * message, never from request headers.
 */
import { parseRetryAfter as parseRetryAfterHeaders, type HeaderSource } from '../util/retry'

/** The plain `CodexErrorInfo` values the model backend can produce (codex v0.169 spelling). */
export type PlainCodexErrorInfo =
  | 'contextWindowExceeded'
  | 'usageLimitExceeded'
  | 'rateLimitExceeded'
  | 'serverOverloaded'
  | 'modelNotFound'
  | 'internalServerError'
  | 'unauthorized'
  | 'badRequest'
  | 'other'

export type HttpCodexErrorKind =
  | 'httpConnectionFailed'
  | 'responseStreamConnectionFailed'
  | 'responseStreamDisconnected'
  | 'responseTooManyFailedAttempts'

type HttpCodexErrorInfo = {
  [K in HttpCodexErrorKind]: { [P in K]: { httpStatusCode: number | null } }
}[HttpCodexErrorKind]

export type CodexErrorInfo = PlainCodexErrorInfo | HttpCodexErrorInfo

/** What `error` and `turn/completed {failed}` carry (protocol.md §5), minus fields the turn owns. */
export interface ModelTurnError {
  message: string
  codexErrorInfo: CodexErrorInfo
  additionalDetails: string | null
}

export interface ModelErrorInit {
  codexErrorInfo: CodexErrorInfo
  httpStatusCode?: number | null
  /** The server's own error message, trimmed. */
  additionalDetails?: string | null
  retryable?: boolean
  /** The wait the server asked for (Retry-After or "try again in"), when it said. */
  retryAfterMs?: number | null
  cause?: unknown
}

export class ModelError extends Error {
  override readonly name = 'ModelError'
  readonly codexErrorInfo: CodexErrorInfo
  readonly httpStatusCode: number | null
  readonly additionalDetails: string | null
  readonly retryable: boolean
  readonly retryAfterMs: number | null

  constructor(message: string, init: ModelErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause })
    this.codexErrorInfo = init.codexErrorInfo
    this.httpStatusCode = init.httpStatusCode ?? null
    const details = init.additionalDetails?.trim()
    this.additionalDetails = details ? details : null
    this.retryable = init.retryable ?? false
    this.retryAfterMs = init.retryAfterMs ?? null
  }

  toTurnError(): ModelTurnError {
    return {
      message: this.message,
      codexErrorInfo: this.codexErrorInfo,
      additionalDetails: this.additionalDetails,
    }
  }
}

/**
 * Thrown when the caller's signal aborts the stream. A separate class (named like the DOM's
 * AbortError) so an interrupted turn is never reported as a failed one.
 */
export class ModelAbortedError extends Error {
  override readonly name = 'AbortError'
  /** The signal's reason, so the turn can tell an interrupt from a shutdown. */
  readonly reason: unknown

  constructor(reason: unknown) {
    super('model request aborted')
    this.reason = reason
  }
}

export function isModelAborted(error: unknown): error is ModelAbortedError {
  return error instanceof ModelAbortedError
}

export function httpErrorInfo(kind: HttpCodexErrorKind, httpStatusCode: number | null): CodexErrorInfo {
  return { [kind]: { httpStatusCode } } as HttpCodexErrorInfo
}

// A small table rather than node:http's STATUS_CODES: this module loads on the cold-start path.
const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

/** `400 Bad Request`, as reqwest prints a status in codex's messages. */
export function statusLine(status: number): string {
  const reason = REASONS[status]
  return reason ? `${status} ${reason}` : String(status)
}

export interface CodeClassification {
  info: PlainCodexErrorInfo
  retryable: boolean
}

/**
 * Maps an error code from the Responses API (`response.failed`, an `error` event, or an HTTP error
 * body) to codex's classification. Rate limits and overload are transient; the rest are not.
 */
export function classifyErrorCode(code: string | null | undefined): CodeClassification {
  switch (code) {
    case 'context_length_exceeded':
      return { info: 'contextWindowExceeded', retryable: false }
    case 'insufficient_quota':
    case 'usage_limit_reached':
    case 'usage_not_included':
      return { info: 'usageLimitExceeded', retryable: false }
    case 'rate_limit_exceeded':
      return { info: 'rateLimitExceeded', retryable: true }
    case 'server_is_overloaded':
    case 'slow_down':
      return { info: 'serverOverloaded', retryable: true }
    case 'model_not_found':
      return { info: 'modelNotFound', retryable: false }
    default:
      return { info: 'other', retryable: false }
  }
}

// codex's wording for the cases a user most often meets, so messages read the same in both apps.
const FRIENDLY: Partial<Record<PlainCodexErrorInfo, string>> = {
  contextWindowExceeded:
    "Codex ran out of room in the model's context window. Start a new conversation or clear earlier history before retrying.",
  usageLimitExceeded: 'Quota exceeded. Check your plan and billing details.',
  serverOverloaded: 'Selected model is at capacity. Please try a different model.',
}

/** codex's message for a classification, when it has its own wording. */
export function friendlyMessage(info: PlainCodexErrorInfo): string | undefined {
  return FRIENDLY[info]
}

/** The error for a failure the server reported in the stream (`response.failed` or an `error` event). */
export function responseFailedError(
  code: string | null | undefined,
  serverMessage: string | null | undefined,
  retryAfterMs: number | null = null,
): ModelError {
  const { info, retryable } = classifyErrorCode(code)
  const details = serverMessage?.trim() || null
  const message = FRIENDLY[info] ?? details ?? `response failed${code ? ` (${code})` : ''}`
  return new ModelError(message, {
    codexErrorInfo: info,
    additionalDetails: details,
    retryable,
    retryAfterMs,
  })
}

const RETRY_AFTER_CAP_MS = 60_000

/** What the model server asked us to wait, capped at 60 s so a confused proxy cannot park a turn for an hour. */
export function parseRetryAfter(
  headers: HeaderSource | undefined,
  now: number = Date.now(),
): number | undefined {
  return parseRetryAfterHeaders(headers, RETRY_AFTER_CAP_MS, now)
}

/** OpenAI's rate-limit messages say "Please try again in 1.5s" (or "in 250ms"). */
export function parseTryAgainIn(message: string | null | undefined): number | undefined {
  const match = /try again in\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?)\b/i.exec(message ?? '')
  if (!match) return undefined
  const amount = Number(match[1])
  const ms = match[2]?.toLowerCase() === 'ms' ? amount : amount * 1000
  return Math.min(Math.round(ms), RETRY_AFTER_CAP_MS)
}

/** How a model attempt that did not complete ends: for good, with a 401, or with a retry of a phase. */
export type AttemptFailure =
  | { kind: 'failed'; error: ModelError }
  | { kind: 'unauthorized'; error: ModelError }
  | { kind: 'retry'; phase: 'request' | 'stream'; error: ModelError }

/** A failure reported inside an open stream: retried as a stream when transient, final otherwise. */
export function streamFailure(error: ModelError): AttemptFailure {
  return error.retryable ? { kind: 'retry', phase: 'stream', error } : { kind: 'failed', error }
}

/** An HTTP error response as the server sent it, before the SDK reformats it. */
export interface RawFailure {
  status: number
  headers: Headers
  text: string
}

/** The server's message and code from an error body: OpenAI's `{error: {...}}` or a bare object. */
function parseErrorBody(text: string): { code: string | undefined; message: string | undefined } {
  try {
    const json = JSON.parse(text) as Record<string, unknown> | null
    const inner = (
      json && typeof json.error === 'object' && json.error !== null ? json.error : json
    ) as Record<string, unknown> | null
    const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined)
    return {
      code: str(inner?.code) ?? str(inner?.type),
      message: str(inner?.message) ?? str(json?.detail) ?? str(json?.message) ?? str(json?.error),
    }
  } catch {
    const trimmed = text.trim()
    return { code: undefined, message: trimmed ? trimmed.slice(0, 2000) : undefined }
  }
}

/** How an HTTP error response ends the attempt: a known error code wins over the status. */
export function statusFailure(raw: RawFailure): AttemptFailure {
  const { code, message } = parseErrorBody(raw.text)
  const status = raw.status
  const retryAfterMs = parseRetryAfter(raw.headers) ?? parseTryAgainIn(message) ?? null
  const text = `unexpected status ${statusLine(status)}${message ? `: ${message}` : ''}`
  const base = { httpStatusCode: status, additionalDetails: message ?? null, retryAfterMs }
  if (status === 401) {
    return {
      kind: 'unauthorized',
      error: new ModelError(text, { ...base, codexErrorInfo: httpErrorInfo('httpConnectionFailed', 401) }),
    }
  }
  const byCode = classifyErrorCode(code)
  if (byCode.info !== 'other') {
    // A known code says more than the status (a 429 can be an exhausted quota, a 400 a full context).
    const { info: codexErrorInfo, retryable } = byCode
    const error = new ModelError(friendlyMessage(codexErrorInfo) ?? text, {
      ...base,
      codexErrorInfo,
      retryable,
    })
    return retryable ? { kind: 'retry', phase: 'request', error } : { kind: 'failed', error }
  }
  if (status === 429 || status >= 500) {
    const info = status === 429 ? 'rateLimitExceeded' : 'internalServerError'
    const error = new ModelError(text, { ...base, codexErrorInfo: info, retryable: true })
    return { kind: 'retry', phase: 'request', error }
  }
  const info = status === 400 || status === 422 ? 'badRequest' : 'other'
  return { kind: 'failed', error: new ModelError(text, { ...base, codexErrorInfo: info }) }
}
