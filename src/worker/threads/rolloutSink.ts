/**
 * What thread code writes a rollout through (RolloutSink), the EphemeralSink that stands in for a
 * writer on threads that keep nothing, the file operations a writer needs (RolloutFile, wrapped by
 * tests to inject faults), and the error a failed write rejects with.
 *
 * It must never do I/O itself apart from `nodeFile`'s operations, which the writer (rolloutWriter.ts) calls.
 */
import { writeSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { ItemTextDelta, RolloutPayloads, RolloutType } from './rolloutLines'

/** The file operations a writer needs; tests wrap them to inject faults such as ENOSPC. */
export interface RolloutFile {
  /** Writes at `position`; resolves with the bytes written (possibly fewer than asked). */
  write(buffer: Uint8Array, position: number): Promise<number>
  truncate(length: number): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

/**
 * Writes up to this size go straight to the kernel (a copy into the page cache: microseconds)
 * instead of a round trip through libuv's thread pool. A delta is published only once its write
 * completed, and with the pool busy or the machine loaded that round trip was most of the delivery
 * lag's tail (bench/broadcast.ts). A failed write still rejects (writeSync throws inside the async).
 */
const SYNC_WRITE_MAX_BYTES = 64 * 1024

export function nodeFile(handle: FileHandle): RolloutFile {
  return {
    write: async (buffer, position) =>
      buffer.length <= SYNC_WRITE_MAX_BYTES
        ? writeSync(handle.fd, buffer, 0, buffer.length, position)
        : (await handle.write(buffer, 0, buffer.length, position)).bytesWritten,
    truncate: (length) => handle.truncate(length),
    sync: () => handle.sync(),
    close: () => handle.close(),
  }
}

/** What thread code writes to: a RolloutWriter, or an EphemeralSink for threads that keep nothing. */
export interface RolloutSink {
  readonly threadId: string
  readonly path: string | null
  append<T extends RolloutType>(type: T, payload: RolloutPayloads[T]): Promise<void>
  /**
   * New streaming text of an item, appended (never rewritten). Resolves once the write carrying it
   * has completed, in call order with every other line: publish the delta after that (persist
   * before publish). Deltas queued together go out as one write, merged into one line per item.
   */
  appendText(delta: ItemTextDelta): Promise<void>
  /** Resolves once everything queued so far is written (or failed). */
  flush(): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

/** An ephemeral thread's sink: accepts everything, writes nothing (protocol.md §13). */
export class EphemeralSink implements RolloutSink {
  readonly path = null
  constructor(readonly threadId: string) {}
  append<T extends RolloutType>(_type: T, _payload: RolloutPayloads[T]): Promise<void> {
    return Promise.resolve()
  }
  appendText(_delta: ItemTextDelta): Promise<void> {
    return Promise.resolve()
  }
  flush(): Promise<void> {
    return Promise.resolve()
  }
  sync(): Promise<void> {
    return Promise.resolve()
  }
  close(): Promise<void> {
    return Promise.resolve()
  }
}

/** A write that did not reach the file. `code` is the errno code (ENOSPC, EIO, ...) when there is one. */
export class RolloutWriteError extends Error {
  readonly code: string | undefined
  constructor(message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'RolloutWriteError'
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code
  }
}
