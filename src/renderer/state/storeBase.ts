/**
 * The store's state and its types (store.ts adds the open thread: its snapshot, the notifications
 * that grow its turns and items, and its approval prompts): the subscription, the queries views
 * read, and the slices the session sets directly (connection, core, account, notices, config
 * diagnostics, the thread list). Runtime-free and DOM-free; every change is emitted as a `Change`.
 */
import type { DeskConfigWarnings } from '../../worker/protocol/deskDiagnostics'
import type { Account } from '../../worker/protocol/account'
import type { TurnError } from '../../worker/protocol/items'
import type { AccountSummaryView, CoreStateView } from '../bridge'
import {
  compareNewestFirst,
  type ConnectionView,
  type RequestId,
  type Thread,
  type ThreadItem,
  type ThreadStatus,
  type TurnStatus,
} from './model'
import {
  dismissDiagnostic,
  EMPTY_DIAGNOSTICS,
  replaceDiagnostics,
  resetDiagnostics,
  withoutSet,
  type DiagnosticsSet,
} from './diagnosticsSet'

export interface TurnView {
  id: string
  status: TurnStatus
  error: TurnError | null
  /** The message of an `error` notification with `willRetry: true`, until the turn moves on. */
  retrying: string | null
  items: ThreadItem[]
  itemById: Map<string, ThreadItem>
  /** Items started and not completed yet: a retried model stream drops its unfinished answer. */
  unfinished: Set<string>
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
  /** Opened from the archived view to read it (archivedThread.ts): no new turn until unarchived. */
  archived?: boolean
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

export class StoreBase {
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
  protected sortedIds: string[] | null = null
  private nextNoticeId = 1

  subscribe(listener: (change: Change) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  protected emit(change: Change): void {
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

  protected setDiagnostics(next: DiagnosticsSet): void {
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
  protected listIsUnfiltered(): boolean {
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
  protected remember(thread: Thread, listed: boolean): void {
    const meta: Thread = thread.turns.length ? { ...thread, turns: [] } : thread
    if (listed) this.state.threads.set(meta.id, meta)
    else if (this.state.threads.has(meta.id)) this.state.threads.set(meta.id, meta)
    else this.state.known.set(meta.id, meta)
    this.state.statuses.set(meta.id, meta.status)
    this.sortedIds = null
  }
}
