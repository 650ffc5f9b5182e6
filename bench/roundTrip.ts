/**
 * Figure 2: round trip of a cheap request (`thread/loaded/list {}`) after initialize, sequential,
 * over stdio and ws (the built bin) and over a MessagePort (the core in a worker thread, as
 * Electron's utility process hosts it). The port figure uses the lean client in lib/clients.ts; the
 * test suite's TestClient is timed as well, so the output shows what its buffering would add.
 * Each figure carries `echoFloor`: the same loop against a bare echo peer on the same transport
 * (lib/echo.ts), in alternating rounds with the server so both see the same machine state, and
 * `placement`: client and peers are pinned to different cores unless that is impossible
 * (lib/affinity.ts explains why).
 */
import { MessageChannel } from 'node:worker_threads'
import { startCoreWorker, type CoreWorker } from '../test/support/coreWorker'
import {
  initialize,
  openWebSocket,
  portFrames,
  roundTrips,
  stdioFrames,
  webSocketFrames,
  type FrameChannel,
} from './lib/clients'
import { newThreadsOnPeerCpu, onClientCpu, onPeerCpu, ownThreadIds, placement } from './lib/affinity'
import { spawnStdioEcho, spawnWsEcho, startPortEcho } from './lib/echo'
import { listeningUrl, makeTempDir, spawnServer, stopChild, trackDir } from './lib/processes'
import { latencyFigure, round, summarize, type Figure } from './lib/stats'

export interface RoundTripOptions {
  warmup: number
  count: number
  /** The measured requests are split into this many rounds, alternating echo and server. */
  rounds: number
}

const METHOD = 'thread/loaded/list'
const PARAMS = {}

function p50p99(samples: ArrayLike<number>): { p50: number; p99: number } {
  const s = summarize(samples)
  return { p50: round(s.p50), p99: round(s.p99) }
}

/**
 * Times `server` and `echo` in alternating rounds. Round trips on an idle VM flip between a fast and
 * a slow mode (which core each side wakes on), and one long run would land in one of them; rounds
 * spread both peers over the same modes, so the floor stays comparable to the figure.
 */
async function interleaved(
  server: FrameChannel,
  echo: FrameChannel,
  options: RoundTripOptions,
): Promise<{ server: Float64Array; echo: Float64Array }> {
  await initialize(server)
  await initialize(echo)
  await roundTrips(server, METHOD, PARAMS, options.warmup, 0)
  await roundTrips(echo, METHOD, PARAMS, options.warmup, 0)
  const perRound = Math.ceil(options.count / options.rounds)
  const serverSamples: number[] = []
  const echoSamples: number[] = []
  for (let r = 0; r < options.rounds; r++) {
    echoSamples.push(...(await roundTrips(echo, METHOD, PARAMS, 0, perRound)))
    serverSamples.push(...(await roundTrips(server, METHOD, PARAMS, 0, perRound)))
  }
  return { server: Float64Array.from(serverSamples), echo: Float64Array.from(echoSamples) }
}

/** Pins both peers, times the server against the echo floor, and reports one figure against codex's. */
async function pinnedFigure(
  name: string,
  codex: { p50: number; p99: number },
  peers: {
    server: FrameChannel
    serverPid: number | undefined
    echo: FrameChannel
    echoPid: number | undefined
  },
  options: RoundTripOptions,
): Promise<Figure> {
  const where = placement()
  onPeerCpu(where, peers.serverPid)
  onPeerCpu(where, peers.echoPid)
  const samples = await onClientCpu(where, () => interleaved(peers.server, peers.echo, options))
  return latencyFigure(name, samples.server, codex.p50, 'p50', codex, {
    placement: where,
    echoFloor: p50p99(samples.echo),
  })
}

export async function roundTripStdio(options: RoundTripOptions): Promise<Figure> {
  const home = makeTempDir()
  const child = spawnServer([], home.path)
  const echoChild = spawnStdioEcho()
  try {
    const peers = {
      server: stdioFrames(child),
      serverPid: child.pid,
      echo: stdioFrames(echoChild),
      echoPid: echoChild.pid,
    }
    return await pinnedFigure('roundtrip_stdio', { p50: 0.05, p99: 0.19 }, peers, options)
  } finally {
    await stopChild(child)
    await stopChild(echoChild)
    await home.remove()
  }
}

export async function roundTripWs(options: RoundTripOptions): Promise<Figure> {
  const home = makeTempDir()
  const child = spawnServer(['--listen', 'ws://127.0.0.1:0'], home.path)
  const echoChild = spawnWsEcho()
  const channels: FrameChannel[] = []
  try {
    const server = webSocketFrames(await openWebSocket(await listeningUrl(child)))
    channels.push(server)
    const echo = webSocketFrames(await openWebSocket(await listeningUrl(echoChild)))
    channels.push(echo)
    const peers = { server, serverPid: child.pid, echo, echoPid: echoChild.pid }
    return await pinnedFigure('roundtrip_ws', { p50: 0.07, p99: 0.19 }, peers, options)
  } finally {
    for (const channel of channels) channel.close()
    await stopChild(child)
    await stopChild(echoChild)
    await home.remove()
  }
}

/** Sequential `call`s through TestClient, for comparison with the lean loop. */
async function testClientSamples(core: CoreWorker, options: RoundTripOptions): Promise<Float64Array> {
  const client = core.connect('bench-testclient')
  try {
    await client.initialize('bench')
    const samples = new Float64Array(options.count)
    for (let i = 0; i < options.warmup + options.count; i++) {
      const t0 = performance.now()
      const response = await client.call(METHOD, PARAMS)
      const t1 = performance.now()
      if (response.error) throw new Error(`${METHOD} failed: ${response.error.message}`)
      if (i >= options.warmup) samples[i - options.warmup] = t1 - t0
    }
    return samples
  } finally {
    client.close()
  }
}

export async function roundTripPort(options: RoundTripOptions): Promise<Figure> {
  const where = placement()
  const threadsBefore = ownThreadIds()
  const core = await startCoreWorker()
  const untrackHome = trackDir(core.home)
  const echo = startPortEcho()
  const echoChannel = portFrames(echo.port)
  try {
    await new Promise<void>((resolve, reject) => {
      echo.worker.once('online', () => resolve())
      echo.worker.once('error', reject)
    })
    // The core's and the echo's threads go to the peer CPU; the TestClient comparison below runs
    // in the same placement.
    newThreadsOnPeerCpu(where, threadsBefore)
    // The same `connect` message Electron's main process sends, with our own end of the channel.
    const { port1, port2 } = new MessageChannel()
    core.worker.postMessage({ type: 'connect', client: 'bench', port: port1 }, [port1])
    const channel = portFrames(port2)
    const { samples, viaTestClient } = await onClientCpu(where, async () => {
      try {
        const samples = await interleaved(channel, echoChannel, options)
        channel.flushAcks()
        return { samples, viaTestClient: await testClientSamples(core, options) }
      } finally {
        channel.close()
      }
    })
    return latencyFigure('roundtrip_port', samples.server, null, null, null, {
      note: 'codex has no MessagePort transport',
      placement: where,
      echoFloor: p50p99(samples.echo),
      testClient: p50p99(viaTestClient),
    })
  } finally {
    echoChannel.close()
    await echo.worker.terminate()
    await core.dispose()
    untrackHome()
  }
}
