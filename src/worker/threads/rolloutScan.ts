/**
 * Reading the rollout folders directly, for what the index cannot answer: a rebuild (no usable
 * index file), the consistency check at start (a rollout on disk that the index does not list: made
 * by a process that died before logging it, or copied in), and the store's fallback lookup by id.
 *
 * It only reads: it must never write a rollout or the index, and never read more of a big rollout
 * than its head and tail.
 */
import { open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../util/log'
import { ARCHIVED_DIR, SESSIONS_DIR } from './homeLayout'
import { decodeLines } from './rollout'
import { summaryFromLines, type ThreadSummary } from './threadSummary'

export { ARCHIVED_DIR, SESSIONS_DIR }

/** How many rollouts a scan reads at once. */
const SCAN_CONCURRENCY = 16
/** Rollouts up to this size are read whole; bigger ones only at the head and tail. */
const SCAN_WHOLE_BYTES = 256 * 1024
const SCAN_CHUNK_BYTES = 64 * 1024

/** `rollout-<UTC time>-<threadId>.jsonl`: the id is what follows the time. */
export const ROLLOUT_NAME = /^rollout-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-(.+)\.jsonl$/

export interface RolloutFile {
  path: string
  archived: boolean
}

/** Rollout files under `dir`, `depth` folders down (sessions/YYYY/MM/DD is 3, archived is 0). */
async function listRollouts(dir: string, depth: number): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  if (depth === 0)
    return names.filter((n) => n.startsWith('rollout-') && n.endsWith('.jsonl')).map((n) => join(dir, n))
  const nested = await Promise.all(names.map((n) => listRollouts(join(dir, n), depth - 1)))
  return nested.flat()
}

/**
 * A summary from a rollout without reading all of it: the whole file when small, else its head

/** Summaries of `files`, a few at a time; each unreadable one is logged and counted. */
export async function summarizeRollouts(
  files: readonly RolloutFile[],
  logger: Logger,
): Promise<{ found: Map<string, ThreadSummary>; unreadable: number }> {
  const found = new Map<string, ThreadSummary>()
  let unreadable = 0
  let next = 0
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++] as RolloutFile
      try {
        const summary = await summarizeRollout(file.path, file.archived)
        if (!summary) unreadable++
        else if (found.has(summary.id)) {
          logger.warn(
            { threadId: summary.id, path: file.path },
            'two rollouts for one thread; kept the first',
          )
        } else found.set(summary.id, summary)
      } catch (error) {
        unreadable++
        logger.warn({ path: file.path, error }, 'could not read a rollout while scanning')
      }
    }
  }
  await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, worker))
  return { found, unreadable }
}

/** Every rollout's summary (a rebuild). */
export async function scanAllRollouts(home: string, logger: Logger) {
  const files = [
    ...(await listRollouts(join(home, SESSIONS_DIR), 3)).map((path) => ({ path, archived: false })),
    ...(await listRollouts(join(home, ARCHIVED_DIR), 0)).map((path) => ({ path, archived: true })),
  ]
  return summarizeRollouts(files, logger)
}

/**
 * A summary from a rollout without reading all of it: the whole file when small, else its head
 * (meta, first message, early names) and its tail (later names, the last turn). A name set in the
 * middle of a big rollout and never again is missed; the index log, when present, has it.
 */
export async function summarizeRollout(path: string, archived: boolean): Promise<ThreadSummary | null> {
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    const readAt = async (position: number, length: number) => {
      const buffer = Buffer.alloc(length)
      const { bytesRead } = await handle.read(buffer, 0, length, position)
      return buffer.subarray(0, bytesRead).toString('utf8')
    }
    if (size <= SCAN_WHOLE_BYTES)
      return summaryFromLines(path, decodeLines(await readAt(0, size)).lines, archived)
    const head = decodeLines(await readAt(0, SCAN_CHUNK_BYTES)).lines
    const tailText = await readAt(size - SCAN_CHUNK_BYTES, SCAN_CHUNK_BYTES)
    // The tail starts mid-line; drop that fragment rather than report it.
    const tail = decodeLines(tailText.slice(tailText.indexOf('\n') + 1)).lines
    const lastHead = head[head.length - 1]?.ordinal ?? -1
    return summaryFromLines(path, [...head, ...tail.filter((l) => l.ordinal > lastHead)], archived)
  } finally {
    await handle.close()
  }
}

/** Exists for the store's fallback scan: a rollout's path by thread id, without the index. */
export async function scanForRollout(
  home: string,
  threadId: string,
): Promise<{ path: string; archived: boolean } | null> {
  const suffix = `-${threadId}.jsonl`
  for (const [dir, depth, archived] of [
    [join(home, SESSIONS_DIR), 3, false],
    [join(home, ARCHIVED_DIR), 0, true],
  ] as const) {
    const hit = (await listRollouts(dir, depth)).find((p) => p.endsWith(suffix))
    if (hit) {
      const exists = await stat(hit).then(
        () => true,
        () => false,
      )
      if (exists) return { path: hit, archived }
    }
  }
  return null
}
