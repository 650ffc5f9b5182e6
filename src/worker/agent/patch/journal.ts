/**
 * The intent journal that makes a patch all-or-nothing across a crash. Before a patch touches the
 * first file, `$CODEX_DESK_HOME/patch-journal/<id>.json` (0600, fsynced) names every path it will
 * write or remove, where the new bytes are staged, where the original bytes are kept, and every
 * temp file and folder it may create in the project. Removing the journal is the commit point: a
 * journal that is still there means the patch did not finish, so `recoverPatchJournals` (run when
 * the core starts) rolls it back: originals restored, created files and folders removed, staged
 * files deleted, then the journal. A crash after the commit point leaves only the staging folder
 * under the home, which recovery removes.
 *
 * It must never delete or overwrite a file the journal does not name, never replace a file whose
 * content is neither the original nor the patch's (someone changed it since), and never touch a
 * journal whose owning process is still alive.
 */
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, promises as fs } from 'node:fs'
import nodePath from 'node:path'
import type { Logger } from '../../util/log'

export const JOURNAL_DIR = 'patch-journal'

export type Original =
  | { type: 'missing' }
  | { type: 'file'; hash: string; mode: number; backup: string }
  | { type: 'symlink'; target: string }
  | { type: 'other' }

export interface JournalTarget {
  /** The path the patch names. */
  path: string
  /** Where bytes land: the path, or the file a symlink at the path points to. */
  writePath: string
  /** sha256 of the new content, or null when the patch removes the path. */
  newHash: string | null
  /** Where the new bytes wait until they are renamed into place. */
  staged: string | null
  /** A temp file in the target's folder (cross-filesystem staging and restores); removed by recovery. */
  projectTemp: string
  original: Original
}

export interface Journal {
  version: 1
  id: string
  owner: { pid: number; started: string | null }
  /** Always `pending`: a finished patch has no journal. */
  state: 'pending'
  /** Folders the patch creates, deepest first (removed on rollback when still empty). */
  createdDirs: string[]
  targets: JournalTarget[]
}

export const sha256 = (bytes: Buffer | string): string => createHash('sha256').update(bytes).digest('hex')

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === 'ENOENT'

export const journalDir = (home: string): string => nodePath.join(home, JOURNAL_DIR)
export const journalFile = (home: string, id: string): string => nodePath.join(journalDir(home), `${id}.json`)
/** The folder under the home holding a patch's staged and original bytes. */
export const stageDir = (home: string, id: string): string => nodePath.join(journalDir(home), id)

// ---------------------------------------------------------------------------------------------
// Owners

/** The process's start time in clock ticks since boot (Linux), to tell a reused pid apart. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces); starttime is field 22 of the line.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

const ownStart = startTimeOf(process.pid)
export const currentOwner = (): Journal['owner'] => ({ pid: process.pid, started: ownStart })

function ownerAlive(owner: { pid: number; started: string | null }): boolean {
  if (owner.pid === process.pid) return owner.started === null || owner.started === ownStart
  try {
    process.kill(owner.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  if (owner.started === null) return true
  const now = startTimeOf(owner.pid)
  return now === null || now === owner.started
}

let idCounter = 0
/** Starts with the pid, so a journal cut off mid-write still names its owner. */
export const newJournalId = (): string =>
  `p${process.pid}-${Date.now().toString(36)}-${idCounter++}-${randomBytes(4).toString('hex')}`

const pidOfId = (id: string): number | null => {
  const match = /^p(\d+)-/.exec(id)
  return match ? Number(match[1]) : null
}

// ---------------------------------------------------------------------------------------------
// Durable writes

async function syncDir(dir: string): Promise<void> {
  // Windows cannot open a folder for fsync; the rename is still atomic there.
  const handle = await fs.open(dir, 'r').catch(() => null)
  if (!handle) return
  await handle.sync().catch(() => undefined)
  await handle.close()
}

