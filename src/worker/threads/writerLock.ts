/**
 * The per-thread writer lock: `$home/thread-writer-locks/<threadId>.lock` holding the owner's pid, so
 * no two writers (in this process or another) ever append to the same rollout. RolloutStore takes it
 * before opening a writer or moving a rollout; the writer releases it on close.
 *
 * It must never hand out a lock a live process holds, never remove a lock that is no longer ours, and
 * never build a path from a thread id that is not a plain id.
 */
import { mkdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { invalidRequest } from '../protocol/errors'
import { DIR_MODE, pidAlive, readLockPid, takeOverStale, tryLink } from './pidLock'

export const LOCKS_DIR = 'thread-writer-locks'

const THREAD_ID = /^[0-9A-Za-z][0-9A-Za-z_-]{0,127}$/

export const activeWriterError = (threadId: string) =>
  invalidRequest(`thread ${threadId} already has an active writer`)

/** Ids become file names: anything but a plain id would let a client name a path. */
export function assertThreadId(threadId: string): void {
  if (!THREAD_ID.test(threadId)) throw invalidRequest(`invalid thread id: ${threadId}`)
}

// The writer lock: `<threadId>.lock` holding the owner's pid (pidLock.ts). A lock whose pid is dead
// (or is our own pid but not held by this process: a previous incarnation) is stale and taken over.
// Stale locks left by dead processes are also removed at start (staleFiles.ts).

const heldLocks = new Set<string>()

export interface WriterLock {
  readonly path: string
  release(): Promise<void>
}

/** Takes `$home/thread-writer-locks/<threadId>.lock` or throws `thread <id> already has an active writer`. */
export async function acquireWriterLock(home: string, threadId: string): Promise<WriterLock> {
  assertThreadId(threadId)
  const dir = join(home, LOCKS_DIR)
  await mkdir(dir, { recursive: true, mode: DIR_MODE })
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

/** Whether this process holds the lock at `path` (a `<threadId>.lock` under LOCKS_DIR). */
export function heldHere(path: string): boolean {
  return heldLocks.has(path)
}

/** Whether some live process (this one included) holds the thread's writer lock. */
export async function hasLiveWriter(home: string, threadId: string): Promise<boolean> {
  const path = join(home, LOCKS_DIR, `${threadId}.lock`)
  if (heldLocks.has(path)) return true
  const holder = await readLockPid(path).catch(() => null)
  return typeof holder === 'number' && holder !== process.pid && pidAlive(holder)
}
