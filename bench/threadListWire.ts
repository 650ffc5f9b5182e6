/**
 * Figure: `thread/list` with 10,000 stored threads over stdio, against the built
 * `codex-desk app-server` started in a home holding them (rollouts and `thread_index.jsonl`, made
 * by lib/threadHome.ts). The core opens the index on the first thread request, so:
 *
 * - `thread_list_first_call_stdio`: the first `thread/list {limit: 25}` after `initialize` in a new
 *   process (loads the thread index from the log, cold JIT); the median over `processes` cores.
 *   `emptyHomeMs` is the same first call in a home with no threads: what the index does not cost.
 * - `thread_list_first_page_stdio`: in the last of those cores, steady-state `thread/list {}`
 *   round trips (the first page, 25 threads by default).
 * - `thread_list_search_stdio`: the same with a `searchTerm` that matches 11 threads, so every
 *   request scans the whole index.
 * - `thread_list_updated_at_stdio`: the first page with `sortKey: 'updated_at'` (its first call,
 *   which sorts the index by that key, is reported on its own).
 *
 * Round trips are timed from the request write to the arrival of the response, before the client
 * parses it. The index file was just written, so it is read from the page cache.
 *
 * Runs inside `npm run bench` via `threadListWire()`, or alone with `npx tsx bench/threadListWire.ts`.
 */
import { roundTrips, stdioCore, timedRequest, type FrameChannel } from './lib/clients'
import { makeTempDir, stopChild } from './lib/processes'
import { latencyFigure, p95, round, summarize, valueFigure, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'
import { populatedHome } from './lib/threadHome'

export interface ThreadListWireOptions {
  threads: number
  /**
   * New cores for the first-call figure (and as many in an empty home); the last one also runs the
   * steady-state figures.
   */
  processes: number
  /** Timed round trips per steady-state figure, after `warmup` untimed ones. */
  runs: number
  warmup: number
}

export const THREAD_LIST_WIRE_DEFAULTS: ThreadListWireOptions = {
  threads: 10_000,
  processes: 5,
  runs: 200,
  warmup: 20,
}

const TARGET_P50_MS = 20
const PAGE = 25
/** Matches `issue 777` and `issue 7770` to `issue 7779` (lib/threadHome.ts previews): 11 threads. */
const SEARCH = { term: 'issue 777', matches: 11 }

/** One timed `thread/list`, checked for the expected number of threads. */
async function listOnce(
  channel: FrameChannel,
  id: number,
  params: Record<string, unknown>,
  expected: number,
): Promise<{ ms: number; bytes: number }> {
  const r = await timedRequest(channel, id, 'thread/list', params)
  const page = r.result as { data: unknown[] }
  if (page.data.length !== expected)
    throw new Error(
      `thread/list ${JSON.stringify(params)} returned ${page.data.length}, expected ${expected}`,
    )
  return { ms: r.ms, bytes: r.bytes }
}

/** The first `thread/list` in each of `processes` new cores in `home`; the caller checks `expected`. */
async function firstCalls(home: string, processes: number, expected: number): Promise<number[]> {
  const samples: number[] = []
  for (let p = 0; p < processes; p++) {
    const { child, channel } = await stdioCore(home)
    try {
      samples.push((await listOnce(channel, 1, { limit: PAGE }, expected)).ms)
    } finally {
      channel.close()
      await stopChild(child)
    }
  }
  return samples
}

export async function threadListWire(
  options: ThreadListWireOptions = THREAD_LIST_WIRE_DEFAULTS,
): Promise<Figure[]> {
  const home = await populatedHome(options.threads, 'codex-desk-bench-threads-wire-')
  try {
    const empty = makeTempDir('codex-desk-bench-threads-empty-')
    let emptyHome: number[]
    try {
      emptyHome = await firstCalls(empty.path, options.processes, 0)
    } finally {
      await empty.remove()
    }

    const first = await firstCalls(home.path, options.processes - 1, PAGE)
    let steady: ArrayLike<number> = []
    let search: ArrayLike<number> = []
    let updated: ArrayLike<number> = []
    let updatedFirstMs = NaN
    let bytes = 0
    // The last new core also runs the steady-state figures.
    const { child, channel } = await stdioCore(home.path)
    try {
      first.push((await listOnce(channel, 1, { limit: PAGE }, PAGE)).ms)
      // Check each request's page once, then time it without checks (roundTrips reuses ids from 1).
      bytes = (await listOnce(channel, 2, {}, PAGE)).bytes
      steady = await roundTrips(channel, 'thread/list', {}, options.warmup, options.runs)
      await listOnce(channel, 3, { searchTerm: SEARCH.term }, SEARCH.matches)
      search = await roundTrips(
        channel,
        'thread/list',
        { searchTerm: SEARCH.term },
        options.warmup,
        options.runs,
      )
      const byUpdated = { sortKey: 'updated_at' }
      updatedFirstMs = (await listOnce(channel, 4, byUpdated, PAGE)).ms
      updated = await roundTrips(channel, 'thread/list', byUpdated, options.warmup, options.runs)
    } finally {
      channel.close()
      await stopChild(child)
    }

    const extra = { threads: options.threads, transport: 'stdio' }
    return [
      latencyFigure('thread_list_first_page_stdio', steady, TARGET_P50_MS, 'p50', null, {
        p95: p95(steady),
        ...extra,
        responseBytes: bytes,
        firstCallMs: round(first[first.length - 1] as number),
        populateMs: round(home.populateMs),
        measured: 'thread/list {} round trip in a warm process',
      }),
      latencyFigure('thread_list_search_stdio', search, TARGET_P50_MS, 'p50', null, {
        p95: p95(search),
        ...extra,
        matches: SEARCH.matches,
        measured: `thread/list {searchTerm: '${SEARCH.term}'}: scans every thread`,
      }),
      latencyFigure('thread_list_updated_at_stdio', updated, TARGET_P50_MS, 'p50', null, {
        p95: p95(updated),
        ...extra,
        firstCallMs: round(updatedFirstMs),
        measured: "thread/list {sortKey: 'updated_at'} round trip in a warm process",
      }),
      valueFigure('thread_list_first_call_stdio', first, {
        ...extra,
        emptyHomeMs: round(summarize(emptyHome).p50),
        measured: 'first thread/list {limit: 25} after initialize in a new process (loads the index)',
      }),
    ]
  } finally {
    await home.remove()
  }
}

// `npx tsx bench/threadListWire.ts`: the figures on their own, one JSON line each.
runStandalone(import.meta.url, () => threadListWire())
