/**
 * The contract every transport implements: frames in, frames out, backpressure, close. A transport
 * knows nothing of JSON-RPC; the router and the message processor do. One file per transport.
 */
import type { Event } from '../util/event'

export type TransportKind = 'stdio' | 'websocket' | 'messagePort' | 'memory'

export interface CloseInfo {
  /** Websocket close code semantics for every transport (1000 normal, 1001 going away, 4001 slow consumer). */
  code: number
  reason: string
}

export const CLOSE_NORMAL: CloseInfo = { code: 1000, reason: 'connection closed' }
export const CLOSE_GOING_AWAY: CloseInfo = { code: 1001, reason: 'server shutting down' }
export const CLOSE_SLOW_CONSUMER: CloseInfo = { code: 4001, reason: 'slow consumer: outbound queue full' }

/** A client whose queue stayed full while it read nothing for `stallMs`. */
export function stalledConsumer(stallMs: number): CloseInfo {
  const secs = stallMs >= 1000 ? `${Math.round(stallMs / 100) / 10} s` : `${stallMs} ms`
  return { code: 4001, reason: `slow consumer: read nothing for ${secs} with a full outbound queue` }
}

export interface Transport {
  readonly kind: TransportKind
  /**
   * What happens when the connection's outbound queue is full: both make producers wait while the
   * client reads; `block` (stdio: a local pipe client) waits forever and is never dropped;
   * `disconnect` (websocket, MessagePort) stops holding producers once the client reads nothing,
   * and is closed with 4001 (see outboundQueue.ts).
   */
  readonly overflow: 'block' | 'disconnect'
  /** For logs: `stdio`, `ws 127.0.0.1:53211`, `port`. Never a credential. */
  readonly peer: string
  /**
   * Writes one serialized message. Returns false once the transport holds more than it wants
   * buffered; the caller then waits for `onDrain` before writing again.
   */
  write(frame: string): boolean
  readonly onDrain: Event<void>
  /**
   * Bytes (UTF-16 units) written and not yet taken by the peer: counted with the connection's
   * queue against its limit, so what one connection costs is bounded as a whole.
   */
  readonly bufferedBytes?: number
  /**
   * How many frames the peer has taken so far (flushed to the socket, acknowledged by the port).
   * Any change is progress; a queue that is behind samples it on a timer.
   */
  readonly consumed?: number
  readonly onMessage: Event<string>
  /** Fires once, whoever closed it. */
  readonly onClose: Event<CloseInfo>
  /** A message too large to read was discarded (transports that cannot close on it, e.g. stdio). */
  readonly onOversized?: Event<number>
  close(info?: CloseInfo): void
}
