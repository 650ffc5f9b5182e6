/**
 * The MessagePort hand-off's decisions on both ends: main's PortBroker (nonce shape, replays, rate
 * limit), the preload's relay, and the renderer's acceptPort / receivePort, with real MessageChannel
 * ports and a real EventTarget standing in for the window.
 */
import { afterEach, describe, expect, it } from 'vitest'
import {
  PORT_MESSAGE_TYPE,
  PortAcceptor,
  PortBroker,
  acceptPort,
  createNonce,
  isValidNonce,
  receivePort,
  relayMessage,
  type MessageEventTarget,
  type PortMessageEvent,
} from '../../src/main/portHandoff'

const channels: MessageChannel[] = []
afterEach(() => {
  for (const channel of channels.splice(0)) {
    channel.port1.close()
    channel.port2.close()
  }
})

function port(): MessagePort {
  const channel = new MessageChannel()
  channels.push(channel)
  return channel.port1
}

const NONCE = 'n0nce-0123456789abcdef'
const self = { name: 'this window' }

function event(
  data: unknown,
  ports: MessagePort[] = [port()],
  source: unknown = self,
): PortMessageEvent<MessagePort> {
  return { data, ports, source }
}

describe('PortBroker', () => {
  it('grants a port for a well-formed nonce and says what to post', () => {
    const broker = new PortBroker()
    expect(broker.request(7, NONCE)).toEqual({
      ok: true,
      client: 'window 7',
      channel: 'codex-desk:port',
      message: { nonce: NONCE },
    })
  })

  it.each([
    ['a number', 1234567890123456],
    ['undefined', undefined],
    ['an object', { nonce: NONCE }],
    ['15 characters', 'a'.repeat(15)],
    ['129 characters', 'a'.repeat(129)],
    ['characters that are not url-safe', 'abcdefghijklmnop/+='],
    ['a line break', 'abcdefghijklmnop\n'],
  ])('refuses a nonce that is %s', (_what, nonce) => {
    expect(new PortBroker().request(1, nonce)).toEqual({ ok: false, reason: 'invalid nonce' })
  })

  it('accepts nonces of 16 and of 128 url-safe characters, and a UUID', () => {
    const broker = new PortBroker()
    expect(broker.request(1, 'a'.repeat(16)).ok).toBe(true)
    expect(broker.request(1, 'b'.repeat(128)).ok).toBe(true)
    expect(broker.request(1, crypto.randomUUID()).ok).toBe(true)
  })

  it('refuses a replayed nonce, from the same window or another one', () => {
    const broker = new PortBroker()
    expect(broker.request(1, NONCE).ok).toBe(true)
    expect(broker.request(1, NONCE)).toEqual({ ok: false, reason: 'replayed nonce' })
    expect(broker.request(2, NONCE)).toEqual({ ok: false, reason: 'replayed nonce' })
  })

  it('rate-limits a window that asks too often, without slowing the others', () => {
    let clock = 0
    const broker = new PortBroker({ now: () => clock })
    const results = Array.from({ length: 12 }, () => broker.request(1, createNonce()))
    expect(results.filter((r) => r.ok)).toHaveLength(10)
    expect(results.slice(10)).toEqual([
      { ok: false, reason: 'rate limited' },
      { ok: false, reason: 'rate limited' },
    ])
    expect(broker.request(2, createNonce()).ok).toBe(true)
    clock += 999
    expect(broker.request(1, createNonce())).toEqual({ ok: false, reason: 'rate limited' })
    clock += 1
    expect(broker.request(1, createNonce()).ok).toBe(true)
  })

  it('a nonce refused for the rate limit can be used once the window has passed', () => {
    let clock = 0
    const broker = new PortBroker({ maxRequests: 1, now: () => clock })
    expect(broker.request(1, createNonce()).ok).toBe(true)
    expect(broker.request(1, NONCE).ok).toBe(false)
    clock += 1000
    expect(broker.request(1, NONCE).ok).toBe(true)
  })

  it('forgets the oldest nonces past its memory bound', () => {
    const broker = new PortBroker({ rememberNonces: 2, maxRequests: 100 })
    const [a, b, c] = [createNonce(), createNonce(), createNonce()]
    for (const nonce of [a, b, c]) expect(broker.request(1, nonce).ok).toBe(true)
    expect(broker.request(1, c)).toEqual({ ok: false, reason: 'replayed nonce' })
    expect(broker.request(1, a).ok).toBe(true)
  })
})

describe('the preload relay', () => {
  it("relays main's message with its nonce and nothing else", () => {
    expect(relayMessage({ nonce: NONCE, extra: 'dropped' })).toEqual({
      type: PORT_MESSAGE_TYPE,
      nonce: NONCE,
    })
  })

  it('relays nothing for a message without a valid nonce', () => {
    expect(relayMessage(undefined)).toBeUndefined()
    expect(relayMessage({ nonce: 'short' })).toBeUndefined()
    expect(relayMessage('x'.repeat(32))).toBeUndefined()
  })
})

