/**
 * Figure: delivery lag to 8 reading websocket clients while a 9th is paused at the TCP level, for
 * codex-desk and codex-cli 0.169.0 in the same run (bench/lib/servers.ts), servers interleaved.
 *
 * A real turn: nine clients subscribe to one thread (the first starts it and runs a short warm-up
 * turn, the other eight `thread/resume` it), the ninth stops reading its socket, and the first
 * starts a turn whose answer the paced model server (bench/lib/pacedModelServer.ts, its own
 * process) streams as `count` deltas at `perSecond`. Each delta carries the model server's clock at
 * the instant it was written; lag is each reading client's arrival time minus that (same machine
 * clock), per delta per client. A server that coalesces deltas delivers every stamp still.
 *
 * Runs inside `npm run bench` via `broadcastLag()`, or alone with `npx tsx bench/broadcast.ts`
 * (needs the build). BROADCAST_CPU_PROF=<dir> runs codex-desk under `--cpu-prof` into that folder.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import type { Socket } from 'node:net'
import { PerformanceObserver } from 'node:perf_hooks'
import type { WebSocket } from 'ws'
import { initialize, openWebSocket, request, webSocketFrames, type FrameChannel } from './lib/clients'
import {
  startPacedModelServer,
  stampsOf,
  type PacedAnswer,
  type PacedModelServer,
} from './lib/pacedModelServer'
import { makeTempDir, stderrOf, stopChild, withTimeout } from './lib/processes'
import { connectWhenUp, freePort, interleavedRounds, type BenchServer } from './lib/servers'
import { latencyFigure, ratioOf, round, summarize, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface BroadcastOptions {
  /** Clients that keep reading (plus one paused). */
  fastClients: number
  /** Deltas in the streamed answer. */
  count: number
  /** The model server's pace. */
  perSecond: number
  /** Characters per delta. */
  bytes: number
  /** Rounds of (codex-desk, codex), each server a fresh process per round. */
  rounds: number
}

export const BROADCAST_DEFAULTS: BroadcastOptions = {
  fastClients: 8,
  count: 5_000,
  perSecond: 2_000,
  bytes: 200,
  rounds: 3,
}

/** The paused-client tail must be at most a quarter of codex's p99. */
const RATIO_TARGET = 0.25

const DELTA_PREFIX = '{"method":"item/agentMessage/delta"'
const DELTA_FIELD = '"delta":"'

/** The delta text of a delta notification (bench stamps hold no quote or escape). */
export function deltaText(frame: string): string {
  const at = frame.indexOf(DELTA_FIELD) + DELTA_FIELD.length
  return frame.slice(at, frame.indexOf('"', at))
}

/** One server on a free port with `clients` initialized websocket clients subscribed to one thread. */
export interface Subscribed {
  child: ChildProcessWithoutNullStreams
  sockets: WebSocket[]
  channels: FrameChannel[]
  threadId: string
  dispose(): Promise<void>
}

/**
 * Spawns `server` on `model`, connects `clients` websockets, starts a thread on the first, runs a
 * short warm-up turn there (so the thread is on disk and the pipes are warm), then resumes the
 * thread from every other client. Waits for each answer before the next request. `answer` is what
 * the model server gives the next turn, which the caller starts.
 */
