/**
 * Main's client end of an app-server MessagePort (portClient.ts) against the core's real
 * MessagePortTransport over a real MessageChannel: acknowledgements keep the server's window open,
 * close frames travel both ways with their code and reason, and a port that just ends reads as 1006.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { portClientChannel } from '../../src/main/portClient'
import { MessagePortTransport } from '../../src/worker/transport/messagePort'
import { fromNodePort, type DataEmitterLike } from '../../src/worker/transport/port'
import type { CloseInfo } from '../../src/worker/transport/types'
import { withTimeout } from '../support/testClient'

const ports: MessagePort[] = []
afterEach(() => {
  for (const port of ports.splice(0)) port.close()
})

function pair() {
  const { port1, port2 } = new MessageChannel()
  ports.push(port1, port2)
  const server = new MessagePortTransport(fromNodePort(port1 as unknown as DataEmitterLike), 'port main')
  const client = portClientChannel(fromNodePort(port2 as unknown as DataEmitterLike))
  return { server, client, port1, port2 }
}

const next = <T>(subscribe: (listener: (value: T) => void) => unknown, what: string) =>
  withTimeout(new Promise<T>((resolve) => subscribe(resolve)), 60_000, what)

describe('portClientChannel', () => {
  it('acknowledges what it reads, so a server that filled its window drains and nothing is lost', async () => {
    const { server, client } = pair()
    const received: string[] = []
    client.onFrame((frame) => received.push(frame))
    const drained = next<void>((l) => server.onDrain(l), 'the server to drain')
    let refusedAt = -1
    for (let i = 0; i < 1500; i++) {
      if (!server.write(`{"method":"n","params":{"i":${i}}}`) && refusedAt < 0) refusedAt = i
    }
    // The server reports backpressure at its high-water mark; the client's acks bring it back.
    expect(refusedAt).toBe(1023)
    await drained
    await withTimeout(
      (async () => {
        while (received.length < 1500) await new Promise((resolve) => setTimeout(resolve, 5))
      })(),
      60_000,
      'all frames',
    )
    expect(received[0]).toBe('{"method":"n","params":{"i":0}}')
    expect(received[1499]).toBe('{"method":"n","params":{"i":1499}}')
  })

  it('passes frames both ways', async () => {
    const { server, client } = pair()
    const atServer = next<string>((l) => server.onMessage(l), 'a frame at the server')
    client.send('{"id":1,"method":"initialize"}')
    expect(await atServer).toBe('{"id":1,"method":"initialize"}')
    const atClient = next<string>((l) => client.onFrame(l), 'a frame at the client')
    server.write('{"id":1,"result":{}}')
    expect(await atClient).toBe('{"id":1,"result":{}}')
  })

  it("reports the server's close frame with its code and reason", async () => {
    const { server, client } = pair()
    const closed = next<{ code: number; reason: string }>((l) => client.onClose(l), 'the client close')
    server.close({ code: 4001, reason: 'slow consumer' })
    expect(await closed).toEqual({ code: 4001, reason: 'slow consumer' })
  })

  it('closes with a close frame the server reads as a normal close, and sends nothing after', async () => {
    const { server, client } = pair()
    const atServer = next<CloseInfo>((l) => server.onClose(l), 'the server close')
    const atClient = next<{ code: number; reason: string }>((l) => client.onClose(l), 'the client close')
    client.close()
    expect(await atServer).toEqual({ code: 1000, reason: 'client closed' })
    expect(await atClient).toEqual({ code: 1000, reason: 'client closed' })
    expect(() => client.send('{"id":2,"method":"x"}')).not.toThrow()
  })

  it('reads a port whose other end went away as an abnormal close (1006)', async () => {
    const { client, port1 } = pair()
    const closed = next<{ code: number; reason: string }>((l) => client.onClose(l), 'the client close')
    port1.close()
    expect(await closed).toEqual({ code: 1006, reason: 'port closed' })
  })
})
