/**
 * Figure: what a paused subscriber costs. The built `codex-desk app-server` (websocket) streams one
 * turn of `deltas` deltas of `bytes` characters from the scripted model server (its own process) to
 * three subscribers of one thread; one stops reading at the TCP level before the turn starts. Reports
 * the core's RSS growth over its baseline (peak during the turn, from /proc) and the two readers'
 * delivery lag (arrival minus the notification's `emittedAtMs`, both this machine's clock), and
 * checks that both readers got every delta in order. The paused client is resumed at the end and
 * its close code is reported (4001 once it stalled).
 *
 * Runs inside `npm run bench` via `pausedClient()`, or alone with `npx tsx bench/pausedClient.ts`
 * (needs the build).
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import type { Socket } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { WebSocket } from 'ws'
import { text, usage } from '../test/support/modelServer'
import { modelConfig } from '../test/support/threadHarness'
import { initialize, openWebSocket, request, webSocketFrames, type FrameChannel } from './lib/clients'
import { listeningUrl, makeTempDir, rssOf, spawnServer, stopChild, withTimeout } from './lib/processes'
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

interface Reader {
  frames: string[]
  lags: number[]
  completed: Promise<void>
}

function reader(
  channel: FrameChannel,
  done: (turnId: string) => boolean,
  onTurnId: (id: string) => void,
): Reader {
  const frames: string[] = []
  const lags: number[] = []
  let resolve: () => void = () => {}
  const completed = new Promise<void>((r) => (resolve = r))
  channel.handler = (frame) => {
    const now = Date.now()
    if (frame.startsWith(DELTA_PREFIX)) {
      frames.push(frame)
      lags.push(now - emittedAt(frame))
      return
    }
    if (frame.startsWith('{"id":3,')) {
      const message = JSON.parse(frame) as { result?: { turn: { id: string } } }
      if (message.result) onTurnId(message.result.turn.id)
      return
    }
    if (frame.includes('"method":"turn/completed"')) {
      const message = JSON.parse(frame) as { params: { turn: { id: string } } }
      if (done(message.params.turn.id)) resolve()
    }
  }
  return { frames, lags, completed }
}

export async function pausedClient(options: PausedClientOptions): Promise<Figure> {
  const model = await startRemoteModelServer()
  const home = makeTempDir()
  let child: ChildProcessWithoutNullStreams | undefined
  const sockets: WebSocket[] = []
  try {
    await writeFile(join(home.path, 'config.toml'), modelConfig(model.url))
    child = spawnServer(['--listen', 'ws://127.0.0.1:0'], home.path)
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

    const pad = 'x'.repeat(options.bytes)
    const chunks = Array.from({ length: options.deltas }, (_, i) => `${i}:${pad}`.slice(0, options.bytes))
    const expected = chunks.join('')
    model.enqueue([text(expected, { chunks }), usage({ input: 10, output: chunks.length })])

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

    let turnId: string | null = null
    // The readers see the turn/start response themselves: no handler swap can drop a delta.
    const readers = [first, second].map((channel) =>
      reader(
        channel,
        (id) => id === turnId,
        (id) => (turnId = id),
      ),
    )
    const pid = child.pid as number
    const baseline = await rssOf(pid)
    let peak = baseline
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await rssOf(pid).catch(() => 0))
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    const t0 = performance.now()
    const turn = await request(
      first,
      JSON.stringify({
        id: 3,
        method: 'turn/start',
        params: { threadId, input: [{ type: 'text', text: 'go' }] },
      }),
      3,
      10_000,
    )
    turnId = (turn.result as { turn: { id: string } }).turn.id
    await withTimeout(
      Promise.all(readers.map((r) => r.completed)),
      180_000,
      `turn/completed at both readers after ${options.deltas} deltas`,
    )
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
    for (const ws of sockets) ws.terminate()
    if (child) await stopChild(child)
    await model.close()
    await home.remove()
  }
}

/** The `npm run bench` row, with the scenario. */
export const benchPausedClient = (): Promise<Figure> => pausedClient(PAUSED_CLIENT_DEFAULTS)

runStandalone(import.meta.url, async () => [await benchPausedClient()])
