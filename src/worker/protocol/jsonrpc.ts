/**
 * Wire envelopes of the Codex app-server protocol: JSON-RPC 2.0 without the `jsonrpc` member.
 * Classifies one parsed incoming value into request / notification / response / error, or says
 * why it is none of them. Runtime-free: main and renderer import this too.
 */

export type RequestId = string | number

export interface TraceContext {
  traceparent?: string
  tracestate?: string
}

export interface RequestMessage {
  id: RequestId
  method: string
  params?: unknown
  trace?: TraceContext
}

export interface NotificationMessage {
  method: string
  params?: unknown
  /** Server notifications always carry it (protocol.md §1); client notifications never need it. */
  emittedAtMs?: number
}

export interface ResponseMessage {
  id: RequestId
  result: unknown
}

export interface ErrorObject {
  code: number
  message: string
  data?: unknown
}

export interface ErrorMessage {
  id: RequestId | null
  error: ErrorObject
}

export type Incoming =
  | { kind: 'request'; message: RequestMessage }
  | { kind: 'notification'; message: NotificationMessage }
  | { kind: 'response'; message: ResponseMessage }
  | { kind: 'error'; message: ErrorMessage }
  /** Not a valid message. `id` is the request id when one could be read, so the error can be addressed. */
  | { kind: 'invalid'; id: RequestId | null; reason: string }

export function isRequestId(value: unknown): value is RequestId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value))
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * codex tries request, then notification, then response, then error. Where codex silently drops
 * (a float or null id turns a request into an ignored notification) we answer with -32600 instead,
 * so a client learns about its mistake; the `jsonrpc` member is accepted and ignored.
 */
export function classify(value: unknown): Incoming {
  if (Array.isArray(value)) return { kind: 'invalid', id: null, reason: 'batch requests are not supported' }
  if (!isObject(value)) return { kind: 'invalid', id: null, reason: 'expected a JSON object' }
  const hasId = 'id' in value
  const id = value.id
  if ('method' in value) {
    if (typeof value.method !== 'string') {
      return { kind: 'invalid', id: isRequestId(id) ? id : null, reason: '`method` must be a string' }
    }
    if (!hasId) {
      return { kind: 'notification', message: { method: value.method, params: value.params } }
    }
    if (!isRequestId(id)) {
      return { kind: 'invalid', id: null, reason: '`id` must be a string or an integer' }
    }
    const message: RequestMessage = { id, method: value.method }
    if ('params' in value) message.params = value.params
    if (isObject(value.trace)) message.trace = value.trace as TraceContext
    return { kind: 'request', message }
  }
  if (hasId && 'result' in value) {
    if (!isRequestId(id)) return { kind: 'invalid', id: null, reason: '`id` must be a string or an integer' }
    return { kind: 'response', message: { id, result: value.result } }
  }
  if (hasId && 'error' in value) {
    const error = value.error
    if (!isObject(error) || typeof error.code !== 'number' || typeof error.message !== 'string') {
      return {
        kind: 'invalid',
        id: null,
        reason: '`error` must be an object with a numeric `code` and a `message`',
      }
    }
    if (id !== null && !isRequestId(id)) {
      return { kind: 'invalid', id: null, reason: '`id` must be a string or an integer' }
    }
    return {
      kind: 'error',
      message: { id, error: { code: error.code, message: error.message, data: error.data } },
    }
  }
  return {
    kind: 'invalid',
    id: isRequestId(id) ? id : null,
    reason: 'expected a request, a notification, a response or an error',
  }
}
