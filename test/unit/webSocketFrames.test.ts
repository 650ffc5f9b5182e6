/**
 * The websocket transport writes each text frame itself (one encoded Buffer shared by every
 * subscriber of a notification, bursts of one tick leaving together): a real `ws` client must
 * receive every message exactly, in order, at every header size, whether one client or several
 * get the same frame.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { silentLogs } from '../../src/worker/util/log'
import {
  encodeTextFrame,
  WebSocketListener,
  type WebSocketTransport,
} from '../../src/worker/transport/webSocket'

let listener: WebSocketListener | undefined
const clients: WebSocket[] = []

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate()
  await listener?.close()
  listener = undefined
})

async function connected(count: number): Promise<{ transports: WebSocketTransport[]; inboxes: string[][] }> {
  const transports: WebSocketTransport[] = []
  let accepted: () => void = () => {}
  const allAccepted = new Promise<void>((resolve) => (accepted = resolve))
  listener = await WebSocketListener.start(
    { host: '127.0.0.1', port: 0, auth: { mode: 'none' }, log: silentLogs.get('transport') },
    (transport) => {
      transports.push(transport)
      if (transports.length === count) accepted()
    },
  )
  const inboxes: string[][] = []
  for (let i = 0; i < count; i++) {
    const ws = new WebSocket(listener.url)
    clients.push(ws)
    const inbox: string[] = []
    inboxes.push(inbox)
    ws.on('message', (data, isBinary) => {
      if (!isBinary) inbox.push(data.toString())
    })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
  }
  await allAccepted
  return { transports, inboxes }
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Messages of every header size: 7-bit, 16-bit and 64-bit lengths, and multi-byte characters. */
const MESSAGES = [
  '',
  '{}',
  'a'.repeat(125),
  'b'.repeat(126),
  'é'.repeat(63) + 'x',
  'c'.repeat(65_535),
  'd'.repeat(65_536),
  '{"delta":"' + 'é"\\\n'.repeat(30_000) + '"}',
  'e'.repeat(300_000),
]

describe('websocket text frames', () => {
  it('encodes the header for every payload length', () => {
    for (const text of MESSAGES) {
      const frame = encodeTextFrame(text)
      const bytes = Buffer.byteLength(text)
      expect(frame[0]).toBe(0x81)
      const mark = (frame[1] as number) & 0x7f
      expect((frame[1] as number) & 0x80).toBe(0)
      const [length, header] =
        mark < 126
          ? [mark, 2]
          : mark === 126
            ? [frame.readUInt16BE(2), 4]
            : [Number(frame.readBigUInt64BE(2)), 10]
      expect(length).toBe(bytes)
      expect(frame.subarray(header).toString('utf8')).toBe(text)
    }
  })

  it('delivers every message, in order, to each of several clients, sent one by one or in one burst', async () => {
    const { transports, inboxes } = await connected(3)
    // One burst: all of them in one tick, each to every client (a notification fanned out).
    for (const text of MESSAGES) for (const transport of transports) transport.write(text)
    await until(() => inboxes.every((inbox) => inbox.length === MESSAGES.length), 'the burst')
    for (const inbox of inboxes) expect(inbox).toEqual(MESSAGES)

    // One per tick: the first frame of a tick is written at once.
    for (const text of MESSAGES) {
      for (const transport of transports) transport.write(text)
      await new Promise((resolve) => setImmediate(resolve))
    }
    await until(() => inboxes.every((inbox) => inbox.length === 2 * MESSAGES.length), 'the paced frames')
    for (const inbox of inboxes) expect(inbox).toEqual([...MESSAGES, ...MESSAGES])
  }, 60_000)

  it('sends nothing after a close frame, and the client sees the close code', async () => {
    const { transports, inboxes } = await connected(1)
    const transport = transports[0] as WebSocketTransport
    const closed = new Promise<number>((resolve) =>
      (clients[0] as WebSocket).once('close', (code) => resolve(code)),
    )
    transport.write('before')
    transport.close({ code: 4001, reason: 'slow consumer: test' })
    transport.write('after')
    expect(await closed).toBe(4001)
    expect(inboxes[0]).toEqual(['before'])
  }, 30_000)
})
