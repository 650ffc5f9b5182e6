/**
 * A lock file holding its owner's pid, shared by the thread writer locks and the index's
 * compaction lock. It is created with link(2) from a fully written temp file, so nobody ever reads
 * a half-written lock, and it is 0600 like everything else in the home. A lock whose pid is dead is
 * stale; taking one over happens under a mkdir guard so two processes never both take it.
 *
 * It must never remove a lock that a live process holds, and never leave its temp file behind.
 */
import { randomBytes } from 'node:crypto'
import { link, mkdir, open, readFile, rmdir, stat, unlink } from 'node:fs/promises'

/** Files under the home are the user's conversations: no one else may read them. */
export const FILE_MODE = 0o600
export const DIR_MODE = 0o700

/** A takeover guard older than this was left by a process that died mid-takeover. */
export const TAKEOVER_GUARD_STALE_MS = 10_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The pid a lock file holds: null when unreadable, 'missing' when there is no lock. */
export async function readLockPid(path: string): Promise<number | null | 'missing'> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10)
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
    throw error
  }
}

/** The temp file a lock is linked from: `<lock>.<pid>.<random>`. */
export const LOCK_TEMP = /\.lock\.(\d+)\.[0-9a-f]{8}$/

/** Creates the lock holding our pid; false when it exists. */
export async function tryLink(path: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
  // The mode is explicit: a umask of 022 would otherwise make it world-readable.
  const handle = await open(tmp, 'wx', FILE_MODE)
  try {
    await handle.writeFile(`${process.pid}\n`)
  } finally {
    await handle.close()
  }
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

/**
 * Removes the lock if it still holds `stalePid` (the pid its caller judged dead), under a guard.
 * Returns after a short pause when someone else is taking it over; the caller tries again.
 */
export async function takeOverStale(path: string, stalePid: number | null): Promise<void> {
  const guard = `${path}.takeover`
  try {
    await mkdir(guard, { mode: DIR_MODE })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const age = await stat(guard).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    )
    if (age > TAKEOVER_GUARD_STALE_MS) await rmdir(guard).catch(() => undefined)
    await sleep(5)
    return
  }
  try {
    if ((await readLockPid(path)) === stalePid) await unlink(path).catch(() => undefined)
  } finally {
    await rmdir(guard).catch(() => undefined)
  }
}

/** Whether a lock holding `holder` may be taken over: no pid, or a pid that is not running. */
export function isStaleHolder(holder: number | null): boolean {
  return holder === null || !pidAlive(holder)
}
