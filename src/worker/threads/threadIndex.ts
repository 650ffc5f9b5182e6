/**
 * The thread index: one summary per stored thread (threadSummary.ts), kept in memory and persisted
 * in `$home/thread_index.jsonl` (indexLog.ts), so `thread/list` (threadListQuery.ts) never opens a
 * rollout. Several processes may share the home: each follows the file (a stat per listing, and
 * a read of whatever others appended), so a thread one process creates is listed by the others.
 * At start, the rollout folders are compared with the index, and rollouts it lacks (a process died
 * before logging them, or one was copied in) are read and added; a rebuild happens when the file
 * is missing or unusable. A new process loads the snapshot (indexSnapshot.ts) when it covers the
 * log, and reads only the log's lines after it; a snapshot is written in the background once the
 * log has grown past it by enough lines, and after each compaction.
 *
 * It must never be the only copy of anything: every field is derived from the rollouts, so losing
 * the file costs a rescan, never data. Listing reads no rollout.
 */
import { unlinkSync } from 'node:fs'
import { chmod, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { prepareHome } from '../home'
import type { Thread, ThreadListParams, ThreadListResponse, ThreadStatus } from '../protocol/items'
import { BatchQueue } from '../util/batchQueue'
import { silentLogs, type Logger } from '../util/log'
import type { RolloutLine } from './rollout'
import { fold, idOf, INDEX_FILE, IndexLog, type ChangeLine } from './indexLog'
import {
  readSnapshotOf,
  SNAPSHOT_FILE,
  SnapshotCorrupt,
  SnapshotRow,
  type SnapshotFile,
  summaryOf,
  type LogPosition,
} from './indexSnapshot'
import { IndexEntries } from './indexEntries'
import { snapshotLogFile } from './snapshotWrite'
import { addMissingRollouts } from './missingRollouts'
import { FILE_MODE } from './pidLock'
import { scanAllRollouts } from './rolloutScan'
import { NOT_LOADED, ThreadListing } from './threadListQuery'
import { applyLineToSummary, threadFromSummary, type ThreadSummary } from './threadSummary'

export { INDEX_FILE, INDEX_VERSION } from './indexLog'
export { ARCHIVED_DIR, SESSIONS_DIR, scanForRollout } from './rolloutScan'
export { LIST_DEFAULT_LIMIT, LIST_MAX_LIMIT } from './threadListQuery'
export {
  applyLineToSummary,
  summaryFromLines,
  summaryFromMeta,
  threadFromSummary,
  type ThreadSummary,
} from './threadSummary'

export interface ThreadIndexOptions {
  home: string
  logger?: Logger
  /** The log is compacted when it has more than max(2 x live threads, this) lines. Default 64. */
  compactMinLines?: number
  /** No snapshot is written for fewer threads than this (the log loads fast enough). Default 256. */
  snapshotMinThreads?: number
  /** A new snapshot is written once the log has this many lines after the last one. Default 512. */
  snapshotTailLines?: number
  /** How long after loading without a usable snapshot one is written. Default 2,000 ms. */
  snapshotDelayMs?: number
}

/** A request in the write queue: a change line, null for "compact now", or "write a snapshot". */
type QueuedWrite = ChangeLine | null | 'snapshot'

export class ThreadIndex {
  readonly path: string
  /** Summaries, or snapshot rows standing for them until a summary is needed (summaryOf). */
  private readonly live = new IndexEntries()
  /** This process's changes not yet in the file: newer than anything read from it. */
  private readonly unwritten = new Map<string, ChangeLine>()
  private readonly listing: ThreadListing
  private readonly log: IndexLog
  private readonly logger: Logger
  private readonly compactMinLines: number
  /** The single writer: batches whatever queued while the previous write was in flight. */
  private readonly writes = new BatchQueue<QueuedWrite>((items) => this.writeBatch(items))
  /** A rebuild's scan, for the next compaction to start from. */
  private rebuildBase: Map<string, ThreadSummary> | null = null
  private closed = false
  /** Set by close(): any line past the newest snapshot is then reason to write one. */
  private closing = false
  /** The log position the newest snapshot we know of covers (loaded or written by us). */
  private snapshotAt: LogPosition | null = null
  private snapshotTimer: NodeJS.Timeout | null = null
  /** The loaded snapshot's file, open while its rows may still read their entries. */
  private snapshotFile: SnapshotFile | null = null
  private readonly snapshot: { minThreads: number; tailLines: number; delayMs: number }
  /** How the in-memory state was obtained, for logs and tests. */
  loadedFrom: 'log' | 'rebuild' | 'snapshot' = 'log'

  private constructor(
    private readonly home: string,
    logger: Logger,
    options: ThreadIndexOptions,
  ) {
    this.path = join(home, INDEX_FILE)
    this.logger = logger
    this.compactMinLines = options.compactMinLines ?? 64
    this.snapshot = {
      minThreads: options.snapshotMinThreads ?? 256,
      tailLines: options.snapshotTailLines ?? 512,
      delayMs: options.snapshotDelayMs ?? 2_000,
    }
    this.listing = new ThreadListing(home, this.live)
    this.log = new IndexLog(this.path, {
      reset: () => {
        for (const id of this.live.keys()) if (!this.unwritten.has(id)) this.live.delete(id)
        // Only this process's own summaries are left: no snapshot row reads the file any more.
        this.snapshotFile?.close()
        this.snapshotFile = null
        this.listing.invalidate()
      },
      apply: (line) => {
        // Our own newer change wins over anything read before it is written.
        if (this.unwritten.has(idOf(line))) return
        fold(this.live, [line])
        this.listing.invalidate()
      },
    })
  }

  /**
   * Loads the file, or rebuilds it from the rollouts when it is missing or unusable; then adds the
   * rollouts the index does not list.
   */
  static async load(options: ThreadIndexOptions): Promise<ThreadIndex> {
    const logger = options.logger ?? silentLogs.get('threadIndex')
    await prepareHome(options.home, logger)
    const index = new ThreadIndex(options.home, logger, options)
    const fromSnapshot = index.loadSnapshot()
    const outcome = index.log.refresh()
    const reason =
      outcome.kind === 'missing'
        ? 'the index file is missing'
        : outcome.kind === 'unusable'
          ? outcome.reason
          : outcome.valid === 0 && outcome.bad > 0 && !fromSnapshot
            ? 'the index file has no readable line'
            : null
    if (reason !== null) {
      index.live.clear()
      await index.rebuild(reason)
      return index
    }
    await index.tightenMode()
    if (outcome.kind === 'ok' && outcome.bad > 0) {
      index.logger.warn(
        { path: index.path, skipped: outcome.bad },
        'thread index had unreadable lines; compacting it',
      )
      await index.compact()
    }
    await index.addMissingRollouts()
    if (index.snapshotDue()) index.scheduleSnapshot()
    return index
  }

  /**
   * Takes the snapshot's rows when it covers the log file as it is now (same file, same bytes up
   * to its offset); the log's lines after that offset are read next. False without a usable one.
   */
  private loadSnapshot(): boolean {
    const snapshot = readSnapshotOf(this.home, this.path)
    if (!snapshot) return false
    const { covers } = snapshot
    this.live.useSnapshot(snapshot.rows)
    this.snapshotFile = snapshot.file
    this.log.resumeAt(covers)
    this.snapshotAt = covers
    this.loadedFrom = 'snapshot'
    return true
  }

  get size(): number {
    return this.live.size
  }

  /** Non-blank lines in the log file as last read (compaction keeps this under ~2x size). */
  get logLineCount(): number {
    return this.log.lineCount
  }

  /** The live summary: read it, never change it (use upsert). A miss re-reads the file first. */
  get(id: string): Readonly<ThreadSummary> | undefined {
    return this.guarded(() => {
      const entry = this.live.get(id)
      if (entry) return summaryOf(entry)
      this.catchUp()
      const found = this.live.get(id)
      return found ? summaryOf(found) : undefined
    })
  }

  /** All summaries, in no particular order. */
  all(): IterableIterator<Readonly<ThreadSummary>> {
    this.catchUp()
    return this.guarded(() => Array.from(this.live.values(), summaryOf)).values()
  }

  thread(id: string, status: ThreadStatus = NOT_LOADED): Thread | undefined {
    const summary = this.get(id)
    return summary ? threadFromSummary(summary, status) : undefined
  }

  list(params: ThreadListParams = {}, liveStatus?: (id: string) => ThreadStatus): ThreadListResponse {
    this.catchUp()
    return this.guarded(() => this.listing.list(params, liveStatus))
  }

  /** Adds or replaces a summary; resolves once its log line is written. */
  upsert(summary: ThreadSummary): Promise<void> {
    this.live.set(summary.id, summary)
    this.listing.invalidate()
    return this.write({ op: 'upsert', thread: summary })
  }

  delete(id: string): Promise<void> {
    if (!this.live.delete(id)) return Promise.resolve()
    this.listing.invalidate()
    return this.write({ op: 'delete', id })
  }

  /** Archive and unarchive: the rollout moved. */
  setArchived(id: string, archived: boolean, path: string): Promise<void> {
    const summary = this.get(id)
    if (!summary) return Promise.resolve()
    return this.upsert({ ...summary, archived, path })
  }

  /**
   * Folds freshly written rollout lines into the thread's summary and logs it when something
   * listed changed. Called by the rollout store after each write; a log failure is logged, not
   * thrown (the rollout already has the truth, and the next compaction writes what was missed).
   */
  applyLines(threadId: string, lines: readonly RolloutLine[]): void {
    const entry = this.live.get(threadId)
    if (!entry) return
    const current = this.guarded(() => summaryOf(entry))
    const next = { ...current }
    let changed = false
    for (const line of lines) changed = applyLineToSummary(next, line) || changed
    if (!changed) return
    this.upsert(next).catch((error: unknown) =>
      this.logger.warn(
        { threadId, error },
        'could not log a thread index update; the next compaction writes it',
      ),
    )
  }

  /** Resolves once every queued log line is written. */
  flush(): Promise<void> {
    return this.writes.idle()
  }

  async close(): Promise<void> {
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer)
    this.snapshotTimer = null
    await this.flush()
    // A process leaves a snapshot of the whole log when it closes, so that the next one finds its
    // threads without a tail to read (a tail makes every snapshot row at once).
    this.closing = true
    if (this.snapshotDue())
      await this.writes
        .push('snapshot')
        .catch((error: Error) =>
          this.logger.debug({ err: error.message }, 'could not write the thread index snapshot'),
        )
    this.closed = true
    this.snapshotFile?.close()
  }

  // ------------------------------------------------------------------------------------------
  // The snapshot

  /** Runs `read`; a damaged snapshot entry drops the snapshot, and `read` runs again on the log. */
  private guarded<T>(read: () => T): T {
    try {
      return read()
    } catch (error) {
      if (!(error instanceof SnapshotCorrupt)) throw error
      this.dropSnapshot(error)
      return read()
    }
  }

  /** Memory goes back to the whole log (the snapshot rows all leave), and the file is removed. */
  private dropSnapshot(error: SnapshotCorrupt): void {
    this.logger.warn(
      { path: join(this.home, SNAPSHOT_FILE), reason: error.message },
      'thread index snapshot is damaged; reading the whole index',
    )
    for (const [id, entry] of this.live) if (entry instanceof SnapshotRow) this.live.delete(id)
    this.listing.invalidate()
    this.snapshotAt = null
    this.log.forget()
    this.catchUp()
    // Gone before the next snapshot is made, so that one does not copy the damaged entry on.
    try {
      unlinkSync(join(this.home, SNAPSHOT_FILE))
    } catch {
      // Already gone.
    }
    this.scheduleSnapshot()
  }

  /** Whether the log has grown past the newest snapshot by enough to write another. */
  private snapshotDue(): boolean {
    if (this.live.size < this.snapshot.minThreads) return false
    const at = this.log.position()
    if (!at) return false
    const known = this.snapshotAt
    if (!known || known.dev !== at.dev || known.ino !== at.ino) return true
    return at.lineCount - known.lineCount >= (this.closing ? 1 : this.snapshot.tailLines)
  }

  private scheduleSnapshot(): void {
    if (this.snapshotTimer || this.closed) return
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null
      this.requestSnapshot()
    }, this.snapshot.delayMs)
    this.snapshotTimer.unref()
  }

  private requestSnapshot(): void {
    if (this.closed) return
    this.writes
      .push('snapshot')
      .catch((error: Error) =>
        this.logger.debug({ err: error.message }, 'could not write the thread index snapshot'),
      )
  }

  /**
   * Writes a snapshot of the log file (from the file, not from memory), in the write queue so it
   * never reads the file halfway through one of this process's own compactions.
   */
  private async snapshotNow(): Promise<void> {
    if (!this.snapshotDue()) return
    const at = await snapshotLogFile(this.home, this.path, this.snapshot.minThreads)
    if (at) this.snapshotAt = at
  }

  // ------------------------------------------------------------------------------------------
  // Consistency with the rollouts

  /** Scans sessions/ and archived_sessions/ and replaces the in-memory state and the file. */
  async rebuild(reason = 'requested'): Promise<void> {
    const t0 = performance.now()
    const { found, unreadable } = await scanAllRollouts(this.home, this.logger)
    await this.flush()
    this.rebuildBase = found
    await this.compact()
    if (this.rebuildBase) {
      // Another process held the compaction lock throughout: it writes the file; memory is the scan.
      this.rebuildBase = null
      this.replaceLive(found)
    }
    this.loadedFrom = 'rebuild'
    this.logger.info(
      { reason, threads: found.size, unreadable, ms: Math.round(performance.now() - t0) },
      'rebuilt the thread index by scanning the rollouts',
    )
  }

  /**
   * Adds the rollouts on disk that the index does not list, and fixes the place of ones that moved
   * (missingRollouts.ts). Returns how many summaries it added or fixed.
   */
  addMissingRollouts(): Promise<number> {
    return addMissingRollouts({
      home: this.home,
      path: this.path,
      logger: this.logger,
      peek: (id) => {
        const entry = this.live.get(id)
        return entry ? this.guarded(() => summaryOf(entry)) : undefined
      },
      catchUp: () => this.catchUp(),
      get: (id) => this.get(id),
      upsert: (summary) => this.upsert(summary),
      flush: () => this.flush(),
    })
  }

  // ------------------------------------------------------------------------------------------
  // The file

  /** Reads what other processes appended; a read failure keeps memory as it is. */
  private catchUp(): void {
    try {
      const outcome = this.log.refresh()
      if (outcome.kind === 'unusable')
        this.logger.warn({ path: this.path, reason: outcome.reason }, 'could not read the thread index')
    } catch (error) {
      this.logger.warn({ path: this.path, error }, 'could not read the thread index')
    }
  }

  /** Files written by older versions may be 0644; the home is 0700 now, but say it twice. */
  private async tightenMode(): Promise<void> {
    if (process.platform === 'win32') return
    const mode = await stat(this.path).then(
      (s) => s.mode & 0o777,
      () => FILE_MODE,
    )
    if (mode & 0o077) await chmod(this.path, FILE_MODE).catch(() => undefined)
  }

  private write(line: ChangeLine): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the thread index is closed'))
    this.unwritten.set(idOf(line), line)
    return this.writes.push(line)
  }

  /** Rewrites the file through the write queue, so it never races this process's own appends. */
  private compact(): Promise<void> {
    return this.writes.push(null)
  }

  private compactLimit(): number {
    return Math.max(2 * this.live.size, this.compactMinLines)
  }

  private async writeBatch(queued: QueuedWrite[]): Promise<void> {
    const items = queued.filter((item) => item !== 'snapshot')
    if (items.length < queued.length) await this.snapshotNow()
    if (items.length === 0) return
    await this.writeLines(items)
    if (this.snapshotDue()) this.requestSnapshot()
  }

  private async writeLines(items: (ChangeLine | null)[]): Promise<void> {
    const lines = items.filter((item): item is ChangeLine => item !== null)
    try {
      const forced = lines.length < items.length
      if (forced || this.log.lineCount + lines.length > this.compactLimit()) {
        // Another process compacting means this batch is appended and compaction waits a turn.
        if (await this.compactNow(forced)) return
      }
      if (lines.length === 0) return
      if ((await this.log.append(lines)) === 'missing') {
        // Deleted under us: write a full snapshot rather than a file with only these lines.
        if (!(await this.compactNow(true))) throw new Error('another process holds the index lock')
        return
      }
      for (const line of lines) {
        if (this.unwritten.get(idOf(line)) === line) this.unwritten.delete(idOf(line))
      }
      this.catchUp()
    } catch (error) {
      // The lines stay in `unwritten`: memory keeps them and the next compaction writes them.
      throw new Error(`could not write the thread index ${this.path}: ${(error as Error).message}`, {
        cause: error,
      })
    }
  }

  /** One compaction; false when another process holds the lock (and `wait` is false). */
  private async compactNow(wait: boolean): Promise<boolean> {
    const included = new Map<string, ChangeLine>()
    const base = this.rebuildBase ?? undefined
    const map = await this.log.compact({
      ...(base ? { base } : {}),
      wait,
      overlay: (snapshot) => {
        for (const [id, line] of this.unwritten) included.set(id, line)
        fold(snapshot, [...included.values()])
      },
    })
    if (!map) return false
    this.rebuildBase = null
    for (const [id, line] of included) if (this.unwritten.get(id) === line) this.unwritten.delete(id)
    this.replaceLive(map)
    this.catchUp()
    return true
  }

  /** Memory becomes `map`, with this process's changes still in flight on top. */
  private replaceLive(map: ReadonlyMap<string, ThreadSummary>): void {
    this.live.clear()
    for (const [id, summary] of map) this.live.set(id, summary)
    fold(this.live, [...this.unwritten.values()])
    this.listing.invalidate()
  }
}
