/**
 * Repairs the end of an existing rollout before a writer appends to it (RolloutStore.open): a torn
 * last line (a crash mid-write) is cut off, and the next ordinal is found from the tail.
 *
 * It must never read more of the file than it needs, and never cut off a complete line.
 */
import type { FileHandle } from 'node:fs/promises'
import { decodeLines } from './rolloutLines'

/**
 * Prepares an existing rollout for appending: a torn last line (a crash mid-write) is cut off, a
 * complete last line that only lacks its newline gets one, and the next ordinal follows the last
 * readable line. Reads only the tail, growing the window until it holds a whole line.
 */
export async function prepareForAppend(handle: FileHandle): Promise<{ size: number; nextOrdinal: number }> {
  let { size } = await handle.stat()
  let window = 64 * 1024
  for (;;) {
    const start = Math.max(0, size - window)
    const buffer = Buffer.alloc(size - start)
    await handle.read(buffer, 0, buffer.length, start)
    const lastNewline = buffer.lastIndexOf(0x0a)
    if (start > 0 && lastNewline === -1) {
      window *= 2
      continue
    }
    let lastOrdinal: number | null = null
    if (buffer.length > 0 && buffer[buffer.length - 1] !== 0x0a) {
      const fragment = buffer.subarray(lastNewline + 1).toString('utf8')
      const line = decodeLines(fragment + '\n').lines[0]
      if (line) {
        await handle.write('\n', size)
        size += 1
        lastOrdinal = line.ordinal
      } else {
        size = start + lastNewline + 1
        await handle.truncate(size)
      }
    }
    if (lastOrdinal === null) {
      // The window may begin mid-line; decodeLines reports that fragment, which we ignore.
      const complete = buffer.subarray(0, lastNewline + 1).toString('utf8')
      const lines = decodeLines(complete).lines
      const last = lines[lines.length - 1]
      if (last) lastOrdinal = last.ordinal
      else if (start > 0) {
        window *= 2
        continue
      }
    }
    return { size, nextOrdinal: (lastOrdinal ?? -1) + 1 }
  }
}
