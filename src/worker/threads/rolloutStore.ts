/**
 * Rollout files on disk: `$home/sessions/YYYY/MM/DD/rollout-<UTC time>-<threadId>.jsonl`, one per
 * thread, created with the thread (so a thread that never ran a turn can be resumed), moved to
 * `$home/archived_sessions/` on archive. A `RolloutWriter` appends lines in order, coalescing bursts
 * into one write and streaming checkpoints to at most one line per item per 250 ms; a lock file in
 * `$home/thread-writer-locks/` keeps a second process from writing the same thread.
 *
 * It must never report a line as written before the kernel has it (callers publish `item/completed`
 * only after `append` resolves: design rule 5), never drop a line silently (a failed write rejects
 * every append it carried and leaves the file as it was), and never write an ephemeral thread.
 */
import { randomBytes } from 'node:crypto'
import {
  link,
  mkdir,
  open,
  readFile,
  rename,
  rmdir,
  stat,
  unlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { invalidRequest } from '../protocol/errors'
import { silentLogs, type Logger } from '../util/log'
import {
  decodeLines,
  encodeLine,
  replay,
  type ReplayOptions,
  type ReplayedThread,
  type RolloutLine,
  type RolloutPayloads,
  type RolloutType,
  type SessionMeta,
} from './rollout'
import {
  ARCHIVED_DIR,
  SESSIONS_DIR,
  scanForRollout,
  summaryFromLines,
  summaryFromMeta,
  type ThreadIndex,
} from './threadIndex'

export const LOCKS_DIR = 'thread-writer-locks'
export const CHECKPOINT_INTERVAL_MS = 250

const THREAD_ID = /^[0-9A-Za-z][0-9A-Za-z_-]{0,127}$/
const FILE_NAME = /^rollout-(\d{4})-(\d{2})-(\d{2})T\d{2}-\d{2}-\d{2}-(.+)\.jsonl$/

export const noRolloutFound = (threadId: string) =>
  invalidRequest(`no rollout found for thread id ${threadId}`)
export const activeWriterError = (threadId: string) =>
  invalidRequest(`thread ${threadId} already has an active writer`)

/** Ids become file names: anything but a plain id would let a client name a path. */
function assertThreadId(threadId: string): void {
  if (!THREAD_ID.test(threadId)) throw invalidRequest(`invalid thread id: ${threadId}`)
}

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
// The writer lock: `<threadId>.lock` holding the owner's pid, created atomically with link(2) so
// nobody ever reads a half-written lock. A lock whose pid is dead (or is our own pid but not held
// by this process: a previous incarnation) is stale and taken over under a mkdir guard, so two
// processes cannot both take over the same stale lock.

const heldLocks = new Set<string>()

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readLockPid(path: string): Promise<number | null | 'missing'> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw error
  }
}

async function tryLink(path: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(tmp, `${process.pid}\n`)
  try {
    await link(tmp, path)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  } finally {
    await unlink(tmp).catch(() => undefined)
  }
}

const TAKEOVER_GUARD_STALE_MS = 10_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function takeOverStale(path: string, stalePid: number | null): Promise<void> {
  const guard = `${path}.takeover`
  try {
    await mkdir(guard)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    // Someone else is taking over; a guard left by a process that died mid-takeover expires.
    const age = await stat(guard).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    )
    if (age > TAKEOVER_GUARD_STALE_MS) await rmdir(guard).catch(() => undefined)
    await sleep(5)
    return
  }
  try {
    // Still the lock we judged stale? Then it is ours to remove; our caller links its own.
    if ((await readLockPid(path)) === stalePid) await unlink(path).catch(() => undefined)
  } finally {
    await rmdir(guard).catch(() => undefined)
  }
}

export interface WriterLock {
  readonly path: string
  release(): Promise<void>
}

/** Takes `$home/thread-writer-locks/<threadId>.lock` or throws `thread <id> already has an active writer`. */
export async function acquireWriterLock(home: string, threadId: string): Promise<WriterLock> {
  assertThreadId(threadId)
  const dir = join(home, LOCKS_DIR)
  await mkdir(dir, { recursive: true })
  const path = join(dir, `${threadId}.lock`)
  const lock: WriterLock = {
    path,
    async release() {
      if (!heldLocks.delete(path)) return
      // Remove it only while it is still ours.
      if ((await readLockPid(path).catch(() => null)) === process.pid)
        await unlink(path).catch(() => undefined)
    },
  }
  if (heldLocks.has(path)) throw activeWriterError(threadId)
  for (let attempt = 0; attempt < 40; attempt++) {
    if (await tryLink(path)) {
      heldLocks.add(path)
      return lock
    }
    const holder = await readLockPid(path)
    if (holder === 'missing') continue
    if (holder !== null && holder !== process.pid && pidAlive(holder)) throw activeWriterError(threadId)
    await takeOverStale(path, holder)
  }
  throw activeWriterError(threadId)
}

