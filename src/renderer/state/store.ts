/**
 * The renderer's state: threads and their statuses, the open thread's turns and items, approval
 * prompts, config diagnostics, account and connection. A reducer-like API (`applyNotification`,
 * `applyThreadSnapshot`, ...) fed by the session with notifications and responses; each change is
 * reported to subscribers as a small `Change` so a view can patch exactly what moved (a streaming
 * delta is an `append` of one item, never a re-render of the thread).
 *
 * The state itself, its types, the queries and the slices the session sets directly (connection,
 * account, notices, diagnostics, the thread list) are the base class in storeBase.ts; this file adds
 * the open thread: its snapshot, the notifications that grow its turns and items, and its prompts.
 *
 * Runtime-free and DOM-free (types only from the protocol): it runs under vitest as is. It must
 * never drop an item it has because a later message carries less (turn/completed is a summary), and
 * never show one item, turn or prompt twice (everything is keyed by id).
 */
import type { NotificationParams } from '../../worker/protocol/registry'
import { isSubAgentThread, requestKey, userMessageText, type Thread, type ThreadItem } from './model'
import { emptyAgentMessage, type Turn, type TurnError } from '../../worker/protocol/items'
import { addWarning } from './diagnosticsSet'
import {
  StoreBase,
  type Approval,
  type NewApproval,
  type StoreNotificationMethod,
  type ThreadView,
  type TurnView,
} from './storeBase'
import { turnDiffFromItems } from './turnDiff'

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

export class DeskStore extends StoreBase {
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
      case 'item/completed':
        return this.onItem(p)
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

  /** The open thread's view, when `threadId` is it. */
  private viewFor(threadId: string): ThreadView | undefined {
    const view = this.state.view
    return view?.threadId === threadId ? view : undefined
  }

  private addTurn(view: ThreadView, turn: Turn): TurnView {
    const turnView: TurnView = {
      id: turn.id,
      status: turn.status,
      error: turn.error,
      retrying: null,
      items: [],
      itemById: new Map(),
      diff: null,
    }
    for (const item of turn.items) {
      const copy = copyItem(item)
      turnView.items.push(copy)
      turnView.itemById.set(copy.id, copy)
    }
    // A past turn's diff is not stored with it: rebuilt from its file changes.
    if (turn.status !== 'inProgress') turnView.diff = turnDiffFromItems(turn.items, view.thread?.cwd ?? null)
    view.turns.push(turnView)
    view.turnById.set(turn.id, turnView)
    return turnView
  }

  /** turn/started (a new turn) or turn/completed (a summary: status and final messages, never fewer items). */
  private onTurn({ threadId, turn }: NotificationParams<'turn/started'>, completed: boolean): void {
    const at = (completed ? turn.completedAt : turn.startedAt) ?? turn.startedAt
    if (at) this.touchThread(threadId, at)
    const view = this.viewFor(threadId)
    if (!view) return
    const existing = view.turnById.get(turn.id)
    if (!existing) {
      const added = this.addTurn(view, turn as Turn)
      if (completed) this.clearTurnApprovals(added.id)
      return this.emit({ kind: 'turn', turnId: turn.id })
    }
    if (completed || existing.status !== turn.status) {
      existing.status = turn.status
      existing.error = (turn.error as TurnError | null) ?? null
      if (turn.status !== 'inProgress') existing.retrying = null
    }
    this.emit({ kind: 'turn', turnId: turn.id })
    for (const item of turn.items) this.upsertItem(view, existing, item as ThreadItem)
    if (completed) this.clearTurnApprovals(turn.id)
  }

  private clearTurnApprovals(turnId: string): void {
    let changed = false
    for (const [key, approval] of this.state.approvals) {
      if (approval.turnId === turnId) {
        this.state.approvals.delete(key)
        changed = true
      }
    }
    if (changed) this.emit({ kind: 'approvals' })
  }

  /** The turn an event names; created when the snapshot did not have it yet. */
  private turnFor(view: ThreadView, turnId: string): TurnView {
    const existing = view.turnById.get(turnId)
    if (existing) return existing
    const turn = this.addTurn(view, {
      id: turnId,
      rootTurnId: null,
      items: [],
      itemsView: 'notLoaded',
      status: 'inProgress',
      error: null,
      startedAt: null,
      completedAt: null,
      durationMs: null,
    })
    this.emit({ kind: 'turn', turnId })
    return turn
  }

  private upsertItem(view: ThreadView, turn: TurnView, item: ThreadItem): void {
    const copy = copyItem(item)
    const existing = turn.itemById.get(item.id)
    if (existing) {
      turn.items[turn.items.indexOf(existing)] = copy
    } else {
      turn.items.push(copy)
    }
    turn.itemById.set(copy.id, copy)
    this.emit({ kind: 'item', turnId: turn.id, itemId: copy.id })
    // A file change's prompt shows the item's diff.
    for (const approval of this.state.approvals.values()) {
      if (approval.itemId === copy.id && approval.threadId === view.threadId) {
        this.emit({ kind: 'approvals' })
        break
      }
    }
  }

