/**
 * Start-up cleaning of what dead processes left in the home: thread writer locks and the index's
 * compaction lock whose owner is gone (with the temp files they are linked from and takeover
 * guards), and the temp files of atomic replaces that never got renamed
 * (`.config.toml.<pid>.<x>.<n>.tmp`, `thread_state.jsonl.<pid>.tmp`, ...).
 *
 * It must never remove a lock or temp file of a live process (this one included), and never look
 * into the rollout folders or the patch journal (whose recovery owns its staged files).
 */
import { readdir, rmdir, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../util/log'
import { INDEX_FILE, INDEX_LOCK_SUFFIX } from './indexLog'
import { LOCK_TEMP, pidAlive, readLockPid, TAKEOVER_GUARD_STALE_MS, takeOverStale } from './pidLock'
import { ARCHIVED_DIR, SESSIONS_DIR } from './homeLayout'
import { LOCKS_DIR } from './writerLock'

/** A pid in a temp file name: `.<digits>.` followed by only short name parts and `tmp`. */
const TEMP_PID = /\.(\d{1,10})\.(?:[0-9A-Za-z]+\.)*tmp$/
/** Any temp file this old is abandoned, whatever its pid says (pids are reused). */
const TEMP_MAX_AGE_MS = 60 * 60_000
/** Folders under the home that are not ours to clean (or hold no temp files). */
const SKIPPED_DIRS = new Set([SESSIONS_DIR, ARCHIVED_DIR, 'patch-journal', LOCKS_DIR])

export interface StaleReport {
  locks: number
  temps: number
}

const deadPid = (pid: number) => pid !== process.pid && !pidAlive(pid)

async function ageMs(path: string): Promise<number> {
  return stat(path).then(
    (s) => Date.now() - s.mtimeMs,
    () => 0,
  )
}

async function names(dir: string): Promise<{ name: string; dir: boolean }[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).map((e) => ({ name: e.name, dir: e.isDirectory() }))
  } catch {
    return []
  }
}

/** A lock file (`*.lock`) whose holder is dead: removed under the takeover guard. */
async function cleanLock(path: string): Promise<boolean> {
  const holder = await readLockPid(path).catch(() => 'missing' as const)
  if (holder === 'missing') return false
  // A lock is linked from a fully written file, so an unreadable pid is damage, not a write in flight.
  if (holder === null ? (await ageMs(path)) < TAKEOVER_GUARD_STALE_MS : !deadPid(holder)) return false
  await takeOverStale(path, holder)
  return (await readLockPid(path).catch(() => null)) !== holder
}

/** A lock's temp file, a takeover guard or an atomic replace's temp file left by a dead process. */
async function cleanLeftover(path: string, name: string, isDir: boolean): Promise<boolean> {
  if (isDir) {
    if (!name.endsWith('.takeover') || (await ageMs(path)) <= TAKEOVER_GUARD_STALE_MS) return false
    return rmdir(path).then(
      () => true,
      () => false,
    )
  }
  const pid = LOCK_TEMP.exec(name)?.[1] ?? (name.endsWith('.tmp') ? (TEMP_PID.exec(name)?.[1] ?? '') : null)
  if (pid === null) return false
  const stale = (pid !== '' && deadPid(Number(pid))) || (await ageMs(path)) > TEMP_MAX_AGE_MS
  if (!stale) return false
  return unlink(path).then(
    () => true,
    () => false,
  )
}

/** Removes stale locks and temp files from the home; returns what it removed. */
export async function cleanStaleFiles(home: string, log?: Logger): Promise<StaleReport> {
  const report: StaleReport = { locks: 0, temps: 0 }
  const locks = join(home, LOCKS_DIR)
  for (const entry of await names(locks)) {
    const path = join(locks, entry.name)
    if (!entry.dir && entry.name.endsWith('.lock')) report.locks += Number(await cleanLock(path))
    else report.temps += Number(await cleanLeftover(path, entry.name, entry.dir))
  }
  const indexLock = join(home, INDEX_FILE + INDEX_LOCK_SUFFIX)
  report.locks += Number(await cleanLock(indexLock))
  // The home and the folders below it (two levels), but not the rollouts or the patch journal.
  const walk = async (dir: string, depth: number) => {
    for (const entry of await names(dir)) {
      const path = join(dir, entry.name)
      if (entry.dir && depth > 0 && !entry.name.endsWith('.takeover') && !SKIPPED_DIRS.has(entry.name))
        await walk(path, depth - 1)
      else if (path !== indexLock) report.temps += Number(await cleanLeftover(path, entry.name, entry.dir))
    }
  }
  await walk(home, 2)
  if (report.locks + report.temps > 0)
    log?.info({ home, ...report }, 'removed locks and temp files left by processes that are gone')
  return report
}
