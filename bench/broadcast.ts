/**
 * Figure: delivery lag to 8 reading websocket clients while a 9th is paused at the TCP level, for
 * codex-desk and codex-cli 0.169.0 in the same run (bench/lib/servers.ts), servers interleaved.
 *
 * A real turn: the client that will be paused starts a thread and runs a warm-up turn (by default
 * 2,000 deltas, so both servers are timed in their steady state: see `warmupDeltas`); eight
 * reading clients, spread over a few small processes (bench/lib/lagReader.ts), `thread/resume` it;
 * the ninth stops reading its socket, and reading client 0 starts a turn whose answer the paced
 * model server (bench/lib/pacedModelServer.ts, its own process) streams as `count` deltas at
 * `perSecond`. Each delta carries the model server's CLOCK_MONOTONIC at the instant it was written;
 * lag is the reading client's read time minus that, per delta per client. A server that coalesces
 * deltas still delivers every stamp; every client must get every stamp once and in order.
 *
 * Each round also streams the same answer through a bare relay (bench/lib/floorRelay.ts) to the
 * same readers: the `floor`, what the method itself costs on this machine, so the figure says how
 * small a tail it can resolve.
 *
 * Runs inside `npm run bench` via `broadcastLag()`, or alone with `npx tsx bench/broadcast.ts`
 * (needs the build). BROADCAST_CPU_PROF=<dir> runs codex-desk under `--cpu-prof` into that folder.
 *
 * On a shared machine the other processes' load is most of the tail of every server and of the
 * floor alike; BROADCAST_RT=20 (root) runs this figure, both servers and the floor, at a real-time
 * priority, so that what is left is theirs. The figure says which scheduling it had.
 */
import { execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import { loadavg } from 'node:os'
import type { WebSocket } from 'ws'
import { initialize, openWebSocket, request, webSocketFrames, type FrameChannel } from './lib/clients'
import { startFloorRelay } from './lib/floorRelay'
import { startLagReaders, type ReaderResults } from './lib/lagReader'
import { startPacedModelServer, type PacedAnswer, type PacedModelServer } from './lib/pacedModelServer'
import { makeTempDir, stderrOf, stopChild, withTimeout } from './lib/processes'
import { connectWhenUp, freePort, serversToCompare, type BenchServer } from './lib/servers'
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
  /** Rounds of (codex-desk, codex, floor), each server a fresh process per round. */
  rounds: number
  /** Processes the reading clients are spread over. */
  readerProcesses: number
  /**
   * Deltas of the warm-up turn before the timed one (0: a one-word answer). A streamed warm-up
   * times the steady state: the first stream through a fresh codex-desk process also pays for V8
   * compiling its delta path (about the first 150 deltas, 1 to 3 ms each), codex for its own first
   * deltas.
   */
  warmupDeltas: number
}

export const BROADCAST_DEFAULTS: BroadcastOptions = {
  fastClients: 8,
  count: 5_000,
  perSecond: 2_000,
  bytes: 200,
  rounds: 3,
  readerProcesses: 2,
  warmupDeltas: 2_000,
}

/** The paused-client tail must be at most a quarter of codex's p99. */
const RATIO_TARGET = 0.25

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
  /** The longest GC pause in a reader process, and the longest time one socket read took there. */
  readerGcMaxMs: number
  readerMaxReadMs: number
  pausedClosedWith: number | null
}

/** Rounds dumped so far per server (BROADCAST_DUMP writes one file per round). */
const dumped = new Map<string, number>()

/** What the readers measured, checked: every reading client got every stamp once, in order. */
function checkedLags(name: string, results: ReaderResults, options: BroadcastOptions): LagRun {
  const lags = new Float64Array(options.fastClients * options.count)
  let readerMaxReadMs = 0
  for (const socket of results.sockets) {
    if (socket.error) throw new Error(`${name}: reading client ${socket.index}: ${socket.error}`)
    const missing = socket.lags.reduce((n, v) => (Number.isNaN(v) ? n + 1 : n), 0)
    if (socket.next !== options.count || missing > 0)
      throw new Error(
        `${name}: reading client ${socket.index} got ${options.count - missing} of ${options.count} stamps`,
      )
    lags.set(socket.lags, socket.index * options.count)
    readerMaxReadMs = Math.max(readerMaxReadMs, socket.maxReadMs)
  }
  if (results.sockets.length !== options.fastClients)
    throw new Error(`${name}: ${results.sockets.length} of ${options.fastClients} reading clients reported`)
  if (process.env.BROADCAST_DUMP) {
    // Debugging aid: the worst client's lag per delta, one line per delta, for a plot.
    const worst = Array.from({ length: options.count }, (_, seq) => {
      let max = 0
      for (let c = 0; c < options.fastClients; c++)
        max = Math.max(max, lags[c * options.count + seq] as number)
      return max.toFixed(2)
    })
    const nth = (dumped.get(name) ?? 0) + 1
    dumped.set(name, nth)
    writeFileSync(`${process.env.BROADCAST_DUMP}.${name}.${nth}`, worst.join('\n') + '\n')
  }
  return {
    lags,
    notifications: results.sockets[0]?.deltas ?? 0,
    readerGcMaxMs: results.gcMaxMs,
    readerMaxReadMs,
    pausedClosedWith: null,
  }
}

