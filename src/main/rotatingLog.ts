/**
 * An append-only log file for the core's stdout and stderr: `core.log`, rotated at a size cap to
 * `core.1.log` … `core.N.log` (the oldest is deleted). Files are created 0600 in a 0700 folder,
 * because the core's output can name paths, accounts and commands the user ran.
 *
 * It must never block the event loop for long (all disk work is async; a writer that cannot keep up
 * drops output past a memory bound and says so in the file) and never throw into the caller: a disk
 * error is reported once through `onError`, the output is dropped, and the writer tries again later.
 */
import { mkdir, open, rename, rm, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'

export const DEFAULT_LOG_MAX_BYTES = 5 * 1024 * 1024
export const DEFAULT_LOG_KEEP = 3

export interface RotatingLogOptions {
  dir: string
  /** `core` gives core.log, core.1.log, … */
  baseName?: string
  /** Rotate before a write would take the file past this size. Default 5 MiB. */
  maxBytes?: number
  /** Rotated files kept besides the live one. Default 3. */
  keep?: number
  /** Output queued in memory beyond this is dropped (and counted). Default 8 MiB. */
  maxBufferedBytes?: number
  /** After a disk error, writes are dropped without touching the disk for this long. Default 5 s. */
  retryAfterMs?: number
  /** Called with the first error of each failure streak; never with a second one in a row. */
  onError?: (error: Error) => void
  now?: () => number
}

export class RotatingLog {
  readonly path: string
  private readonly dir: string
  private readonly baseName: string
  private readonly maxBytes: number
  private readonly keep: number
  private readonly maxBufferedBytes: number
  private readonly retryAfterMs: number
  private readonly onError: (error: Error) => void
  private readonly now: () => number

  private queue: (Buffer | { dropped: number })[] = []
  private queuedBytes = 0
  private droppedWhileFailing = 0
  private handle: FileHandle | undefined
  private size = 0
  private draining: Promise<void> | undefined
  private failing = false
  private failedAt = 0
  private closed = false

  constructor(options: RotatingLogOptions) {
    this.dir = options.dir
    this.baseName = options.baseName ?? 'core'
    this.maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_LOG_MAX_BYTES)
    this.keep = Math.max(0, options.keep ?? DEFAULT_LOG_KEEP)
    this.maxBufferedBytes = options.maxBufferedBytes ?? 8 * 1024 * 1024
    this.retryAfterMs = options.retryAfterMs ?? 5000
    this.onError = options.onError ?? ((error) => console.error(`codex-desk: core log: ${error.message}`))
    this.now = options.now ?? Date.now
    this.path = this.fileName(0)
  }

  /** Queues `chunk` for the file. Never throws, never waits. */
  write(chunk: string | Uint8Array): void {
    if (this.closed) return
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk)
    if (buffer.length === 0) return
    if (this.failing && this.now() - this.failedAt < this.retryAfterMs) {
      this.droppedWhileFailing += buffer.length
      return
    }
    if (this.queuedBytes + buffer.length > this.maxBufferedBytes) {
      // Keeps the note in order: what was dropped came after what is queued and before what follows.
      const last = this.queue.at(-1)
      if (last && !Buffer.isBuffer(last)) last.dropped += buffer.length
      else this.queue.push({ dropped: buffer.length })
    } else {
      this.queue.push(buffer)
      this.queuedBytes += buffer.length
    }
    this.kick()
  }

  /** Resolves once everything queued so far is on disk (or dropped). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining
  }

  /** Flushes, closes the file, and ignores later writes. */
  async close(): Promise<void> {
    await this.flush()
    this.closed = true
    const handle = this.handle
    this.handle = undefined
    await handle?.close().catch(() => undefined)
  }

  private fileName(index: number): string {
    return join(this.dir, index === 0 ? `${this.baseName}.log` : `${this.baseName}.${index}.log`)
  }

  private kick(): void {
    if (this.draining) return
    this.draining = this.drain().finally(() => {
      this.draining = undefined
      // A write that landed after the loop's last check but before this callback.
      if (this.queue.length > 0) this.kick()
    })
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const items = this.queue
      this.queue = []
      this.queuedBytes = 0
      // One write per batch keeps syscalls few when the core is chatty.
      const earlier = this.droppedWhileFailing
      const parts: Buffer[] = earlier > 0 ? [droppedNote(earlier)] : []
      let bytes = 0
      for (const item of items) {
        parts.push(Buffer.isBuffer(item) ? item : droppedNote(item.dropped))
        bytes += Buffer.isBuffer(item) ? item.length : item.dropped
      }
      try {
        await this.append(Buffer.concat(parts))
        this.droppedWhileFailing -= earlier
        this.failing = false
      } catch (error) {
        this.droppedWhileFailing += bytes
        await this.handle?.close().catch(() => undefined)
        this.handle = undefined
        if (!this.failing) {
          try {
            this.onError(error as Error)
          } catch {
            // A reporter that throws must not turn a disk error into a crash.
          }
        }
        this.failing = true
        this.failedAt = this.now()
        // Whatever queued up during the failed attempt goes the same way.
        for (const item of this.queue)
          this.droppedWhileFailing += Buffer.isBuffer(item) ? item.length : item.dropped
        this.queue = []
        this.queuedBytes = 0
      }
    }
  }

  private async append(data: Buffer): Promise<void> {
    let offset = 0
    while (offset < data.length) {
      const handle = await this.openFile()
      const room = this.maxBytes - this.size
      const rest = data.length - offset
      if (rest > room && this.size > 0) {
        await this.rotate()
        continue
      }
      let end = offset + Math.min(rest, room)
      if (end < data.length) {
        // A chunk larger than a whole file: cut after a newline when there is one.
        const newline = data.lastIndexOf(0x0a, end - 1)
        if (newline >= offset) end = newline + 1
      }
      const slice = data.subarray(offset, end)
      let written = 0
      while (written < slice.length) {
        const { bytesWritten } = await handle.write(slice, written, slice.length - written)
        written += bytesWritten
      }
      this.size += slice.length
      offset = end
    }
  }

  private async openFile(): Promise<FileHandle> {
    if (this.handle) return this.handle
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const handle = await open(this.path, 'a', 0o600)
    try {
      // `open`'s mode only applies to a new file; an older file may have been created wider.
      await handle.chmod(0o600)
      this.size = (await handle.stat()).size
    } catch (error) {
      await handle.close().catch(() => undefined)
      throw error
    }
    this.handle = handle
    return handle
  }

  private async rotate(): Promise<void> {
    await this.handle?.close()
    this.handle = undefined
    this.size = 0
    if (this.keep === 0) {
      await rm(this.path, { force: true })
      return
    }
    await rm(this.fileName(this.keep), { force: true })
    for (let index = this.keep - 1; index >= 0; index--) {
      const from = this.fileName(index)
      if (await exists(from)) await rename(from, this.fileName(index + 1))
    }
  }
}

function droppedNote(bytes: number): Buffer {
  return Buffer.from(`[codex-desk] ${bytes} bytes of core output were dropped\n`)
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}
