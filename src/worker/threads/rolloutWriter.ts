/**
 * The rollout writer: appends lines to one open rollout file in order, coalescing bursts into one
 * write and streaming checkpoints to at most one line per item per 250 ms; and the EphemeralSink that
 * stands in for it on threads that keep nothing. RolloutStore opens the file and takes the writer
 * lock; the writer owns both until close().
 *
 * It must never report a line as written before the kernel has it (callers publish `item/completed`
 * only after `append` resolves: design rule 5), never drop a line silently (a failed write rejects
 * every append it carried and leaves the file as it was), and never write after close().
 */
import type { FileHandle } from 'node:fs/promises'
import { BatchQueue } from '../util/batchQueue'
import type { Logger } from '../util/log'
import { decodeLines, encodeLine, type RolloutLine, type RolloutPayloads, type RolloutType } from './rollout'
import type { WriterLock } from './writerLock'

export const CHECKPOINT_INTERVAL_MS = 250

/** The file operations a writer needs; tests wrap them to inject faults such as ENOSPC. */
export interface RolloutFile {
  /** Writes at `position`; resolves with the bytes written (possibly fewer than asked). */
  write(buffer: Uint8Array, position: number): Promise<number>
  truncate(length: number): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

export function nodeFile(handle: FileHandle): RolloutFile {
  return {
    write: async (buffer, position) => (await handle.write(buffer, 0, buffer.length, position)).bytesWritten,
    truncate: (length) => handle.truncate(length),
    sync: () => handle.sync(),
    close: () => handle.close(),
  }
}

/**
 * A checkpoint's text, or a function that produces it when the line is written: a streaming item
 * whose text is costly to assemble (reasoning parts) pays for that once per line, not per delta.
 */
export type CheckpointText = string | (() => string)

/** What thread code writes to: a RolloutWriter, or an EphemeralSink for threads that keep nothing. */
export interface RolloutSink {
  readonly threadId: string
  readonly path: string | null
  append<T extends RolloutType>(type: T, payload: RolloutPayloads[T]): Promise<void>
  checkpoint(turnId: string, itemId: string, text: CheckpointText): void
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
  checkpoint(_turnId: string, _itemId: string, _text: CheckpointText): void {}
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

interface Pending {
  /** null for a barrier: settles when everything queued before it is written (or failed). */
  text: string | null
  line: RolloutLine | null
}

interface CheckpointState {
  turnId: string
  text: CheckpointText
  /** Newer text than the last line queued for this item. */
  dirty: boolean
  lastAt: number
  timer: NodeJS.Timeout | null
}

export interface RolloutWriterInit {
  threadId: string
  path: string
  file: RolloutFile
  /** Bytes already in the file; writes go at this offset. */
  size: number
  nextOrdinal: number
  lock: WriterLock
  logger: Logger
  checkpointIntervalMs?: number
  /** After each successful write, with the lines it carried. */
  onWritten?: (lines: RolloutLine[]) => void
  onClosed?: () => void
}

export class RolloutWriter implements RolloutSink {
  readonly threadId: string
  readonly path: string
  private readonly file: RolloutFile
  private readonly lock: WriterLock
  private readonly logger: Logger
  private readonly interval: number
  private readonly onWritten: ((lines: RolloutLine[]) => void) | undefined
  private readonly onClosed: (() => void) | undefined
  private size: number
  private nextOrdinal: number
  /** A failed write may have left bytes past `size` that a truncate could not remove yet. */
  private tailDirty = false
  private unsynced = false
  /** The single writer: everything queued while a write was in flight goes out as one write. */
  private readonly writes = new BatchQueue<Pending>(
    (batch) => this.writeBatch(batch),
    (batch) => this.notifyWritten(batch),
  )
  private readonly checkpoints = new Map<string, CheckpointState>()
  private closing: Promise<void> | null = null

