/**
 * The renderer's two transports as AppServerClient channels: a websocket (in a browser) and the
 * app's MessagePort with its ack/close framing (portFrames.ts). No protocol knowledge here.
 * Runtime-free: the websocket side takes any WebSocket-shaped constructor, so the integration
 * tests run it with the `ws` package under Node.
 */
import type { ClientChannel } from '../worker/protocol/client'
import { isPortControlFrame, PORT_ACK_EVERY, type CloseFrame } from '../worker/protocol/portFrames'

/** What the channel needs of a WebSocket (the browser's, or `ws`'s). */
export interface WebSocketLike {
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open' | 'error', listener: () => void): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void
}

export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike

/** The browser explains nothing about a refused upgrade, so the message names the likely causes. */
export function openWebSocket(
  url: string,
  protocols: string[],
  create: WebSocketFactory = (u, p) => new WebSocket(u, p) as unknown as WebSocketLike,
): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    let socket: WebSocketLike
    try {
      socket = create(url, protocols)
    } catch (error) {
      reject(new Error(`cannot open ${url}: ${(error as Error).message}`))
      return
    }
    let open = false
    let closed = false
    const frameListeners: ((frame: string) => void)[] = []
    const closeListeners: ((info: { code: number; reason: string }) => void)[] = []
    const fail = () =>
      reject(
        new Error(
          `cannot reach ${url} (is the core running there, does it allow this page's origin, and is the token current?)`,
        ),
      )
    socket.addEventListener('error', () => {
      if (!open) fail()
    })
    socket.addEventListener('message', (event) => {
      if (typeof event.data === 'string') for (const listener of frameListeners) listener(event.data)
    })
    socket.addEventListener('close', (event) => {
      if (!open) return fail()
      if (closed) return
      closed = true
      for (const listener of closeListeners) listener({ code: event.code, reason: event.reason })
    })
    socket.addEventListener('open', () => {
      open = true
      resolve({
        send: (frame) => socket.send(frame),
        onFrame: (listener) => void frameListeners.push(listener),
        onClose: (listener) => void closeListeners.push(listener),
        close: () => socket.close(1000, 'client closed'),
      })
    })
  })
}

/** The client side of the app's port framing: acks what it consumed, honours close frames. */
export function portChannel(port: MessagePort): ClientChannel {
  let unacked = 0
  let ackTimer: ReturnType<typeof setTimeout> | undefined
  let closed = false
  const frameListeners: ((frame: string) => void)[] = []
  const closeListeners: ((info: { code: number; reason: string }) => void)[] = []
  const fireClose = (info: { code: number; reason: string }) => {
    if (closed) return
    closed = true
    clearTimeout(ackTimer)
    for (const listener of closeListeners) listener(info)
  }
  const flushAcks = () => {
    ackTimer = undefined
    if (unacked > 0 && !closed) port.postMessage({ type: 'ack', count: unacked })
    unacked = 0
  }
  port.addEventListener('message', (event: MessageEvent) => {
    const data: unknown = event.data
    if (typeof data === 'string') {
      for (const listener of frameListeners) listener(data)
      // At least every PORT_ACK_EVERY messages, and as soon as the burst is over.
      if (++unacked >= PORT_ACK_EVERY) {
        clearTimeout(ackTimer)
        flushAcks()
      } else ackTimer ??= setTimeout(flushAcks, 0)
    } else if (isPortControlFrame(data) && data.type === 'close') {
      fireClose({ code: data.code, reason: data.reason })
    }
  })
  // Chromium reports a port whose other end went away (the core's process died).
  port.addEventListener('close', () => fireClose({ code: 1006, reason: 'port closed' }))
  port.start()
  return {
    send: (frame) => port.postMessage(frame),
    onFrame: (listener) => void frameListeners.push(listener),
    onClose: (listener) => void closeListeners.push(listener),
    close: () => {
      if (!closed)
        port.postMessage({ type: 'close', code: 1000, reason: 'client closed' } satisfies CloseFrame)
      port.close()
      fireClose({ code: 1000, reason: 'client closed' })
    },
  }
}