/** Writes `bytes` to `file` and fsyncs it before returning. */
export async function writeDurable(file: string, bytes: string | Buffer, mode: number): Promise<void> {
  const handle = await fs.open(file, 'wx', mode)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Replaces the journal file atomically (write aside, fsync, rename, fsync the folder). */
export async function saveJournal(home: string, journal: Journal): Promise<void> {
  const dir = journalDir(home)
  await fs.mkdir(dir, { recursive: true, mode: 0o700 })
  const file = journalFile(home, journal.id)
  const next = `${file}.next`
  await fs.rm(next, { force: true })
  await writeDurable(next, JSON.stringify(journal), 0o600)
  await fs.rename(next, file)
  await syncDir(dir)
}

export async function removeJournal(home: string, id: string): Promise<void> {
  await fs.rm(journalFile(home, id), { force: true })
  await syncDir(journalDir(home))
}

// ---------------------------------------------------------------------------------------------
// Undo

/** sha256 of the regular file at `p`; null when absent; 'other' for anything else. */
async function contentHash(p: string): Promise<string | null> {
  let stat
  try {
    stat = await fs.lstat(p)
  } catch (err) {
    if (isMissing(err)) return null
    throw err
  }
  if (stat.isSymbolicLink()) {
    try {
      stat = await fs.stat(p)
    } catch {
      return 'other'
    }
  }
  return stat.isFile() ? sha256(await fs.readFile(p)) : 'other'
}

const exists = (p: string): Promise<boolean> =>
  fs.lstat(p).then(
    () => true,
    () => false,
  )

/**
 * Renames `from` onto `to`; across filesystems (EXDEV) copies through `viaTemp` (a temp file in
 * `to`'s folder that the journal names) so the final step is still one rename.
 */
export async function moveInto(from: string, to: string, viaTemp: string): Promise<void> {
  try {
    await fs.rename(from, to)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err
    await fs.rm(viaTemp, { force: true })
    await fs.copyFile(from, viaTemp)
    const handle = await fs.open(viaTemp, 'r+')
    await handle.sync().finally(() => handle.close())
    await fs.rename(viaTemp, to)
    await fs.rm(from, { force: true })
  }
}

export interface Outcome {
  /** Paths put back. */
  changed: string[]
  /** Paths left alone because someone changed them since: neither the old nor the new content. */
  conflicts: string[]
}

/** Puts one path back as it was before the patch, unless someone else changed it since. */
async function undoTarget(target: JournalTarget, out: Outcome): Promise<void> {
  const { original } = target
  switch (original.type) {
    case 'other':
      return // We never replace folders or devices.
    case 'missing': {
      const now = await contentHash(target.writePath)
      if (now === null) return
      if (now !== target.newHash) {
        out.conflicts.push(target.path)
        return
      }
      await fs.unlink(target.writePath)
      out.changed.push(target.path)
      return
    }
    case 'file': {
      const now = await contentHash(target.writePath)
      if (now === original.hash) return
      if (now !== null && now !== target.newHash) {
        out.conflicts.push(target.path)
        return
      }
      if (!(await exists(original.backup))) throw new Error(`the original of ${target.path} is gone`)
      await moveInto(original.backup, target.writePath, target.projectTemp)
      await fs.chmod(target.writePath, original.mode)
      out.changed.push(target.path)
      return
    }
    case 'symlink': {
      const link = await fs.readlink(target.path).catch(() => null)
      if (link === original.target) return
      const now = await contentHash(target.path)
      if (now !== null && now !== target.newHash) {
        out.conflicts.push(target.path)
        return
      }
      await fs.rm(target.path, { force: true })
      await fs.symlink(original.target, target.path)
      out.changed.push(target.path)
      return
    }
  }
}

/** Removes what the patch staged: temp files it named in the project, then its staging folder. */
async function removeStaging(home: string, journal: Journal): Promise<void> {
  for (const target of journal.targets) await fs.rm(target.projectTemp, { force: true })
  await fs.rm(stageDir(home, journal.id), { recursive: true, force: true })
}

/**
 * Undoes a pending patch: every path back as it was, created files and folders removed. Throws
 * when a path could not be restored; the journal then stays for the next start to retry.
 */
export async function rollBack(home: string, journal: Journal): Promise<Outcome> {
  const out: Outcome = { changed: [], conflicts: [] }
  const failures: string[] = []
  for (const target of [...journal.targets].reverse()) {
    await undoTarget(target, out).catch(() => failures.push(target.path))
  }
  if (failures.length > 0) throw new RestoreError(failures)
  await removeStaging(home, journal)
  // Deepest first; a folder someone filled meanwhile stays.
  for (const dir of journal.createdDirs) await fs.rmdir(dir).catch(() => undefined)
  await removeJournal(home, journal.id)
  return out
}

export class RestoreError extends Error {
  constructor(readonly paths: string[]) {
    super(`Could not restore: ${paths.join(', ')}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Recovery at start

function parseJournal(text: string): Journal | null {
  try {
    const value = JSON.parse(text) as Partial<Journal> | null
    if (
      value?.version !== 1 ||
      typeof value.id !== 'string' ||
      typeof value.owner?.pid !== 'number' ||
      value.state !== 'pending' ||
      !Array.isArray(value.targets) ||
      !Array.isArray(value.createdDirs)
    ) {
      return null
    }
    return value as Journal
  } catch {
    return null
  }
}

let lastRecoveredHome: string | null = null
/** The home recovered last in this process: where the patch tool journals when not told a home. */
export const recoveredHome = (): string | null => lastRecoveredHome

/**
 * Makes this process the one recovering a journal, so two cores starting on one home do not undo
 * the same patch at once. A claim whose process died is taken over.
 */
async function claim(file: string): Promise<boolean> {
  const mine = JSON.stringify(currentOwner())
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(file, mine, { flag: 'wx', mode: 0o600 })
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false
    }
    let holder: Journal['owner'] | null = null
    try {
      holder = JSON.parse(await fs.readFile(file, 'utf8')) as Journal['owner']
    } catch {
      // Cut off while being written: its writer died right there, or is about to finish it.
    }
    if (holder && typeof holder.pid === 'number' && ownerAlive(holder)) return false
    await fs.rm(file, { force: true })
  }
  return false
}

export interface RecoveryReport {
  rolledBack: number
  /** Journals of processes that are still running. */
  skipped: number
}

/**
 * Rolls back every patch that a dead process left unfinished under `home`, and removes its staged
 * files. Call it before any tool reads project files. Never throws: a journal it cannot
 * handle stays (and is logged) for the next start.
 */
export function recoverPatchJournals(home: string, log: Logger): Promise<RecoveryReport> {
  lastRecoveredHome = home
  // Two cores of one process on one home (tests) share one pass.
  const running = recovering.get(home)
  if (running) return running
  const pass = recover(home, log).finally(() => recovering.delete(home))
  recovering.set(home, pass)
  return pass
}

const recovering = new Map<string, Promise<RecoveryReport>>()

async function recover(home: string, log: Logger): Promise<RecoveryReport> {
  const report: RecoveryReport = { rolledBack: 0, skipped: 0 }
  const dir = journalDir(home)
  let names: string[]
  try {
    names = await fs.readdir(dir)
  } catch (err) {
    if (!isMissing(err)) log.warn({ dir, error: String(err) }, 'cannot read the patch journal folder')
    return report
  }
  const journals = new Set(names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)))

  for (const id of journals) {
    const file = journalFile(home, id)
    const journal = parseJournal(await fs.readFile(file, 'utf8').catch(() => ''))
    if (!journal) {
      log.warn({ file }, 'a patch journal cannot be read; left in place')
      continue
    }
    if (ownerAlive(journal.owner) || !(await claim(`${file}.claim`))) {
      report.skipped++
      continue
    }
    try {
      await fs.rm(`${file}.next`, { force: true })
      const paths = journal.targets.map((t) => t.path)
      const out = await rollBack(home, journal)
      report.rolledBack++
      log.info(
        { journal: id, paths, restored: out.changed },
        `rolled back a patch that was interrupted before it completed (${out.changed.length} of ${paths.length} files put back)`,
      )
      if (out.conflicts.length > 0) {
        log.warn({ journal: id, paths: out.conflicts }, 'left files that changed after the interrupted patch')
      }
    } catch (err) {
      log.error(
        { journal: id, error: String(err) },
        'could not recover an interrupted patch; will retry at next start',
      )
    }
    await fs.rm(`${file}.claim`, { force: true }).catch(() => undefined)
  }

  // Leftovers of a journal cut off mid-write, or of a cleanup cut off: nothing in the project yet.
  for (const name of names) {
    const id = name.replace(/\.json\.(next|claim)$/, '')
    if (journals.has(id) || name.endsWith('.json')) continue
    const pid = pidOfId(id)
    if (pid === null || ownerAlive({ pid, started: null })) continue
    await fs.rm(nodePath.join(dir, name), { recursive: true, force: true }).catch(() => undefined)
  }
  return report
}
