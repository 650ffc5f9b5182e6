/**
 * The renderer's two transports as AppServerClient channels: a websocket (in a browser) and the
 * app's MessagePort with its ack/close framing (portFrames.ts). No protocol knowledge here.
 * Runtime-free: the websocket side takes any WebSocket-shaped constructor, so the integration
 * tests run it with the `ws` package under Node.
 */
import type { ClientChannel } from '../worker/protocol/client'
import { portClientChannel } from '../worker/protocol/portFrames'

/** What the channel needs of a WebSocket (the browser's, or `ws`'s). */
export interface WebSocketLike {
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open' | 'error', listener: () => void): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void
}

export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike

/**
 * The browser explains nothing about a refused upgrade (a 401 for the token looks like a core that
 * is not there), so the message names the likely causes, unless `explain` finds out which one it
 * was (main.ts asks the page's own server whether it is up).
 */
export function openWebSocket(
  url: string,
  protocols: string[],
  create: WebSocketFactory = (u, p) => new WebSocket(u, p) as unknown as WebSocketLike,
  explain?: () => Promise<string | null>,
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
    let failed = false
    const fail = () => {
      if (failed) return
      failed = true
      const guess = `cannot reach ${url} (is the core running there, does it allow this page's origin, and is the token current?)`
      if (!explain) return reject(new Error(guess))
      explain().then(
        (why) => reject(new Error(why ?? guess)),
        () => reject(new Error(guess)),
      )
    }
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

/** The app's MessagePort as a channel, with the port framing of portFrames.ts. */
export function portChannel(port: MessagePort): ClientChannel {
  const channel = portClientChannel({
    postMessage: (data) => port.postMessage(data),
    onMessage(listener) {
      const onMessage = (event: MessageEvent) => listener(event.data)
      port.addEventListener('message', onMessage)
      return () => port.removeEventListener('message', onMessage)
    },
    // Chromium reports a port whose other end went away (the core's process died).
    onClose(listener) {
      port.addEventListener('close', listener)
      return () => port.removeEventListener('close', listener)
    },
    close: () => port.close(),
  })
  port.start()
  return channel
}
