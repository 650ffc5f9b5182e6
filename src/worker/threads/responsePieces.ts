/**
 * Which responses are written turn by turn: one that carries a thread with its turns (thread/read,
 * thread/resume, thread/fork) is serialized around `thread.turns` (transport/jsonPieces.ts), so a
 * 100 MB thread is never one 100 MB string. Loaded with the message processor, so it imports
 * nothing but the serializer.
 *
 * It must never change what a response says: the pieces join to the one frame it replaces.
 */
import { encodeResponse, type RequestId } from '../protocol/jsonrpc'
import { ARRAY_MARK, arrayPieces, lazyArrayOf } from '../transport/jsonPieces'

/** The pieces of a response with a thread's turns; null for any other result (sent as one frame). */
export function threadResponsePieces(
  id: RequestId,
  result: unknown,
): Iterable<string> | AsyncIterable<string> | null {
  if (typeof result !== 'object' || result === null) return null
  const thread = (result as { thread?: unknown }).thread
  if (typeof thread !== 'object' || thread === null) return null
  const turns = (thread as { turns?: unknown }).turns
  if (!Array.isArray(turns) || (turns.length < 2 && !lazyArrayOf(turns))) return null
  // The same object with the mark in the turns' place: every other key keeps its position.
  const frame = encodeResponse(id, { ...result, thread: { ...thread, turns: ARRAY_MARK } })
  // Each handler answers with a turns array of its own (a snapshot or a replay), so a turn written
  // is let go at once: only the turns still to write stay reachable from the response.
  return arrayPieces(frame, turns, { release: true })
}
