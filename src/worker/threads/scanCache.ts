/**
 * The start-up consistency check without reading every folder: `thread_index.scan.json` remembers,
 * for each rollout folder (sessions/YYYY/MM/DD, archived_sessions), its mtime when every rollout in
 * it was last seen listed by the index. A folder whose mtime is still that one has had no file
 * added, removed or renamed since, so the check skips its listing: a stat per day folder instead of
 * a name per thread (10,000 threads: one readdir per folder rather than 10,000 names to match).
 * The records hold only while the index file is the same one (inode) and has only grown since:
 * an index file that was replaced (compacted, restored from a copy) gets a full check.
 *
 * It may only ever cost a rescan, never skip a change: an mtime recorded within RACY_MS of its
 * reading is not trusted (a file added in the same clock tick would not move it), any mismatch
 * rescans, and a folder holding a rollout the check could not settle (a live writer's, an
 * unreadable one) is not recorded. A missing or broken cache file means a full scan.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../util/atomicWrite'
import { ARCHIVED_DIR, SESSIONS_DIR } from './homeLayout'
import { ROLLOUT_NAME, type RolloutFile } from './rolloutScan'

export const SCAN_CACHE_FILE = 'thread_index.scan.json'
/** An mtime this close to the moment it was read may still move within the same tick. */
const RACY_MS = 2_000

/** Folder path -> its mtime (ms) when its every rollout was listed by the index. */
export type VerifiedDirs = Record<string, number>

/** The index file the records were made against: its inode and size then. */
export interface IndexIdentity {
  ino: number
  size: number
}

export interface ScanResult {
  /** Rollouts in folders that changed since they were verified (or were never verified). */
  files: Map<string, RolloutFile>
  /** Every folder's mtime as read before listing it, and the rollouts found in it (by id). */
  folders: Map<string, { mtimeMs: number; readAt: number; ids: string[] }>
  skipped: number
}

export async function loadVerifiedDirs(home: string, index: IndexIdentity | null): Promise<VerifiedDirs> {
  if (!index) return {}
  try {
    const value = JSON.parse(await readFile(join(home, SCAN_CACHE_FILE), 'utf8')) as {
      index?: Partial<IndexIdentity>
      dirs?: unknown
    } | null
    const made = value?.index
    if (made?.ino !== index.ino || typeof made.size !== 'number' || index.size < made.size) return {}
    const dirs = value?.dirs
    if (typeof dirs !== 'object' || dirs === null) return {}
    return Object.fromEntries(Object.entries(dirs).filter(([, mtime]) => typeof mtime === 'number'))
  } catch {
    return {}
  }
}

/** Records the folders whose rollouts are all listed now; `unsettled` folders are left out. */
export async function saveVerifiedDirs(
  home: string,
  index: IndexIdentity,
  folders: ScanResult['folders'],
  verified: VerifiedDirs,
  unsettled: ReadonlySet<string>,
): Promise<void> {
  const dirs: VerifiedDirs = {}
  for (const [dir, folder] of folders) {
    if (unsettled.has(dir) || folder.readAt - folder.mtimeMs < RACY_MS) continue
    dirs[dir] = folder.mtimeMs
  }
  // Folders skipped this time keep their record: they were verified and have not changed.
  for (const [dir, mtime] of Object.entries(verified))
    if (!folders.has(dir) && dirs[dir] === undefined) dirs[dir] = mtime
  // A home with no rollout folder yet gets no file.
  if (Object.keys(dirs).length === 0 && Object.keys(verified).length === 0) return
  const path = join(home, SCAN_CACHE_FILE)
  const text = JSON.stringify({ version: 1, index, dirs }) + '\n'
  // A start that found nothing new has nothing new to record: no write (and no fsync) on the way
  // to the first listing.
  if ((await readFile(path, 'utf8').catch(() => null)) === text) return
  await writeFileAtomic(path, text, { mode: 0o600 })
}

/** The rollouts of every folder not verified unchanged, by thread id (the first path wins). */
export async function listUnverifiedRollouts(home: string, verified: VerifiedDirs): Promise<ScanResult> {
  const result: ScanResult = { files: new Map(), folders: new Map(), skipped: 0 }
  const archivedDir = join(home, ARCHIVED_DIR)
  const leaves = [...(await leafFolders(join(home, SESSIONS_DIR), 3)), archivedDir]
  const listed = await Promise.all(
    leaves.map(async (dir) => {
      const readAt = Date.now()
      let mtimeMs: number
      try {
        mtimeMs = (await stat(dir)).mtimeMs
      } catch {
        return null
      }
      if (verified[dir] === mtimeMs) {
        result.skipped++
        return null
      }
      try {
        return { dir, mtimeMs, readAt, names: await readdir(dir) }
      } catch {
        return null
      }
    }),
  )
  // In folder order, so a thread with two rollouts keeps the sessions one, as a full listing does.
  for (const folder of listed) {
    if (!folder) continue
    const ids: string[] = []
    for (const name of folder.names) {
      const id = ROLLOUT_NAME.exec(name)?.[1]
      if (!id) continue
      ids.push(id)
      if (!result.files.has(id))
        result.files.set(id, { path: join(folder.dir, name), archived: folder.dir === archivedDir })
    }
    result.folders.set(folder.dir, { mtimeMs: folder.mtimeMs, readAt: folder.readAt, ids })
  }
  return result
}

async function leafFolders(dir: string, depth: number): Promise<string[]> {
  if (depth === 0) return [dir]
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const nested = await Promise.all(names.map((name) => leafFolders(join(dir, name), depth - 1)))
  return nested.flat()
}
