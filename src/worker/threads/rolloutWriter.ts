/**
 * The rollout writer: appends lines to one open rollout file in order, coalescing everything queued
 * while a write is in flight into the next write. Streaming text is appended as it arrives
 * (`appendText`): deltas of one item queued together become one `item_text_delta` line, so a long
 * answer costs about its own length on disk. Whole-text `item_checkpoint` lines are only read
 * (older rollouts), never written. RolloutStore opens the file and takes the writer lock; the writer
 * owns both until close().
 *
 * It must never report a line as written before the kernel has it (callers publish a delta or
 * `item/completed` only after the append resolves: design rule 5), never drop a line silently (a
 * failed write rejects every append it carried and leaves the file as it was), and never write
 * after close().
 */
import { BatchQueue, untilImmediate } from '../util/batchQueue'
import type { Logger } from '../util/log'
import {
  encodeLineJson,
  payloadJsonOf,
  type ItemTextDelta,
  type RolloutLine,
  type RolloutPayloads,
  type RolloutType,
} from './rolloutLines'
import { RolloutWriteError, type RolloutFile, type RolloutSink } from './rolloutSink'
import type { WriterLock } from './writerLock'

// Moved to rolloutSink.ts and rolloutRepair.ts; re-exported for importers.
export { prepareForAppend } from './rolloutRepair'
export { EphemeralSink, nodeFile, RolloutWriteError } from './rolloutSink'
export type { RolloutFile, RolloutSink } from './rolloutSink'

type Pending =
  | {
      kind: 'line'
      type: RolloutType
      json: string
      atMs: number
      payload: unknown
      /** An item_completed written without its streamed text: written whole if that text broke. */
      unless?: { stream: TextStream; whole: RolloutPayloads['item_completed'] }
    }
  | { kind: 'text'; delta: ItemTextDelta; atMs: number }
  /** Settles when everything queued before it is written (or failed). */
  | { kind: 'barrier' }