  /** Made by RolloutStore.create/open, which hold the lock and the file. */
  constructor(init: RolloutWriterInit) {
    this.threadId = init.threadId
    this.path = init.path
    this.file = init.file
    this.size = init.size
    this.nextOrdinal = init.nextOrdinal
    this.lock = init.lock
    this.logger = init.logger
    this.interval = init.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS
    this.onWritten = init.onWritten
    this.onClosed = init.onClosed
  }

  /** The ordinal the next line will get. */
  get ordinal(): number {
    return this.nextOrdinal
  }

  get isClosed(): boolean {
    return this.closing !== null
  }

  /**
   * Queues one line and resolves once the write that carries it has completed. Lines are written in
   * call order. Rejects with a RolloutWriteError if the write failed; the line is then not in the
   * file and the writer remains usable, so the caller may retry.
   */
  append<T extends RolloutType>(type: T, payload: RolloutPayloads[T]): Promise<void> {
    return this.appendAt(type, payload, Date.now())
  }

  /** `append` with a timestamp chosen by the caller (the store stamps session_meta with createdAt). */
  appendAt<T extends RolloutType>(type: T, payload: RolloutPayloads[T], atMs: number): Promise<void> {
    if (this.closing) {
      return Promise.reject(new RolloutWriteError(`the rollout writer of thread ${this.threadId} is closed`))
    }
    if (type === 'item_completed') {
      this.dropCheckpoint((payload as RolloutPayloads['item_completed']).item.id)
    }
    if (type === 'turn_completed') {
      // An item still streaming at turn end keeps its latest text: write it before the turn closes.
      this.settleCheckpoints((payload as RolloutPayloads['turn_completed']).turnId)
    }
    return this.enqueue(type, payload, atMs)
  }

  /**
   * Records an item's streaming text so far. The first call writes at once; later calls within
   * 250 ms of the last line for that item are held, and the latest of them is written when the
   * 250 ms are up. So a streaming item costs at most one line per 250 ms and the file is never more
   * than 250 ms behind. Failures are logged and the text stays pending for the next write.
   */
  checkpoint(turnId: string, itemId: string, text: CheckpointText): void {
    if (this.closing) return
    let state = this.checkpoints.get(itemId)
    if (!state) {
      state = { turnId, text, dirty: true, lastAt: -Infinity, timer: null }
      this.checkpoints.set(itemId, state)
    } else {
      state.turnId = turnId
      state.text = text
      state.dirty = true
    }
    if (state.timer) return
    const now = Date.now()
    const wait = state.lastAt + this.interval - now
    if (wait <= 0) {
      void this.emitCheckpoint(itemId, state, now).catch(() => undefined)
      return
    }
    const held = state
    // unref: a pending checkpoint must not keep a finished process alive; close() flushes it.
    held.timer = setTimeout(() => {
      held.timer = null
      if (held.dirty && this.checkpoints.get(itemId) === held) {
        void this.emitCheckpoint(itemId, held, Date.now()).catch(() => undefined)
      }
    }, wait)
    held.timer.unref()
  }

  /** Writes pending checkpoints now and resolves once everything queued so far is written. */
  async flush(): Promise<void> {
    const writes: Promise<void>[] = []
    for (const [itemId, state] of this.checkpoints) {
      if (state.timer) {
        clearTimeout(state.timer)
        state.timer = null
      }
      if (state.dirty) writes.push(this.emitCheckpoint(itemId, state, Date.now()))
    }
    await this.barrier()
    await Promise.all(writes)
  }

  /** Waits for queued lines, then fsyncs: call at turn end. */
  async sync(): Promise<void> {
    await this.barrier()
    if (!this.unsynced) return
    this.unsynced = false
    try {
      await this.file.sync()
    } catch (error) {
      this.unsynced = true
      throw new RolloutWriteError(this.failure('fsync', error), error)
    }
  }

