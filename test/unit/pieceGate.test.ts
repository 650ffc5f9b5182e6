import { describe, expect, it } from 'vitest'
import { arrayPieces, ARRAY_MARK } from '../../src/worker/transport/jsonPieces'
import { OutboundQueue } from '../../src/worker/transport/outboundQueue'
import { PieceGate, type PieceTransport } from '../../src/worker/transport/pieceGate'
import type { CloseInfo } from '../../src/worker/transport/types'
import { Emitter } from '../../src/worker/util/event'

/**
 * A transport that records what reaches it: whole frames and pieces. `accepting` says whether a
 * write leaves room (false: the caller must wait for `drain()`); `take()` is the peer reading.
 */
function recordingTransport() {
  const wire: string[] = []
  const drain = new Emitter<void>()
  const closeEmitter = new Emitter<CloseInfo>()
  const state = { accepting: true, consumed: 0, closed: null as CloseInfo | null }
  const transport: PieceTransport = {
    kind: 'websocket',
    overflow: 'disconnect',
    peer: 'fake',
    onDrain: drain.event,
    onMessage: new Emitter<string>().event,
    onClose: closeEmitter.event,
    get consumed() {
      return state.consumed
    },
    bufferedBytes: 0,
    write(frame) {
      wire.push(`frame:${frame}`)
      return state.accepting
    },
    writePiece(piece, last) {
      wire.push(`${last ? 'last' : 'piece'}:${piece}`)
      return state.accepting
    },
    close(info) {
      state.closed = info ?? { code: 1000, reason: '' }
      closeEmitter.fire(state.closed)
    },
  }
  return { transport, wire, state, drain: () => drain.fire() }
}

function gated(stallMs = 30_000) {
  const fake = recordingTransport()
  const gate = new PieceGate(fake.transport, stallMs)
  const queue = new OutboundQueue(gate, { maxMessages: 100, maxBytes: 1 << 20, stallMs }, () => {})
  gate.attach(queue)
  // As the router wires it: a drain of the transport lets the queue write again.
  fake.transport.onDrain(() => queue.drain())
  return { ...fake, gate, queue }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('a message written in pieces', () => {
  it('comes after the frames queued before it and before the frames pushed meanwhile, never split by one', async () => {
    const { wire, state, drain, gate, queue } = gated()
    state.accepting = false
    queue.push('a') // written; the transport is now full
    queue.push('b') // waits in the queue
    state.accepting = true
    const sent = gate.send(['p1', 'p2', 'p3'], () => false)
    queue.push('c')
    await tick()
    expect(wire).toEqual(['frame:a'])
    drain()
    await sent
    queue.push('d')
    expect(wire).toEqual(['frame:a', 'frame:b', 'piece:p1', 'piece:p2', 'last:p3', 'frame:c', 'frame:d'])
  })

  it('waits for the transport to drain between pieces, and holds other frames until the last one', async () => {
    const { wire, state, drain, gate, queue } = gated()
    state.accepting = false
    const sent = gate.send(['p1', 'p2'], () => false)
    await tick()
    expect(wire).toEqual(['piece:p1'])
    queue.push('x')
    await tick()
    expect(wire).toEqual(['piece:p1'])
    state.accepting = true
    drain()
    await sent
    expect(wire).toEqual(['piece:p1', 'last:p2', 'frame:x'])
  })

  it('two messages in pieces go one after the other', async () => {
    const { wire, gate } = gated()
    await Promise.all([gate.send(['a1', 'a2'], () => false), gate.send(['b1', 'b2'], () => false)])
    expect(wire).toEqual(['piece:a1', 'last:a2', 'piece:b1', 'last:b2'])
  })

  it('closes a client that takes nothing while a message waits for it, as a slow consumer', async () => {
    const { state, gate } = gated(50)
    state.accepting = false
    await gate.send(['p1', 'p2', 'p3'], () => state.closed !== null)
    expect(state.closed?.code).toBe(4001)
  })

  it('closes the connection when a piece cannot be made after part of the message went out', async () => {
    const { state, gate } = gated()
    function* failing() {
      yield 'p1'
      yield 'p2'
      throw new Error('boom')
    }
    await expect(gate.send(failing(), () => false)).rejects.toThrow('boom')
    expect(state.closed?.code).toBe(1011)
  })
})

describe('JSON in pieces', () => {
  const cases: unknown[][] = [
    [],
    [1],
    [{ a: 'x"y\\z\n\u0000é😀' }, null, undefined, () => 1, [1, [2]], 'b'.repeat(50)],
    Array.from({ length: 40 }, (_, i) => ({ i, text: 't'.repeat(i * 7) })),
  ]
  it.each(cases.map((elements, i) => [i, elements] as const))(
    'joins to what JSON.stringify makes of the whole (case %i)',
    (_, elements) => {
      const message = { id: 3, result: { thread: { id: 't', turns: elements, after: 1 }, readState: null } }
      const marked = {
        ...message,
        result: { ...message.result, thread: { ...message.result.thread, turns: ARRAY_MARK } },
      }
      for (const pieceChars of [1, 16, 1 << 20]) {
        const pieces = arrayPieces(JSON.stringify(marked), [...elements], { pieceChars })
        expect(pieces).not.toBeNull()
        expect([...(pieces as Iterable<string>)].join('')).toBe(JSON.stringify(message))
      }
    },
  )

  it('drops each element from the array once written when asked to', () => {
    const elements = [{ a: 1 }, { b: 2 }]
    const pieces = arrayPieces(JSON.stringify({ x: ARRAY_MARK }), elements, { release: true })
    expect([...(pieces as Iterable<string>)].join('')).toBe('{"x":[{"a":1},{"b":2}]}')
    expect(elements).toEqual([undefined, undefined])
  })

  it('refuses a frame without the mark', () => {
    expect(arrayPieces('{"x":[]}', [])).toBeNull()
  })
})
