/**
 * A model request's body, sent in pieces. Every request carries the whole conversation (`input`),
 * so at turn 200 of a thread of 5 KB answers the body is about 1 MB. Serialized in one piece (the
 * SDK's JSON.stringify), that string lives as long as the request, outlives V8's young-generation
 * collections and is promoted: the young generation grows to its maximum and the old one fills with
 * dead bodies until a full collection, one body per turn (bench/turnMemory.ts measured +50 to +70 MiB
 * of resident memory from turn 50 to 200 while the live heap grew under 1 MiB).
 *
 * Here the SDK serializes the body with a marker in place of `input`; the fetch it is given puts the
 * input back as a stream of pieces of about PIECE_BYTES, each serialized when the socket wants it
 * and garbage as soon as it is written. The bytes sent are exactly JSON.stringify of the original
 * body (same key order, same escapes), with a Content-Length, so nothing changes on the wire.
 *
 * It must never change what is sent, and never hold the serialized conversation whole.
 *
 * The response body must end when the attempt aborts (idle timeout, interrupt, cleanup): with
 * `redirect: 'error'`, Node 20's fetch (undici 6) stops forwarding the request signal's abort once
 * a garbage collection ran (the fetch's internal Request is only weakly held; nodejs/node#55428),
 * and a read of a silent body then waited forever. `endsOnAbort` ends the body from the signal
 * itself.
 *
 * A stream that broke after completing output items is retried with those items appended to the
 * input (`withCarriedItems`), as codex rebuilds a retry's input from its history: the model is not
 * asked again for an answer the turn already shows, nor for a call the turn already ran.
 */
import { historyInputItem } from './history'

/** A string no model input can contain as a JSON value of its own (a NUL-framed name). */
const MARKER = '\u0000codex-desk:input\u0000'
const MARKER_JSON = JSON.stringify(MARKER)
/** How much serialized input one piece of the body carries (at least one whole item). */
export const PIECE_BYTES = 64 * 1024

export interface DeferredInput<T> {
  /** The body to give the SDK: `input` is the marker. */
  body: T
  /** The input the marker stands for (null when the body had no input array). */
  input: readonly unknown[] | null
}

/** Replaces the body's `input` array by the marker (the caller keeps the items). */
export function deferInput<T extends object>(body: T): DeferredInput<T> {
  const input = (body as { input?: unknown }).input
  if (!Array.isArray(input)) return { body, input: null }
  return { body: { ...body, input: MARKER }, input }
}

/**
 * `init` (what the SDK passes to fetch) with the marker in its string body replaced by `input`,
 * streamed. Unchanged when the body is not a string holding the marker exactly once.
 */
export function withStreamedInput(
  init: RequestInit | undefined,
  input: readonly unknown[],
): RequestInit | undefined {
  const text = init?.body
  if (typeof text !== 'string') return init
  const at = text.indexOf(MARKER_JSON)
  if (at < 0 || text.indexOf(MARKER_JSON, at + 1) >= 0) return init
  const head = text.slice(0, at) + '['
  const tail = ']' + text.slice(at + MARKER_JSON.length)
  // The length needs every item's serialized size: a first pass whose strings die at once.
  let length = Buffer.byteLength(head) + Buffer.byteLength(tail) + Math.max(0, input.length - 1)
  for (const item of input) length += Buffer.byteLength(jsonOf(item))
  const headers = new Headers(init?.headers)
  headers.set('content-length', String(length))
  // `redirect: 'error'` with no window is the one case where fetch sends the request as built
  // instead of a clone: a clone tees the body, and the unread branch would keep every piece until
  // the request ends. A streamed body cannot follow a 307/308 redirect anyway.
  return {
    ...init,
    headers,
    body: inputStream(head, input, tail),
    duplex: 'half',
    redirect: 'error',
    window: null,
  } as RequestInit
}

/** JSON.stringify as it serializes an array element (undefined and functions become null). */
function jsonOf(item: unknown): string {
  return JSON.stringify(item) ?? 'null'
}

function inputStream(head: string, input: readonly unknown[], tail: string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  let next = -1
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (next > input.length) return
        const parts: string[] = []
        let size = 0
        if (next === -1) {
          parts.push(head)
          size += head.length
          next = 0
        }
        while (next < input.length && size < PIECE_BYTES) {
          const json = jsonOf(input[next])
          parts.push(next > 0 ? ',' + json : json)
          size += json.length + 1
          next++
        }
        if (next === input.length) {
          parts.push(tail)
          next++
        }
        controller.enqueue(encoder.encode(parts.join('')))
        if (next > input.length) controller.close()
      },
    },
    { highWaterMark: 0 },
  )
}

/**
 * The input of a retry after a broken stream: `input` followed by the output items the broken
 * attempt completed, prepared as the thread's history prepares them (`historyInputItem`), then
 * `outputs`, the outputs of its function calls (the turn ran them before the retry, as codex does).
 * A call goes only with its output (a call without one is refused by the API), so a call the turn
 * did not run is left out, and so is an output whose call is not carried.
 */
export function withCarriedItems(
  input: readonly unknown[] | null,
  completed: readonly { type: string; call_id?: unknown }[],
  outputs: readonly unknown[] = [],
): readonly unknown[] | null {
  if (input === null) return null
  const callIdOf = (item: unknown) => (item as { call_id?: unknown } | null)?.call_id
  const answered = new Set(outputs.map(callIdOf))
  const carried: unknown[] = []
  const calls = new Set<unknown>()
  for (const item of completed) {
    const isCall = item.type === 'function_call' || item.type === 'custom_tool_call'
    if (isCall ? !answered.has(item.call_id) : item.type !== 'message' && item.type !== 'reasoning') continue
    const prepared = historyInputItem(item)
    if (prepared === undefined) continue
    carried.push(prepared)
    if (isCall) calls.add(item.call_id)
  }
  for (const output of outputs) if (calls.has(callIdOf(output))) carried.push(output)
  return carried.length > 0 ? [...input, ...carried] : input
}

/**
 * `body`, errored as soon as `signal` aborts (its source cancelled, which closes the connection),
 * whether or not fetch still forwards that abort (see the header). One pull per chunk: about 1 to 2
 * microseconds a chunk, where a pipe through a TransformStream cost 4 to 8.
 */
export function endsOnAbort(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  // Cancelling the source ends a pending read (done), which the pull below turns into the error.
  const onAbort = () => void reader.cancel(signal.reason).catch(() => undefined)
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, { once: true })
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await reader.read()
        if (!chunk.done) return controller.enqueue(chunk.value)
        signal.removeEventListener('abort', onAbort)
        if (signal.aborted) controller.error(signal.reason)
        else controller.close()
      },
      cancel(reason) {
        signal.removeEventListener('abort', onAbort)
        return reader.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
}