  /** Flushes, fsyncs, closes the file and releases the lock. Appends after this reject. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      let failure: unknown
      try {
        await this.flush()
        await this.sync()
      } catch (error) {
        failure = error
        this.logger.warn({ threadId: this.threadId, error }, 'closing a rollout writer after a failed write')
      }
      for (const state of this.checkpoints.values()) if (state.timer) clearTimeout(state.timer)
      this.checkpoints.clear()
      await this.file.close().catch(() => undefined)
      await this.lock.release()
      this.onClosed?.()
      if (failure) throw failure
    })()
    return this.closing
  }

  private enqueue<T extends RolloutType>(type: T, payload: RolloutPayloads[T], atMs: number): Promise<void> {
    let text: string
    try {
      text = encodeLine(this.nextOrdinal, type, payload, atMs)
    } catch (error) {
      return Promise.reject(
        new RolloutWriteError(`cannot encode a ${type} line: ${(error as Error).message}`, error),
      )
    }
    const line = this.onWritten
      ? ({ timestamp: new Date(atMs).toISOString(), ordinal: this.nextOrdinal, type, payload } as RolloutLine)
      : null
    this.nextOrdinal++
    return this.writes.push({ text, line })
  }

  private barrier(): Promise<void> {
    return this.writes.push({ text: null, line: null }).catch(() => undefined)
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    const text = batch.map((p) => p.text ?? '').join('')
    if (text.length === 0) return
    try {
      await this.writeAll(Buffer.from(text, 'utf8'))
    } catch (error) {
      throw new RolloutWriteError(this.failure('write', error), error)
    }
  }

  private notifyWritten(batch: Pending[]): void {
    if (!this.onWritten) return
    const lines = batch.flatMap((p) => (p.line ? [p.line] : []))
    try {
      if (lines.length > 0) this.onWritten(lines)
    } catch (error) {
      this.logger.warn({ threadId: this.threadId, error }, 'a rollout write listener failed')
    }
  }

  private async writeAll(buffer: Buffer): Promise<void> {
    let offset = 0
    try {
      while (offset < buffer.length) {
        const written = await this.file.write(buffer.subarray(offset), this.size + offset)
        if (written <= 0) throw new Error('the file accepted no bytes')
        offset += written
      }
    } catch (error) {
      // Cut off whatever part of the batch did land, so the next write does not continue half a line.
      await this.file.truncate(this.size).then(
        () => (this.tailDirty = false),
        () => (this.tailDirty = true),
      )
      throw error
    }
    this.size += buffer.length
    this.unsynced = true
    if (this.tailDirty) {
      await this.file.truncate(this.size).then(
        () => (this.tailDirty = false),
        () => undefined,
      )
    }
  }

  private failure(what: string, error: unknown): string {
    const e = error as NodeJS.ErrnoException
    return `could not ${what} the rollout of thread ${this.threadId} (${this.path}): ${e.code ? `${e.code}: ` : ''}${e.message}`
  }

  private emitCheckpoint(itemId: string, state: CheckpointState, now: number): Promise<void> {
    state.dirty = false
    state.lastAt = now
    const source = state.text
    const text = typeof source === 'function' ? source() : source
    const written = this.enqueue('item_checkpoint', { turnId: state.turnId, itemId, text }, now)
    written.catch((error: unknown) => {
      // Still the latest text? Then keep it pending so flush, turn end or close retries it.
      if (this.checkpoints.get(itemId) === state && state.text === source) state.dirty = true
      this.logger.warn({ threadId: this.threadId, itemId, error }, 'could not write a checkpoint')
    })
    return written
  }

  private dropCheckpoint(itemId: string): void {
    const state = this.checkpoints.get(itemId)
    if (!state) return
    if (state.timer) clearTimeout(state.timer)
    this.checkpoints.delete(itemId)
  }

  private settleCheckpoints(turnId: string): void {
    for (const [itemId, state] of this.checkpoints) {
      if (state.turnId !== turnId) continue
      if (state.timer) clearTimeout(state.timer)
      if (state.dirty) void this.emitCheckpoint(itemId, state, Date.now()).catch(() => undefined)
      this.checkpoints.delete(itemId)
    }
  }
}

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
