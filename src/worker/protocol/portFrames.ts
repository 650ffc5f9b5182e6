/**
 * Framing on an app MessagePort. JSON-RPC messages travel as strings. Two small control frames
 * travel as objects, because a MessagePort has no backpressure of its own: the client acknowledges
 * what it has consumed (so the server can tell a renderer that stopped reading), and either side can
 * announce a close with a code and reason (as a websocket close frame would). Runtime-free.
 */
import type { ClientChannel } from './client'

/** client -> server: `count` more messages were consumed. */
export interface AckFrame {
  type: 'ack'
  count: number
}

/** either way: the sender is closing the connection. */
export interface CloseFrame {
  type: 'close'
  code: number
  reason: string
}

export type PortControlFrame = AckFrame | CloseFrame

/** A client acknowledges at least every this many messages, and at once when it goes idle. */
export const PORT_ACK_EVERY = 64

export function isPortControlFrame(value: unknown): value is PortControlFrame {
  if (typeof value !== 'object' || value === null) return false
  const frame = value as Partial<PortControlFrame>
  if (frame.type === 'ack') return typeof (frame as AckFrame).count === 'number'
  return frame.type === 'close'
}

/** What the client side needs of a port: Electron's, the DOM's or Node's, through a small adapter. */
export interface FramedPort {
  postMessage(data: unknown): void
  onMessage(listener: (data: unknown) => void): () => void
  /** The other end went away (when the runtime reports it). */
  onClose(listener: () => void): () => void
  close(): void
}

/**
 * The client side of the framing: acknowledges what it consumed, at least every PORT_ACK_EVERY
 * messages and as soon as the burst is over, so the server never takes it for a stalled reader;
 * turns the server's close frame, or the port's end, into `onClose`; and says goodbye with a close
 * frame of its own.
 */
export function portClientChannel(port: FramedPort): ClientChannel {
  const frameListeners: ((frame: string) => void)[] = []
  const closeListeners: ((info: { code: number; reason: string }) => void)[] = []
  let unacked = 0
  let ackTimer: ReturnType<typeof setTimeout> | undefined
  let closed = false
  const unsubscribes: (() => void)[] = []

  const post = (data: unknown) => {
    try {
      port.postMessage(data)
    } catch {
      // The port closed under us; its close is reported on its own.
    }
  }
  const flushAcks = () => {
    clearTimeout(ackTimer)
    ackTimer = undefined
    if (unacked === 0 || closed) return
    post({ type: 'ack', count: unacked } satisfies AckFrame)
    unacked = 0
  }
  const finish = (info: { code: number; reason: string }) => {
    if (closed) return
    closed = true
    clearTimeout(ackTimer)
    for (const off of unsubscribes.splice(0)) off()
    for (const listener of closeListeners) listener(info)
  }

  unsubscribes.push(
    port.onMessage((data) => {
      if (closed) return
      if (typeof data === 'string') {
        for (const listener of frameListeners) listener(data)
        if (++unacked >= PORT_ACK_EVERY) flushAcks()
        else ackTimer ??= setTimeout(flushAcks, 0)
      } else if (isPortControlFrame(data) && data.type === 'close') {
        finish({ code: data.code, reason: data.reason })
        port.close()
      }
    }),
    port.onClose(() => finish({ code: 1006, reason: 'port closed' })),
  )

  return {
    send(frame) {
      if (!closed) port.postMessage(frame)
    },
    onFrame: (listener) => void frameListeners.push(listener),
    onClose: (listener) => void closeListeners.push(listener),
    close() {
      if (closed) return
      post({ type: 'close', code: 1000, reason: 'client closed' } satisfies CloseFrame)
      finish({ code: 1000, reason: 'client closed' })
      port.close()
    },
  }
}
