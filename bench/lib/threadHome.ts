/**
 * A home holding many stored threads, for the thread-list benchmarks: small but realistic rollouts
 * written straight to disk (spread over a week of date folders) and indexed as they are written,
 * so `thread_index.jsonl` lists every one of them once the index is closed.
 */
import { randomUUID } from 'node:crypto'
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { decodeLines, encodeLine, type SessionMeta } from '../../src/worker/threads/rollout'
import { rolloutPath } from '../../src/worker/threads/rolloutStore'
import { ThreadIndex, summaryFromLines } from '../../src/worker/threads/threadIndex'
import { agentMessage } from '../../test/support/threadFixtures'
import { makeTempDir } from './processes'

const FILE_CONCURRENCY = 64

export function meta(id: string, createdAtMs: number, i: number): SessionMeta {
  return {
    id,
    createdAt: Math.floor(createdAtMs / 1000),
    cwd: `/work/project-${i % 20}`,
    originator: 'codex-desk-bench',
    cliVersion: '0.0.0-bench',
    source: i % 10 === 0 ? 'cli' : 'vscode',
    modelProvider: i % 7 === 0 ? 'ollama' : 'openai',
    model: 'gpt-bench',
    reasoningEffort: 'medium',
    forkedFromId: null,
    parentThreadId: null,
    ephemeral: false,
    historyMode: 'paginated',
  }
}

/**
 * A small but realistic rollout: meta, a name on every third, one completed turn whose user
 * message (the preview) reads `Please look at issue ${i} in the parser`.
 */
function smallRollout(id: string, createdAtMs: number, i: number): string {
  let ordinal = 0
  let at = createdAtMs
  const line = <T extends Parameters<typeof encodeLine>[1]>(
    type: T,
    payload: Parameters<typeof encodeLine<T>>[2],
  ) => encodeLine(ordinal++, type, payload, (at += 1000))
  const parts = [encodeLine(ordinal++, 'session_meta', meta(id, createdAtMs, i), createdAtMs)]
  if (i % 3 === 0) parts.push(line('thread_settings', { name: `Thread number ${i}` }))
  parts.push(line('turn_started', { turnId: 'turn-1', startedAt: Math.floor(at / 1000) }))
  parts.push(
    line('item_completed', {
      turnId: 'turn-1',
      item: {
        type: 'userMessage',
        id: 'u1',
        clientId: null,
        content: [{ type: 'text', text: `Please look at issue ${i} in the parser`, text_elements: [] }],
      },
    }),
  )
  parts.push(line('item_completed', { turnId: 'turn-1', item: agentMessage('a1', `Done with ${i}.`) }))
  parts.push(
    line('turn_completed', {
      turnId: 'turn-1',
      status: 'completed',
      error: null,
      completedAt: Math.floor(at / 1000),
      durationMs: 2000,
    }),
  )
  return parts.join('')
}

/** Writes the rollouts straight to disk and indexes them: the fastest honest way to 10,000 threads. */
export async function populate(home: string, index: ThreadIndex, count: number): Promise<void> {
  const base = Date.parse('2030-01-01T00:00:00.000Z')
  // One mkdir per date folder, shared by the writers that need it at the same time.
  const dirs = new Map<string, Promise<unknown>>()
  let next = 0
  let failed = false
  const upserts: Promise<void>[] = []
  const worker = async () => {
    while (next < count && !failed) {
      const i = next++
      const id = randomUUID()
      // A minute apart: 10,000 threads span a week of date folders.
      const createdAtMs = base + i * 60_000 + (i % 1000)
      const path = rolloutPath(home, createdAtMs, id)
      const dir = dirname(path)
      let made = dirs.get(dir)
      if (!made) dirs.set(dir, (made = mkdir(dir, { recursive: true })))
      await made
      const text = smallRollout(id, createdAtMs, i)
      await writeFile(path, text)
      const summary = summaryFromLines(path, decodeLines(text).lines, false)
      if (summary) upserts.push(index.upsert(summary))
    }
  }
  // Settle everything before reporting a failure, so nothing is still writing when the caller
  // removes the temp home.
  const guarded = async () => {
    try {
      await worker()
    } catch (error) {
      failed = true
      throw error
    }
  }
  const workers = await Promise.allSettled(Array.from({ length: FILE_CONCURRENCY }, guarded))
  const failure = [...workers, ...(await Promise.allSettled(upserts))].find((r) => r.status === 'rejected')
  if (failure) throw (failure as PromiseRejectedResult).reason
}

/**
 * A temp home with `count` stored threads and their index on disk (closed, so a server started
 * there loads it from `thread_index.jsonl`). The caller removes it.
 */
export async function populatedHome(
  count: number,
  prefix = 'codex-desk-bench-threads-',
): Promise<{ path: string; populateMs: number; remove(): Promise<void> }> {
  const home = makeTempDir(prefix)
  let index: ThreadIndex | null = null
  try {
    const t0 = performance.now()
    index = await ThreadIndex.load({ home: home.path })
    await populate(home.path, index, count)
    if (index.size !== count) throw new Error(`indexed ${index.size} threads, expected ${count}`)
    await index.close()
    const populateMs = performance.now() - t0
    await ageFolders(join(home.path, 'sessions'), 3)
    return { path: home.path, populateMs, remove: () => home.remove() }
  } catch (error) {
    await index?.close().catch(() => undefined)
    await home.remove()
    throw error
  }
}

/**
 * Dates the day folders an hour back, as in a home whose threads were written before this run (a
 * folder written in the last two seconds is always read again at start: threads/scanCache.ts).
 */
async function ageFolders(dir: string, depth: number): Promise<void> {
  if (depth === 0) {
    const past = new Date(Date.now() - 3_600_000)
    return utimes(dir, past, past)
  }
  for (const name of await readdir(dir).catch(() => [] as string[]))
    await ageFolders(join(dir, name), depth - 1)
}