  private onItem({ threadId, turnId, item }: NotificationParams<'item/started'>): void {
    const view = this.viewFor(threadId)
    if (!view) return
    this.upsertItem(view, this.turnFor(view, turnId), item as ThreadItem)
    if (item.type === 'userMessage')
      this.previewFrom(threadId, item as Extract<ThreadItem, { type: 'userMessage' }>)
  }

  /** A thread's preview is its first user message; the list learns it here instead of refetching. */
  private previewFrom(threadId: string, item: Extract<ThreadItem, { type: 'userMessage' }>): void {
    const text = userMessageText(item).trim()
    if (!text) return
    let changed = false
    for (const map of [this.state.threads, this.state.known]) {
      const thread = map.get(threadId)
      if (thread && !thread.preview) {
        map.set(threadId, { ...thread, preview: text })
        changed = true
      }
    }
    const view = this.state.view
    if (view?.threadId === threadId && view.thread && !view.thread.preview) {
      view.thread = { ...view.thread, preview: text }
      changed = true
    }
    if (changed) {
      this.emit({ kind: 'threads' })
      this.emit({ kind: 'viewMeta' })
    }
  }

  /**
   * A delta. Its item may be unknown: a rejoin's snapshot leaves out an item still streaming, and
   * its deltas then come with no item/started, so the item is created here.
   */
  private onDelta(
    p: { threadId: string; turnId: string; itemId: string; delta: string; summaryIndex?: number },
    type: 'agentMessage' | 'reasoning' | 'commandExecution',
  ): void {
    const view = this.viewFor(p.threadId)
    if (!view) return
    const turn = this.turnFor(view, p.turnId)
    let item = turn.itemById.get(p.itemId)
    if (!item) {
      item = placeholderItem(p.itemId, type)
      turn.items.push(item)
      turn.itemById.set(item.id, item)
      this.emit({ kind: 'item', turnId: turn.id, itemId: item.id })
    }
    if (item.type === 'agentMessage') {
      item.text += p.delta
    } else if (item.type === 'commandExecution') {
      item.aggregatedOutput = (item.aggregatedOutput ?? '') + p.delta
    } else if (item.type === 'reasoning') {
      const index = p.summaryIndex ?? 0
      while (item.summary.length <= index) item.summary.push('')
      item.summary[index] += p.delta
      // Only a delta to the last part grows the joined text at its end.
      if (index !== item.summary.length - 1) {
        return this.emit({ kind: 'item', turnId: turn.id, itemId: item.id })
      }
    } else {
      return
    }
    this.emit({ kind: 'append', turnId: turn.id, itemId: item.id })
  }

  private onSummaryPart(p: NotificationParams<'item/reasoning/summaryPartAdded'>): void {
    const view = this.viewFor(p.threadId)
    if (!view) return
    const turn = this.turnFor(view, p.turnId)
    let item = turn.itemById.get(p.itemId)
    if (!item) {
      item = placeholderItem(p.itemId, 'reasoning')
      turn.items.push(item)
      turn.itemById.set(item.id, item)
    }
    if (item.type !== 'reasoning') return
    while (item.summary.length <= p.summaryIndex) item.summary.push('')
    this.emit({ kind: 'item', turnId: turn.id, itemId: item.id })
  }

  private onDiff({ threadId, turnId, diff }: NotificationParams<'turn/diff/updated'>): void {
    const view = this.viewFor(threadId)
    if (!view) return
    this.turnFor(view, turnId).diff = diff
    this.emit({ kind: 'turn', turnId })
  }

  private onError({ threadId, turnId, error, willRetry }: NotificationParams<'error'>): void {
    const view = this.viewFor(threadId)
    if (!view) return
    const turn = this.turnFor(view, turnId)
    if (willRetry) turn.retrying = error.message
    else turn.error = error as TurnError
    this.emit({ kind: 'turn', turnId })
  }
}

/** A copy the store may grow in place (deltas) without touching the caller's object. */
function copyItem(item: ThreadItem): ThreadItem {
  const copy = { ...item } as ThreadItem
  if (copy.type === 'reasoning') copy.summary = [...copy.summary]
  return copy
}

function placeholderItem(id: string, type: 'agentMessage' | 'reasoning' | 'commandExecution'): ThreadItem {
  switch (type) {
    case 'agentMessage':
      return emptyAgentMessage(id)
    case 'reasoning':
      return { type, id, summary: [], content: [] }
    case 'commandExecution':
      return {
        type,
        id,
        command: '',
        cwd: '',
        processId: null,
        source: 'agent',
        status: 'inProgress',
        commandActions: [],
        aggregatedOutput: '',
        exitCode: null,
        durationMs: null,
      }
  }
}
