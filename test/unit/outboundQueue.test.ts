import { describe, expect, it } from 'vitest'
import { OutboundQueue } from '../../src/worker/transport/outboundQueue'
import type { Transport } from '../../src/worker/transport/types'
import { Emitter } from '../../src/worker/util/event'

/** A transport that accepts `capacity` frames before reporting backpressure. */
function fakeTransport(overflow: 'block' | 'disconnect', capacity: number) {
  const written: string[] = []
  let accepting = capacity
  const drain = new Emitter<void>()
  const transport: Transport = {
    kind: 'memory',
    overflow,
    peer: 'fake',
    onDrain: drain.event,
    onMessage: new Emitter<string>().event,
    onClose: new Emitter<{ code: number; reason: string }>().event,
    write(frame) {
      written.push(frame)
      return --accepting > 0
    },
    close() {},
  }
  return { transport, written, release: (n: number) => (accepting = n) }
}

describe('OutboundQueue', () => {
  it('writes straight through while the transport accepts, then queues in order', () => {
    const { transport, written, release } = fakeTransport('disconnect', 2)
    const queue = new OutboundQueue(transport, { maxMessages: 10, maxBytes: 1000 }, () => {})
    for (const f of ['a', 'b', 'c', 'd']) queue.push(f)
    expect(written).toEqual(['a', 'b'])
    expect(queue.length).toBe(2)
    release(10)
    queue.drain()
    expect(written).toEqual(['a', 'b', 'c', 'd'])
    expect(queue.length).toBe(0)
  })

  it('reports overflow for a disconnect transport when messages or bytes exceed the limit', () => {
    let overflows = 0
    const { transport } = fakeTransport('disconnect', 1)
    const queue = new OutboundQueue(transport, { maxMessages: 3, maxBytes: 1000 }, () => overflows++)
    for (const f of ['1', '2', '3', '4']) queue.push(f)
    expect(overflows).toBe(0)
    queue.push('5')
    expect(overflows).toBe(1)
    const bytes = new OutboundQueue(
      fakeTransport('disconnect', 1).transport,
      { maxMessages: 100, maxBytes: 10 },
      () => overflows++,
    )
    bytes.push('first')
    bytes.push('x'.repeat(20))
    expect(overflows).toBe(1)
    bytes.push('y')
    expect(overflows).toBe(2)
  })

  it('makes a block transport producer wait for room, in order, without dropping anything', async () => {
    const { transport, written, release } = fakeTransport('block', 1)
    const queue = new OutboundQueue(transport, { maxMessages: 2, maxBytes: 1000 }, () => {
      throw new Error('a block transport must never overflow')
    })
    expect(queue.push('a')).toBeUndefined()
    queue.push('b')
    queue.push('c')
    const waitD = queue.push('d')
    const waitE = queue.push('e')
    expect(waitD).toBeInstanceOf(Promise)
    let resolved = false
    void waitE?.then(() => (resolved = true))
    await Promise.resolve()
    expect(resolved).toBe(false)
    release(100)
    queue.drain()
    await waitE
    expect(written).toEqual(['a', 'b', 'c', 'd', 'e'])
  })

  it('releases blocked producers and drops everything when closed', async () => {
    const { transport, written } = fakeTransport('block', 1)
    const queue = new OutboundQueue(transport, { maxMessages: 1, maxBytes: 1000 }, () => {})
    queue.push('a')
    queue.push('b')
    const wait = queue.push('c')
    queue.close()
    await wait
    expect(queue.push('d')).toBeUndefined()
    expect(written).toEqual(['a'])
    expect(queue.length).toBe(0)
  })
})
