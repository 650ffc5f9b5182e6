/**
 * Figure 1: cold start, from spawning `app-server` to the `initialize` answer, over stdio and over a
 * websocket, for the built codex-desk and (when installed) codex-cli 0.169.0's native binary, next
 * to bare `node` timed the same way (the machine's floor). Runs are interleaved (node, ours, codex,
 * ours, codex, ... with the order of the two servers alternating), so a burst of load from elsewhere
 * on the machine hits both alike. Each child has exited before the next spawn.
 *
 * Over ws both servers are timed the same way: the bench chooses a free port, spawns the server on
 * it and tries a TCP connect every millisecond (codex does not print its URL), then upgrades that
 * connection to a websocket and sends initialize.
 *
 * Runs inside `npm run bench` via `coldStarts()`, or alone with `npx tsx bench/coldStart.ts [runs]`.
 * COLD_START_CPU_PROF=<dir> writes one `--cpu-prof` profile of codex-desk's stdio start there.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { connect, type Socket } from 'node:net'
import { WebSocket } from 'ws'
import { INITIALIZE_FRAME } from './lib/clients'
import { makeTempDir, onStdoutLines, stderrOf, stopChild, track, withTimeout } from './lib/processes'
import { CODEX, CODEX_DESK, codexInstalled, freePort, type BenchServer } from './lib/servers'
import { besideCodex, latencyFigure, ratioOf, round, summarize, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface ColdStartOptions {
  warmup: number
  runs: number
}

export const COLD_START_DEFAULTS: ColdStartOptions = { warmup: 2, runs: 20 }

/** Nobody's model: the servers never call it before initialize, but both need a provider configured. */
const NO_MODEL_URL = 'http://127.0.0.1:9/v1'

/**
 * CPU time a process (all its threads) has used so far, in ms, from the scheduler's per-thread
 * counters (Linux; NaN elsewhere). Wall time on a loaded two-core box mostly measures the load;
 * CPU time is what a start costs whatever else runs.
 */
function cpuMsOf(pid: number | undefined): number {
  if (pid === undefined) return NaN
  try {
    let ns = 0
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0])
    }
    return ns / 1e6
  } catch {
    return NaN
  }
}

interface Run {
  ms: number
  cpuMs: number
}

/** One stdio run: write initialize right after spawn, time until the first stdout line. */
async function stdioRun(server: BenchServer, home: string, nodeArgs: string[] = []): Promise<Run> {
  const t0 = performance.now()
  const child = server.spawn(home, null, nodeArgs)
  try {
    const firstLine = new Promise<{ t1: number; cpuMs: number; line: string }>((resolve, reject) => {
      const detach = onStdoutLines(child, (line) => {
        const t1 = performance.now()
        detach()
        resolve({ t1, cpuMs: cpuMsOf(child.pid), line })
      })
      child.once('exit', (code) =>
        reject(new Error(`${server.name} exited with ${code}: ${stderrOf(child)}`)),
      )
    })
    child.stdin.write(INITIALIZE_FRAME + '\n')
    const { t1, cpuMs, line } = await withTimeout(
      firstLine,
      10_000,
      `${server.name}'s initialize answer on stdout`,
    )
    const message = JSON.parse(line) as { id?: number; result?: unknown }
    if (message.id !== 0 || message.result === undefined) throw new Error(`unexpected first line: ${line}`)
    return { ms: t1 - t0, cpuMs }
  } finally {
    await stopChild(child)
  }
}

/**
 * A TCP connection to 127.0.0.1:`port` as soon as something accepts there, trying every `pollMs`.
 * A refused connect costs a syscall or two, so the polling takes little from the two cores the
 * starting server needs (a websocket client per attempt would cost far more).
 */
async function tcpWhenUp(
  port: number,
  child: ChildProcessWithoutNullStreams,
  pollMs: number,
): Promise<Socket> {
  const deadline = performance.now() + 10_000
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the server exited with ${child.exitCode}: ${stderrOf(child)}`)
    const socket = await new Promise<Socket | null>((resolve) => {
      const s = connect({ host: '127.0.0.1', port, noDelay: true })
      s.once('connect', () => (s.removeAllListeners('error'), resolve(s)))
      s.once('error', () => (s.destroy(), resolve(null)))
    })
    if (socket) return socket
    if (performance.now() > deadline) throw new Error(`nothing accepted on port ${port} within 10 s`)
    await new Promise((resolve) => setTimeout(resolve, pollMs))
  }
}

/**
 * One ws run: spawn on a port chosen here, connect as soon as it accepts (1 ms polls), upgrade on
 * that same connection, initialize. Both servers are timed exactly this way.
 */
async function wsRun(server: BenchServer, home: string): Promise<Run> {
  const port = await freePort()
  const t0 = performance.now()
  const child: ChildProcessWithoutNullStreams = server.spawn(home, `ws://127.0.0.1:${port}`)
  let ws: WebSocket | undefined
  try {
    const socket = await tcpWhenUp(port, child, 1)
    const opened = new WebSocket(`ws://127.0.0.1:${port}`, { createConnection: () => socket })
    ws = opened
    const answered = new Promise<Run>((resolve, reject) => {
      opened.once('open', () => opened.send(INITIALIZE_FRAME))
      opened.on('message', (data) => {
        const t1 = performance.now()
        const cpuMs = cpuMsOf(child.pid)
        const message = JSON.parse(data.toString()) as { id?: number; result?: unknown }
        if (message.id === 0 && message.result !== undefined) resolve({ ms: t1 - t0, cpuMs })
        else if (message.id === 0) reject(new Error(`initialize failed: ${data.toString()}`))
      })
      opened.once('error', reject)
      opened.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      )
    })
    return await withTimeout(answered, 10_000, `${server.name}'s initialize answer over ws`)
  } finally {
    ws?.terminate()
    await stopChild(child)
  }
}

