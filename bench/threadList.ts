/**
 * Figure: thread persistence at 10,000 stored threads. `thread/list` first page (limit 25) from the
 * in-memory index, steady and right after a write (which drops the sorted cache), the index cold
 * start from its snapshot plus thread_index.jsonl (and from the log alone, `fromLogMs`), the
 * rebuild by scanning every rollout, and the replay of one
 * thread with 2,000 items. In-process: no app-server is spawned, so this needs no build.
 *
 * Runs inside `npm run bench` via `benchThreadList()` (returns Figure[]), or alone with
 * `npx tsx bench/threadList.ts`. Everything lives in a temp home that is removed at the end.
 */
import { randomUUID } from 'node:crypto'
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { RolloutStore } from '../src/worker/threads/rolloutStore'
import { SNAPSHOT_FILE } from '../src/worker/threads/indexSnapshot'
import { INDEX_FILE, ThreadIndex } from '../src/worker/threads/threadIndex'
import { agentMessage } from '../test/support/threadFixtures'
import { makeTempDir } from './lib/processes'
import { latencyFigure, p95, round, summarize, valueFigure, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'
import { ageFolders, meta, populate } from './lib/threadHome'

export interface ThreadListBenchOptions {
  threads: number
  listRuns: number
  warmup: number
  coldRuns: number
  rebuildRuns: number
  replayItems: number
  replayRuns: number
}

export const THREAD_LIST_DEFAULTS: ThreadListBenchOptions = {
  threads: 10_000,
  listRuns: 200,
  warmup: 20,
  coldRuns: 5,
  rebuildRuns: 3,
  replayItems: 2_000,
  replayRuns: 30,
}

const TARGET_LIST_P50_MS = 20
const TARGET_REPLAY_P50_MS = 50

/** One thread with `items` items: commands and streamed agent messages, with their model history. */
async function bigThread(store: RolloutStore, items: number): Promise<string> {
  const id = randomUUID()
  const { createdAt: _createdAt, ephemeral: _ephemeral, ...fields } = meta(id, Date.now(), 1)
  const { writer } = await store.create(fields)
  await writer.append('turn_started', { turnId: 't', startedAt: Math.floor(Date.now() / 1000) })
  const appends: Promise<void>[] = []
  for (let i = 0; i < items; i++) {
    const itemId = `item-${i}`
    if (i % 4 === 0) {
      appends.push(
        writer.append('item_completed', {
          turnId: 't',
          item: {
            type: 'commandExecution',
            id: itemId,
            command: `rg -n pattern src/file${i}.ts`,
            cwd: '/work/project',
            processId: null,
            source: 'agent',
            status: 'completed',
            commandActions: [{ type: 'search', command: 'rg' }],
            aggregatedOutput: `src/file${i}.ts:1: match\n`.repeat(8),
            exitCode: 0,
            durationMs: 12,
          },
        }),
      )
    } else {
      appends.push(writer.append('item_started', { turnId: 't', item: agentMessage(itemId, '') }))
      appends.push(
        writer.append('item_checkpoint', { turnId: 't', itemId, text: 'The quick brown fox '.repeat(10) }),
      )
      appends.push(
        writer.append('item_completed', {
          turnId: 't',
          item: agentMessage(itemId, 'The quick brown fox '.repeat(20)),
        }),
      )
    }
    appends.push(
      writer.append('response_item', {
        turnId: 't',
        item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: `item ${i}` }] },
      }),
    )
  }
  await Promise.all(appends)
  await writer.append('turn_completed', {
    turnId: 't',
    status: 'completed',
    error: null,
    completedAt: Math.floor(Date.now() / 1000),
    durationMs: 1,
  })
  await writer.close()
  return id
}

