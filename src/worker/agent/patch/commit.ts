/**
 * Writes a planned patch all-or-nothing, across failures and crashes alike. The order:
 * check every file still holds what the plan read; write the intent journal (journal.ts); keep
 * each original and stage each new content (under the home when it shares the target's
 * filesystem, else in a temp file beside the target that the journal names); rename and unlink
 * into place; remove the journal (the commit point), then the staging folder. A failure rolls back
 * from the journal at once; a crash before the commit point leaves the journal for the next start
 * to roll back, one after it only the staging folder under the home for the next start to remove.
 *
 * It must never touch a project file before the journal names it, and never leave a temp file in
 * the project that the journal does not name.
 */
import { promises as fs } from 'node:fs'
import nodePath from 'node:path'
import { osReason, PatchApplyError, type PlannedChange } from './apply'
import {
  currentOwner,
  moveInto,
  newJournalId,
  removeJournal,
  RestoreError,
  rollBack,
  saveJournal,
  sha256,
  stageDir,
  writeDurable,
  type Journal,
  type JournalTarget,
  type Original,
} from './journal'

export interface CommitOptions {
  /** The core's home: the journal and the staged bytes live in its `patch-journal/`. */
  home: string
}

type Snapshot =
  | { type: 'missing' }
  | { type: 'file'; bytes: Buffer; mode: number }
  | { type: 'symlink'; target: string }
  | { type: 'other' }

