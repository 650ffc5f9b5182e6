/**
 * The per-thread writer lock: `$home/thread-writer-locks/<threadId>.lock` holding the owner's pid, so
 * no two writers (in this process or another) ever append to the same rollout. RolloutStore takes it
 * before opening a writer or moving a rollout; the writer releases it on close.
 *
 * It must never hand out a lock a live process holds, never remove a lock that is no longer ours, and
 * never build a path from a thread id that is not a plain id.
 */
import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, rmdir, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { invalidRequest } from '../protocol/errors'

export const LOCKS_DIR = 'thread-writer-locks'

const THREAD_ID = /^[0-9A-Za-z][0-9A-Za-z_-]{0,127}$/

export const activeWriterError = (threadId: string) =>
  invalidRequest(`thread ${threadId} already has an active writer`)

/** Ids become file names: anything but a plain id would let a client name a path. */
export function assertThreadId(threadId: string): void {
  if (!THREAD_ID.test(threadId)) throw invalidRequest(`invalid thread id: ${threadId}`)
}

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