describe('acceptPort', () => {
  it('accepts the message with its own nonce, from its own window, with one port', () => {
    const p = port()
    expect(acceptPort(event({ type: 'codex-desk:port', nonce: NONCE }, [p]), NONCE, self)).toEqual({
      ok: true,
      port: p,
    })
  })

  it.each([
    ['a wrong nonce', event({ type: 'codex-desk:port', nonce: `${NONCE}x` }), 'wrong nonce'],
    ['no nonce', event({ type: 'codex-desk:port' }), 'wrong nonce'],
    ['a wrong type', event({ type: 'codex-desk:connect', nonce: NONCE }), 'not a port message'],
    ['a bare string', event(NONCE), 'not a port message'],
    ['null data', event(null), 'not a port message'],
    ['no port', event({ type: 'codex-desk:port', nonce: NONCE }, []), 'no port'],
    ['two ports', event({ type: 'codex-desk:port', nonce: NONCE }, [port(), port()]), 'more than one port'],
    [
      'another source',
      event({ type: 'codex-desk:port', nonce: NONCE }, [port()], { name: 'an iframe' }),
      'foreign source',
    ],
  ])('refuses a message with %s', (_what, e, reason) => {
    expect(acceptPort(e, NONCE, self)).toEqual({ ok: false, reason })
  })

  it('a PortAcceptor takes one port only, even when its message is replayed', () => {
    const acceptor = new PortAcceptor<MessagePort>(self)
    expect(isValidNonce(acceptor.nonce)).toBe(true)
    const message = { type: 'codex-desk:port', nonce: acceptor.nonce }
    expect(acceptor.accept(event(message)).ok).toBe(true)
    expect(acceptor.accept(event(message))).toEqual({ ok: false, reason: 'already accepted' })
  })

  it('fresh nonces are url-safe, 32 characters, and differ', () => {
    const nonces = new Set(Array.from({ length: 100 }, createNonce))
    expect(nonces.size).toBe(100)
    for (const nonce of nonces) expect(nonce).toMatch(/^[A-Za-z0-9_-]{32}$/)
  })
})

describe('receivePort', () => {
  /** A window stand-in: a real EventTarget whose events carry `data`, `source` and `ports`. */
  function windowLike(): EventTarget &
    MessageEventTarget<MessagePort> & { post(e: PortMessageEvent<MessagePort>): void } {
    const target = new EventTarget() as EventTarget &
      MessageEventTarget<MessagePort> & { post(e: PortMessageEvent<MessagePort>): void }
    target.post = (e) => target.dispatchEvent(Object.assign(new Event('message'), e))
    return target
  }

  it('resolves with the port that carries its nonce and ignores the messages before it', async () => {
    const win = windowLike()
    const { port1, port2 } = new MessageChannel()
    channels.push({ port1, port2 } as MessageChannel)
    const received = receivePort(
      win,
      (nonce) => {
        // What main and the preload would do, with a decoy first.
        queueMicrotask(() => {
          win.post(event({ type: PORT_MESSAGE_TYPE, nonce: 'someone-elses-nonce-123' }))
          win.post(event({ type: PORT_MESSAGE_TYPE, nonce }, [port1], { name: 'an iframe' }))
          win.post(event({ type: PORT_MESSAGE_TYPE, nonce }, [port1]))
        })
      },
      { source: self, timeoutMs: 60_000 },
    )
    const got = await received
    expect(got).toBe(port1)
    // It is the real port: a message crosses it.
    const echoed = new Promise((resolve) =>
      port2.addEventListener('message', (e) => resolve(e.data), { once: true }),
    )
    port2.start()
    got.postMessage('hello')
    await expect(echoed).resolves.toBe('hello')
  })

  it('rejects after its timeout when no port comes', async () => {
    const win = windowLike()
    await expect(receivePort(win, () => undefined, { source: self, timeoutMs: 50 })).rejects.toThrow(
      'no MessagePort from the app within 50 ms',
    )
  })

  it('rejects at once when asking for the port throws', async () => {
    const win = windowLike()
    await expect(
      receivePort(
        win,
        () => {
          throw new Error('no preload')
        },
        { source: self, timeoutMs: 5000 },
      ),
    ).rejects.toThrow('no preload')
  })
})

/** Compile-time only: the real DOM window fits the renderer-side types. */
export function typeCheckWithDomWindow(win: Window): Promise<MessagePort> {
  return receivePort<MessagePort>(win, () => undefined, { source: win })
}
