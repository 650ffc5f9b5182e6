/**
 * An in-memory transport pair for tests that need no sockets: the server side is a real Transport,
 * the client side can be paused to act as a client that stopped reading. Delivery is asynchronous
 * (a microtask), as on every real transport.
 */
import { Emitter } from '../util/event'
import { CLOSE_NORMAL, type CloseInfo, type Transport } from './types'

export interface MemoryClient {
  send(frame: string): void
  readonly onMessage: Emitter<string>['event']
  readonly onClose: Emitter<CloseInfo>['event']
  /** Stop reading: frames pile up "on the wire" until `wireCapacity`, then the server sees backpressure. */
  pause(): void
  resume(): void
  close(info?: CloseInfo): void
}

export function createMemoryPair(
  options: { overflow?: 'block' | 'disconnect'; wireCapacity?: number } = {},
): { server: Transport; client: MemoryClient } {
  const wireCapacity = options.wireCapacity ?? 64
  const toClient = new Emitter<string>()
  const toServer = new Emitter<string>()
  const drain = new Emitter<void>()
  const serverClosed = new Emitter<CloseInfo>()
  const clientClosed = new Emitter<CloseInfo>()
  const wire: string[] = []
  let paused = false
  let closed = false
  let wantsDrain = false
  let flushing = false

  const flush = () => {
    if (flushing) return
    flushing = true
    queueMicrotask(() => {
      flushing = false
      while (!paused && wire.length > 0) toClient.fire(wire.shift() as string)
      if (wantsDrain && wire.length < wireCapacity) {
        wantsDrain = false
        drain.fire()
      }
    })
  }
  const finish = (info: CloseInfo) => {
    if (closed) return
    closed = true
    wire.length = 0
    serverClosed.fire(info)
    clientClosed.fire(info)
  }

  const server: Transport = {
    kind: 'memory',
    overflow: options.overflow ?? 'disconnect',
    peer: 'memory',
    onDrain: drain.event,
    onMessage: toServer.event,
    onClose: serverClosed.event,
    write(frame) {
      if (closed) return true
      wire.push(frame)
      flush()
      if (wire.length < wireCapacity) return true
      wantsDrain = true
      return false
    },
    close: (info = CLOSE_NORMAL) => finish(info),
  }
  const client: MemoryClient = {
    send: (frame) => {
      if (!closed) queueMicrotask(() => !closed && toServer.fire(frame))
    },
    onMessage: toClient.event,
    onClose: clientClosed.event,
    pause: () => {
      paused = true
    },
    resume: () => {
      paused = false
      flush()
    },
    close: (info = CLOSE_NORMAL) => finish(info),
  }
  return { server, client }
}
