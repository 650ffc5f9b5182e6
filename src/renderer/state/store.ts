/**
 * The renderer's state: threads and their statuses, the open thread's turns and items, approval
 * prompts, config diagnostics, account and connection. A reducer-like API (`applyNotification`,
 * `applyThreadSnapshot`, ...) fed by the session with notifications and responses; each change is
 * reported to subscribers as a small `Change` so a view can patch exactly what moved (a streaming
 * delta is an `append` of one item, never a re-render of the thread).
 *
 * Runtime-free and DOM-free (types only from the protocol): it runs under vitest as is. It must
 * never drop an item it has because a later message carries less (turn/completed is a summary), and
 * never show one item, turn or prompt twice (everything is keyed by id).
 */
import type { DeskConfigWarnings } from '../../worker/protocol/deskDiagnostics'
import type { NotificationParams } from '../../worker/protocol/registry'
import type { Account } from '../../worker/protocol/account'
import type { AccountSummaryView, CoreStateView } from '../bridge'
import {
  compareNewestFirst,
  isSubAgentThread,
  requestKey,
  userMessageText,
  type ConnectionView,
  type RequestId,
  type Thread,
  type ThreadItem,
  type ThreadStatus,
  type TurnStatus,
} from './model'
import { emptyAgentMessage, type Turn, type TurnError } from '../../worker/protocol/items'
import {
  addWarning,
  dismissDiagnostic,
  EMPTY_DIAGNOSTICS,
  replaceDiagnostics,
  resetDiagnostics,
  withoutSet,
  type DiagnosticsSet,
} from './diagnosticsSet'
import { turnDiffFromItems } from './turnDiff'

export interface TurnView {
  id: string
  status: TurnStatus
  error: TurnError | null
  /** The message of an `error` notification with `willRetry: true`, until the turn moves on. */
  retrying: string | null
  items: ThreadItem[]
  itemById: Map<string, ThreadItem>
  /** The aggregated unified diff (`turn/diff/updated`). */
  diff: string | null
}

export interface ThreadView {
  threadId: string
  /** Metadata: from the list until the resume (or start) response brings the thread itself. */
  thread: Thread | null
  phase: 'loading' | 'ready' | 'error'
  error: string | null
  turns: TurnView[]
  turnById: Map<string, TurnView>
}

interface ApprovalBase {
  key: string
  requestId: RequestId
  threadId: string
  turnId: string
  itemId: string
  reason: string | null
  /** Its connection closed: it cannot be answered until the request is replayed after a resume. */
  stale: boolean
}

export type Approval =
  | (ApprovalBase & { kind: 'command'; command: string | null; cwd: string | null })
  | (ApprovalBase & { kind: 'fileChange'; grantRoot: string | null })

export type NewApproval =
  | Omit<Extract<Approval, { kind: 'command' }>, 'key' | 'stale'>
  | Omit<Extract<Approval, { kind: 'fileChange' }>, 'key' | 'stale'>

export interface AccountState {
  /** From the core's account/read; undefined until read. */
  core: Account | null | undefined
  /** From the app's token owner (bridge.account); null in a browser. */
  desktop: AccountSummaryView | null
  /** The last sign-in/out failure, for the user. */
  error: string | null
}

/** What the thread list shows: the active or the archived threads, optionally only those matching a search. */
export interface ListFilter {
  search: string
  archived: boolean
}

export interface Notice {
  id: number
  message: string
}

export interface DeskState {
  connection: ConnectionView
  core: CoreStateView | null
  /** Threads in the list, by id (see `listOrder` for the order). */
  threads: Map<string, Thread>
  /** More pages of thread/list remain (its `nextCursor`). */
  moreThreadsCursor: string | null
  /** The list's search and archived view (the thread/list request is made with them). */
  listFilter: ListFilter
  /** Threads seen but not listed (sub-agents, or one opened by id): titles for links. */
  known: Map<string, Thread>
  /** The last status of every thread heard of (thread/status/changed is broadcast). */
  statuses: Map<string, ThreadStatus>
  openThreadId: string | null
  view: ThreadView | null
  /** Pending approval prompts, in arrival order, by `requestKey`. */
  approvals: Map<string, Approval>
  /** Config problems and machine notices as the core has them now (diagnosticsSet.ts). */
  diagnostics: DiagnosticsSet
  account: AccountState
  notices: Notice[]
}

