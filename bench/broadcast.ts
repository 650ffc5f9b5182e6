/**
 * Figure 3: broadcast lag to 8 fast websocket clients while a 9th is paused at the TCP level, through
 * the broadcast fixture (test/support/fixtures/broadcastServer.ts). Each notification carries the
 * server's wall clock at send time in `details`; lag is the client's wall clock on arrival minus
 * that, both `performance.timeOrigin + performance.now()` on the same machine.
 */
import type { Socket } from 'node:net'
import { PerformanceObserver } from 'node:perf_hooks'
import type { WebSocket } from 'ws'
import { startFixture } from '../test/support/fixtureProcess'
import { initialize, openWebSocket, webSocketFrames, type FrameChannel } from './lib/clients'
import { track, withTimeout } from './lib/processes'
import { latencyFigure, round, type Figure } from './lib/stats'

export interface BroadcastOptions {
  fastClients: number
  count: number
  bytes: number
  batch: number
}

const DETAILS = '"details":"'

/**
 * The send time in a broadcast notification, or undefined for any other message. A string scan
 * rather than JSON.parse: eight clients share this process and 2 cores with the server, and every
 * microsecond they spend here is a microsecond of lag they would add to each other.
 */
function sendTimeOf(frame: string): number | undefined {
  if (!frame.includes('"method":"configWarning"')) return undefined
  const at = frame.indexOf(DETAILS)
  if (at === -1) return undefined
  const sent = Number.parseFloat(frame.slice(at + DETAILS.length, at + DETAILS.length + 32))
  return Number.isFinite(sent) ? sent : undefined
}

export async function broadcastLag(options: BroadcastOptions): Promise<Figure> {
  const fixture = await startFixture('ws')
  track(fixture.child)
  const sockets: WebSocket[] = []
  try {
    if (!fixture.url) throw new Error('the broadcast fixture reported no url')
    const channels: FrameChannel[] = []
    for (let i = 0; i <= options.fastClients; i++) {
      const ws = await openWebSocket(fixture.url)
      sockets.push(ws)
      const channel = webSocketFrames(ws)
      channels.push(channel)
      await initialize(channel)
    }

    const lags = new Float64Array(options.fastClients * options.count)
    let lagCount = 0
    let complete = 0
    let allArrived: () => void = () => {}
    const arrived = new Promise<void>((r) => (allArrived = r))
    let firstSend = Infinity
    let lastArrival = 0
    channels.slice(0, options.fastClients).forEach((channel) => {
      let received = 0
      channel.handler = (frame) => {
        // Read the clock before anything else, so lag is not inflated by our own work.
        const now = performance.timeOrigin + performance.now()
        const sent = sendTimeOf(frame)
        if (sent === undefined) return
        if (lagCount < lags.length) lags[lagCount++] = now - sent
        if (sent < firstSend) firstSend = sent
        lastArrival = now
        if (++received === options.count && ++complete === options.fastClients) allArrived()
      }
    })

    // Stop reading at the TCP level: the server sees a client that consumes nothing.
    const paused = sockets[options.fastClients] as WebSocket
    const pausedSocket = (paused as unknown as { _socket: Socket })._socket
    pausedSocket.pause()
    const pausedState = { received: 0, closedWith: null as number | null }
    ;(channels[options.fastClients] as FrameChannel).handler = () => pausedState.received++
    const pausedClosed = new Promise<void>((resolve) =>
      paused.once('close', (code) => {
        pausedState.closedWith = code
        resolve()
      }),
    )

    // Our own GC pauses delay every fast client at once; count them so a tail can be attributed.
    const clientGc = { count: 0, totalMs: 0, maxMs: 0 }
    const gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        clientGc.count++
        clientGc.totalMs += entry.duration
        clientGc.maxMs = Math.max(clientGc.maxMs, entry.duration)
      }
    })
    gcObserver.observe({ entryTypes: ['gc'] })

    fixture.command({ type: 'broadcast', count: options.count, bytes: options.bytes, batch: options.batch })
    const done = await fixture.next('broadcastDone', 60_000)
    try {
      await withTimeout(arrived, 30_000, 'every fast client to receive every notification')
    } finally {
      gcObserver.disconnect()
    }

    // Now let the paused client read whatever reached it: a 4001 close frame sits after the data.
    pausedSocket.resume()
    const deadline = Date.now() + 3_000
    while (Date.now() < deadline && pausedState.closedWith === null && pausedState.received < options.count) {
      await Promise.race([pausedClosed, new Promise((r) => setTimeout(r, 50))])
    }

    return latencyFigure(
      'broadcast_lag_ws',
      lags.subarray(0, lagCount),
      5,
      'p99',
      { p50: 1.1, p99: 19 },
      {
        clients: `${options.fastClients} fast + 1 paused`,
        messages: options.count,
        bytes: options.bytes,
        batch: options.batch,
        serverElapsedMs: round(done.elapsedMs),
        // First send to last arrival: well above serverElapsedMs means the clients (or the CPU they
        // share with the server) could not keep up, and lag is mostly backlog.
        deliveryElapsedMs: round(lastArrival - firstSend),
        clientGc: { count: clientGc.count, totalMs: round(clientGc.totalMs), maxMs: round(clientGc.maxMs) },
        serverPeakRssMiB: round(done.peakRss / 2 ** 20),
        serverConnectionsAtEnd: done.connections,
        pausedClient: { closedWith: pausedState.closedWith, receivedAfterResume: pausedState.received },
      },
    )
  } finally {
    for (const ws of sockets) ws.terminate()
    await fixture.dispose()
  }
}