/** Stops reading `ws` at the TCP level (the kernel's buffers fill, then the server's). */
function pauseAtTcp(ws: WebSocket): { resume(): Promise<number | null> } {
  const raw = (ws as unknown as { _socket: Socket })._socket
  ws.removeAllListeners('message')
  raw.pause()
  let closedWith: number | null = null
  ws.once('close', (code) => (closedWith = code))
  return {
    // Reads again and waits a moment for a close the server sent meanwhile (4001 for a slow consumer).
    async resume() {
      raw.resume()
      const deadline = Date.now() + 2_000
      while (closedWith === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
      return closedWith
    },
  }
}

const paced = (options: BroadcastOptions): PacedAnswer => ({
  kind: 'paced',
  count: options.count,
  perSecond: options.perSecond,
  bytes: options.bytes,
})

/** The warm-up answer: `warmupDeltas` deltas at ten times the pace, or one word. */
const warmup = (options: BroadcastOptions): PacedAnswer =>
  options.warmupDeltas > 0
    ? { kind: 'paced', count: options.warmupDeltas, perSecond: options.perSecond * 10, bytes: options.bytes }
    : { kind: 'text', text: 'ok' }

const turnStart = (threadId: string) =>
  JSON.stringify({
    id: 10,
    method: 'turn/start',
    params: { threadId, input: [{ type: 'text', text: 'stream' }] },
  })

/**
 * One round of one app-server. The client that will be paused starts the thread and runs a short
 * warm-up turn (so the thread is on disk and the pipes are warm); the reading clients, in their own
 * processes, then resume it; the paused client stops reading and reading client 0 starts the turn.
 */
async function runOnce(server: BenchServer, options: BroadcastOptions): Promise<LagRun> {
  const model = await startPacedModelServer()
  const readers = startLagReaders(options.readerProcesses)
  const home = makeTempDir(`${server.name}-broadcast-`)
  const prof = server.name === 'codex-desk' ? process.env.BROADCAST_CPU_PROF : undefined
  // BROADCAST_NODE_ARGS (e.g. "--trace-gc"): more node flags for codex-desk, its stdout to stderr.
  const extra =
    server.name === 'codex-desk' ? (process.env.BROADCAST_NODE_ARGS?.split(' ').filter(Boolean) ?? []) : []
  const nodeArgs = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), ...extra]
  let child: ChildProcessWithoutNullStreams | undefined
  let ws: WebSocket | undefined
  try {
    await server.configure(home.path, model.url)
    // Both answers are queued before the server starts: the queue is fed over a pipe, and a turn
    // could otherwise reach the model server first (and get its default answer).
    model.enqueue(warmup(options))
    model.enqueue(paced(options))
    const url = `ws://127.0.0.1:${await freePort()}`
    child = server.spawn(home.path, url, nodeArgs)
    if (extra.length > 0) child.stdout.pipe(process.stderr)
    await connectWhenUp(url, child).then((probe) => probe.close())
    ws = await openWebSocket(url, 10_000)
    const control = webSocketFrames(ws)
    await initialize(control)
    const started = await request(control, '{"id":1,"method":"thread/start","params":{}}', 1, 20_000)
    const threadId = (started.result as { thread: { id: string } }).thread.id
    await runTurn(control, threadId, 2, 'warm up')
    await readers.connect(url, options.fastClients, options.count, true, threadId)
    const paused = pauseAtTcp(ws)
    readers.send(turnStart(threadId))
    const run = checkedLags(server.name, await readers.results(120_000), options)
    run.pausedClosedWith = await paused.resume()
    return run
  } catch (error) {
    if (child) (error as Error).message += `\n${server.name} stderr: ${stderrOf(child).slice(-2000)}`
    throw error
  } finally {
    readers.close()
    ws?.terminate()
    // --cpu-prof is written on exit: give it time.
    if (child) await stopChild(child, nodeArgs.length > 0 ? 10_000 : 2_000)
    await model.close()
    await home.remove()
  }
}

/** The same round through the bare relay (floorRelay.ts): what the method itself costs. */
async function floorOnce(options: BroadcastOptions): Promise<LagRun> {
  const model = await startPacedModelServer()
  const relay = await startFloorRelay()
  const readers = startLagReaders(options.readerProcesses)
  let ws: WebSocket | undefined
  try {
    model.enqueue(warmup(options))
    model.enqueue(paced(options))
    await relay.go(model.url)
    await readers.connect(relay.url, options.fastClients, options.count, false)
    ws = await openWebSocket(relay.url, 10_000)
    pauseAtTcp(ws)
    const streamed = relay.go(model.url)
    const run = checkedLags('floor', await readers.results(120_000), options)
    await streamed
    return run
  } finally {
    readers.close()
    ws?.terminate()
    await relay.close()
    await model.close()
  }
}