interface Target {
  path: string
  writePath: string
  final: string | null
  /** Content the path must still hold; undefined when the change does not depend on it. */
  expected: string | undefined
  snapshot: Snapshot
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === 'ENOENT'
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** The net effect per path, in first-touched order: later changes to a path build on earlier ones. */
function netTargets(changes: PlannedChange[]): Target[] {
  const targets = new Map<string, Target>()
  const touch = (path: string, expected: string | undefined): Target => {
    let target = targets.get(path)
    if (!target) {
      target = { path, writePath: path, final: null, expected, snapshot: { type: 'missing' } }
      targets.set(path, target)
    }
    return target
  }
  for (const change of changes) {
    switch (change.kind.type) {
      case 'add':
        touch(change.path, undefined).final = change.newContent ?? ''
        break
      case 'delete':
        touch(change.path, change.oldContent ?? undefined).final = null
        break
      case 'update': {
        const source = touch(change.path, change.oldContent ?? undefined)
        const dest = change.kind.move_path
        if (dest !== null && dest !== change.path) {
          source.final = null
          touch(dest, undefined).final = change.newContent ?? ''
        } else {
          source.final = change.newContent ?? ''
        }
        break
      }
    }
  }
  return [...targets.values()]
}

async function snapshot(target: Target): Promise<void> {
  let stat
  try {
    stat = await fs.lstat(target.path)
  } catch (err) {
    if (isMissing(err)) return
    throw err
  }
  if (stat.isSymbolicLink()) {
    if (target.final === null) {
      target.snapshot = { type: 'symlink', target: await fs.readlink(target.path) }
      return
    }
    try {
      target.writePath = await fs.realpath(target.path)
    } catch (err) {
      // A dangling link: replace the link itself, and put it back on rollback.
      if (!isMissing(err)) throw err
      target.snapshot = { type: 'symlink', target: await fs.readlink(target.path) }
      return
    }
    stat = await fs.stat(target.writePath)
  }
  target.snapshot = stat.isFile()
    ? { type: 'file', bytes: await fs.readFile(target.writePath), mode: stat.mode & 0o7777 }
    : { type: 'other' }
}

/** The text at `target.path` now (through a symlink), or null when it is gone or not text. */
async function currentText(target: Target): Promise<string | null> {
  try {
    return strictUtf8.decode(await fs.readFile(target.path))
  } catch {
    return null
  }
}

/** Directories between `dir` and the nearest existing ancestor, deepest first, and that ancestor. */
async function missingDirs(dir: string): Promise<{ missing: string[]; existing: string }> {
  const missing: string[] = []
  let current = dir
  for (;;) {
    try {
      await fs.lstat(current)
      return { missing, existing: current }
    } catch (err) {
      if (!isMissing(err)) return { missing, existing: current }
    }
    missing.push(current)
    const parent = nodePath.dirname(current)
    if (parent === current) return { missing, existing: current }
    current = parent
  }
}

const deviceOf = (p: string): Promise<number | null> =>
  fs.stat(p).then(
    (s) => s.dev,
    () => null,
  )

const STAGE_CONCURRENCY = 16

/** Test hook: CODEX_DESK_TEST_PATCH_CRASH_AT=N kills the process at the Nth step of a commit. */
function crashPoints(): () => void {
  const at = Number(process.env.CODEX_DESK_TEST_PATCH_CRASH_AT ?? '')
  if (!Number.isInteger(at) || at <= 0) return () => undefined
  let step = 0
  return () => {
    if (++step === at) process.kill(process.pid, 'SIGKILL')
  }
}

/** Checks that every file still holds what the plan read; throws before anything is written. */
async function validate(targets: Target[]): Promise<void> {
  for (const target of targets) {
    try {
      await snapshot(target)
    } catch (err) {
      throw new PatchApplyError(`Failed to read ${target.path}: ${osReason(err)}`)
    }
    if (target.expected !== undefined && (await currentText(target)) !== target.expected) {
      throw new PatchApplyError(
        `${target.path} changed on disk after the patch was checked; no files were modified. Read the file again and retry.`,
      )
    }
    if (target.final === null && target.snapshot.type === 'other') {
      throw new PatchApplyError(`Failed to delete file ${target.path}`)
    }
  }
}

/** The journal for `targets`: every path, temp file and folder named before anything is written. */
async function planJournal(
  home: string,
  id: string,
  targets: Target[],
): Promise<{ journal: Journal; sameDevice: boolean[] }> {
  const stage = stageDir(home, id)
  const homeDevice = await deviceOf(home)
  const createdDirs = new Set<string>()
  const sameDevice: boolean[] = []
  const entries: JournalTarget[] = []
  for (const [i, target] of targets.entries()) {
    const dir = nodePath.dirname(target.writePath)
    const { missing, existing } = await missingDirs(dir)
    if (target.final !== null) for (const d of missing) createdDirs.add(d)
    sameDevice.push(homeDevice !== null && homeDevice === (await deviceOf(existing)))
    const projectTemp = nodePath.join(
      dir,
      `.${nodePath.basename(target.writePath)}.codex-desk-patch.${id}.${i}.tmp`,
    )
    const snap = target.snapshot
    const original: Original =
      snap.type === 'file'
        ? {
            type: 'file',
            hash: sha256(snap.bytes),
            mode: snap.mode,
            backup: nodePath.join(stage, `${i}.orig`),
          }
        : { ...snap }
    const staged =
      target.final === null ? null : sameDevice[i] ? nodePath.join(stage, `${i}.new`) : projectTemp
    entries.push({
      path: target.path,
      writePath: target.writePath,
      newHash: target.final === null ? null : sha256(target.final),
      staged,
      projectTemp,
      original,
    })
  }
  const journal: Journal = {
    version: 1,
    id,
    owner: currentOwner(),
    state: 'pending',
    createdDirs: [...createdDirs].sort((a, b) => b.length - a.length),
    targets: entries,
  }
  return { journal, sameDevice }
}

/** Keeps the original (a hard link when possible, else a copy) and stages the new bytes. */
async function prepareTarget(target: Target, entry: JournalTarget): Promise<void> {
  const snap = target.snapshot
  if (entry.original.type === 'file' && snap.type === 'file') {
    const backup = entry.original.backup
    // A link keeps the very inode (and its other links) for a rollback, at no copying cost.
    await fs.link(target.writePath, backup).catch(() => writeDurable(backup, snap.bytes, 0o600))
  }
  if (entry.staged === null || target.final === null) return
  const mode = snap.type === 'file' ? snap.mode : undefined
  await fs.mkdir(nodePath.dirname(target.writePath), { recursive: true })
  await writeDurable(entry.staged, target.final, mode ?? 0o666)
  // The mode given at creation is filtered by the umask; an existing file keeps exactly its own.
  if (mode !== undefined) await fs.chmod(entry.staged, mode)
}

/**
 * Writes every planned change or none, as the module comment describes. Throws PatchApplyError
 * describing the failure; the files are then as they were.
 */
export async function commitPatch(changes: PlannedChange[], options: CommitOptions): Promise<void> {
  const { home } = options
  const targets = netTargets(changes)
  await validate(targets)
  // A path the patch removes that was already absent needs nothing.
  const live = targets.filter((t) => t.final !== null || t.snapshot.type !== 'missing')
  const step = crashPoints()

  const id = newJournalId()
  const { journal } = await planJournal(home, id, live)
  try {
    await fs.mkdir(stageDir(home, id), { recursive: true, mode: 0o700 })
    await saveJournal(home, journal)
  } catch (err) {
    await fs.rm(stageDir(home, id), { recursive: true, force: true }).catch(() => undefined)
    await removeJournal(home, id).catch(() => undefined)
    throw new PatchApplyError(
      `Failed to write the patch journal in ${home}: ${osReason(err)}. No files were modified.`,
    )
  }
  step()

  const fail = async (what: string, err: unknown): Promise<never> => {
    let rollback = 'No files were modified.'
    try {
      await rollBack(home, journal)
    } catch (restoreError) {
      rollback = restoreError instanceof RestoreError ? restoreError.message : osReason(restoreError)
    }
    throw new PatchApplyError(`Failed to ${what}: ${osReason(err)}. ${rollback}`)
  }

  // Stage: nothing the user can see changes yet. Several at once, because each file is fsynced and
  // a disk serves parallel syncs far faster than one after another.
  const failures: { index: number; err: unknown }[] = []
  let next = 0
  const stageNext = async (): Promise<void> => {
    while (failures.length === 0 && next < live.length) {
      const i = next++
      try {
        await prepareTarget(live[i]!, journal.targets[i]!)
      } catch (err) {
        failures.push({ index: i, err })
        return
      }
      step()
    }
  }
  await Promise.all(Array.from({ length: Math.min(STAGE_CONCURRENCY, live.length) }, stageNext))
  if (failures.length > 0) {
    const first = failures.reduce((a, b) => (b.index < a.index ? b : a))
    await fail(`write file ${live[first.index]!.path}`, first.err)
  }

  // Swap in: renames and unlinks; a failure rolls back from the journal.
  for (const [i, target] of live.entries()) {
    const entry = journal.targets[i]!
    try {
      if (entry.staged !== null) await moveInto(entry.staged, target.writePath, entry.projectTemp)
      else await fs.unlink(target.path)
    } catch (err) {
      await fail(`${target.final === null ? 'delete' : 'write'} file ${target.path}`, err)
    }
    step()
  }

  // The commit point: without its journal the patch is done. A journal that cannot be removed
  // would be rolled back at the next start, so the patch is rolled back now, and the model told.
  try {
    await removeJournal(home, id)
  } catch (err) {
    await fail(`remove the patch journal in ${home}`, err)
  }
  step()
  // Only the kept originals and spent staging remain, under the home; a crash leaves them for the
  // next start (recoverPatchJournals) to remove.
  await fs.rm(stageDir(home, id), { recursive: true, force: true }).catch(() => undefined)
}
