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

/**
 * An array whose elements are made as they are written (a stored thread's turns read from disk
 * while its response goes out): empty to anything else, so it is only ever sent through
 * `lazyArrayOf` and `arrayPieces`. `count` is how many elements the source yields.
 */
const LAZY = Symbol('lazy array')

export function lazyArray<T>(count: number, source: () => AsyncIterable<T>): T[] {
  return Object.assign([] as T[], { [LAZY]: { count, source } })
}

export function lazyArrayOf(
  array: unknown[],
): { count: number; source: () => AsyncIterable<unknown> } | null {
  return (array as { [LAZY]?: { count: number; source: () => AsyncIterable<unknown> } })[LAZY] ?? null
}

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
): Iterable<string> | AsyncIterable<string> | null {
  const at = frame.indexOf(MARK_JSON)
  if (at === -1 || frame.indexOf(MARK_JSON, at + 1) !== -1) return null
  const pieceChars = options.pieceChars ?? PIECE_CHARS
  const head = frame.slice(0, at)
  const tail = frame.slice(at + MARK_JSON.length)
  const lazy = lazyArrayOf(elements)
  if (lazy) return lazyPieces(head, lazy.source(), tail, pieceChars)
  return pieces(head, elements, tail, pieceChars, options.release)
}

/** As JSON.stringify writes an array element: what has no JSON form is `null`. */
const elementJson = (element: unknown) => (JSON.stringify(element) as string | undefined) ?? 'null'

/** `release`: each element is dropped from the array once serialized, so it can be collected. */
function* pieces(head: string, elements: unknown[], tail: string, pieceChars: number, release = false) {
  const out = new PieceBuilder(head + '[', pieceChars)
  for (let i = 0; i < elements.length; i++) {
    const json = elementJson(elements[i])
    if (release) elements[i] = undefined
    yield* out.add(i > 0, json)
  }
  yield out.end(']' + tail)
}

async function* lazyPieces(head: string, source: AsyncIterable<unknown>, tail: string, pieceChars: number) {
  const out = new PieceBuilder(head + '[', pieceChars)
  let first = true
  for await (const element of source) {
    yield* out.add(!first, elementJson(element))
    first = false
  }
  yield out.end(']' + tail)
}

class PieceBuilder {
  constructor(
    private piece: string,
    private readonly pieceChars: number,
  ) {}

  /** The pieces ready once `json` (after a comma when `comma`) is added. */
  *add(comma: boolean, json: string): Generator<string> {
    if (comma) this.piece += ','
    if (json.length >= this.pieceChars) {
      // A big element is a piece of its own, as serialized: joined to anything it would be copied.
      if (this.piece) yield this.piece
      yield json
      this.piece = ''
      return
    }
    this.piece += json
    if (this.piece.length >= this.pieceChars) {
      yield this.piece
      this.piece = ''
    }
  }

  end(tail: string): string {
    return this.piece + tail
  }
}
