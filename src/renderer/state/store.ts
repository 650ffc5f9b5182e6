/**
 * The renderer's state: threads and their statuses, the open thread's turns and items, approval
 * prompts, config diagnostics, account and connection. A reducer-like API (`applyNotification`,
 * `applyThreadSnapshot`, ...) fed by the session with notifications and responses; each change is
 * reported to subscribers as a small `Change` so a view can patch exactly what moved (a streaming
 * delta is an `append` of one item, never a re-render of the thread).
 *
 * The state itself, its types, the queries and the slices the session sets directly (connection,
 * account, notices, diagnostics, the thread list) are the base class in storeBase.ts; the
 * notifications that grow the open thread's turns and items are its subclass in storeTurns.ts; this
 * file adds the open thread itself (open, close, its snapshot), its prompts, and the dispatch of
 * every notification the store takes.
 *
 * Runtime-free and DOM-free (types only from the protocol): it runs under vitest as is. It must
 * never drop an item it has because a later message carries less (turn/completed is a summary), and
 * never show one item, turn or prompt twice (everything is keyed by id).
 */
import type { NotificationParams } from '../../worker/protocol/registry'
import { isSubAgentThread, requestKey, type Thread } from './model'
import { addWarning } from './diagnosticsSet'
import type { Approval, NewApproval, StoreNotificationMethod } from './storeBase'
import { TurnsStore } from './storeTurns'

export {
  STORE_NOTIFICATIONS,
  type AccountState,
  type Approval,
  type Change,
  type DeskState,
  type ListFilter,
  type NewApproval,
  type Notice,
  type StoreNotificationMethod,
  type ThreadView,
  type TurnView,
} from './storeBase'

export class DeskStore extends TurnsStore {
  // ── the open thread ──────────────────────────────────────────────────────────────────────────

  /** Shows a thread (loading until its snapshot arrives). Opening the open one again keeps its turns. */
  openThread(threadId: string): void {
    if (this.state.openThreadId === threadId && this.state.view) return
    this.state.openThreadId = threadId
    this.state.view = {
      threadId,
      thread: this.state.threads.get(threadId) ?? this.state.known.get(threadId) ?? null,
      phase: 'loading',
      error: null,
      turns: [],
      turnById: new Map(),
    }
    this.emit({ kind: 'view' })
    this.emit({ kind: 'threads' })
    this.emit({ kind: 'approvals' })
  }

  closeThread(): void {
    if (!this.state.openThreadId) return
    this.state.openThreadId = null
    this.state.view = null
    this.emit({ kind: 'view' })
    this.emit({ kind: 'threads' })
    this.emit({ kind: 'approvals' })
  }

  /**
   * A thread as thread/resume (or thread/start, thread/read) returned it. For the open thread its
   * turns REPLACE what the view had: the snapshot holds everything up to the response, and the
   * events after it continue from there, so nothing is missing or doubled.
   */
  applyThreadSnapshot(thread: Thread): void {
    this.remember(thread, !isSubAgentThread(thread) || this.state.threads.has(thread.id))
    const view = this.state.view
    if (view?.threadId === thread.id) {
      view.thread = { ...thread, turns: [] }
      view.phase = 'ready'
      view.error = null
      view.turns = []
      view.turnById = new Map()
      for (const turn of thread.turns) this.addTurn(view, turn)
      // A prompt from before the snapshot that the thread no longer waits for is gone.
      if (!(thread.status.type === 'active' && thread.status.activeFlags.includes('waitingOnApproval'))) {
        this.dropStaleApprovals(thread.id)
      }
      this.emit({ kind: 'view' })
    }
    this.emit({ kind: 'threads' })
  }

  /**
   * An archived thread as thread/read returned it, opened to read: shown like a snapshot, marked
   * archived, and listed only while the list shows the archived threads.
   */
  applyArchivedSnapshot(thread: Thread): void {
    const view = this.state.view
    if (view?.threadId !== thread.id) return
    const listed = this.state.threads.has(thread.id)
    view.archived = true
    this.applyThreadSnapshot(thread)
    if (!listed && !this.state.listFilter.archived && this.state.threads.delete(thread.id)) {
      this.state.known.set(thread.id, { ...thread, turns: [] })
      this.sortedIds = null
      this.emit({ kind: 'threads' })
    }
  }

