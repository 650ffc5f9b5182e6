/**
 * Figure 1: cold start, from spawning the built `codex-desk app-server` to the initialize response,
 * over stdio and over a websocket, next to bare `node` timed the same way (the machine's floor).
 * Runs are sequential and each child has exited before the next spawn, so runs do not compete for
 * the two cores.
 */
import { spawn } from 'node:child_process'
import { WebSocket } from 'ws'
import { INITIALIZE_FRAME } from './lib/clients'
import {
  listeningUrl,
  makeTempDir,
  onStdoutLines,
  spawnServer,
  stderrOf,
  stopChild,
  track,
  withTimeout,
} from './lib/processes'
import { latencyFigure, round, summarize, type Figure } from './lib/stats'

export interface ColdStartOptions {
  warmup: number
  runs: number
}

const TARGET_MS = 60

/** One stdio run: write initialize right after spawn, time until the first stdout line. */
async function stdioRun(home: string): Promise<number> {
  const t0 = performance.now()
  const child = spawnServer([], home)
  try {
    const firstLine = new Promise<{ t1: number; line: string }>((resolve, reject) => {
      const detach = onStdoutLines(child, (line) => {
        const t1 = performance.now()
        detach()
        resolve({ t1, line })
      })
      child.once('exit', (code) => reject(new Error(`app-server exited with ${code}: ${stderrOf(child)}`)))
    })
    child.stdin.write(INITIALIZE_FRAME + '\n')
    const { t1, line } = await withTimeout(firstLine, 10_000, 'the initialize response on stdout')
    const message = JSON.parse(line) as { id?: number; result?: unknown }
    if (message.id !== 0 || message.result === undefined) throw new Error(`unexpected first line: ${line}`)
    return t1 - t0
  } finally {
    await stopChild(child)
  }
}

/** One ws run: spawn, wait for the URL, connect, initialize; also returns when the URL appeared. */
async function wsRun(home: string): Promise<{ total: number; listening: number }> {
  const t0 = performance.now()
  const child = spawnServer(['--listen', 'ws://127.0.0.1:0'], home)
  let ws: WebSocket | undefined
  try {
    const url = await listeningUrl(child)
    const listening = performance.now() - t0
    const socket = new WebSocket(url)
    ws = socket
    const response = new Promise<number>((resolve, reject) => {
      socket.once('open', () => socket.send(INITIALIZE_FRAME))
      socket.on('message', (data) => {
        const t1 = performance.now()
        const message = JSON.parse(data.toString()) as { id?: number; result?: unknown }
        if (message.id === 0 && message.result !== undefined) resolve(t1)
        else if (message.id === 0) reject(new Error(`initialize failed: ${data.toString()}`))
      })
      socket.once('error', reject)
    })
    const t1 = await withTimeout(response, 10_000, 'the initialize response over ws')
    return { total: t1 - t0, listening }
  } finally {
    ws?.terminate()
    await stopChild(child)
  }
}

/**
 * Context for the cold-start target: bare `node` printing one line, timed the same way. No server
 * can start faster than this on the machine at hand, so the gap to it is what codex-desk costs.
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

/**
 * All three cold starts, interleaved run by run (node, stdio, ws, node, ...), so that a burst of
 * load from elsewhere on the machine hits the three figures alike and their gaps stay meaningful.
 */
export async function coldStarts(options: ColdStartOptions): Promise<Figure[]> {
  const stdioHome = makeTempDir()
  const wsHome = makeTempDir()
  try {
    const node: number[] = []
    const stdio: number[] = []
    const ws: number[] = []
    const listening: number[] = []
    for (let i = 0; i < options.warmup + options.runs; i++) {
      const warm = i >= options.warmup
      const nodeMs = await nodeBaselineRun()
      const stdioMs = await stdioRun(stdioHome.path)
      const wsRunMs = await wsRun(wsHome.path)
      if (!warm) continue
      node.push(nodeMs)
      stdio.push(stdioMs)
      ws.push(wsRunMs.total)
      listening.push(wsRunMs.listening)
    }
    return [
      latencyFigure('cold_start_node_baseline', node, null, null, null, {
        note: 'bare node, spawn to first stdout line: the floor under cold_start_*',
      }),
      latencyFigure('cold_start_stdio', stdio, TARGET_MS, 'p50', { p50: 78 }),
      // Where the time goes: spawn -> listening line; the rest is connect + upgrade + initialize.
      latencyFigure(
        'cold_start_ws',
        ws,
        TARGET_MS,
        'p50',
        { p50: 92 },
        {
          listeningP50: round(summarize(listening).p50),
        },
      ),
    ]
  } finally {
    await stdioHome.remove()
    await wsHome.remove()
  }
}
