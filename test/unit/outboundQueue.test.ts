import { afterEach, describe, expect, it, vi } from 'vitest'
import { OutboundQueue } from '../../src/worker/transport/outboundQueue'
import type { CloseInfo, Transport } from '../../src/worker/transport/types'
import { Emitter } from '../../src/worker/util/event'

/**
 * A transport that accepts `capacity` frames before reporting backpressure; `take(n)` is the peer
 * reading n frames (what `consumed` counts), `buffered` what it holds and the peer has not taken.
 */
function fakeTransport(overflow: 'block' | 'disconnect', capacity: number) {
  const written: string[] = []
  let accepting = capacity
  let consumed = 0
  let buffered = 0
  const drain = new Emitter<void>()
  const transport: Transport = {
    kind: 'memory',
    overflow,
    peer: 'fake',
    onDrain: drain.event,
    onMessage: new Emitter<string>().event,
    onClose: new Emitter<{ code: number; reason: string }>().event,
    get consumed() {
      return consumed
    },
    get bufferedBytes() {
      return buffered
    },
    write(frame) {
      written.push(frame)
      return --accepting > 0
    },
    close() {},
  }
  return {
    transport,
    written,
    release: (n: number) => (accepting = n),
    take: (n: number) => (consumed += n),
    hold: (bytes: number) => (buffered = bytes),
  }
}

afterEach(() => {
  vi.useRealTimers()
})

function settled(promise: Promise<void> | undefined): () => boolean {
  let done = false
  void promise?.then(() => (done = true))
  return () => done
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

  it('makes the producer wait for a full websocket-like client that keeps reading, and never closes it', async () => {
    vi.useFakeTimers()
    const closes: CloseInfo[] = []
    const { transport, written, release, take } = fakeTransport('disconnect', 1)
    const limits = { maxMessages: 3, maxBytes: 1000, holdMs: 100, stallMs: 300 }
    const queue = new OutboundQueue(transport, limits, (info) => closes.push(info))
    // One frame on the wire, three queued: full.
    for (const f of ['1', '2', '3', '4']) expect(queue.push(f)).toBeUndefined()
    const wait = queue.push('5')
    expect(wait).toBeInstanceOf(Promise)
    const done = settled(wait)
    // Reading slowly: a frame every 50 ms for ten times the stall time.
    for (let i = 0; i < 60; i++) {
      take(1)
      await vi.advanceTimersByTimeAsync(50)
    }
    expect(closes).toEqual([])
    expect(done()).toBe(false)
    release(100)
    queue.drain()
    await wait
    expect(written).toEqual(['1', '2', '3', '4', '5'])
    expect(closes).toEqual([])
  })

  it('stops holding the producer for a full client that reads nothing, drops what does not fit, and closes it with 4001 once it has read what it holds', async () => {
    vi.useFakeTimers()
    const closes: CloseInfo[] = []
    const { transport, written, release } = fakeTransport('disconnect', 1)
    const limits = { maxMessages: 3, maxBytes: 1000, holdMs: 100, stallMs: 10_000 }
    const queue = new OutboundQueue(transport, limits, (info) => closes.push(info))
    for (const f of ['1', '2', '3', '4']) queue.push(f)
    const done = settled(queue.push('5'))
    await vi.advanceTimersByTimeAsync(99)
    expect(done()).toBe(false)
    await vi.advanceTimersByTimeAsync(50)
    expect(done()).toBe(true)
    expect(queue.push('6')).toBeUndefined()
    expect(queue.push('7')).toBeUndefined()
    expect(closes).toEqual([])
    release(100)
    queue.drain()
    expect(written).toEqual(['1', '2', '3', '4', '5'])
    expect(closes).toEqual([{ code: 4001, reason: 'slow consumer: outbound queue full' }])
  })

  it('closes a full client that read nothing for the stall time with 4001 and the reason', async () => {
    vi.useFakeTimers()
    const closes: CloseInfo[] = []
    const { transport } = fakeTransport('disconnect', 1)
    const limits = { maxMessages: 2, maxBytes: 1000, holdMs: 100, stallMs: 2_000 }
    const queue = new OutboundQueue(transport, limits, (info) => closes.push(info))
    for (const f of ['1', '2', '3']) queue.push(f)
    await vi.advanceTimersByTimeAsync(1_900)
    expect(closes).toEqual([])
    await vi.advanceTimersByTimeAsync(200)
    expect(closes).toEqual([
      { code: 4001, reason: 'slow consumer: read nothing for 2 s with a full outbound queue' },
    ])
  })

  it('counts what the transport holds against the byte limit', () => {
    const { transport, hold } = fakeTransport('disconnect', 1)
    const queue = new OutboundQueue(transport, { maxMessages: 100, maxBytes: 10 }, () => {})
    queue.push('a')
    queue.push('b')
    expect(queue.full).toBe(false)
    hold(9)
    expect(queue.full).toBe(true)
    expect(queue.push('c')).toBeInstanceOf(Promise)
    queue.close()
  })

  it('makes a block transport producer wait for room, in order, without dropping anything', async () => {
    vi.useFakeTimers()
    const { transport, written, release } = fakeTransport('block', 1)
    const limits = { maxMessages: 2, maxBytes: 1000, holdMs: 10, stallMs: 20 }
    const queue = new OutboundQueue(transport, limits, () => {
      throw new Error('a block transport must never overflow')
    })
    expect(queue.push('a')).toBeUndefined()
    queue.push('b')
    queue.push('c')
    const waitD = queue.push('d')
    const waitE = queue.push('e')
    expect(waitD).toBeInstanceOf(Promise)
    const resolved = settled(waitE)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(resolved()).toBe(false)
    release(100)
    queue.drain()
    await waitE
    expect(written).toEqual(['a', 'b', 'c', 'd', 'e'])
  })

  it('releases waiting producers and drops everything when closed', async () => {
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