export type Change =
  | { kind: 'connection' }
  | { kind: 'core' }
  /** Membership, order, names or statuses of listed threads. */
  | { kind: 'threads' }
  /** The open thread changed, or its turns were replaced: render the thread view from scratch. */
  | { kind: 'view' }
  /** The open thread's title, status or parent. */
  | { kind: 'viewMeta' }
  /** A turn was added or its status, error or diff changed. */
  | { kind: 'turn'; turnId: string }
  /** An item was added or replaced. */
  | { kind: 'item'; turnId: string; itemId: string }
  /** An item's streaming text grew at its end (see streamTextOf). */
  | { kind: 'append'; turnId: string; itemId: string }
  | { kind: 'approvals' }
  | { kind: 'diagnostics' }
  | { kind: 'account' }
  | { kind: 'notices' }
  /** The composer's queue or draft changed (this tab or another): render the composer. */
  | { kind: 'composer' }

/** The notifications the store consumes, with their params. */
export const STORE_NOTIFICATIONS = [
  'thread/started',
  'thread/status/changed',
  'thread/archived',
  'thread/name/updated',
  'turn/started',
  'turn/completed',
  'item/started',
  'item/completed',
  'item/agentMessage/delta',
  'item/reasoning/summaryTextDelta',
  'item/reasoning/summaryPartAdded',
  'item/commandExecution/outputDelta',
  'turn/diff/updated',
  'error',
  'serverRequest/resolved',
  'configWarning',
] as const

export type StoreNotificationMethod = (typeof STORE_NOTIFICATIONS)[number]

const MAX_NOTICES = 5

export class DeskStore {
  readonly state: DeskState = {
    connection: { state: 'connecting' },
    core: null,
    threads: new Map(),
    moreThreadsCursor: null,
    listFilter: { search: '', archived: false },
    known: new Map(),
    statuses: new Map(),
    openThreadId: null,
    view: null,
    approvals: new Map(),
    diagnostics: EMPTY_DIAGNOSTICS,
    account: { core: undefined, desktop: null, error: null },
    notices: [],
  }
  private readonly listeners = new Set<(change: Change) => void>()
  private sortedIds: string[] | null = null
  private nextNoticeId = 1

  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private emit(change: Change): void {
    for (const listener of [...this.listeners]) listener(change)
  }

  // ── queries ──────────────────────────────────────────────────────────────────────────────────

  /** Listed thread ids, newest first. */
  listOrder(): string[] {
    this.sortedIds ??= [...this.state.threads.values()].sort(compareNewestFirst).map((t) => t.id)
    return this.sortedIds
  }

  /** A thread's metadata from wherever it is known. */
  thread(id: string): Thread | undefined {
    if (this.state.view?.threadId === id && this.state.view.thread) return this.state.view.thread
    return this.state.threads.get(id) ?? this.state.known.get(id)
  }

  statusOf(id: string): ThreadStatus {
    return this.state.statuses.get(id) ?? this.thread(id)?.status ?? { type: 'notLoaded' }
  }

  approvalsFor(threadId: string): Approval[] {
    return [...this.state.approvals.values()].filter((a) => a.threadId === threadId)
  }

  /** The open thread's running turn, if any (the last one in progress). */
  runningTurn(): TurnView | undefined {
    const turns = this.state.view?.turns ?? []
    for (let i = turns.length - 1; i >= 0; i--) if (turns[i]?.status === 'inProgress') return turns[i]
    return undefined
  }

  item(itemId: string): { turn: TurnView; item: ThreadItem } | undefined {
    for (const turn of this.state.view?.turns ?? []) {
      const item = turn.itemById.get(itemId)
      if (item) return { turn, item }
    }
    return undefined
  }

  // ── connection, core, account, notices ───────────────────────────────────────────────────────

  setConnection(connection: ConnectionView): void {
    this.state.connection = connection
    this.emit({ kind: 'connection' })
  }

  /** The connection closed: prompts it carried cannot be answered until they are replayed. */
  connectionLost(): void {
    let changed = false
    for (const approval of this.state.approvals.values()) {
      if (!approval.stale) {
        approval.stale = true
        changed = true
      }
    }
    if (changed) this.emit({ kind: 'approvals' })
  }

  setCore(core: CoreStateView | null): void {
    this.state.core = core
    this.emit({ kind: 'core' })
  }

  setCoreAccount(account: Account | null): void {
    this.state.account.core = account
    this.emit({ kind: 'account' })
  }

  setDesktopAccount(summary: AccountSummaryView | null): void {
    this.state.account.desktop = summary
    this.emit({ kind: 'account' })
  }

