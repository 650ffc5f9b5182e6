/**
 * The broadcast figure's instruments (bench/lib/lagReader.ts, floorRelay.ts, pacedModelServer.ts):
 * a paced answer streamed through the bare relay reaches every reading socket, in every reader
 * process, stamp by stamp in order, with a paused connection beside them; and the stamps' clock is
 * the readers' clock (no stamp is read before it was written). No durations are asserted.
 */
import type { Socket } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { WebSocket } from 'ws'
import { openWebSocket } from '../../bench/lib/clients'
import { startFloorRelay, type FloorRelay } from '../../bench/lib/floorRelay'
import { startLagReaders, type LagReaders } from '../../bench/lib/lagReader'
import { startPacedModelServer, type PacedModelServer } from '../../bench/lib/pacedModelServer'

describe('the delivery-lag readers', () => {
  let model: PacedModelServer | undefined
  let relay: FloorRelay | undefined
  let readers: LagReaders | undefined
  let paused: WebSocket | undefined

  afterEach(async () => {
    readers?.close()
    paused?.terminate()
    await relay?.close()
    await model?.close()
  })

  it('get every stamp of a paced answer once and in order, at every socket of every reader process', async () => {
    const count = 300
    model = await startPacedModelServer()
    relay = await startFloorRelay()
    readers = startLagReaders(2)
    model.enqueue({ kind: 'paced', count, perSecond: 3_000, bytes: 120 })
    await readers.connect(relay.url, 5, count, false)
    paused = await openWebSocket(relay.url, 10_000)
    ;(paused as unknown as { _socket: Socket })._socket.pause()
    const streamed = relay.go(model.url)
    const results = await readers.results(60_000)
    await streamed

    expect(results.sockets.map((s) => s.index)).toEqual([0, 1, 2, 3, 4])
    for (const socket of results.sockets) {
      expect(socket.error).toBeNull()
      expect(socket.next).toBe(count)
      expect(socket.deltas).toBe(count)
      expect(socket.lags).toHaveLength(count)
      for (const lag of socket.lags) {
        expect(Number.isNaN(lag)).toBe(false)
        // One monotonic clock across processes: nothing arrives before it was sent.
        expect(lag).toBeGreaterThanOrEqual(0)
      }
    }
  })
})
