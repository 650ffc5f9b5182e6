/**
 * Figure: what a paused subscriber costs. The built `codex-desk app-server` (websocket) streams one
 * turn of `deltas` deltas of `bytes` characters from the scripted model server (its own process) to
 * three subscribers of one thread; one stops reading at the TCP level before the turn starts. Reports
 * the core's RSS growth over its baseline (peak during the turn, from /proc) and the two readers'
 * delivery lag (arrival minus the notification's `emittedAtMs`, both this machine's clock), and
 * checks that both readers got every delta in order. The paused client is resumed at the end and
 * its close code is reported (4001 once it stalled).
 *
 * The first reader is the connection that starts the thread and the turn: its handler is installed
 * before turn/start is sent and reads that response itself (a `request()` would take the channel's
 * only handler over and leave it a no-op, so that reader would see no delta at all).
 *
 * Runs inside `npm run bench` via `pausedClient()`, or alone with `npx tsx bench/pausedClient.ts`
 * (needs the build; BENCH_SOURCE=1 runs src/worker/cli.ts under tsx instead).
 * CODEX_DESK_SLOW_CLIENT_STALL_MS (read by the core) shortens the stall before the paused client is cut.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import type { Socket } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { WebSocket } from 'ws'
import { text, usage } from '../test/support/modelServer'
import { modelConfig } from '../test/support/threadHarness'
import { initialize, openWebSocket, request, webSocketFrames, type FrameChannel } from './lib/clients'
import {
  listeningUrl,
  makeTempDir,
  rssOf,
  spawnServer,
  stderrOf,
  stopChild,
  withTimeout,
} from './lib/processes'
import { startRemoteModelServer } from './lib/remoteModelServer'
import { round, summarize, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface PausedClientOptions {
  deltas: number
  bytes: number
}

export const PAUSED_CLIENT_DEFAULTS: PausedClientOptions = { deltas: 50_000, bytes: 1024 }

const MiB = 2 ** 20
/** The bound: growth beyond the text itself. */
const TARGET_MIB = 64
const DELTA_PREFIX = '{"method":"item/agentMessage/delta"'
const EMITTED = '"emittedAtMs":'

function emittedAt(frame: string): number {
  const at = frame.lastIndexOf(EMITTED)
  return at === -1 ? NaN : Number.parseFloat(frame.slice(at + EMITTED.length))
}

const TURN_START_ID = 3

interface Reader {
  frames: string[]
  lags: number[]
  /** Resolves once turn/completed for the turn `turnId` names has arrived here. */
  completed: Promise<void>
}

/**
 * Installs the only handler `channel` will have for the turn: it records deltas, collects the ids
 * of completed turns, and (with `started`) reads the turn/start response too.
 */
function reader(
  channel: FrameChannel,
  turnId: Promise<string>,
  started?: { resolve(id: string): void; reject(error: Error): void },
): Reader {
  const frames: string[] = []
  const lags: number[] = []
  const completedIds = new Set<string>()
  let onCompleted: (id: string) => void = (id) => completedIds.add(id)
  channel.handler = (frame) => {
    const now = Date.now()
    if (frame.startsWith(DELTA_PREFIX)) {
      frames.push(frame)
      lags.push(now - emittedAt(frame))
      return
    }
    if (started && frame.startsWith(`{"id":${TURN_START_ID},`)) {
      const message = JSON.parse(frame) as { result?: { turn: { id: string } }; error?: { message: string } }
      if (message.result) started.resolve(message.result.turn.id)
      else started.reject(new Error(`turn/start failed: ${message.error?.message ?? frame}`))
      return
    }
    if (frame.includes('"method":"turn/completed"')) {
      const message = JSON.parse(frame) as { params: { turn: { id: string } } }
      onCompleted(message.params.turn.id)
    }
  }
  // turn/completed may in principle reach a reader before the first reader has the response.
  const completed = turnId.then(
    (id) =>
      new Promise<void>((resolve) => {
        if (completedIds.has(id)) return resolve()
        onCompleted = (done) => {
          if (done === id) resolve()
        }
      }),
  )
  return { frames, lags, completed }
}

/** The core on a free port (BENCH_SOURCE=1 runs it from source, see bench/lib/processes.ts). */
function spawnCore(home: string): ChildProcessWithoutNullStreams {
  return spawnServer(['--listen', 'ws://127.0.0.1:0'], home)
}

