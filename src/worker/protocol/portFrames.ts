/**
 * Framing on an app MessagePort. JSON-RPC messages travel as strings. Two small control frames
 * travel as objects, because a MessagePort has no backpressure of its own: the client acknowledges
 * what it has consumed (so the server can tell a renderer that stopped reading), and either side can
 * announce a close with a code and reason (as a websocket close frame would). Runtime-free.
 */

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
