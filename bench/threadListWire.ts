/**
 * Figures: `thread/list` with 10,000 stored threads over stdio, against the built
 * `codex-desk app-server` and, side by side in the same run, codex 0.169.0's `codex app-server`,
 * each in a home holding the same 10,000 threads in its own format (lib/threadHome.ts: ours with
 * `thread_index.jsonl` and its snapshot; codex's rollouts, `session_index.jsonl` and the state
 * database codex builds from them).
 *
 * Both homes are brought to their steady state before anything is timed: one start that lists
 * every thread page by page (checking that all 10,000 come back once, and that the last page has
 * no `nextCursor`). codex builds its state database on that first start (`codexFirstStartMs`,
 * reported, not compared); codex-desk writes its folder check. Then:
 *
 * - `thread_list_spawn_to_first_list_stdio`: from spawning the server to the answer of the first
 *   `thread/list {limit: 25, modelProviders: []}` (sent as soon as `initialize` is answered).
 * - `thread_list_first_call_stdio`: that first `thread/list`'s own round trip in the new process.
 *   `emptyHomeMs` is the same first call in a home with no threads: what the index does not cost.
 *   Both are medians over `processes` new processes per server, run alternately (ours, codex,
 *   codex, ours, ...), with codex's median, the ratio and the spread.
 * - `thread_list_first_page_stdio`: in the last of our processes, steady-state `thread/list {}`
 *   round trips (the first page, 25 threads by default).
 * - `thread_list_search_stdio`: the same with a `searchTerm` that matches 11 threads, so every
 *   request scans the whole index.
 * - `thread_list_updated_at_stdio`: the first page with `sortKey: 'updated_at'` (its first call,
 *   which sorts the index by that key, is reported on its own).
 *
 * `modelProviders: []` lists every provider on both (codex lists only the configured provider's
 * threads when the field is omitted); the Codex TUI sends it too. Round trips are timed from the
 * request write to the arrival of the response, before the client parses it; the files were just
 * written, so they are read from the page cache.
 *
 * Runs inside `npm run bench` via `threadListWire()`, or alone with `npx tsx bench/threadListWire.ts`.
 */
