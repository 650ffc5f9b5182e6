/**
 * Rollout files on disk: `$home/sessions/YYYY/MM/DD/rollout-<UTC time>-<threadId>.jsonl`, one per
 * thread, created with the thread (so a thread that never ran a turn can be resumed), moved to
 * `$home/archived_sessions/` on archive. The store creates, opens, finds, reads and moves them and
 * keeps the thread index in step; appending is the RolloutWriter's (rolloutWriter.ts), and the lock
 * that keeps a second process from writing the same thread is in writerLock.ts.
 *
 * It must never write an ephemeral thread, never open a writer or move a rollout without holding the
 * thread's writer lock, and never let a rollout without its session_meta line stay on disk.
 */
import { mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { invalidRequest } from '../protocol/errors'
import { silentLogs, type Logger } from '../util/log'
import { replay, type ReplayOptions, type ReplayedThread, type SessionMeta } from './rollout'
import { DIR_MODE, FILE_MODE } from './pidLock'
import type { DecodedLines } from './rolloutLines'
import { readRolloutFile } from './rolloutRead'
import { nodeFile, prepareForAppend, RolloutWriter, type RolloutFile } from './rolloutWriter'
import {
  ARCHIVED_DIR,
  SESSIONS_DIR,
  scanForRollout,
  summaryFromLines,
  summaryFromMeta,
  type ThreadIndex,
} from './threadIndex'
import {
  acquireWriterLock,
  activeWriterError,
  assertThreadId,
  hasLiveWriter,
  type WriterLock,
} from './writerLock'

// Moved to rolloutWriter.ts and writerLock.ts; re-exported for code that imports them from here.
export { EphemeralSink, RolloutWriteError, RolloutWriter } from './rolloutWriter'
export type { RolloutSink } from './rolloutWriter'
export { activeWriterError, hasLiveWriter } from './writerLock'

const FILE_NAME = /^rollout-(\d{4})-(\d{2})-(\d{2})T\d{2}-\d{2}-\d{2}-(.+)\.jsonl$/

export const noRolloutFound = (threadId: string) =>
  invalidRequest(`no rollout found for thread id ${threadId}`)

/** `rollout-2025-01-02T03-04-05-<id>.jsonl`, in UTC. */
export function rolloutFileName(createdAtMs: number, threadId: string): string {
  const iso = new Date(createdAtMs).toISOString()
  return `rollout-${iso.slice(0, 10)}T${iso.slice(11, 19).replaceAll(':', '-')}-${threadId}.jsonl`
}

export function rolloutPath(home: string, createdAtMs: number, threadId: string): string {
  const iso = new Date(createdAtMs).toISOString()
  return join(
    home,
    SESSIONS_DIR,
    iso.slice(0, 4),
    iso.slice(5, 7),
    iso.slice(8, 10),
    rolloutFileName(createdAtMs, threadId),
  )
}

/** The thread id in a rollout file name, or null. */
export function threadIdOfPath(path: string): string | null {
  return FILE_NAME.exec(basename(path))?.[4] ?? null
}

// ---------------------------------------------------------------------------------------------
// The store

export interface RolloutStoreOptions {
  home: string
  index: ThreadIndex
  logger?: Logger
  /** Wraps each rollout file a writer opens; tests use it to inject I/O faults. */
  wrapFile?: (file: RolloutFile, path: string) => RolloutFile
}

/** What create() takes: the meta without the parts the store fills in. */
export type NewSessionMeta = Omit<SessionMeta, 'createdAt' | 'ephemeral'> & {
  createdAt?: number
  ephemeral?: false
}

export interface RolloutLocation {
  path: string
  archived: boolean
}

export class RolloutStore {
  readonly home: string
  private readonly index: ThreadIndex
  private readonly logger: Logger
  private readonly options: RolloutStoreOptions
  private readonly writers = new Map<string, RolloutWriter>()

  constructor(options: RolloutStoreOptions) {
    this.home = options.home
    this.index = options.index
    this.logger = options.logger ?? silentLogs.get('rollouts')
    this.options = options
  }

  /** The writer this store has open for a thread, if any. */
  writer(threadId: string): RolloutWriter | undefined {
    return this.writers.get(threadId)
  }

  /**
   * Creates the thread's rollout now (the session_meta line is written before this resolves) and
   * indexes it. The caller owns the returned writer and closes it when the thread unloads.
   */
  async create(meta: NewSessionMeta): Promise<{ path: string; writer: RolloutWriter }> {
    assertThreadId(meta.id)
    if ((meta as { ephemeral?: boolean }).ephemeral) {
      throw new Error(`thread ${meta.id} is ephemeral: it has no rollout (use an EphemeralSink)`)
    }
    if (this.index.get(meta.id)) throw invalidRequest(`thread ${meta.id} already has a rollout`)
    const nowMs = Date.now()
    const createdAt = meta.createdAt ?? Math.floor(nowMs / 1000)
    // A caller-supplied createdAt (an import) dates the file; otherwise now, to the millisecond.
    const atMs = meta.createdAt === undefined ? nowMs : createdAt * 1000
    const path = rolloutPath(this.home, atMs, meta.id)
    const full: SessionMeta = { ...meta, createdAt, ephemeral: false }
    const lock = await acquireWriterLock(this.home, meta.id)
    let handle: FileHandle | undefined
    try {
      await mkdir(dirname(path), { recursive: true, mode: DIR_MODE })
      // Only the user may read a rollout: it holds every prompt, answer and command output.
      handle = await open(path, 'wx', FILE_MODE)
      const writer = this.makeWriter(meta.id, path, handle, lock, 0, 0)
      await writer.appendAt('session_meta', full, atMs)
      await this.index.upsert(summaryFromMeta(full, path, atMs)).catch((error: unknown) => {
        // The rollout is the truth; the index catches up at its next compaction.
        this.logger.warn({ threadId: meta.id, error }, 'could not log the new thread in the index')
      })
      return { path, writer }
    } catch (error) {
      this.writers.delete(meta.id)
      if (handle) {
        // A rollout without its session_meta is useless and would block a retry ('wx').
        await handle.close().catch(() => undefined)
        await unlink(path).catch(() => undefined)
      }
      await lock.release()
      throw error
    }
  }

  /** Opens an existing, unarchived rollout for appending (resume after a restart). */
  async open(threadId: string): Promise<RolloutWriter> {
    assertThreadId(threadId)
    if (this.writers.has(threadId)) throw activeWriterError(threadId)
    const location = await this.locate(threadId)
    if (!location) throw noRolloutFound(threadId)
    if (location.archived) throw invalidRequest(`thread ${threadId} is archived; unarchive it first`)
    const lock = await acquireWriterLock(this.home, threadId)
    let handle: FileHandle | undefined
    try {
      handle = await open(location.path, 'r+')
      const { size, nextOrdinal } = await prepareForAppend(handle)
      const writer = this.makeWriter(threadId, location.path, handle, lock, size, nextOrdinal)
      if (!this.index.get(threadId)) await this.indexFromFile(location.path, false)
      return writer
    } catch (error) {
      this.writers.delete(threadId)
      await handle?.close().catch(() => undefined)
      await lock.release()
      throw error
    }
  }

  /**
   * Reads and replays a rollout. By default a turn without `turn_completed` reads as interrupted,
   * unless a live writer holds the thread (the turn is running right now).
   */
  async read(threadIdOrPath: string, options: Pick<ReplayOptions, 'openTurn'> = {}): Promise<ReplayedThread> {
    const isPath = threadIdOrPath.includes('/') || threadIdOrPath.endsWith('.jsonl')
    let threadId = isPath ? threadIdOfPath(threadIdOrPath) : threadIdOrPath
    if (!isPath) assertThreadId(threadIdOrPath)
    const path = isPath ? threadIdOrPath : await this.findPath(threadIdOrPath)
    if (!path) throw noRolloutFound(threadIdOrPath)
    let decoded: DecodedLines
    try {
      decoded = await readRolloutFile(path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw noRolloutFound(threadId ?? threadIdOrPath)
      throw error
    }
    const { lines, problems } = decoded
    threadId = (lines[0]?.type === 'session_meta' ? lines[0].payload.id : null) ?? threadId
    if (problems.length > 0) this.logger.warn({ path, problems }, 'skipped unreadable rollout lines')
    const openTurn =
      options.openTurn ??
      (threadId && (await hasLiveWriter(this.home, threadId)) ? 'inProgress' : 'interrupted')
    const replayed = replay(lines, { path, openTurn, ...(threadId ? { threadId } : {}) })
    replayed.problems.unshift(...problems.map((p) => `line ${p.line}: ${p.kind}: ${p.message}`))
    return replayed
  }

  async findPath(threadId: string): Promise<string | null> {
    return (await this.locate(threadId))?.path ?? null
  }

  /** Where a thread's rollout is: from the index, else by scanning the folders (and fixing the index). */
  async locate(threadId: string): Promise<RolloutLocation | null> {
    assertThreadId(threadId)
    const summary = this.index.get(threadId)
    if (summary && (await exists(summary.path))) return { path: summary.path, archived: summary.archived }
    const found = await scanForRollout(this.home, threadId)
    if (found) {
      if (summary) await this.index.setArchived(threadId, found.archived, found.path).catch(() => undefined)
      else await this.indexFromFile(found.path, found.archived)
    }
    return found
  }

  /** Moves the rollout to archived_sessions/. Closes this store's writer for it first. */
  async archive(threadId: string): Promise<string> {
    return this.move(threadId, true)
  }

  /** Moves the rollout back to sessions/YYYY/MM/DD/ (the date in its file name). */
  async unarchive(threadId: string): Promise<string> {
    return this.move(threadId, false)
  }

  /** Closes every writer this store opened. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.writers.values()].map((w) => w.close()))
    await this.index.flush()
  }

  private async move(threadId: string, toArchive: boolean): Promise<string> {
    const location = await this.locate(threadId)
    if (!location) throw noRolloutFound(threadId)
    if (location.archived === toArchive) return location.path
    await this.writers.get(threadId)?.close()
    // Holding the lock while moving keeps another process from opening a writer mid-move.
    const lock = await acquireWriterLock(this.home, threadId)
    try {
      const name = basename(location.path)
      const date = FILE_NAME.exec(name)
      const target = toArchive
        ? join(this.home, ARCHIVED_DIR, name)
        : date
          ? join(this.home, SESSIONS_DIR, date[1] as string, date[2] as string, date[3] as string, name)
          : join(this.home, SESSIONS_DIR, name)
      // A rename keeps the file's mode; only a new directory needs one.
      await mkdir(dirname(target), { recursive: true, mode: DIR_MODE })
      await rename(location.path, target)
      if (this.index.get(threadId)) await this.index.setArchived(threadId, toArchive, target)
      else await this.indexFromFile(target, toArchive)
      return target
    } finally {
      await lock.release()
    }
  }

  private makeWriter(
    threadId: string,
    path: string,
    handle: FileHandle,
    lock: WriterLock,
    size: number,
    nextOrdinal: number,
  ): RolloutWriter {
    const file = this.options.wrapFile ? this.options.wrapFile(nodeFile(handle), path) : nodeFile(handle)
    const writer: RolloutWriter = new RolloutWriter({
      threadId,
      path,
      file,
      size,
      nextOrdinal,
      lock,
      logger: this.logger,
      onWritten: (lines) => this.index.applyLines(threadId, lines),
      onClosed: () => {
        if (this.writers.get(threadId) === writer) this.writers.delete(threadId)
      },
    })
    this.writers.set(threadId, writer)
    return writer
  }

  private async indexFromFile(path: string, archived: boolean): Promise<void> {
    const summary = summaryFromLines(path, (await readRolloutFile(path)).lines, archived)
    if (summary) await this.index.upsert(summary).catch(() => undefined)
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}