export async function subscribedClients(
  server: BenchServer,
  model: PacedModelServer,
  clients: number,
  answer: PacedAnswer,
  nodeArgs: string[] = [],
): Promise<Subscribed> {
  const home = makeTempDir(`${server.name}-subscribers-`)
  const sockets: WebSocket[] = []
  const channels: FrameChannel[] = []
  let child: ChildProcessWithoutNullStreams | undefined
  const dispose = async () => {
    for (const ws of sockets) ws.terminate()
    // --cpu-prof is written on exit: give it time.
    if (child) await stopChild(child, nodeArgs.length > 0 ? 10_000 : 2_000)
    await home.remove()
  }
  try {
    await server.configure(home.path, model.url)
    // Both answers are queued before the server starts: the queue is fed over a pipe, and a turn
    // could otherwise reach the model server first (and get its default answer).
    model.enqueue({ kind: 'text', text: 'ok' })
    model.enqueue(answer)
    const url = `ws://127.0.0.1:${await freePort()}`
    child = server.spawn(home.path, url, nodeArgs)
    // The first connection waits for the server to listen; the rest connect at once.
    await connectWhenUp(url, child).then((probe) => probe.close())
    for (let i = 0; i < clients; i++) {
      const ws = await openWebSocket(url, 10_000)
      const channel = webSocketFrames(ws)
      sockets.push(ws)
      channels.push(channel)
      await initialize(channel)
    }
    const first = channels[0] as FrameChannel
    const started = await request(first, '{"id":1,"method":"thread/start","params":{}}', 1, 20_000)
    const threadId = (started.result as { thread: { id: string } }).thread.id
    await runTurn(first, threadId, 2, 'warm up')
    const resume = JSON.stringify({ id: 3, method: 'thread/resume', params: { threadId } })
    for (const channel of channels.slice(1)) await request(channel, resume, 3, 20_000)
    return { child, sockets, channels, threadId, dispose }
  } catch (error) {
    if (child) (error as Error).message += `\n${server.name} stderr: ${stderrOf(child).slice(-2000)}`
    await dispose()
    throw error
  }
}

/** Sends turn/start on `channel` and resolves once that channel sees the turn complete. */
export function runTurn(channel: FrameChannel, threadId: string, id: number, prompt: string): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    channel.handler = (frame) => {
      if (frame.startsWith(`{"id":${id},"error"`)) reject(new Error(frame))
      else if (frame.includes('"method":"turn/completed"')) {
        channel.handler = () => {}
        resolve()
      }
    }
  })
  channel.send(
    JSON.stringify({
      id,
      method: 'turn/start',
      params: { threadId, input: [{ type: 'text', text: prompt }] },
    }),
  )
  return withTimeout(done, 60_000, `turn/completed for "${prompt}"`)
}

interface LagRun {
  lags: Float64Array
  /** Delta notifications one reading client received (fewer than `count` when coalesced). */
  notifications: number
  clientGcMaxMs: number
  pausedClosedWith: number | null
}

async function runOnce(server: BenchServer, options: BroadcastOptions): Promise<LagRun> {
  const model = await startPacedModelServer()
  const prof = server.name === 'codex-desk' ? process.env.BROADCAST_CPU_PROF : undefined
  // BROADCAST_NODE_ARGS (e.g. "--trace-gc"): more node flags for codex-desk, its stdout to stderr.
  const extra = server.name === 'codex-desk' ? (process.env.BROADCAST_NODE_ARGS?.split(' ') ?? []) : []
  let subscribed: Subscribed | undefined
  try {
    const answer = {
      kind: 'paced',
      count: options.count,
      perSecond: options.perSecond,
      bytes: options.bytes,
    } as const
    subscribed = await subscribedClients(server, model, options.fastClients + 1, answer, [
      ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []),
      ...extra,
    ])
    if (extra.length > 0) subscribed.child.stdout.pipe(process.stderr)
    const { channels, sockets, threadId } = subscribed
    const lags = new Float64Array(options.fastClients * options.count).fill(NaN)
    let notifications = 0
    let completed = 0
    let allCompleted: () => void = () => {}
    const arrived = new Promise<void>((resolve) => (allCompleted = resolve))
    channels.slice(0, options.fastClients).forEach((channel, client) => {
      const base = client * options.count
      channel.handler = (frame) => {
        // The clock first, so lag is not inflated by our own parsing.
        const now = performance.timeOrigin + performance.now()
        if (frame.startsWith(DELTA_PREFIX)) {
          if (client === 0) notifications++
          stampsOf(deltaText(frame), (seq, sent) => {
            if (seq < options.count) lags[base + seq] = now - sent
          })
        } else if (frame.includes('"method":"turn/completed"')) {
          if (++completed === options.fastClients) allCompleted()
        }
      }
    })

    const paused = sockets[options.fastClients] as WebSocket
    const pausedSocket = (paused as unknown as { _socket: Socket })._socket
    ;(channels[options.fastClients] as FrameChannel).handler = () => {}
    pausedSocket.pause()
    let pausedClosedWith: number | null = null
    paused.once('close', (code) => (pausedClosedWith = code))

    // Our own GC pauses delay every reading client at once: report the longest.
    let clientGcMaxMs = 0
    const gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) clientGcMaxMs = Math.max(clientGcMaxMs, entry.duration)
    })
    gc.observe({ entryTypes: ['gc'] })
    ;(channels[0] as FrameChannel).send(
      JSON.stringify({
        id: 10,
        method: 'turn/start',
        params: { threadId, input: [{ type: 'text', text: 'stream' }] },
      }),
    )
    try {
      await withTimeout(arrived, 120_000, `turn/completed at ${options.fastClients} reading clients`)
    } finally {
      gc.disconnect()
    }
    const missing = lags.reduce((n, v) => (Number.isNaN(v) ? n + 1 : n), 0)
    if (missing > 0) throw new Error(`${server.name}: ${missing} (client, delta) stamps never arrived`)
    pausedSocket.resume()
    if (process.env.BROADCAST_DUMP) {
      // Debugging aid: the worst client's lag per delta, one line per delta, for a plot.
      const worst = Array.from({ length: options.count }, (_, seq) => {
        let max = 0
        for (let c = 0; c < options.fastClients; c++)
          max = Math.max(max, lags[c * options.count + seq] as number)
        return max.toFixed(2)
      })
      const { writeFileSync } = await import('node:fs')
      writeFileSync(`${process.env.BROADCAST_DUMP}.${server.name}`, worst.join('\n') + '\n')
    }
    return { lags, notifications, clientGcMaxMs, pausedClosedWith }
  } finally {
    await subscribed?.dispose()
    await model.close()
  }
}

