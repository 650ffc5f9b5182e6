/**
 * Wire envelopes of the Codex app-server protocol: JSON-RPC 2.0 without the `jsonrpc` member.
 * Classifies one parsed incoming value into request / notification / response / error, or says
 * why it is none of them, and encodes responses so an id comes back exactly as the client wrote it.
 * Runtime-free: main and renderer import this too. It must never change an id a client sent.
 */

/**
 * An integer id a JavaScript number cannot hold exactly (beyond 2^53), kept as the client wrote
 * it: codex reads ids as 64-bit integers and echoes 9007199254740993, not ...992.
 */
export class ExactId {
  constructor(readonly text: string) {}
  /** Logs show the digits; `encodeResponse` writes them unquoted. */
  toJSON(): string {
    return this.text
  }
  toString(): string {
    return this.text
  }
}

export type RequestId = string | number | ExactId

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

/** A string or an integer, as parsed (an `ExactId` is made from the frame by `classify`). */
export function isRequestId(value: unknown): value is string | number {
  return typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value))
}

/**
 * The id to answer with: a parsed id as is, but an integer beyond 2^53 as the digits of `frame`.
 * Only unsafe integers look at the frame, so ordinary requests pay one `Number.isSafeInteger`.
 */
function exactId(id: string | number, frame: string | undefined): RequestId {
  if (typeof id === 'string' || Number.isSafeInteger(id) || frame === undefined) return id
  const text = rawTopLevelId(frame)
  return text !== undefined && Number(text) === id ? new ExactId(text) : id
}

/** `{"id":...,"result":...}` with the id exactly as the client wrote it. */
export function encodeResponse(id: RequestId, result: unknown): string {
  return withExactId(JSON.stringify({ id, result }), id)
}

/** `{"id":...,"error":...}` with the id exactly as the client wrote it. */
export function encodeError(id: RequestId | null, error: ErrorObject): string {
  return withExactId(JSON.stringify({ id, error }), id)
}

/** The frame starts with `{"id":"<digits>"`; unquote the digits (the id key is always first). */
function withExactId(frame: string, id: RequestId | null): string {
  if (!(id instanceof ExactId)) return frame
  return `{"id":${id.text}${frame.slice(8 + id.text.length)}`
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * codex tries request, then notification, then response, then error. Where codex silently drops
 * (a float or null id turns a request into an ignored notification) we answer with -32600 instead,
 * so a client learns about its mistake; the `jsonrpc` member is accepted and ignored.
 */
export function classify(value: unknown, frame?: string): Incoming {
  if (Array.isArray(value)) return { kind: 'invalid', id: null, reason: 'batch requests are not supported' }
  if (!isObject(value)) return { kind: 'invalid', id: null, reason: 'expected a JSON object' }
  const hasId = 'id' in value
  const id = value.id
  if ('method' in value) {
    if (typeof value.method !== 'string') {
      return {
        kind: 'invalid',
        id: isRequestId(id) ? exactId(id, frame) : null,
        reason: '`method` must be a string',
      }
    }
    if (!hasId) {
      return { kind: 'notification', message: { method: value.method, params: value.params } }
    }
    if (!isRequestId(id)) {
      return { kind: 'invalid', id: null, reason: '`id` must be a string or an integer' }
    }
    const message: RequestMessage = { id: exactId(id, frame), method: value.method }
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
    id: isRequestId(id) ? exactId(id, frame) : null,
    reason: 'expected a request, a notification, a response or an error',
  }
}

// ---------------------------------------------------------------------------------------------------
// Scanning a raw frame (only what JSON.parse cannot tell: nesting depth, an id's exact digits)

/**
 * codex (serde_json) refuses a message nested 128 levels deep; 127 is the most it reads. Handlers,
 * zod and the rollout writer recurse, so deeper values must be stopped at the door.
 */
export const MAX_NESTING = 127

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d

/** Index of the quote closing the string opened at `open`, or -1. Jumps with indexOf, so long strings cost little. */
function stringEnd(text: string, open: number): number {
  let at = open
  for (;;) {
    at = text.indexOf('"', at + 1)
    if (at < 0) return -1
    let backslashes = 0
    while (text.charCodeAt(at - 1 - backslashes) === BACKSLASH) backslashes++
    if (backslashes % 2 === 0) return at
  }
}

/**
 * Whether a parsed frame nests deeper than MAX_NESTING (the top-level object is level 1). It walks
 * the parsed value, so its cost follows the number of values, not the length of their text, and a
 * frame too short to nest that deep is not walked at all.
 */
export function nestsTooDeep(value: unknown, frame: string): boolean {
  return frame.length >= 2 * (MAX_NESTING + 1) && deeperThan(value, MAX_NESTING)
}

/** Recursion bounded by `remaining`: it stops at the first value past the limit. */
function deeperThan(value: unknown, remaining: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (remaining === 0) return true
  if (Array.isArray(value)) {
    for (const item of value) if (deeperThan(item, remaining - 1)) return true
    return false
  }
  for (const key in value) {
    if (deeperThan((value as Record<string, unknown>)[key], remaining - 1)) return true
  }
  return false
}

/**
 * Where a valid JSON text first nests deeper than `limit` (the offset of that bracket), or -1.
 * Strings are skipped, so brackets inside them do not count. A text shorter than 2 * (limit + 1)
 * cannot nest that deep and is not scanned.
 */
export function nestingBeyond(text: string, limit = MAX_NESTING): number {
  if (text.length < 2 * (limit + 1)) return -1
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      i = stringEnd(text, i)
      if (i < 0) return -1
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return i
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--
    }
  }
  return -1
}

/** serde_json's wording and place (1-based line and column of the offending bracket). */
export function nestingMessage(text: string, offset: number, limit = MAX_NESTING): string {
  const lineStart = text.lastIndexOf('\n', offset) + 1
  let line = 1
  for (let at = text.indexOf('\n'); at !== -1 && at < offset; at = text.indexOf('\n', at + 1)) line++
  return (
    `Invalid request: the message nests deeper than ${limit} levels ` +
    `(recursion limit exceeded at line ${line} column ${offset - lineStart + 1})`
  )
}

const ID_VALUE = /\s*:\s*(-?[0-9][0-9.eE+-]*)/y

/** The text of the top-level `"id"` member's value in a JSON object text (the last one, as JSON.parse keeps). */
export function rawTopLevelId(text: string): string | undefined {
  let depth = 0
  let found: string | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const end = stringEnd(text, i)
      if (end < 0) return found
      if (depth === 1 && end === i + 3 && text.startsWith('"id"', i)) {
        ID_VALUE.lastIndex = end + 1
        const value = ID_VALUE.exec(text)
        if (value) found = value[1]
      }
      i = end
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--
    }
  }
  return found
}
