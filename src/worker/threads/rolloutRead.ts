/**
 * Reads a rollout file as it decodes it: the file is read in 1 MiB pieces and each complete line is
 * handed to the LineDecoder (rolloutLines.ts) as soon as its newline arrives. So reading a 100 MB
 * thread never holds the file's whole text, only the decoded lines and one piece at a time;
 * `rolloutLineBatches` hands the lines over piece by piece, so a reader that lets them go holds
 * one piece's lines at most.
 *
 * Same result as `decodeLines(await readFile(path, 'utf8'))`, line numbers and torn last lines
 * included (`withoutModelHistory` and `keep`: see LineDecoder); it must never split a multi-byte
 * character (a StringDecoder carries it over) and never copy a long line's text more than once.
 */
import { open } from 'node:fs/promises'
import { StringDecoder } from 'node:string_decoder'
import { LineDecoder, type DecodedLines, type RolloutLine } from './rolloutLines'

const PIECE_BYTES = 1 << 20

export type RolloutReadOptions = ConstructorParameters<typeof LineDecoder>[0] & {
  /** Reads no further than this many bytes (what an earlier read of the same file saw). */
  maxBytes?: number
}

export async function readRolloutFile(path: string, options: RolloutReadOptions = {}): Promise<DecodedLines> {
  const decoder = new LineDecoder(options)
  const lines: RolloutLine[] = []
  for await (const batch of rolloutLineBatches(path, decoder, options.maxBytes)) lines.push(...batch)
  return { lines, problems: decoder.problems }
}

/**
 * The file's lines, decoded by `decoder`, one batch per piece read (its problems stay in the
 * decoder). `bytesRead` tells how far the read went once the batches are done.
 */
export async function* rolloutLineBatches(
  path: string,
  decoder: LineDecoder,
  maxBytes = Infinity,
  bytesRead: { value: number } = { value: 0 },
): AsyncGenerator<RolloutLine[]> {
  const handle = await open(path, 'r')
  try {
    const utf8 = new StringDecoder('utf8')
    const buffer = Buffer.allocUnsafe(PIECE_BYTES)
    /** The current line's text so far, when it spans pieces. */
    let pending: string[] = []
    let lineNumber = 0
    const take = (text: string) => {
      let start = 0
      for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
        const piece = text.slice(start, newline)
        const line = pending.length > 0 ? pending.join('') + piece : piece
        pending = []
        decoder.push(line, ++lineNumber, false)
        start = newline + 1
      }
      if (start < text.length) pending.push(text.slice(start))
    }
    while (bytesRead.value < maxBytes) {
      const want = Math.min(PIECE_BYTES, maxBytes - bytesRead.value)
      const { bytesRead: got } = await handle.read(buffer, 0, want, null)
      if (got === 0) break
      bytesRead.value += got
      take(utf8.write(buffer.subarray(0, got)))
      if (decoder.lines.length > 0) yield decoder.lines.splice(0)
    }
    take(utf8.end())
    const last = pending.join('')
    if (last !== '') decoder.push(last, ++lineNumber, true)
    if (decoder.lines.length > 0) yield decoder.lines.splice(0)
  } finally {
    await handle.close()
  }
}
