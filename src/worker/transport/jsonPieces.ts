/**
 * A JSON message serialized in pieces around its one big array: everything but the array is
 * serialized once with a mark where the array goes, then the array's elements are serialized one
 * at a time, as the transport takes them (transport/pieceGate.ts). The pieces join to exactly what
 * JSON.stringify makes of the whole message.
 *
 * It must never hold more than one piece's elements serialized at once, and never change the bytes
 * of the message.
 */
import { randomUUID } from 'node:crypto'

/** Stands for the array in the serialized rest of the message; unguessable, so no content holds it. */
export const ARRAY_MARK = `\u0000pieces:${randomUUID()}`
const MARK_JSON = JSON.stringify(ARRAY_MARK)

/** Small elements are gathered into pieces of about this many characters; a bigger one is a piece. */
export const PIECE_CHARS = 256 * 1024

/**
 * The pieces of `frame` (the message serialized with ARRAY_MARK in place of the array) with the
 * array's `elements`. Null when the mark is not in the frame exactly once.
 */
export function arrayPieces(
  frame: string,
  elements: unknown[],
  options: { pieceChars?: number; release?: boolean } = {},
): Iterable<string> | null {
  const at = frame.indexOf(MARK_JSON)
  if (at === -1 || frame.indexOf(MARK_JSON, at + 1) !== -1) return null
  const pieceChars = options.pieceChars ?? PIECE_CHARS
  return pieces(frame.slice(0, at), elements, frame.slice(at + MARK_JSON.length), pieceChars, options.release)
}

/** `release`: each element is dropped from the array once serialized, so it can be collected. */
function* pieces(head: string, elements: unknown[], tail: string, pieceChars: number, release = false) {
  let piece = head + '['
  for (let i = 0; i < elements.length; i++) {
    // As JSON.stringify writes an array element: what has no JSON form is `null`.
    const json = (JSON.stringify(elements[i]) as string | undefined) ?? 'null'
    if (release) elements[i] = undefined
    if (i > 0) piece += ','
    if (json.length >= pieceChars) {
      // A big element is a piece of its own, as serialized: joined to anything it would be copied.
      if (piece) yield piece
      yield json
      piece = ''
      continue
    }
    piece += json
    if (piece.length >= pieceChars) {
      yield piece
      piece = ''
    }
  }
  yield piece + ']' + tail
}