import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  INITIALIZE_FRAME,
  request,
  roundTrips,
  stdioCore,
  stdioFrames,
  timedRequest,
  type FrameChannel,
} from './lib/clients'
import { makeTempDir, stderrOf, stopChild } from './lib/processes'
import { CODEX, CODEX_DESK, codexInstalled, type BenchServer } from './lib/servers'
import { besideCodex, latencyFigure, p95, round, summarize, valueFigure, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'
import { populateCodex, populatedHome } from './lib/threadHome'

export interface ThreadListWireOptions {
  threads: number
  /**
   * New processes per server for the first-call figures (and as many of ours in an empty home);
   * another of ours then runs the steady-state figures.
   */
  processes: number
  /** Timed round trips per steady-state figure, after `warmup` untimed ones. */
  runs: number
  warmup: number
}

export const THREAD_LIST_WIRE_DEFAULTS: ThreadListWireOptions = {
  threads: 10_000,
  processes: 7,
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

/** The first-list request both servers get: every provider, the first 25 threads. */
const FIRST = { limit: PAGE, modelProviders: [] }
/** codex's first start builds its state database from 10,000 rollouts: give it time. */
const FIRST_START_TIMEOUT_MS = 300_000

/** One new process: spawn to the first list's answer, and that list's own round trip. */
interface FirstList {
  spawnToListMs: number
  firstListMs: number
}

/** Spawns `server` in `home`, initializes, and times the first `thread/list`; stops it. */
async function firstList(server: BenchServer, home: string, expected: number): Promise<FirstList> {
  const t0 = performance.now()
  const child = server.spawn(home, null)
  const channel = stdioFrames(child)
  try {
    await request(channel, INITIALIZE_FRAME, 0, 60_000)
    channel.send('{"method":"initialized"}')
    const list = await timedRequest(channel, 1, 'thread/list', FIRST, 60_000)
    const spawnToListMs = performance.now() - t0
    const page = list.result as { data: unknown[] }
    if (page.data.length !== expected)
      throw new Error(
        `${server.name}: the first thread/list returned ${page.data.length}, expected ${expected}`,
      )
    return { spawnToListMs, firstListMs: list.ms }
  } catch (error) {
    throw new Error(`${server.name}: ${(error as Error).message}: ${stderrOf(child)}`, { cause: error })
  } finally {
    channel.close()
    await stopChild(child)
  }
}

/**
 * The home's first start: initialize (codex builds its state database here), then every thread
 * page by page, each listed once, the last page without a `nextCursor`. Returns the time to the
 * initialize answer.
 */
async function firstStart(server: BenchServer, home: string, threads: number): Promise<number> {
  const t0 = performance.now()
  const child = server.spawn(home, null)
  const channel = stdioFrames(child)
  try {
    await request(channel, INITIALIZE_FRAME, 0, FIRST_START_TIMEOUT_MS)
    const initMs = performance.now() - t0
    channel.send('{"method":"initialized"}')
    const seen = new Set<string>()
    let cursor: string | null = null
    for (let id = 1; ; id++) {
      const params: Record<string, unknown> = {
        limit: 100,
        modelProviders: [],
        ...(cursor ? { cursor } : {}),
      }
      const r = await timedRequest(channel, id, 'thread/list', params, 60_000)
      const page = r.result as { data: { id: string }[]; nextCursor: string | null }
      for (const thread of page.data) seen.add(thread.id)
      cursor = page.nextCursor
      if (!cursor) break
      if (id > threads) throw new Error(`${server.name}: thread/list pages never end`)
    }
    if (seen.size !== threads)
      throw new Error(`${server.name}: thread/list paged through ${seen.size} threads, expected ${threads}`)
    return initMs
  } catch (error) {
    throw new Error(`${server.name}: ${(error as Error).message}: ${stderrOf(child)}`, { cause: error })
  } finally {
    channel.close()
    await stopChild(child)
  }
}

/**
 * codex keeps a thread's name in `session_index.jsonl` and in its state database (what
 * `thread/name/set` writes); its first start builds the database from the rollouts without the
 * names, so they are set there as `thread/name/set` would have. Needs the sqlite3 command.
 */
async function nameCodexThreads(home: string): Promise<'state db' | 'sqlite3 missing'> {
  const names = (await readFile(join(home, 'session_index.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { id: string; thread_name: string })
  const quote = (text: string) => `'${text.replace(/'/g, "''")}'`
  const sql = ['BEGIN;']
  for (const { id, thread_name } of names)
    sql.push(`UPDATE threads SET name = ${quote(thread_name)} WHERE id = ${quote(id)};`)
  sql.push('COMMIT;')
  try {
    execFileSync('sqlite3', [join(home, 'state_5.sqlite')], { input: sql.join('\n'), stdio: 'pipe' })
    return 'state db'
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'sqlite3 missing'
    throw error
  }
}

/** The first `thread/list` in each of `processes` new cores of ours in `home`. */
async function firstCalls(home: string, processes: number, expected: number): Promise<number[]> {
  const samples: number[] = []
  for (let p = 0; p < processes; p++) samples.push((await firstList(CODEX_DESK, home, expected)).firstListMs)
  return samples
}

/** codex's figure beside ours: its median, the ratio, both spreads. */
function sideBySide(
  bench: string,
  ours: number[],
  theirs: number[] | null,
  extra: Record<string, unknown>,
): Figure {
  return besideCodex(valueFigure(bench, ours, extra), ours, theirs)
}

export async function threadListWire(
  options: ThreadListWireOptions = THREAD_LIST_WIRE_DEFAULTS,
): Promise<Figure[]> {
  const home = await populatedHome(options.threads, 'codex-desk-bench-threads-wire-')
  const codexHome = codexInstalled() ? makeTempDir('codex-desk-bench-threads-codex-') : null
  try {
    await CODEX_DESK.configure(home.path, 'http://127.0.0.1:9/v1')
    const empty = makeTempDir('codex-desk-bench-threads-empty-')
    let emptyHome: number[]
    try {
      await CODEX_DESK.configure(empty.path, 'http://127.0.0.1:9/v1')
      emptyHome = await firstCalls(empty.path, options.processes, 0)
    } finally {
      await empty.remove()
    }

    // Steady state on both homes before anything is timed.
    const ourFirstStartMs = await firstStart(CODEX_DESK, home.path, options.threads)
    let codexFirstStartMs: number | null = null
    let codexNames: string | null = null
    if (codexHome) {
      await CODEX.configure(codexHome.path, 'http://127.0.0.1:9/v1')
      await populateCodex(codexHome.path, options.threads)
      codexFirstStartMs = await firstStart(CODEX, codexHome.path, options.threads)
      codexNames = await nameCodexThreads(codexHome.path)
    }

    // Alternating new processes: ours then codex, then codex then ours, and so on.
    const ours: FirstList[] = []
    const theirs: FirstList[] = []
    for (let p = 0; p < options.processes; p++) {
      const order = p % 2 === 0 ? [CODEX_DESK, CODEX] : [CODEX, CODEX_DESK]
      for (const server of order) {
        if (server === CODEX_DESK) ours.push(await firstList(CODEX_DESK, home.path, PAGE))
        else if (codexHome) theirs.push(await firstList(CODEX, codexHome.path, PAGE))
      }
    }

    let steady: ArrayLike<number> = []
    let search: ArrayLike<number> = []
    let updated: ArrayLike<number> = []
    let updatedFirstMs = NaN
    let bytes = 0
    // One more core of ours runs the steady-state figures.
    const { child, channel } = await stdioCore(home.path)
    try {
      await listOnce(channel, 1, { limit: PAGE }, PAGE)
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
    const codexSamples = (pick: (f: FirstList) => number) =>
      codexHome ? theirs.map((f) => round(pick(f))) : null
    return [
      latencyFigure('thread_list_first_page_stdio', steady, TARGET_P50_MS, 'p50', null, {
        p95: p95(steady),
        ...extra,
        responseBytes: bytes,
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
      sideBySide(
        'thread_list_spawn_to_first_list_stdio',
        ours.map((f) => f.spawnToListMs),
        codexSamples((f) => f.spawnToListMs),
        {
          ...extra,
          samples: ours.map((f) => round(f.spawnToListMs)),
          codexSamples: codexSamples((f) => f.spawnToListMs),
          measured:
            'spawn to the answer of the first thread/list {limit: 25}, sent once initialize is answered',
        },
      ),
      sideBySide(
        'thread_list_first_call_stdio',
        ours.map((f) => f.firstListMs),
        codexSamples((f) => f.firstListMs),
        {
          ...extra,
          samples: ours.map((f) => round(f.firstListMs)),
          codexSamples: codexSamples((f) => f.firstListMs),
          emptyHomeMs: round(summarize(emptyHome).p50),
          ourFirstStartMs: round(ourFirstStartMs),
          codexFirstStartMs: codexFirstStartMs === null ? null : round(codexFirstStartMs),
          codexNames,
          measured: 'first thread/list {limit: 25} after initialize in a new process (loads the index)',
        },
      ),
    ]
  } finally {
    await home.remove()
    await codexHome?.remove()
  }
}

// `npx tsx bench/threadListWire.ts`: the figures on their own, one JSON line each.
runStandalone(import.meta.url, () => threadListWire())
