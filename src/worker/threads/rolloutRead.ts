/**
 * Reads a rollout file as it decodes it: the file is read in 1 MiB pieces and each complete line is
 * handed to the LineDecoder (rolloutLines.ts) as soon as its newline arrives. So reading a 100 MB
 * thread never holds the file's whole text, only the decoded lines and one piece at a time.
 *
 * Same result as `decodeLines(await readFile(path, 'utf8'))`, line numbers and torn last lines
 * included (`withoutModelHistory`: see LineDecoder); it must never split a multi-byte character (a StringDecoder carries it over) and never
 * copy a long line's text more than once.
 */
import { open } from 'node:fs/promises'
import { StringDecoder } from 'node:string_decoder'
import { LineDecoder, type DecodedLines } from './rolloutLines'

const PIECE_BYTES = 1 << 20

export async function readRolloutFile(
  path: string,
  options: ConstructorParameters<typeof LineDecoder>[0] = {},
): Promise<DecodedLines> {
  const handle = await open(path, 'r')
  const decoder = new LineDecoder(options)
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
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, PIECE_BYTES, null)
      if (bytesRead === 0) break
      take(utf8.write(buffer.subarray(0, bytesRead)))
    }
    take(utf8.end())
    const last = pending.join('')
    if (last !== '') decoder.push(last, ++lineNumber, true)
  } finally {
    await handle.close()
  }
  return { lines: decoder.lines, problems: decoder.problems }
}
