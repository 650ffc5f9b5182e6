/**
 * Delivery of a thread's events: turn and item events to its subscribers, lifecycle events to every
 * initialized connection, and the join window that makes a rejoin exact.
 *
 * A connection that resumes a loaded thread is subscribed at the instant its snapshot is taken, but
 * the snapshot reaches it in the response, which is queued a few microtasks later. Anything the
 * thread emits in between is held for that connection and released right after the response, in
 * order, so the snapshot plus what follows is exactly the thread: no gap, no duplicate.
 *
 * It must never send to a joining connection ahead of its response, and never reorder one thread's
 * events for one connection.
 */
import type { NotificationParams, ServerNotificationMethod } from '../protocol/registry'
import type { ConnectionId } from '../transport/connection'
import type { Delivery, OutboundRouter } from '../transport/outboundRouter'
import type { ThreadId, ThreadSubscriptions } from './subscriptions'

type Held = { method: ServerNotificationMethod; params: unknown; broadcast: boolean }

export class ThreadEvents {
  /** thread -> joining connection -> what it will receive after its response. */
  private readonly joins = new Map<ThreadId, Map<ConnectionId, Held[]>>()

  constructor(
    private readonly router: OutboundRouter,
    private readonly subscriptions: ThreadSubscriptions,
  ) {}

  /** A turn or item event: subscribers only. */
  toSubscribers<M extends ServerNotificationMethod>(
    threadId: ThreadId,
    method: M,
    params: NotificationParams<M>,
  ): Delivery {
    const subscribers = this.subscriptions.subscribers(threadId)
    if (subscribers.size === 0) return undefined
    const joining = this.joins.get(threadId)
    if (!joining) return this.router.notify(subscribers, method, params)
    // Held params are copied: the runner mutates a streaming item after publishing it.
    const copy = structuredClone(params)
    for (const held of joining.values()) held.push({ method, params: copy, broadcast: false })
    return this.router.notify(
      [...subscribers].filter((id) => !joining.has(id)),
      method,
      params,
    )
  }

  /** A lifecycle event about one thread (status, name, closed): every initialized connection. */
  toAll<M extends ServerNotificationMethod>(
    threadId: ThreadId,
    method: M,
    params: NotificationParams<M>,
  ): Delivery {
    const joining = this.joins.get(threadId)
    if (!joining) return this.router.notify('all', method, params)
    const copy = structuredClone(params)
    for (const held of joining.values()) held.push({ method, params: copy, broadcast: true })
    const others: ConnectionId[] = []
    for (const connection of this.router.all()) if (!joining.has(connection.id)) others.push(connection.id)
    return this.router.notify(others, method, params)
  }

  /** True while `connection` waits for its resume response (requests reach it by replay instead). */
  isJoining(threadId: ThreadId, connection: ConnectionId): boolean {
    return this.joins.get(threadId)?.has(connection) ?? false
  }

  /** Starts holding the thread's events for `connection` (call when its snapshot is taken). */
  beginJoin(threadId: ThreadId, connection: ConnectionId): void {
    let joining = this.joins.get(threadId)
    if (!joining) this.joins.set(threadId, (joining = new Map()))
    joining.set(connection, [])
  }

  /**
   * Ends the window: `beforeRelease` runs first (replayed server requests go right after the
   * response), then the held events are sent in order.
   */
  completeJoin(threadId: ThreadId, connection: ConnectionId, beforeRelease?: () => void): void {
    const joining = this.joins.get(threadId)
    const held = joining?.get(connection)
    if (!joining || !held) return
    joining.delete(connection)
    if (joining.size === 0) this.joins.delete(threadId)
    beforeRelease?.()
    const stillSubscribed = this.subscriptions.isSubscribed(threadId, connection)
    for (const event of held) {
      if (!event.broadcast && !stillSubscribed) continue
      this.router.notify(connection, event.method, event.params as never)
    }
  }

  /** Drops the window without sending (the request failed, or the connection closed). */
  abortJoin(threadId: ThreadId, connection: ConnectionId): void {
    const joining = this.joins.get(threadId)
    if (!joining?.delete(connection)) return
    if (joining.size === 0) this.joins.delete(threadId)
  }

  connectionClosed(connection: ConnectionId): void {
    for (const threadId of [...this.joins.keys()]) this.abortJoin(threadId, connection)
  }
}