export async function pausedClient(options: PausedClientOptions): Promise<Figure> {
  const model = await startRemoteModelServer()
  const home = makeTempDir()
  let child: ChildProcessWithoutNullStreams | undefined
  const sockets: WebSocket[] = []
  // Cleared in `finally` too: a failed run must not leave the RSS sampler polling forever.
  let sampling = false
  try {
    // codex's default idle timeout: the test config's 10 s is shorter than the closing events of a
    // 49 MiB answer may take (as in bench/longAnswer.ts).
    await writeFile(
      join(home.path, 'config.toml'),
      modelConfig(model.url).replace('stream_idle_timeout_ms = 10000', 'stream_idle_timeout_ms = 300000'),
    )
    const pad = 'x'.repeat(options.bytes)
    const chunks = Array.from({ length: options.deltas }, (_, i) => `${i}:${pad}`.slice(0, options.bytes))
    const expected = chunks.join('')
    // Queued before the core starts: the enqueue travels over IPC, and the turn's model request
    // could otherwise overtake it on a busy machine (and get the model server's default answer).
    model.enqueue([text(expected, { chunks }), usage({ input: 10, output: chunks.length })])
    child = spawnCore(home.path)
    const url = await listeningUrl(child)
    const channels: FrameChannel[] = []
    for (let i = 0; i < 3; i++) {
      const ws = await openWebSocket(url)
      sockets.push(ws)
      const channel = webSocketFrames(ws)
      channels.push(channel)
      await initialize(channel)
    }
    const [first, second, third] = channels as [FrameChannel, FrameChannel, FrameChannel]
    const started = await request(first, '{"id":1,"method":"thread/start","params":{}}', 1, 10_000)
    const threadId = (started.result as { thread: { id: string } }).thread.id
    const resume = JSON.stringify({ id: 2, method: 'thread/resume', params: { threadId } })
    await request(second, resume, 2, 10_000)
    await request(third, resume, 2, 10_000)

    const paused = sockets[2] as WebSocket
    const pausedSocket = (paused as unknown as { _socket: Socket })._socket
    pausedSocket.pause()
    let pausedClose: number | null = null
    const pausedClosed = new Promise<void>((r) =>
      paused.once('close', (code) => {
        pausedClose = code
        r()
      }),
    )
    third.handler = () => {}

    // Both readers' handlers are in place before turn/start leaves, and neither is replaced later:
    // the first reader takes the turn/start response in the same handler as its deltas.
    let startedTurn: { resolve(id: string): void; reject(error: Error): void } = {
      resolve: () => {},
      reject: () => {},
    }
    const turnId = new Promise<string>((resolve, reject) => (startedTurn = { resolve, reject }))
    const readers = [reader(first, turnId, startedTurn), reader(second, turnId)]
    const pid = child.pid as number
    const baseline = await rssOf(pid)
    let peak = baseline
    sampling = true
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rssOf(pid).catch(() => 0))
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    const t0 = performance.now()
    first.send(
      JSON.stringify({
        id: TURN_START_ID,
        method: 'turn/start',
        params: { threadId, input: [{ type: 'text', text: 'go' }] },
      }),
    )
    await withTimeout(turnId, 10_000, 'the turn/start response')
    const core = child
    await withTimeout(
      Promise.all(readers.map((r) => r.completed)),
      180_000,
      `turn/completed at both readers after ${options.deltas} deltas`,
    ).catch((error: unknown) => {
      const got = readers.map((r) => r.frames.length).join(' and ')
      const exit = core.exitCode ?? core.signalCode ?? 'running'
      throw new Error(`${(error as Error).message} (readers got ${got}; core ${exit}: ${stderrOf(core)})`, {
        cause: error,
      })
    })
    const elapsedMs = performance.now() - t0
    sampling = false
    await sampler

    for (const r of readers) {
      const deltas = r.frames.map((f) => (JSON.parse(f) as { params: { delta: string } }).params.delta)
      if (deltas.length !== chunks.length || deltas.join('') !== expected)
        throw new Error(`a reader got ${deltas.length} of ${chunks.length} deltas, or not in order`)
    }
    pausedSocket.resume()
    await Promise.race([pausedClosed, new Promise((r) => setTimeout(r, 5_000))])

    const growthMiB = (peak - baseline) / MiB
    const textMiB = (options.deltas * options.bytes) / MiB
    const lag = summarize(readers.flatMap((r) => r.lags))
    return {
      bench: 'paused_client_rss_growth',
      unit: 'MiB',
      value: round(growthMiB),
      n: 1,
      target: round(textMiB + TARGET_MIB),
      targetStat: 'value',
      codex: null,
      pass: growthMiB <= textMiB + TARGET_MIB,
      subscribers: '2 reading + 1 paused (TCP)',
      deltas: options.deltas,
      bytes: options.bytes,
      textMiB: round(textMiB),
      baselineRssMiB: round(baseline / MiB),
      peakRssMiB: round(peak / MiB),
      turnMs: round(elapsedMs),
      readerLagMs: { p50: lag.p50, p99: lag.p99, max: lag.max },
      pausedClient: { closedWith: pausedClose },
    }
  } finally {
    sampling = false
    for (const ws of sockets) ws.terminate()
    if (child) await stopChild(child)
    await model.close()
    await home.remove()
  }
}

/** The `npm run bench` row, with the scenario. */
export const benchPausedClient = (): Promise<Figure> => pausedClient(PAUSED_CLIENT_DEFAULTS)

runStandalone(import.meta.url, async () => [await benchPausedClient()])