export async function broadcastLag(options: BroadcastOptions = BROADCAST_DEFAULTS): Promise<Figure> {
  const runs = await interleavedRounds(options.rounds, (server) => runOnce(server, options))
  const pooled = (name: string) => {
    const list = runs.get(name) ?? []
    const all = new Float64Array(list.reduce((n, r) => n + r.lags.length, 0))
    let at = 0
    for (const r of list) all.set(r.lags, (at += r.lags.length) - r.lags.length)
    return all
  }
  const p99s = (name: string) => (runs.get(name) ?? []).map((r) => round(summarize(r.lags).p99))
  const ours = pooled('codex-desk')
  const codexRuns = runs.get('codex')
  const theirs = codexRuns ? summarize(pooled('codex')) : null
  const s = summarize(ours)
  const ratio = ratioOf(s.p99, theirs?.p99)
  return latencyFigure(
    'broadcast_lag_ws',
    ours,
    theirs ? round(theirs.p99 * RATIO_TARGET) : null,
    theirs ? 'p99' : null,
    theirs ? { p50: round(theirs.p50), p99: round(theirs.p99) } : null,
    {
      codexFrom: theirs ? 'measured' : 'not installed',
      ratio,
      ratioTarget: RATIO_TARGET,
      pass: ratio === null ? null : ratio <= RATIO_TARGET,
      p50Ratio: ratioOf(s.p50, theirs?.p50),
      clients: `${options.fastClients} reading + 1 paused (TCP)`,
      deltas: options.count,
      perSecond: options.perSecond,
      bytes: options.bytes,
      rounds: options.rounds,
      p99PerRound: p99s('codex-desk'),
      ...(codexRuns
        ? {
            codexP99PerRound: p99s('codex'),
            // Each round's servers ran back to back: their ratio is the least load-dependent view.
            ratioPerRound: p99s('codex-desk').map((ours, i) => ratioOf(ours, p99s('codex')[i])),
            codexNotifications: codexRuns.map((r) => r.notifications),
          }
        : {}),
      clientGcMaxMs: round(Math.max(...[...runs.values()].flat().map((r) => r.clientGcMaxMs))),
    },
  )
}

// `npx tsx bench/broadcast.ts [rounds]`: the figure on its own.
runStandalone(import.meta.url, async () => [
  await broadcastLag({ ...BROADCAST_DEFAULTS, rounds: Number(process.argv[2]) || BROADCAST_DEFAULTS.rounds }),
])
