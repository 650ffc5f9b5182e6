/**
 * Who listens to which thread, and when a thread with no listener unloads.
 *
 * Two maps (thread -> connections, connection -> threads) change together, so a closed connection
 * leaves both at once. A thread whose last subscriber left unloads after `thread_unload_delay_secs`
 * of having no subscriber and no activity; a running turn or a pending server request (an approval
 * nobody answered yet) counts as activity, so such a thread never unloads.
 *
 * Listener tasks (whatever forwards a thread's events) carry a generation number: attaching a new
 * listener bumps it, and a stale task that finishes late can only clear its own generation, never a
 * newer listener's. This never sends anything itself; callers decide what to emit.
 */
import type { ConnectionId } from '../transport/connection'

export type ThreadId = string

export interface UnloadPolicy {
  /** Seconds with no subscriber and no activity before a thread unloads (read on each schedule). */
  delaySecs: () => number
  /** True while the thread has a running turn or a pending server request. */
  isBusy: (threadId: ThreadId) => boolean
  /** Unloads the thread (emits `notLoaded` then `thread/closed`). */
  unload: (threadId: ThreadId) => void
}

export class ThreadSubscriptions {
  private readonly byThread = new Map<ThreadId, Set<ConnectionId>>()
  private readonly byConnection = new Map<ConnectionId, Set<ThreadId>>()
  private readonly listeners = new Map<ThreadId, number>()
  private readonly unloadTimers = new Map<ThreadId, NodeJS.Timeout>()
  private nextGeneration = 1

  constructor(private readonly policy: UnloadPolicy) {}

  /** Subscribes `connection`; returns false when it already was. Cancels a pending unload. */
  subscribe(threadId: ThreadId, connection: ConnectionId): boolean {
    this.cancelUnload(threadId)
    const connections = this.byThread.get(threadId) ?? new Set()
    this.byThread.set(threadId, connections)
    if (connections.has(connection)) return false
    connections.add(connection)
    const threads = this.byConnection.get(connection) ?? new Set()
    threads.add(threadId)
    this.byConnection.set(connection, threads)
    return true
  }

  unsubscribe(threadId: ThreadId, connection: ConnectionId): 'unsubscribed' | 'notSubscribed' {
    if (!this.remove(threadId, connection)) return 'notSubscribed'
    this.maybeScheduleUnload(threadId)
    return 'unsubscribed'
  }

  /** Removes a closed connection from both maps; threads it leaves without subscribers may unload. */
  connectionClosed(connection: ConnectionId): ThreadId[] {
    const threads = [...(this.byConnection.get(connection) ?? [])]
    for (const threadId of threads) this.remove(threadId, connection)
    this.byConnection.delete(connection)
    for (const threadId of threads) this.maybeScheduleUnload(threadId)
    return threads
  }

  subscribers(threadId: ThreadId): ReadonlySet<ConnectionId> {
    return this.byThread.get(threadId) ?? EMPTY
  }

  threadsOf(connection: ConnectionId): ReadonlySet<ThreadId> {
    return this.byConnection.get(connection) ?? EMPTY
  }

  isSubscribed(threadId: ThreadId, connection: ConnectionId): boolean {
    return this.byThread.get(threadId)?.has(connection) ?? false
  }

  /** Activity (a turn ended, a request was answered): re-arms the unload clock if nobody listens. */
  activity(threadId: ThreadId): void {
    this.cancelUnload(threadId)
    this.maybeScheduleUnload(threadId)
  }

  /** Starts a listener generation for the thread; the returned number identifies it. */
  attachListener(threadId: ThreadId): number {
    const generation = this.nextGeneration++
    this.listeners.set(threadId, generation)
    return generation
  }

  /** True while `generation` is the thread's current listener. */
  isCurrentListener(threadId: ThreadId, generation: number): boolean {
    return this.listeners.get(threadId) === generation
  }

  /** Clears the listener only if it is still `generation`; a stale task cannot clear a newer one. */
  detachListener(threadId: ThreadId, generation: number): boolean {
    if (this.listeners.get(threadId) !== generation) return false
    this.listeners.delete(threadId)
    return true
  }

  /** Forgets the thread entirely (unloaded or archived); its subscribers stop hearing it. */
  removeThread(threadId: ThreadId): void {
    this.cancelUnload(threadId)
    for (const connection of this.byThread.get(threadId) ?? [])
      this.byConnection.get(connection)?.delete(threadId)
    this.byThread.delete(threadId)
    this.listeners.delete(threadId)
  }

  dispose(): void {
    for (const timer of this.unloadTimers.values()) clearTimeout(timer)
    this.unloadTimers.clear()
  }

  private remove(threadId: ThreadId, connection: ConnectionId): boolean {
    const connections = this.byThread.get(threadId)
    if (!connections?.delete(connection)) return false
    this.byConnection.get(connection)?.delete(threadId)
    return true
  }

  private maybeScheduleUnload(threadId: ThreadId): void {
    if (this.subscribers(threadId).size > 0 || this.unloadTimers.has(threadId)) return
    const timer = setTimeout(() => {
      this.unloadTimers.delete(threadId)
      // Checked when the timer fires, not when it was set: a turn may have started meanwhile.
      if (this.subscribers(threadId).size > 0) return
      if (this.policy.isBusy(threadId)) return
      this.policy.unload(threadId)
    }, this.policy.delaySecs() * 1000)
    timer.unref()
    this.unloadTimers.set(threadId, timer)
  }

  private cancelUnload(threadId: ThreadId): void {
    const timer = this.unloadTimers.get(threadId)
    if (timer) clearTimeout(timer)
    this.unloadTimers.delete(threadId)
  }
}

const EMPTY: ReadonlySet<never> = new Set()