/** This process's scheduling policy (`chrt` runs the bench real-time; children inherit it). */
function schedulingPolicy(): string {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? []
    // Fields after the command: policy is field 41 of stat, the 39th after "pid (comm) ".
    const policy = Number(fields[38])
    return policy === 1 ? 'real-time (FIFO)' : policy === 2 ? 'real-time (RR)' : 'normal'
  } catch {
    return 'unknown'
  }
}

/**
 * BROADCAST_RT=<1..99> (root, Linux): this figure alone runs at that real-time priority, its
 * servers, readers, model server and floor with it (children inherit the spawning thread's policy);
 * the rest of `npm run bench` keeps the normal one.
 */
function withRealTime<T>(run: () => Promise<T>): Promise<T> {
  const priority = Number(process.env.BROADCAST_RT)
  if (!(priority >= 1 && priority <= 99)) return run()
  execFileSync('chrt', ['-r', '-p', String(priority), String(process.pid)], { stdio: 'ignore' })
  return run().finally(() =>
    execFileSync('chrt', ['-o', '-p', '0', String(process.pid)], { stdio: 'ignore' }),
  )
}

export function broadcastLag(options: BroadcastOptions = BROADCAST_DEFAULTS): Promise<Figure> {
  return withRealTime(() => measure(options))
}

async function measure(options: BroadcastOptions): Promise<Figure> {
  const loadBefore = loadavg().map((l) => round(l))
  const runs = new Map<string, LagRun[]>()
  const add = (name: string, run: LagRun) => runs.set(name, [...(runs.get(name) ?? []), run])
  // Round after round, each server then the floor back to back, so load drifts hit all alike.
  for (let r = 0; r < options.rounds; r++) {
    for (const server of serversToCompare()) add(server.name, await runOnce(server, options))
    add('floor', await floorOnce(options))
  }
  const pooled = (name: string) => {
    const list = runs.get(name) ?? []
    const all = new Float64Array(list.reduce((n, r) => n + r.lags.length, 0))
    let at = 0
    for (const r of list) all.set(r.lags, (at += r.lags.length) - r.lags.length)
    return all
  }
  const p99s = (name: string) => (runs.get(name) ?? []).map((r) => round(summarize(r.lags).p99))
  const p50s = (name: string) => (runs.get(name) ?? []).map((r) => round(summarize(r.lags).p50))
  const ours = pooled('codex-desk')
  const codexRuns = runs.get('codex')
  const theirs = codexRuns ? summarize(pooled('codex')) : null
  const floor = summarize(pooled('floor'))
  const s = summarize(ours)
  const ratio = ratioOf(s.p99, theirs?.p99)
  const all = [...runs.values()].flat()
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
      clients: `${options.fastClients} reading (in ${options.readerProcesses} processes) + 1 paused (TCP)`,
      deltas: options.count,
      perSecond: options.perSecond,
      bytes: options.bytes,
      rounds: options.rounds,
      warmupDeltas: options.warmupDeltas,
      p99PerRound: p99s('codex-desk'),
      p50PerRound: p50s('codex-desk'),
      ...(codexRuns
        ? {
            codexP99PerRound: p99s('codex'),
            codexP50PerRound: p50s('codex'),
            // Each round's servers ran back to back: their ratio is the least load-dependent view.
            ratioPerRound: p99s('codex-desk').map((ours, i) => ratioOf(ours, p99s('codex')[i])),
            codexNotifications: codexRuns.map((r) => r.notifications),
          }
        : {}),
      // The bare relay's lag: the most the method can resolve (model server, kernel, readers).
      floor: { p50: round(floor.p50), p99: round(floor.p99), max: round(floor.max) },
      floorP99PerRound: p99s('floor'),
      pausedClosedWith: (runs.get('codex-desk') ?? []).map((r) => r.pausedClosedWith),
      readerGcMaxMs: round(Math.max(...all.map((r) => r.readerGcMaxMs))),
      readerMaxReadMs: round(Math.max(...all.map((r) => r.readerMaxReadMs))),
      loadAverage: { before: loadBefore, after: loadavg().map((l) => round(l)) },
      scheduling: schedulingPolicy(),
    },
  )
}

// `npx tsx bench/broadcast.ts [rounds] [reader processes] [warm-up deltas]`: the figure on its own.
runStandalone(import.meta.url, async () => [
  await broadcastLag({
    ...BROADCAST_DEFAULTS,
    rounds: Number(process.argv[2]) || BROADCAST_DEFAULTS.rounds,
    readerProcesses: Number(process.argv[3]) || BROADCAST_DEFAULTS.readerProcesses,
    warmupDeltas: Number(process.argv[4] ?? BROADCAST_DEFAULTS.warmupDeltas),
  }),
])
