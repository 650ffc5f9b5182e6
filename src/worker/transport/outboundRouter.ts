/**
 * The single owner of delivery (design rule 3). It registers connections, serializes each message
 * once (every queue shares that one string), and hands it to each target's bounded queue: responses
 * to the (connection, id) they answer, notifications to the initialized connections that have not
 * opted out. A Delivery resolves when every target that is behind but reading has room, so a
 * producer that awaits it goes at its slowest reader's pace; a websocket or MessagePort client that
 * stops reading stops holding it and is closed with 4001 (outboundQueue.ts). Messages
 * for closed or unknown connections are dropped with a debug log. Handlers never touch transports.
 */
import { encodeError, encodeResponse, type ErrorObject, type RequestId } from '../protocol/jsonrpc'
import type { NotificationParams, ServerNotificationMethod } from '../protocol/registry'
import { Emitter } from '../util/event'
import type { Logger } from '../util/log'
import { Connection, type ConnectionId } from './connection'
import { DEFAULT_QUEUE_LIMITS, type QueueLimits } from './outboundQueue'
import type { CloseInfo, Transport } from './types'

/** Every connection, or a set of connection ids. */
export type Target = 'all' | ConnectionId | Iterable<ConnectionId>

/** Resolves when every target that was full has room (or stopped counting); undefined when none was. */
export type Delivery = Promise<void> | undefined

export interface RouterOptions {
  limits?: QueueLimits
  log: Logger
}

export class OutboundRouter {
  private readonly connections = new Map<ConnectionId, Connection>()
  private nextId = 1
  private readonly limits: QueueLimits
  private readonly log: Logger
  private readonly onMessageEmitter = new Emitter<{ connection: Connection; frame: string }>()
  private readonly onClosedEmitter = new Emitter<{ connection: Connection; info: CloseInfo }>()
  /** Every inbound frame, tagged with its connection. */
  readonly onMessage = this.onMessageEmitter.event
  /** A connection closed, for any reason; its queue is already dropped. */
  readonly onConnectionClosed = this.onClosedEmitter.event

  constructor(options: RouterOptions) {
    this.limits = options.limits ?? DEFAULT_QUEUE_LIMITS
    this.log = options.log
  }

  get size(): number {
    return this.connections.size
  }

  /** Registers a transport as a new connection and starts reading from it. */
  add(transport: Transport): Connection {
    const connection = new Connection(this.nextId++, transport, this.limits, (c, info) =>
      this.overflow(c, info),
    )
    this.connections.set(connection.id, connection)
    transport.onDrain(() => connection.queue.drain())
    transport.onMessage((frame) => this.onMessageEmitter.fire({ connection, frame }))
    transport.onClose((info) => this.closed(connection, info))
    this.log.debug({ connectionId: connection.id, peer: transport.peer }, 'connection opened')
    return connection
  }

  get(id: ConnectionId): Connection | undefined {
    return this.connections.get(id)
  }

  all(): IterableIterator<Connection> {
    return this.connections.values()
  }

  respond(connectionId: ConnectionId, id: RequestId, result: unknown): Delivery {
    return this.sendFrame(connectionId, encodeResponse(id, result))
  }

  /**
   * With `dropIfFull`, an error for a connection whose queue is full is dropped rather than queued
   * (codex does this for overload errors, so a flooding client cannot grow our memory).
   */
  respondError(
    connectionId: ConnectionId,
    id: RequestId | null,
    error: ErrorObject,
    dropIfFull = false,
  ): Delivery {
    const connection = this.connections.get(connectionId)
    if (dropIfFull && connection?.queue.full) {
      this.log.debug({ connectionId, requestId: id }, 'dropping error for a connection whose queue is full')
      return undefined
    }
    return this.sendFrame(connectionId, encodeError(id, error))
  }

  /** A server->client request frame (the broker owns ids and waiting). */
  request(target: Target, id: number, method: string, params: unknown): Delivery {
    const frame = JSON.stringify({ id, method, params })
    return this.fanOut(target, frame, undefined)
  }

  /** A server notification, stamped with `emittedAtMs`, for initialized connections that did not opt out. */
  notify<M extends ServerNotificationMethod>(
    target: Target,
    method: M,
    params: NotificationParams<M>,
  ): Delivery {
    const frame = JSON.stringify({ method, params, emittedAtMs: Date.now() })
    return this.fanOut(target, frame, method)
  }

  /** Closes one connection with the given code; its queue is dropped. */
  close(connectionId: ConnectionId, info?: CloseInfo): void {
    const connection = this.connections.get(connectionId)
    if (!connection) return
    connection.transport.close(info)
  }

  /** Closes every connection, e.g. on shutdown. */
  closeAll(info?: CloseInfo): void {
    for (const connection of [...this.connections.values()]) connection.transport.close(info)
  }

  private sendFrame(connectionId: ConnectionId, frame: string): Delivery {
    const connection = this.connections.get(connectionId)
    if (!connection || connection.closed) {
      this.log.debug({ connectionId }, 'dropping a message for a closed or unknown connection')
      return undefined
    }
    return connection.queue.push(frame)
  }

  private fanOut(target: Target, frame: string, notificationMethod: string | undefined): Delivery {
    let waits: Promise<void>[] | undefined
    const deliver = (connection: Connection | undefined, id: ConnectionId) => {
      if (!connection || connection.closed) {
        this.log.debug({ connectionId: id }, 'dropping a message for a closed or unknown connection')
        return
      }
      if (notificationMethod !== undefined) {
        if (!connection.initialized || connection.optOut.has(notificationMethod)) return
      }
      const wait = connection.queue.push(frame)
      if (wait) (waits ??= []).push(wait)
    }
    if (target === 'all') {
      for (const connection of this.connections.values()) deliver(connection, connection.id)
    } else if (typeof target === 'number') {
      deliver(this.connections.get(target), target)
    } else {
      for (const id of target) deliver(this.connections.get(id), id)
    }
    if (!waits) return undefined
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => undefined)
  }

  private overflow(connection: Connection, info: CloseInfo): void {
    if (connection.closed) return
    this.log.warn(
      {
        connectionId: connection.id,
        peer: connection.transport.peer,
        queued: connection.queue.length,
        reason: info.reason,
      },
      'disconnecting slow connection',
    )
    // Drop what is queued now, so memory is released even if the client never reads again.
    connection.queue.close()
    connection.transport.close(info)
  }

  private closed(connection: Connection, info: CloseInfo): void {
    if (!this.connections.delete(connection.id)) return
    connection.markClosed()
    this.log.debug({ connectionId: connection.id, code: info.code, reason: info.reason }, 'connection closed')
    this.onClosedEmitter.fire({ connection, info })
  }
}
