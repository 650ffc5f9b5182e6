/**
 * The thread index's start-up check against the rollouts on disk: rollouts the index does not list
 * (written by a process that died before logging them) are added, and ones that moved (archived by
 * such a process) get their new place. Folders unchanged since they were last seen fully listed are
 * not read again (scanCache.ts).
 *
 * It never touches a thread a live process is writing (that process logs it), never removes a
 * thread, and changes the index only through its upserts.
 */
import { access, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { Logger } from '../util/log'
import { summarizeRollouts, type RolloutFile } from './rolloutScan'
import { listUnverifiedRollouts, loadVerifiedDirs, saveVerifiedDirs } from './scanCache'
import type { ThreadSummary } from './threadSummary'
import { hasLiveWriter } from './writerLock'

/** What the check needs of the index. */
export interface RolloutCheckTarget {
  readonly home: string
  /** The index's log file. */
  readonly path: string
  readonly logger: Logger
  /** The summary in memory, without reading the log again. */
  peek(id: string): Readonly<ThreadSummary> | undefined
  /** Reads what other processes appended to the log. */
  catchUp(): void
  get(id: string): Readonly<ThreadSummary> | undefined
  upsert(summary: ThreadSummary): Promise<void>
  flush(): Promise<void>
}

/**
 * Adds the rollouts on disk that the index does not list, and fixes the place of ones that moved
 * (archived by a process that died before logging it). Threads a live process is writing are left
 * to that process. Returns how many summaries it added or fixed.
 */
export async function addMissingRollouts(index: RolloutCheckTarget): Promise<number> {
  const t0 = performance.now()
  // Folders unchanged since they were last seen fully listed are not read again (scanCache.ts).
  const identity = await stat(index.path).then(
    (s) => ({ ino: s.ino, size: s.size }),
    () => null,
  )
  const verified = await loadVerifiedDirs(index.home, identity)
  const scan = await listUnverifiedRollouts(index.home, verified)
  index.catchUp()
  const candidates: RolloutFile[] = []
  /** Folders holding a rollout this check cannot settle now: not recorded as verified. */
  const unsettled = new Set<string>()
  for (const [id, file] of scan.files) {
    const known = index.peek(id)
    if (known && known.path === file.path && known.archived === file.archived) continue
    // Another copy the index already points at, still on disk, keeps its place.
    if (
      known &&
      known.path !== file.path &&
      (await access(known.path).then(
        () => true,
        () => false,
      ))
    )
      continue
    if (await hasLiveWriter(index.home, id)) {
      unsettled.add(dirname(file.path))
      continue
    }
    candidates.push(file)
  }
  const remember = async () => {
    if (!identity) return
    const now = await stat(index.path).then(
      (s) => ({ ino: s.ino, size: s.size }),
      () => null,
    )
    if (now?.ino !== identity.ino) return
    await saveVerifiedDirs(index.home, now, scan.folders, verified, unsettled).catch((error: Error) =>
      index.logger.debug({ err: error.message }, 'could not save the rollout folder check'),
    )
  }
  if (candidates.length === 0) {
    await remember()
    return 0
  }
  const { found } = await summarizeRollouts(candidates, index.logger)
  for (const file of candidates) {
    if (![...found.values()].some((summary) => summary.path === file.path)) unsettled.add(dirname(file.path))
  }
  index.catchUp()
  let fixed = 0
  for (const summary of found.values()) {
    const known = index.get(summary.id)
    const next = known ? { ...known, path: summary.path, archived: summary.archived } : summary
    if (known && known.path === next.path && known.archived === next.archived) continue
    fixed++
    void index.upsert(next).catch(() => undefined)
  }
  await index.flush()
  await remember()
  if (fixed > 0)
    index.logger.info(
      { added: fixed, ms: Math.round(performance.now() - t0) },
      'the thread index missed rollouts on disk; added them',
    )
  return fixed
}