/** Whether some live process (this one included) holds the thread's writer lock. */
export async function hasLiveWriter(home: string, threadId: string): Promise<boolean> {
  const path = join(home, LOCKS_DIR, `${threadId}.lock`)
  if (heldLocks.has(path)) return true
  const holder = await readLockPid(path).catch(() => null)
  return typeof holder === 'number' && holder !== process.pid && pidAlive(holder)
}

// ---------------------------------------------------------------------------------------------
// The writer

/** The file operations a writer needs; tests wrap them to inject faults such as ENOSPC. */
export interface RolloutFile {
  /** Writes at `position`; resolves with the bytes written (possibly fewer than asked). */
  write(buffer: Uint8Array, position: number): Promise<number>
  truncate(length: number): Promise<void>
  sync(): Promise<void>
  close(): Promise<void>
}

function nodeFile(handle: FileHandle): RolloutFile {
  return {
    write: async (buffer, position) => (await handle.write(buffer, 0, buffer.length, position)).bytesWritten,
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
  checkpoint(turnId: string, itemId: string, text: string): void
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
  checkpoint(_turnId: string, _itemId: string, _text: string): void {}
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
  /** null for a barrier: resolves when everything queued before it is written (or failed). */
  text: string | null
  line: RolloutLine | null
  resolve: () => void
  reject: (error: Error) => void
}

interface CheckpointState {
  turnId: string
  text: string
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
  private queue: Pending[] = []
  private draining: Promise<void> | null = null
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
  checkpoint(turnId: string, itemId: string, text: string): void {
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
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ text, line, resolve, reject })
      this.draining ??= this.drain()
    })
  }

  private barrier(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.queue.push({ text: null, line: null, resolve, reject: () => resolve() })
      this.draining ??= this.drain()
    })
  }

  /** The single writer loop: everything queued while a write was in flight goes out as one write. */
  private async drain(): Promise<void> {
    // Yield once so a synchronous burst of appends lands in the first write.
    await Promise.resolve()
    try {
      while (this.queue.length > 0) {
        const batch = this.queue
        this.queue = []
        const text = batch.map((p) => p.text ?? '').join('')
        try {
          if (text.length > 0) await this.writeAll(Buffer.from(text, 'utf8'))
        } catch (error) {
          const wrapped = new RolloutWriteError(this.failure('write', error), error)
          for (const p of batch) p.reject(wrapped)
          continue
        }
        for (const p of batch) p.resolve()
        if (this.onWritten) {
          const lines = batch.flatMap((p) => (p.line ? [p.line] : []))
          try {
            if (lines.length > 0) this.onWritten(lines)
          } catch (error) {
            this.logger.warn({ threadId: this.threadId, error }, 'a rollout write listener failed')
          }
        }
      }
    } finally {
      this.draining = null
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
    const text = state.text
    const written = this.enqueue('item_checkpoint', { turnId: state.turnId, itemId, text }, now)
    written.catch((error: unknown) => {
      // Still the latest text? Then keep it pending so flush, turn end or close retries it.
      if (this.checkpoints.get(itemId) === state && state.text === text) state.dirty = true
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
async function prepareForAppend(handle: FileHandle): Promise<{ size: number; nextOrdinal: number }> {
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

// ---------------------------------------------------------------------------------------------
// The store

export interface RolloutStoreOptions {
  home: string
  index: ThreadIndex
  logger?: Logger
  checkpointIntervalMs?: number
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
      await mkdir(dirname(path), { recursive: true })
      handle = await open(path, 'wx')
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
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw noRolloutFound(threadId ?? threadIdOrPath)
      throw error
    }
    const { lines, problems } = decodeLines(text)
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
      await mkdir(dirname(target), { recursive: true })
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
      ...(this.options.checkpointIntervalMs !== undefined
        ? { checkpointIntervalMs: this.options.checkpointIntervalMs }
        : {}),
      onWritten: (lines) => this.index.applyLines(threadId, lines),
      onClosed: () => {
        if (this.writers.get(threadId) === writer) this.writers.delete(threadId)
      },
    })
    this.writers.set(threadId, writer)
    return writer
  }

  private async indexFromFile(path: string, archived: boolean): Promise<void> {
    const summary = summaryFromLines(path, decodeLines(await readFile(path, 'utf8')).lines, archived)
    if (summary) await this.index.upsert(summary).catch(() => undefined)
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  )
}