export async function benchThreadList(
  options: ThreadListBenchOptions = THREAD_LIST_DEFAULTS,
): Promise<Figure[]> {
  const home = makeTempDir('codex-desk-bench-threads-')
  const opened: ThreadIndex[] = []
  const load = async () => {
    const index = await ThreadIndex.load({ home: home.path })
    opened.push(index)
    return index
  }
  try {
    const figures: Figure[] = []
    let index = await load()
    const t0 = performance.now()
    await populate(home.path, index, options.threads)
    const populateMs = performance.now() - t0

    const listOnce = (params = {}) => {
      const start = performance.now()
      const page = index.list({ limit: 25, ...params })
      const ms = performance.now() - start
      if (page.data.length !== 25)
        throw new Error(`thread/list returned ${page.data.length} threads, expected 25`)
      return ms
    }
    for (let i = 0; i < options.warmup; i++) listOnce()
    const steady = Array.from({ length: options.listRuns }, () => listOnce())
    figures.push(
      latencyFigure('thread_list_first_page', steady, TARGET_LIST_P50_MS, 'p50', null, {
        p95: p95(steady),
        threads: index.size,
        populateMs: round(populateMs),
      }),
    )

    // A write drops the sorted cache: the next list sorts all threads again.
    const summaries = [...index.all()]
    const afterWrite: number[] = []
    for (let i = 0; i < options.listRuns; i++) {
      const s = summaries[i % summaries.length] as (typeof summaries)[number]
      void index.upsert({ ...s, updatedAtMs: s.updatedAtMs + 1 })
      afterWrite.push(listOnce({ sortKey: 'updated_at' }))
    }
    await index.flush()
    figures.push(
      latencyFigure('thread_list_first_page_after_write', afterWrite, TARGET_LIST_P50_MS, 'p50', null, {
        p95: p95(afterWrite),
      }),
    )

    // A search that matches one thread in ten scans most of the index.
    const search = Array.from({ length: options.listRuns }, () =>
      listOnce({ searchTerm: 'issue 1', cwd: ['/work/project-1', '/work/project-11'] }),
    )
    figures.push(
      latencyFigure('thread_list_search', search, TARGET_LIST_P50_MS, 'p50', null, { p95: p95(search) }),
    )

    // Closing writes the snapshot a long-lived process would have written in the background.
    await index.close()
    // Folders written in the last seconds are always listed again at start (scanCache.ts).
    await ageFolders(join(home.path, 'sessions'), 3)
    const coldFrom = async (from: 'snapshot' | 'log') => {
      const cold: number[] = []
      for (let i = 0; i < options.coldRuns; i++) {
        if (from === 'log') await unlink(`${home.path}/${SNAPSHOT_FILE}`).catch(() => undefined)
        const start = performance.now()
        index = await load()
        // The first page, as a new process's first listing would.
        if (index.list({ limit: 25 }).data.length !== 25) throw new Error('cold start listed no page')
        cold.push(performance.now() - start)
        if (index.loadedFrom !== from || index.size !== options.threads)
          throw new Error(`cold start loaded from ${index.loadedFrom}, expected ${from}`)
        await index.close()
      }
      return cold
    }
    const fromSnapshot = await coldFrom('snapshot')
    const fromLog = await coldFrom('log')
    figures.push(
      valueFigure('thread_index_cold_start', fromSnapshot, {
        threads: options.threads,
        fromLogMs: round(summarize(fromLog).p50),
        measured: 'load the index (snapshot + log tail) and list the first page',
      }),
    )

    const rebuild: number[] = []
    for (let i = 0; i < options.rebuildRuns; i++) {
      await unlink(`${home.path}/${INDEX_FILE}`)
      const start = performance.now()
      index = await load()
      rebuild.push(performance.now() - start)
      if (index.loadedFrom !== 'rebuild' || index.size !== options.threads) {
        throw new Error(`rebuild found ${index.size} threads, expected ${options.threads}`)
      }
      if (i < options.rebuildRuns - 1) await index.close()
    }
    figures.push(valueFigure('thread_index_rebuild_scan', rebuild, { threads: options.threads }))

    const store = new RolloutStore({ home: home.path, index })
    const id = await bigThread(store, options.replayItems)
    const replayMs: number[] = []
    for (let i = 0; i < options.replayRuns; i++) {
      const start = performance.now()
      const replayed = await store.read(id)
      replayMs.push(performance.now() - start)
      const count = replayed.turns[0]?.items.length
      if (count !== options.replayItems)
        throw new Error(`replay found ${count} items, expected ${options.replayItems}`)
    }
    figures.push(
      latencyFigure('thread_replay_2000_items', replayMs, TARGET_REPLAY_P50_MS, 'p50', null, {
        p95: p95(replayMs),
        items: options.replayItems,
        measured: 'read file + decode + replay',
      }),
    )
    await store.close()
    return figures
  } finally {
    for (const index of opened) await index.close().catch(() => undefined)
    await home.remove()
  }
}

// `npx tsx bench/threadList.ts`: the figures on their own, one JSON line each.
runStandalone(import.meta.url, () => benchThreadList())