  threadLoadFailed(threadId: string, message: string): void {
    const view = this.state.view
    if (view?.threadId !== threadId) return
    view.phase = 'error'
    view.error = message
    this.emit({ kind: 'view' })
  }

  // ── approvals ────────────────────────────────────────────────────────────────────────────────

  /** A prompt arrived; a replay of one already shown (same request id) replaces it in place. */
  addApproval(approval: NewApproval): string {
    const key = requestKey(approval.requestId)
    this.state.approvals.set(key, { ...approval, key, stale: false } as Approval)
    this.emit({ kind: 'approvals' })
    return key
  }

  removeApproval(key: string): void {
    if (this.state.approvals.delete(key)) this.emit({ kind: 'approvals' })
  }

  /**
   * Stale prompts that no replay brought back: of one thread, or (`{except}`) of every thread but
   * one. A thread that is not open is not resumed on reconnect, so its prompts come back only when
   * it is opened again.
   */
  dropStaleApprovals(threadId?: string | { except: string | null }): void {
    const matches = (id: string) =>
      threadId === undefined || (typeof threadId === 'string' ? id === threadId : id !== threadId.except)
    let changed = false
    for (const [key, approval] of this.state.approvals) {
      if (approval.stale && matches(approval.threadId)) {
        this.state.approvals.delete(key)
        changed = true
      }
    }
    if (changed) this.emit({ kind: 'approvals' })
  }

  // ── notifications ────────────────────────────────────────────────────────────────────────────

  applyNotification<M extends StoreNotificationMethod>(method: M, params: NotificationParams<M>): void {
    const p = params as never
    switch (method) {
      case 'thread/started':
        return this.onThreadStarted(p)
      case 'thread/status/changed':
        return this.onThreadStatus(p)
      case 'thread/archived':
        return this.onThreadArchived(p)
      case 'thread/name/updated':
        return this.onThreadName(p)
      case 'turn/started':
        return this.onTurn(p, false)
      case 'turn/completed':
        return this.onTurn(p, true)
      case 'item/started':
        return this.onItem(p, false)
      case 'item/completed':
        return this.onItem(p, true)
      case 'item/agentMessage/delta':
        return this.onDelta(p, 'agentMessage')
      case 'item/reasoning/summaryTextDelta':
        return this.onDelta(p, 'reasoning')
      case 'item/reasoning/summaryPartAdded':
        return this.onSummaryPart(p)
      case 'item/commandExecution/outputDelta':
        return this.onDelta(p, 'commandExecution')
      case 'turn/diff/updated':
        return this.onDiff(p)
      case 'error':
        return this.onError(p)
      case 'serverRequest/resolved':
        return this.removeApproval(requestKey((p as NotificationParams<'serverRequest/resolved'>).requestId))
      case 'configWarning':
        return this.setDiagnostics(addWarning(this.state.diagnostics, p))
    }
  }

  private onThreadStarted({ thread }: NotificationParams<'thread/started'>): void {
    this.remember(thread as Thread, !isSubAgentThread(thread as Thread) && this.listIsUnfiltered())
    this.emit({ kind: 'threads' })
  }

  private onThreadStatus({ threadId, status }: NotificationParams<'thread/status/changed'>): void {
    this.state.statuses.set(threadId, status)
    for (const map of [this.state.threads, this.state.known]) {
      const thread = map.get(threadId)
      if (thread) map.set(threadId, { ...thread, status })
    }
    const view = this.state.view
    if (view?.threadId === threadId && view.thread) view.thread = { ...view.thread, status }
    this.emit({ kind: 'threads' })
    if (view?.threadId === threadId) this.emit({ kind: 'viewMeta' })
  }

  private onThreadArchived({ threadId }: NotificationParams<'thread/archived'>): void {
    const listed = this.state.threads.delete(threadId)
    this.sortedIds = null
    if (this.state.openThreadId === threadId) this.closeThread()
    if (listed) this.emit({ kind: 'threads' })
  }

  private onThreadName({ threadId, threadName }: NotificationParams<'thread/name/updated'>): void {
    for (const map of [this.state.threads, this.state.known]) {
      const thread = map.get(threadId)
      if (thread) map.set(threadId, { ...thread, name: threadName ?? null })
    }
    const view = this.state.view
    if (view?.threadId === threadId && view.thread) view.thread = { ...view.thread, name: threadName ?? null }
    this.emit({ kind: 'threads' })
    if (view?.threadId === threadId) this.emit({ kind: 'viewMeta' })
  }
}