  setAccountError(message: string | null): void {
    this.state.account.error = message
    this.emit({ kind: 'account' })
  }

  addNotice(message: string): void {
    this.state.notices.push({ id: this.nextNoticeId++, message })
    if (this.state.notices.length > MAX_NOTICES) this.state.notices.shift()
    this.emit({ kind: 'notices' })
  }

  /** The session's composer queue changed (see state/composerQueue.ts). */
  composerChanged(): void {
    this.emit({ kind: 'composer' })
  }

  dismissNotice(id: number): void {
    this.state.notices = this.state.notices.filter((n) => n.id !== id)
    this.emit({ kind: 'notices' })
  }

  // ── diagnostics ──────────────────────────────────────────────────────────────────────────────

  /** A new connection is about to initialize: its configWarnings replace the old ones. */
  resetDiagnostics(expectSet = false): void {
    this.setDiagnostics(resetDiagnostics(this.state.diagnostics, expectSet))
  }

  /** The core did not give the whole set: its configWarnings are shown as they come. */
  diagnosticsSetUnavailable(): void {
    this.setDiagnostics(withoutSet(this.state.diagnostics))
  }

  /** The whole current set from the core: it replaces what was shown. */
  replaceDiagnostics(current: DeskConfigWarnings): void {
    this.setDiagnostics(replaceDiagnostics(this.state.diagnostics, current))
  }

  /** Hides one entry until it changes. */
  dismissDiagnostic(key: string): void {
    this.setDiagnostics(dismissDiagnostic(this.state.diagnostics, key))
  }

  private setDiagnostics(next: DiagnosticsSet): void {
    const before = this.state.diagnostics
    if (next === before) return
    this.state.diagnostics = next
    if (next.entries !== before.entries || next.dismissed !== before.dismissed)
      this.emit({ kind: 'diagnostics' })
  }

  // ── thread list ──────────────────────────────────────────────────────────────────────────────

  /** The first page of thread/list: replaces the list (a reconnect sees what changed meanwhile). */
  replaceThreadList(threads: Thread[], nextCursor: string | null): void {
    this.state.threads.clear()
    this.addThreadPage(threads, nextCursor)
  }

  /** A further page of thread/list. */
  addThreadPage(threads: Thread[], nextCursor: string | null): void {
    for (const thread of threads) this.remember(thread, true)
    this.state.moreThreadsCursor = nextCursor
    this.sortedIds = null
    this.emit({ kind: 'threads' })
    if (this.state.openThreadId && this.state.threads.has(this.state.openThreadId)) {
      this.emit({ kind: 'viewMeta' })
    }
  }

  /** The list now shows other threads (a search, the archived view); the session reloads it. */
  setListFilter(filter: ListFilter): void {
    this.state.listFilter = filter
    this.emit({ kind: 'threads' })
  }

  /** The list shows what thread/list returns unfiltered: new threads join it as they start. */
  private listIsUnfiltered(): boolean {
    return !this.state.listFilter.archived && this.state.listFilter.search.trim() === ''
  }

  /** A row leaves the list (unarchived from the archived view, ...). */
  dropFromList(threadId: string): void {
    if (!this.state.threads.delete(threadId)) return
    this.sortedIds = null
    this.emit({ kind: 'threads' })
  }

  /**
   * The thread's last activity moved (a turn started or ended; its time as the core reported it):
   * the list shows last activity, as thread/list's `updatedAt` does.
   */
  touchThread(threadId: string, updatedAt: number): void {
    let changed = false
    for (const map of [this.state.threads, this.state.known]) {
      const thread = map.get(threadId)
      if (thread && updatedAt > thread.updatedAt) {
        map.set(threadId, { ...thread, updatedAt })
        changed = true
      }
    }
    const view = this.state.view
    if (view?.threadId === threadId && view.thread && updatedAt > view.thread.updatedAt) {
      view.thread = { ...view.thread, updatedAt }
    }
    if (changed) this.emit({ kind: 'threads' })
  }

  /** Stores a thread's metadata (without turns) and its status. */
  private remember(thread: Thread, listed: boolean): void {
    const meta: Thread = thread.turns.length ? { ...thread, turns: [] } : thread
    if (listed) this.state.threads.set(meta.id, meta)
    else if (this.state.threads.has(meta.id)) this.state.threads.set(meta.id, meta)
    else this.state.known.set(meta.id, meta)
    this.state.statuses.set(meta.id, meta.status)
    this.sortedIds = null
  }

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