/** What the writer knows of an agentMessage's streamed text: enough to leave it out of item_completed. */
interface TextStream {
  /** End of the text queued so far. */
  end: number
  /** A delta did not follow the last one, or a write of its text failed. */
  broken: boolean
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
    undefined,
    // Every delta one network read of the model's stream set off is written (and merged) together.
    untilImmediate,
  )
  private readonly streams = new Map<string, TextStream>()
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
    if (this.closing) return this.closedError()
    if (type === 'item_completed')
      return this.enqueueCompleted(payload as RolloutPayloads['item_completed'], atMs)
    return this.enqueue(type, payload, atMs)
  }

  appendText(delta: ItemTextDelta): Promise<void> {
    if (this.closing) return this.closedError()
    return this.queueText(delta, Date.now())
  }

  /** Resolves once everything queued so far is written (or failed: the appends reject). */
  flush(): Promise<void> {
    return this.barrier()
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
      this.streams.clear()
      await this.file.close().catch(() => undefined)
      await this.lock.release()
      this.onClosed?.()
      if (failure) throw failure
    })()
    return this.closing
  }

  private closedError(): Promise<never> {
    return Promise.reject(new RolloutWriteError(`the rollout writer of thread ${this.threadId} is closed`))
  }

  private enqueue<T extends RolloutType>(
    type: T,
    payload: RolloutPayloads[T],
    atMs: number,
    unless?: { stream: TextStream; whole: RolloutPayloads['item_completed'] },
  ): Promise<void> {
    let json: string
    try {
      json = payloadJsonOf(type, payload)
    } catch (error) {
      return Promise.reject(
        new RolloutWriteError(`cannot encode a ${type} line: ${(error as Error).message}`, error),
      )
    }
    return this.writes.push({ kind: 'line', type, json, atMs, payload, ...(unless ? { unless } : {}) })
  }

  private queueText(delta: ItemTextDelta, atMs: number): Promise<void> {
    if (delta.summaryIndex === undefined && delta.contentIndex === undefined) {
      const stream = this.streams.get(delta.itemId)
      const end = delta.offset + delta.text.length
      if (!stream) this.streams.set(delta.itemId, { end, broken: delta.offset !== 0 })
      else {
        if (delta.offset !== stream.end) stream.broken = true
        stream.end = end
      }
    }
    return this.writes.push({ kind: 'text', delta, atMs })
  }

  /**
   * An agentMessage whose whole text is what its deltas carried (the caller says so with
   * `textFromDeltas`; the writer checks that they were queued without a gap, and again when the
   * line is written that none failed) is written without it.
   */
  private enqueueCompleted(payload: RolloutPayloads['item_completed'], atMs: number): Promise<void> {
    const { item, textFromDeltas, ...rest } = payload
    const stream = this.streams.get(item.id)
    this.streams.delete(item.id)
    if (textFromDeltas === undefined) return this.enqueue('item_completed', payload, atMs)
    const whole = { ...rest, item }
    const elide =
      item.type === 'agentMessage' &&
      stream !== undefined &&
      !stream.broken &&
      stream.end === textFromDeltas &&
      item.text.length === textFromDeltas
    if (!elide) return this.enqueue('item_completed', whole, atMs)
    const without = { ...rest, item: { ...item, text: '' }, textFromDeltas }
    return this.enqueue('item_completed', without, atMs, { stream, whole })
  }

  private barrier(): Promise<void> {
    return this.writes.push({ kind: 'barrier' }).catch(() => undefined)
  }

  /** Encodes the batch (ordinals are given here, in file order) and writes it with one write. */
  private async writeBatch(batch: Pending[]): Promise<void> {
    const text: string[] = []
    const lines: RolloutLine[] = []
    const firstOrdinal = this.nextOrdinal
    let ordinal = firstOrdinal
    for (let i = 0; i < batch.length; i++) {
      const entry = batch[i] as Pending
      if (entry.kind === 'barrier') continue
      if (entry.kind === 'line') {
        const json = entry.unless?.stream.broken ? JSON.stringify(entry.unless.whole) : entry.json
        text.push(encodeLineJson(ordinal, entry.type, json, entry.atMs))
        if (this.onWritten) lines.push(lineOf(ordinal, entry.type, entry.payload, entry.atMs))
        ordinal++
        continue
      }
      // A run of deltas of the same field, each following the last, becomes one line.
      const first = entry.delta
      let merged = first.text
      let end = first.offset + first.text.length
      let pieces: string[] | null = null
      while (i + 1 < batch.length) {
        const next = batch[i + 1] as Pending
        if (next.kind !== 'text' || !sameField(first, next.delta) || next.delta.offset !== end) break
        ;(pieces ??= [merged]).push(next.delta.text)
        end += next.delta.text.length
        i++
      }
      if (pieces) merged = pieces.join('')
      const payload: ItemTextDelta = { ...first, text: merged }
      text.push(encodeLineJson(ordinal, 'item_text_delta', JSON.stringify(payload), entry.atMs))
      if (this.onWritten) lines.push(lineOf(ordinal, 'item_text_delta', payload, entry.atMs))
      ordinal++
    }
    // Ordinals are spent even if the write fails: they never repeat.
    this.nextOrdinal = ordinal
    if (text.length === 0) return
    try {
      await this.writeAll(Buffer.from(text.join(''), 'utf8'))
    } catch (error) {
      for (const entry of batch)
        if (entry.kind === 'text') {
          const stream = this.streams.get(entry.delta.itemId)
          if (stream) stream.broken = true
        }
      throw new RolloutWriteError(this.failure('write', error), error)
    }
    this.notifyWritten(lines)
  }

  private notifyWritten(lines: RolloutLine[]): void {
    if (!this.onWritten || lines.length === 0) return
    try {
      this.onWritten(lines)
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
}

function sameField(a: ItemTextDelta, b: ItemTextDelta): boolean {
  return (
    a.itemId === b.itemId &&
    a.turnId === b.turnId &&
    a.summaryIndex === b.summaryIndex &&
    a.contentIndex === b.contentIndex
  )
}

function lineOf(ordinal: number, type: RolloutType, payload: unknown, atMs: number): RolloutLine {
  return { timestamp: new Date(atMs).toISOString(), ordinal, type, payload } as RolloutLine
}
