/**
 * Figures: fuzzy file search (@-mentions) on a 100,000-file tree (plus 5,000 files under an
 * ignored `node_modules/`), over stdio, against the built `codex-desk app-server` and, when it is
 * installed (CODEX_BIN, or `.cache/codex-0.169.0`), codex-cli 0.169.0 on the same tree.
 *
 * - `file_search_100k_first`: the first `fuzzyFileSearch` on the tree (the walk included).
 * - `file_search_100k_warm`: later one-shot searches, a new query each (target: p50 under 50 ms).
 * - `file_search_100k_session_update`: `fuzzyFileSearch/sessionUpdate` written to the first
 *   `fuzzyFileSearch/sessionUpdated` for that query, in a session whose roots are walked.
 *
 * Runs inside `npm run bench` via `fileSearch()`, or alone with `npx tsx bench/fileSearch.ts`.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { stdioFrames, type FrameChannel } from './lib/clients'
import { makeTempDir, stopChild, withTimeout } from './lib/processes'
import { CODEX, CODEX_DESK, codexInstalled, type BenchServer } from './lib/servers'
import { latencyFigure, round, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface FileSearchBenchOptions {
  runs: number
  warmup: number
}

export const FILE_SEARCH_DEFAULTS: FileSearchBenchOptions = { runs: 30, warmup: 5 }

const WORDS = ['src', 'lib', 'components', 'utils', 'test', 'server', 'client', 'model', 'view', 'store']
const QUERIES = ['main', 'btnidx', 'srvmodel', 'readme', 'file4242', 'cmpview', 'utilstore', 'tstclient']
const WAIT_MS = 120_000

async function makeTree(root: string): Promise<void> {
  await writeFile(join(root, '.gitignore'), 'node_modules/\n')
  const jobs: Promise<void>[] = []
  const flush = async (): Promise<void> => {
    await Promise.all(jobs.splice(0))
  }
  for (let a = 0; a < 10; a++) {
    for (let b = 0; b < 100; b++) {
      const dir = join(root, `${WORDS[a]}${a}`, `${WORDS[b % 10]}_${b}`)
      await mkdir(dir, { recursive: true })
      for (let c = 0; c < 100; c++) {
        const name = `${['main', 'button', 'index', 'readme', 'file'][c % 5]}${a * 10_000 + b * 100 + c}.ts`
        jobs.push(writeFile(join(dir, name), ''))
      }
      if (jobs.length >= 2_000) await flush()
    }
  }
  for (let d = 0; d < 50; d++) {
    const dir = join(root, 'node_modules', `pkg${d}`)
    await mkdir(dir, { recursive: true })
    for (let c = 0; c < 100; c++) jobs.push(writeFile(join(dir, `main${c}.js`), ''))
  }
  await flush()
}

/** Resolves with ms from the write to the first frame `match` accepts. */
function timed(channel: FrameChannel, frame: string, match: (line: string) => boolean): Promise<number> {
  const t0 = performance.now()
  const done = new Promise<number>((resolve, reject) => {
    channel.handler = (line) => {
      const now = performance.now()
      if (line.includes('"error"') && line.startsWith('{"error"')) reject(new Error(line.slice(0, 300)))
      if (!match(line)) return
      channel.handler = () => {}
      resolve(now - t0)
    }
  })
  channel.send(frame)
  return withTimeout(done, WAIT_MS, 'a file search answer')
}

interface Measured {
  first: number
  warm: number[]
  session: number[]
}

async function measure(
  server: BenchServer,
  root: string,
  options: FileSearchBenchOptions,
): Promise<Measured> {
  const home = makeTempDir(`codex-desk-bench-fs-${server.name}-`)
  const child = server.spawn(home.path, null)
  const channel = stdioFrames(child)
  let id = 1
  const search = (query: string): Promise<number> => {
    const n = id++
    const frame = JSON.stringify({ id: n, method: 'fuzzyFileSearch', params: { query, roots: [root] } })
    return timed(channel, frame, (line) => line.startsWith(`{"id":${n},`) || line.endsWith(`"id":${n}}`))
  }
  try {
    const init = JSON.stringify({
      id: 0,
      method: 'initialize',
      params: { clientInfo: { name: 'bench', version: '1' }, capabilities: { experimentalApi: true } },
    })
    await timed(channel, init, (line) => line.includes('"id":0'))
    channel.send('{"method":"initialized"}')
    const first = await search('main4242')
    const warm: number[] = []
    for (let run = 0; run < options.warmup + options.runs; run++) {
      const ms = await search(`${QUERIES[run % QUERIES.length]}${run}`)
      if (run >= options.warmup) warm.push(ms)
    }
    const start = JSON.stringify({
      id: id++,
      method: 'fuzzyFileSearch/sessionStart',
      params: { sessionId: 'bench', roots: [root] },
    })
    await timed(channel, start, (line) => line.includes('"result"'))
    const session: number[] = []
    for (let run = 0; run < options.warmup + options.runs; run++) {
      const query = `${QUERIES[(run + 3) % QUERIES.length]}${run}`
      const frame = JSON.stringify({
        id: id++,
        method: 'fuzzyFileSearch/sessionUpdate',
        params: { sessionId: 'bench', query },
      })
      let t0 = 0
      const ms = await withTimeout(
        new Promise<number>((resolve) => {
          channel.handler = (line) => {
            const now = performance.now()
            if (
              line.startsWith('{"method":"fuzzyFileSearch/sessionUpdated"') &&
              line.includes(`"query":"${query}"`)
            ) {
              channel.handler = () => {}
              resolve(now - t0)
            }
          }
          t0 = performance.now()
          channel.send(frame)
        }),
        WAIT_MS,
        'a session update',
      )
      if (run >= options.warmup) session.push(ms)
      // Let the query finish (codex may send its completion after the results) before the next one.
      await new Promise((resolve) => setTimeout(resolve, 30))
    }
    return { first, warm, session }
  } finally {
    channel.close()
    await stopChild(child)
    await home.remove()
  }
}

export async function fileSearch(options: FileSearchBenchOptions = FILE_SEARCH_DEFAULTS): Promise<Figure[]> {
  const tree = makeTempDir('codex-desk-bench-fs-tree-')
  try {
    await makeTree(tree.path)
    const ours = await measure(CODEX_DESK, tree.path, options)
    const theirs = codexInstalled() ? await measure(CODEX, tree.path, options) : null
    const codexOf = (samples: number[] | undefined) => {
      if (!samples) return null
      const s = latencyFigure('x', samples, null, null, null)
      return { p50: s.p50 as number, p99: s.p99 as number }
    }
    const codexFrom = theirs ? 'measured' : 'not installed'
    return [
      {
        bench: 'file_search_100k_first',
        unit: 'ms',
        value: round(ours.first),
        n: 1,
        target: null,
        targetStat: null,
        codex: theirs ? { value: round(theirs.first) } : null,
        pass: null,
        codexFrom,
      },
      latencyFigure('file_search_100k_warm', ours.warm, 50, 'p50', codexOf(theirs?.warm), { codexFrom }),
      latencyFigure('file_search_100k_session_update', ours.session, 50, 'p50', codexOf(theirs?.session), {
        codexFrom,
      }),
    ]
  } finally {
    await tree.remove()
  }
}

runStandalone(import.meta.url, () => fileSearch())