/**
 * Context for the cold-start figures: bare `node` printing one line, timed the same way. No Node
 * server can start faster than this on the machine at hand, so the gap to it is what codex-desk costs.
 */
async function nodeBaselineRun(): Promise<number> {
  const t0 = performance.now()
  const child = spawn(process.execPath, ['-e', 'process.stdout.write("ready\\n")'], { stdio: 'pipe' })
  track(child)
  try {
    const firstLine = new Promise<number>((resolve, reject) => {
      child.stdout.once('data', () => resolve(performance.now()))
      child.once('exit', (code) => code !== 0 && reject(new Error(`node exited with ${code}`)))
    })
    return (await withTimeout(firstLine, 10_000, 'bare node to print')) - t0
  } finally {
    await stopChild(child)
  }
}

interface Samples {
  stdio: number[]
  ws: number[]
  stdioCpu: number[]
  wsCpu: number[]
}

/** codex-desk's latency figure with codex's same statistics beside it and the ratio of the medians. */
function sideBySide(
  bench: string,
  ours: number[],
  theirs: number[] | null,
  extra: Record<string, unknown>,
): Figure {
  return besideCodex(
    { ...latencyFigure(bench, ours, null, null, null, extra), targetStat: 'p50' },
    ours,
    theirs,
  )
}

/**
 * All cold starts, interleaved run by run, so that load from elsewhere hits every figure alike.
 * The ratio compares medians; min and max of both sides are in the figure for the spread.
 */
export async function coldStarts(options: ColdStartOptions = COLD_START_DEFAULTS): Promise<Figure[]> {
  const servers = codexInstalled() ? [CODEX_DESK, CODEX] : [CODEX_DESK]
  const homes = new Map(servers.map((s) => [s.name, makeTempDir()]))
  const samples = new Map<string, Samples>(
    servers.map((s) => [s.name, { stdio: [], ws: [], stdioCpu: [], wsCpu: [] }]),
  )
  const node: number[] = []
  try {
    for (const s of servers) await s.configure((homes.get(s.name) as { path: string }).path, NO_MODEL_URL)
    for (let i = 0; i < options.warmup + options.runs; i++) {
      const warm = i >= options.warmup
      const nodeMs = await nodeBaselineRun()
      if (warm) node.push(nodeMs)
      // Alternate who goes first, so neither always follows the other's exit.
      const order = i % 2 === 0 ? servers : [...servers].reverse()
      for (const kind of ['stdio', 'ws'] as const) {
        for (const s of order) {
          const home = (homes.get(s.name) as { path: string }).path
          const run = kind === 'stdio' ? await stdioRun(s, home) : await wsRun(s, home)
          if (!warm) continue
          const into = samples.get(s.name) as Samples
          into[kind].push(run.ms)
          into[kind === 'stdio' ? 'stdioCpu' : 'wsCpu'].push(run.cpuMs)
        }
      }
    }
    const profileDir = process.env.COLD_START_CPU_PROF
    if (profileDir) {
      const home = (homes.get('codex-desk') as { path: string }).path
      await stdioRun(CODEX_DESK, home, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`])
    }
  } finally {
    for (const home of homes.values()) await home.remove()
  }
  const ours = samples.get(CODEX_DESK.name) as Samples
  const theirs = samples.get(CODEX.name) ?? null
  const nodeP50 = summarize(node).p50
  const overNode = (xs: number[]) => round(summarize(xs).p50 - nodeP50)
  const p50 = (xs: number[] | undefined) =>
    xs && xs.every(Number.isFinite) ? round(summarize(xs).p50) : null
  // CPU time up to the answer (all threads): what each start costs, apart from the machine's load.
  const cpu = (ours: number[], theirs: number[] | undefined) => {
    const o = p50(ours)
    const t = p50(theirs)
    return { cpuP50: o, codexCpuP50: t, cpuRatio: o === null || t === null ? null : ratioOf(o, t) }
  }
  return [
    latencyFigure('cold_start_node_baseline', node, null, null, null, {
      note: 'bare node, spawn to first stdout line: the floor under a Node server',
      loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
    }),
    sideBySide('cold_start_stdio', ours.stdio, theirs?.stdio ?? null, {
      overNodeP50: overNode(ours.stdio),
      ...cpu(ours.stdioCpu, theirs?.stdioCpu),
    }),
    sideBySide('cold_start_ws', ours.ws, theirs?.ws ?? null, {
      overNodeP50: overNode(ours.ws),
      ...cpu(ours.wsCpu, theirs?.wsCpu),
    }),
  ]
}

runStandalone(import.meta.url, () => {
  const runs = Number(process.argv[2] ?? COLD_START_DEFAULTS.runs)
  return coldStarts({ warmup: COLD_START_DEFAULTS.warmup, runs })
})
