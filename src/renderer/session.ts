/**
 * The session: one AppServerClient at a time over whatever channel `openChannel` gives (a
 * MessagePort in the app, a websocket in a browser), kept alive with reconnects, and the user's
 * actions (open, start, send, interrupt, archive, rename, answer a prompt) as protocol requests.
 * It feeds the store; views call it and never touch the client.
 *
 * On every (re)connection: initialize, thread/list, and thread/resume of the open thread, whose
 * turns replace the view's in frame order (AppServerClient `onResult`), so a running turn goes on
 * with nothing missing or doubled. Runtime-free (no DOM, no Node): the integration tests drive it
 * against a real core. A failed request is a notice for the user, never an uncaught error.
 *
 * The composer's messages go through a queue kept in the window's storage (state/composerQueue.ts):
 * Enter queues, and the queue is pumped whenever the thread may take a turn (one message per turn,
 * in order, sent with its id as the client message id so a reload never sends one twice); Steer
 * hands text to the running turn and takes it back into the queue if the turn ends unread.
 */
import { AppServerClient, type ClientChannel, type ServerRequestContext } from '../worker/protocol/client'
import { backoffDelayMs } from '../worker/util/retry'
import { ComposerQueue } from './state/composerQueue'
import type { ConnectionCause, ThreadItem } from './state/model'
import { STORE_NOTIFICATIONS, type DeskStore, type ListFilter } from './state/store'
import { defaultFolder, ThreadSettingsState, type FolderStorage } from './state/threadSettings'

export type Decision = 'accept' | 'acceptForSession' | 'decline'

/** The slice of Web Storage the session uses (sessionStorage in a page). */
export interface KeyValueStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

export interface SessionOptions {
  store: DeskStore
  /** Opens one connection; rejects with a readable reason when it cannot. */
  openChannel: () => Promise<ClientChannel>
  /** Remembers the open thread across a page reload. */
  storage?: KeyValueStorage | null
  /** Remembers recent working folders (localStorage in a page, which is the default there). */
  recentFolders?: FolderStorage | null
  clientVersion: string
  /** Reconnect delays (util/retry's policy); RECONNECT_BACKOFF by default. */
  backoff?: { baseMs?: number; capMs?: number; jitter?: number }
  random?: () => number
  requestTimeoutMs?: number
  /** How long a prompt from a closed connection may wait for its replay after a resume. */
  staleApprovalGraceMs?: number
  /** Queued messages and drafts (localStorage in a page); in memory for this window by default. */
  composerQueue?: ComposerQueue
}

export const OPEN_THREAD_KEY = 'codex-desk.openThread'
export const CLIENT_NAME = 'codex_desk_ui'
const THREAD_PAGE = 100
/** A working folder the core refused because it is not there (any more). */
const NO_FOLDER = /does not exist|is not a folder/
/** Errors that mean the remembered thread is gone for good (not a passing failure). */
const GONE = /no rollout found|invalid thread id|thread not loaded/

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** What an approval prompt shows besides the request's thread, turn, item and reason. */
type ApprovalDetails =
  | { kind: 'command'; command: string | null; cwd: string | null }
  | { kind: 'fileChange'; grantRoot: string | null }

/** How often this tab says it is alive, so other tabs leave its queued messages to it. */
const HEARTBEAT_MS = 10_000

/** A fresh id (a queued message's, a tab's). */
export function newId(): string {
  return globalThis.crypto.randomUUID()
}

/** The client message ids the turns' user messages carry back. */
function shownClientIds(turns: readonly { items: readonly ThreadItem[] }[]): Set<string> {
  const ids = new Set<string>()
  for (const turn of turns) {
    for (const item of turn.items) if (item.type === 'userMessage' && item.clientId) ids.add(item.clientId)
  }
  return ids
}

/** Reconnect after 250 ms, doubling to 5 s, ±25% so tabs that lost the core together spread out. */
export const RECONNECT_BACKOFF = { baseMs: 250, capMs: 5000, jitter: 0.25 } as const

export class DeskSession {
  readonly store: DeskStore
  /** Each thread's folder, model and effort, the model catalog and the recent folders. */
  readonly threadSettings: ThreadSettingsState
  private client: AppServerClient | null = null
  /** Why the last thread/start failed (for the folder form), null after one succeeded. */
  lastStartError: string | null = null
  /** A thread/start in flight (newThread), which a Send made meanwhile waits for. */
  private startingThread: Promise<string | null> | null = null
  private initialized = new WeakSet<AppServerClient>()
  private readonly modelsAskedOn = new WeakSet<AppServerClient>()
  private attempt = 0
  private everConnected = false
  private lastLoss: { code: number; reason: string } | null = null
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private connecting = 0
  private disposed = false
  private readonly responders = new Map<string, (decision: Decision) => void>()
  private readonly staleTimers = new Set<ReturnType<typeof setTimeout>>()
  private readonly backoff: { baseMs: number; capMs: number; jitter: number }
  /** Queued messages, steers on their way and drafts, per thread (state/composerQueue.ts). */
  readonly queue: ComposerQueue
  /** Queued messages whose turn/start is in flight, and the threads they go to. */
  private readonly sendingIds = new Set<string>()
  private readonly sendingThreads = new Set<string>()
  /** Threads a queued message just started a turn in, until the thread is seen running (turn id). */
  private readonly awaitingStart = new Map<string, string>()
  /** Threads this window queued for: pumped even when not open. */
  private readonly queuedThreads = new Set<string>()
  /** Queued messages being edited: not sent (nor anything after them) until the edit ends. */
  private readonly held = new Set<string>()
  private pumpScheduled = false
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined
  /** The latest thread/list of the first page; an older answer (a previous search) is dropped. */
  private listGeneration = 0

  constructor(private readonly options: SessionOptions) {
    this.store = options.store
    this.threadSettings = new ThreadSettingsState(
      options.recentFolders !== undefined ? options.recentFolders : pageLocalStorage(),
    )
    this.backoff = { ...RECONNECT_BACKOFF, ...options.backoff }
    this.queue = options.composerQueue ?? new ComposerQueue({ storage: null, tabId: newId(), newId })
    const remembered = options.storage?.getItem(OPEN_THREAD_KEY)
    if (remembered) this.store.openThread(remembered)
    // After a reload: this tab's queued messages of threads not open still go once those are idle.
    for (const threadId of this.queue.threadsWithMine()) this.queuedThreads.add(threadId)
    this.store.subscribe((change) => {
      if (['threads', 'view', 'turn', 'item'].includes(change.kind)) this.schedulePump()
      else if (change.kind === 'connection') {
        if (!this.connected) this.awaitingStart.clear()
        this.schedulePump()
      }
    })
  }

  /** Connected and initialized right now. */
  get connected(): boolean {
    return this.client !== null && this.initialized.has(this.client)
  }

  start(): void {
    this.queue.heartbeat()
    this.heartbeatTimer = setInterval(() => this.queue.heartbeat(), HEARTBEAT_MS)
    void this.connect()
  }

  /** Drops the current connection (if any) and connects at once, e.g. when the core restarted. */
  reconnectNow(): void {
    if (this.disposed) return
    const old = this.client
    this.client = null
    if (old) {
      this.store.connectionLost()
      this.responders.clear()
      old.close()
    }
    this.attempt = 0
    void this.connect()
  }

  dispose(): void {
    this.disposed = true
    clearTimeout(this.retryTimer)
    clearInterval(this.heartbeatTimer)
    for (const timer of this.staleTimers) clearTimeout(timer)
    const client = this.client
    this.client = null
    client?.close()
  }

  // ── the connection ───────────────────────────────────────────────────────────────────────────

  private async connect(): Promise<void> {
    clearTimeout(this.retryTimer)
    if (this.disposed) return
    const attempt = ++this.connecting
    if (!this.everConnected && this.attempt === 0) this.store.setConnection({ state: 'connecting' })
    let channel: ClientChannel
    try {
      channel = await this.options.openChannel()
    } catch (error) {
      if (attempt === this.connecting && !this.disposed)
        this.retry({ kind: 'refused', message: messageOf(error) })
      return
    }
    if (attempt !== this.connecting || this.disposed) {
      channel.close()
      return
    }
    const client = new AppServerClient(channel, { requestTimeoutMs: this.options.requestTimeoutMs ?? 30_000 })
    this.client = client
    this.wire(client)
    let refusal: string | undefined
    client.onClose((info) => this.lost(client, info, refusal))
    // The core answers with the whole current set of problems (readDiagnostics): wait for it.
    this.store.resetDiagnostics(true)
    try {
      const init = await client.initialize({
        clientInfo: { name: CLIENT_NAME, title: 'codex-desk', version: this.options.clientVersion },
        capabilities: { experimentalApi: true },
      })
      if (this.client !== client) return
      this.initialized.add(client)
      this.attempt = 0
      this.everConnected = true
      this.store.setConnection({ state: 'connected', userAgent: init.userAgent })
      this.store.dropStaleApprovals({ except: this.store.state.openThreadId })
    } catch (error) {
      if (this.client !== client || client.closedWith) return
      refusal = `the core refused the connection: ${messageOf(error)}`
      client.close()
      return
    }
    await Promise.all([
      this.loadThreads(client),
      this.readAccount(client),
      this.resumeOpenThread(client),
      this.readDiagnostics(client),
    ])
  }

  /** The current config problems and machine notices; every change of them follows as a whole set. */
  private async readDiagnostics(client: AppServerClient): Promise<void> {
    try {
      await client.request('desk/configWarnings/read', undefined, {
        onResult: (set) => {
          if (this.client === client) this.store.replaceDiagnostics(set)
        },
      })
    } catch {
      if (this.client === client) this.store.diagnosticsSetUnavailable()
    }
  }

  private lost(client: AppServerClient, info: { code: number; reason: string }, refusal?: string): void {
    if (this.client !== client) return
    this.client = null
    this.store.connectionLost()
    this.responders.clear()
    if (this.disposed) return
    if (this.initialized.has(client)) this.lastLoss = info
    const cause: ConnectionCause = this.everConnected
      ? { kind: 'lost', ...(this.lastLoss ?? info) }
      : { kind: 'refused', message: refusal ?? `the connection closed (${info.code} ${info.reason})`.trim() }
    this.retry(cause)
  }

  private retry(cause: ConnectionCause): void {
    if (this.disposed) return
    if (cause.kind === 'refused' && this.everConnected && this.lastLoss) {
      cause = { kind: 'lost', ...this.lastLoss }
    }
    const delay = backoffDelayMs(++this.attempt, this.backoff, this.options.random)
    this.store.setConnection({ state: 'reconnecting', cause, retryInMs: delay })
    clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => void this.connect(), delay)
  }

  private wire(client: AppServerClient): void {
    for (const method of STORE_NOTIFICATIONS) {
      client.onNotification(method, (params) => this.store.applyNotification(method, params))
    }
    client.onNotification('account/updated', () => void this.readAccount(client))
    client.onNotification('desk/configWarnings/changed', (set) => this.store.replaceDiagnostics(set))
    client.onNotification('thread/unarchived', () => void this.loadThreads(client))
    client.onNotification('thread/archived', () => {
      if (this.store.state.listFilter.archived) void this.loadThreads(client)
    })
    // A turn ended in a thread (open or not): its row shows the time of that activity.
    client.onNotification('thread/status/changed', ({ threadId, status }) => {
      if (status.type !== 'active' && this.store.state.threads.has(threadId)) {
        void this.refreshActivity(client, threadId)
      }
    })
    client.onNotification('thread/settings/updated', (params) =>
      this.threadSettings.fromUpdate(params.threadId, params.threadSettings),
    )
    // What a turn ran with can follow config.toml (a thread started on a broken file): read it again.
    for (const method of ['turn/started', 'turn/completed'] as const) {
      client.onNotification(method, (params) => void this.refreshThreadSettings(client, params.threadId))
    }
    client.onNotification('warning', (params) => {
      const open = this.store.state.openThreadId
      if (!params.threadId || params.threadId === open) this.store.addNotice(params.message)
    })
    client.handleRequest('item/commandExecution/requestApproval', (params, context) =>
      this.awaitDecision(context, params, {
        kind: 'command',
        command: params.command ?? null,
        cwd: params.cwd ?? null,
      }),
    )
    client.handleRequest('item/fileChange/requestApproval', (params, context) =>
      this.awaitDecision(context, params, { kind: 'fileChange', grantRoot: params.grantRoot ?? null }),
    )
  }

  /** Shows the prompt and waits for the person; the client drops the wait if it is resolved elsewhere. */
  private awaitDecision(
    context: ServerRequestContext,
    params: { threadId: string; turnId: string; itemId: string; reason?: string | null },
    details: ApprovalDetails,
  ): Promise<{ decision: Decision }> {
    const { threadId, turnId, itemId } = params
    const key = this.store.addApproval({
      ...details,
      requestId: context.id,
      threadId,
      turnId,
      itemId,
      reason: params.reason ?? null,
    })
    return new Promise((resolve, reject) => {
      const responder = (decision: Decision) => resolve({ decision })
      this.responders.set(key, responder)
      context.signal.addEventListener(
        'abort',
        () => {
          if (this.responders.get(key) === responder) this.responders.delete(key)
          reject(new Error('the request was resolved elsewhere'))
        },
        { once: true },
      )
    })
  }

  /** thread/list's filter params for the list's current search and view. */
  private listParams(): { archived?: boolean; searchTerm?: string } {
    const { search, archived } = this.store.state.listFilter
    const term = search.trim()
    return { ...(archived ? { archived: true } : {}), ...(term ? { searchTerm: term } : {}) }
  }

  private async loadThreads(client: AppServerClient): Promise<void> {
    const generation = ++this.listGeneration
    try {
      await client.request(
        'thread/list',
        { limit: THREAD_PAGE, sortKey: 'created_at', sortDirection: 'desc', ...this.listParams() },
        {
          onResult: (r) => {
            if (generation === this.listGeneration) this.store.replaceThreadList(r.data, r.nextCursor)
          },
        },
      )
    } catch (error) {
      this.fail('Could not load the threads', error, client, true)
    }
  }

  /** Reads a thread's metadata again for its last activity (no turns). */
  private async refreshActivity(client: AppServerClient, threadId: string): Promise<void> {
    try {
      const { thread } = await client.request('thread/read', { threadId, includeTurns: false })
      this.store.touchThread(threadId, thread.updatedAt)
    } catch {
      // The next list load brings it; a passing failure is not worth a notice.
    }
  }

  /** Shows the active or archived threads, optionally only those whose name or preview matches. */
  async setListFilter(filter: Partial<ListFilter>): Promise<void> {
    const next = { ...this.store.state.listFilter, ...filter }
    const current = this.store.state.listFilter
    if (next.search === current.search && next.archived === current.archived) return
    this.store.setListFilter(next)
    const client = this.client
    if (client && this.initialized.has(client)) await this.loadThreads(client)
  }

  private async readAccount(client: AppServerClient): Promise<void> {
    try {
      const { account } = await client.request('account/read', {})
      this.store.setCoreAccount(account)
    } catch (error) {
      this.fail('Could not read the account', error, client, true)
    }
  }

  private async resumeOpenThread(client: AppServerClient): Promise<void> {
    const open = this.store.state.openThreadId
    if (open) await this.resume(client, open)
  }

  private async resume(client: AppServerClient, threadId: string): Promise<void> {
    try {
      await client.request(
        'thread/resume',
        { threadId },
        {
          onResult: (r) => {
            this.threadSettings.fromResponse(threadId, r)
            if (this.store.state.openThreadId === threadId) this.store.applyThreadSnapshot(r.thread)
          },
        },
      )
      // Prompts replayed after the response replace their stale copies; the rest were answered meanwhile.
      const timer = setTimeout(() => {
        this.staleTimers.delete(timer)
        if (this.client === client) this.store.dropStaleApprovals(threadId)
      }, this.options.staleApprovalGraceMs ?? 1500)
      this.staleTimers.add(timer)
    } catch (error) {
      if (client.closedWith || this.store.state.openThreadId !== threadId) return
      const message = messageOf(error)
      this.store.threadLoadFailed(threadId, `Could not open the thread: ${message}`)
      if (GONE.test(message)) this.options.storage?.removeItem(OPEN_THREAD_KEY)
    }
  }

  /**
   * A request failed: tell the user. Background loads stay quiet when the connection closed (the
   * indicator says so, and they run again on reconnect); what the user asked for never does.
   */
  private fail(what: string, error: unknown, client: AppServerClient, background = false): void {
    if (background && client.closedWith) return
    this.store.addNotice(`${what}: ${messageOf(error)}`)
  }

  private requireClient(what: string): AppServerClient | null {
    const client = this.client
    if (client && this.initialized.has(client)) return client
    this.store.addNotice(`${what}: not connected to the core.`)
    return null
  }

  private unsubscribe(client: AppServerClient, threadId: string | null): void {
    if (!threadId) return
    // Its badge stays live (status changes are broadcast); its events stop until it is opened again.
    void client.request('thread/unsubscribe', { threadId }).catch(() => undefined)
  }

  // ── actions ──────────────────────────────────────────────────────────────────────────────────

  async openThread(threadId: string): Promise<void> {
    const previous = this.store.state.openThreadId
    if (previous === threadId && this.store.state.view?.phase !== 'error') return
    this.store.closeThread()
    this.store.openThread(threadId)
    this.options.storage?.setItem(OPEN_THREAD_KEY, threadId)
    const client = this.client
    if (!client || !this.initialized.has(client)) return // resumed once connected
    if (previous !== threadId) this.unsubscribe(client, previous)
    await this.resume(client, threadId)
  }

  /**
   * thread/start with no overrides; the new thread opens. Resolves with its id, or null on failure.
   * The thread open before is left at once, so the view and the composer belong to the thread being
   * started; a second call (or a Send) while it starts waits for the same thread instead of starting
   * another.
   */
  newThread(cwd?: string | null): Promise<string | null> {
    this.startingThread ??= this.startThread(cwd).finally(() => (this.startingThread = null))
    return this.startingThread
  }

  /**
   * In `cwd`, or else the most recent folder (a remembered one that is gone is forgotten and the
   * core's own folder used), or else the core's own.
   */
  private async startThread(cwd?: string | null): Promise<string | null> {
    const folder = cwd === undefined ? defaultFolder(this.threadSettings) : cwd
    const started = await this.startThreadIn(folder, cwd !== undefined)
    if (started !== 'gone' || !folder) return started === 'gone' ? null : started
    this.threadSettings.forgetFolder(folder)
    return this.startThreadIn(null, false).then((id) => (id === 'gone' ? null : id))
  }

  private async startThreadIn(cwd: string | null, chosen: boolean): Promise<string | null | 'gone'> {
    const client = this.requireClient('Could not start a thread')
    if (!client) return null
    const previous = this.store.state.openThreadId
    this.store.closeThread()
    if (previous) {
      this.options.storage?.removeItem(OPEN_THREAD_KEY)
      this.unsubscribe(client, previous)
    }
    try {
      const { thread } = await client.request('thread/start', cwd ? { cwd } : {}, {
        onResult: (r) => {
          this.threadSettings.fromResponse(r.thread.id, r)
          // Unless the user picked another thread meanwhile, the new one opens.
          if (this.store.state.openThreadId !== null) return
          this.store.openThread(r.thread.id)
          this.store.applyThreadSnapshot(r.thread)
        },
      })
      if (cwd) this.threadSettings.rememberFolder(cwd)
      this.lastStartError = null
      if (this.store.state.openThreadId === thread.id) {
        this.options.storage?.setItem(OPEN_THREAD_KEY, thread.id)
      }
      return thread.id
    } catch (error) {
      if (cwd && !chosen && NO_FOLDER.test(messageOf(error))) return 'gone'
      this.lastStartError = messageOf(error)
      if (chosen && NO_FOLDER.test(this.lastStartError)) return null // the folder form shows it
      this.fail('Could not start a thread', error, client)
      return null
    }
  }

  /** Starts a turn with the text (in a new thread when none is open). False when it failed. */
  async sendMessage(text: string): Promise<boolean> {
    const client = this.requireClient('Could not send the message')
    if (!client) return false
    // A thread being started (New thread, then Send at once) is the one the message goes to.
    const threadId =
      (this.startingThread ? await this.startingThread : this.store.state.openThreadId) ??
      (await this.newThread())
    if (!threadId) return false
    try {
      await client.request(
        'turn/start',
        { threadId, input: [{ type: 'text', text, text_elements: [] }] },
        { onResult: (r) => this.store.applyNotification('turn/started', { threadId, turn: r.turn }) },
      )
      return true
    } catch (error) {
      this.fail('Could not send the message', error, client)
      return false
    }
  }

  // ── the composer: queue, steer, retry ─────────────────────────────────────────────────────────

  /**
   * What Enter does. With no thread open, starts one with the text (sendMessage). Otherwise the
   * text is queued for the open thread (kept in the window's storage) and goes out as the next turn
   * as soon as the thread is idle: at once when it already is. False when nothing was sent or kept.
   */
  async submit(text: string): Promise<boolean> {
    const threadId = this.startingThread ? null : this.store.state.openThreadId
    if (!threadId) return this.sendMessage(text)
    this.queue.add(threadId, text)
    this.queuedThreads.add(threadId)
    this.store.composerChanged()
    await this.pump(threadId)
    return true
  }

  /**
   * Gives the text to the open thread's running turn (the model reads it at its next step). It is
   * kept until the thread shows it: if the turn ends first (Interrupt), it is queued for the next
   * turn instead, so it is never lost. With no running turn, this is `submit`.
   */
  async steer(text: string): Promise<boolean> {
    const threadId = this.store.state.openThreadId
    const turn = this.store.runningTurn()
    if (!threadId || !turn) return this.submit(text)
    const client = this.requireClient('Could not send the message to the running turn')
    if (!client) return false
    const entry = this.queue.addSteered(threadId, text, turn.id)
    this.queuedThreads.add(threadId)
    this.store.composerChanged()
    try {
      await client.request('turn/steer', {
        threadId,
        expectedTurnId: turn.id,
        input: [{ type: 'text', text, text_elements: [] }],
        clientUserMessageId: entry.id,
      })
    } catch {
      // The turn ended meanwhile (or the connection closed: reconciled once the thread is back).
      if (!client.closedWith) this.queue.unsend(threadId, entry.id)
      this.store.composerChanged()
    }
    this.schedulePump()
    return true
  }

  /** Changes a queued message's text. */
  editQueued(threadId: string, id: string, text: string): void {
    if (!text.trim()) return this.removeQueued(threadId, id)
    if (this.queue.edit(threadId, id, text)) this.store.composerChanged()
  }

  removeQueued(threadId: string, id: string): void {
    this.held.delete(id)
    if (this.queue.remove(threadId, id)) this.store.composerChanged()
  }

  /** Holds a queued message while it is edited (`on`), or lets it go again. */
  holdQueued(id: string, on: boolean): void {
    if (on) this.held.add(id)
    else if (this.held.delete(id)) this.schedulePump()
  }

  /** Another window changed the queue or a draft (a `storage` event): show it, send what is ours. */
  queueChangedElsewhere(): void {
    this.store.composerChanged()
    this.schedulePump()
  }

  /** The user message of a turn, as text: what Retry sends again. */
  turnMessage(turnId: string): string | null {
    const turn = this.store.state.view?.turnById.get(turnId)
    const texts: string[] = []
    for (const item of turn?.items ?? []) {
      if (item.type !== 'userMessage') continue
      for (const input of item.content) if (input.type === 'text') texts.push(input.text)
    }
    return texts.length ? texts.join('\n\n') : null
  }

  /** Sends the user message of a failed turn again, as a new turn (queued if one runs). */
  async retryTurn(turnId: string): Promise<boolean> {
    const text = this.turnMessage(turnId)
    if (!text) return false
    return this.submit(text)
  }

  /** Whether the thread may not take a new turn now (one runs, or is being started by this window). */
  private busy(threadId: string): boolean {
    if (this.sendingThreads.has(threadId)) return true
    const awaited = this.awaitingStart.get(threadId)
    if (awaited !== undefined) {
      const view = this.store.state.view
      const seen = view?.threadId === threadId ? view.turnById.get(awaited) : undefined
      if (this.store.statusOf(threadId).type === 'active' || (seen && seen.status !== 'inProgress')) {
        this.awaitingStart.delete(threadId)
      } else return true
    }
    if (this.store.statusOf(threadId).type === 'active') return true
    return this.store.state.openThreadId === threadId && this.store.runningTurn() !== undefined
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.disposed) return
    this.pumpScheduled = true
    queueMicrotask(() => {
      this.pumpScheduled = false
      const open = this.store.state.openThreadId
      const threads = new Set(this.queuedThreads)
      if (open) threads.add(open)
      for (const threadId of threads) void this.pump(threadId)
    })
  }

  /**
   * Squares the thread's queue with what the thread shows, then, when the thread is idle, sends
   * the first queued message of this window as a new turn (one per turn, in order). A message is
   * marked as on its way in storage before the request and removed once the core took it; a reload
   * in between finds it in the thread (its client message id) or sends it again once idle.
   */
  private async pump(threadId: string): Promise<void> {
    const client = this.client
    if (!client || !this.initialized.has(client) || this.disposed) return
    const view = this.store.state.view
    const open = view?.threadId === threadId ? view : null
    if (view?.threadId === threadId && view.phase !== 'ready') return
    const status = this.store.statusOf(threadId).type
    // A thread the core has not loaded (after a restart) is resumed once opened.
    if (!open && status !== 'idle' && status !== 'systemError') return
    const busy = this.busy(threadId)
    if (open) {
      const running = this.store.runningTurn()
      const changed = this.queue.reconcile(
        threadId,
        { shown: shownClientIds(open.turns), idle: !busy, runningTurnId: running?.id ?? null },
        this.sendingIds,
      )
      if (changed) this.store.composerChanged()
    }
    if (busy) return
    const next = this.queue.next(threadId)
    if (!next || this.held.has(next.id) || !this.queue.markSending(threadId, next.id)) return
    this.sendingIds.add(next.id)
    this.sendingThreads.add(threadId)
    this.store.composerChanged()
    try {
      const { turn } = await client.request(
        'turn/start',
        {
          threadId,
          input: [{ type: 'text', text: next.text, text_elements: [] }],
          clientUserMessageId: next.id,
        },
        {
          onResult: (r) => this.store.applyNotification('turn/started', { threadId, turn: r.turn }),
        },
      )
      this.awaitingStart.set(threadId, turn.id)
      this.queue.done(threadId, next.id)
    } catch (error) {
      if (!client.closedWith) {
        // Refused: the text goes back to the message box rather than failing again and again.
        this.queue.done(threadId, next.id)
        const draft = this.queue.draft(threadId)
        this.queue.setDraft(threadId, draft ? `${draft}\n\n${next.text}` : next.text)
        this.fail('Could not send the queued message (it is back in the message box)', error, client)
      }
      // Closed: unknown whether it arrived; reconciled once the thread is back.
    } finally {
      this.sendingIds.delete(next.id)
      this.sendingThreads.delete(threadId)
      this.store.composerChanged()
      this.schedulePump()
    }
  }

  async interrupt(): Promise<void> {
    const threadId = this.store.state.openThreadId
    const turn = this.store.runningTurn()
    if (!threadId || !turn) return
    await this.act('Could not interrupt the turn', (client) =>
      client.request('turn/interrupt', { threadId, turnId: turn.id }),
    )
  }

  /** Archives the thread; true when it was archived (the list offers to undo it). */
  async archive(threadId: string): Promise<boolean> {
    const archived = await this.act('Could not archive the thread', async (client) => {
      await client.request('thread/archive', { threadId })
      this.store.applyNotification('thread/archived', { threadId })
      if (this.options.storage?.getItem(OPEN_THREAD_KEY) === threadId) {
        this.options.storage.removeItem(OPEN_THREAD_KEY)
      }
      return true
    })
    return archived ?? false
  }

  /** Brings an archived thread back (Undo, or the archived view); the list is loaded again. */
  async unarchive(threadId: string): Promise<boolean> {
    const restored = await this.act('Could not unarchive the thread', async (client) => {
      await client.request('thread/unarchive', { threadId })
      if (this.store.state.listFilter.archived) this.store.dropFromList(threadId)
      else await this.loadThreads(client)
      return true
    })
    return restored ?? false
  }

  async rename(threadId: string, name: string): Promise<boolean> {
    const renamed = await this.act('Could not rename the thread', async (client) => {
      await client.request('thread/name/set', { threadId, name })
      this.store.applyNotification('thread/name/updated', { threadId, threadName: name })
      return true
    })
    return renamed ?? false
  }

  async loadMoreThreads(): Promise<void> {
    const cursor = this.store.state.moreThreadsCursor
    if (!cursor) return
    await this.act('Could not load more threads', async (client) => {
      const generation = this.listGeneration
      const page = await client.request('thread/list', {
        cursor,
        limit: THREAD_PAGE,
        sortKey: 'created_at',
        sortDirection: 'desc',
        ...this.listParams(),
      })
      if (generation === this.listGeneration) this.store.addThreadPage(page.data, page.nextCursor)
    })
  }

  /**
   * A user action backed by requests: not connected, or a failed request, shows `what` with the
   * reason as a notice, and the result is undefined.
   */
  private async act<T>(what: string, run: (client: AppServerClient) => Promise<T>): Promise<T | undefined> {
    const client = this.requireClient(what)
    if (!client) return undefined
    try {
      return await run(client)
    } catch (error) {
      this.fail(what, error, client)
      return undefined
    }
  }

  private async refreshThreadSettings(client: AppServerClient, threadId: string): Promise<void> {
    if (this.store.state.openThreadId !== threadId) return
    try {
      const { thread } = await client.request('thread/read', { threadId })
      this.threadSettings.fromThread(thread)
    } catch {
      // Only the header's model could be out of date; the next turn reads it again.
    }
  }

  /**
   * The model catalog, asked once per connection when a picker first needs it (listing asks the
   * provider too, so it is not done on every connect).
   */
  loadModels(): void {
    const client = this.client
    if (!client || !this.initialized.has(client) || this.modelsAskedOn.has(client)) return
    this.modelsAskedOn.add(client)
    client.request('model/list', {}).then(
      ({ data }) => this.threadSettings.setModels(data),
      () => this.modelsAskedOn.delete(client), // asked again next time a picker opens
    )
  }

  /**
   * Changes what the thread's next turns run with. Resolves with null, or with the reason it failed
   * (for the control that asked; no notice).
   */
  async changeThreadSettings(
    threadId: string,
    change: { cwd?: string; model?: string; effort?: string | null },
  ): Promise<string | null> {
    const client = this.client
    if (!client || !this.initialized.has(client)) return 'Not connected to the core.'
    try {
      await client.request('thread/settings/update', { threadId, ...change })
      if (change.cwd) this.threadSettings.rememberFolder(change.cwd)
      return null
    } catch (error) {
      return messageOf(error)
    }
  }

  /** Answers a prompt shown by the store (its `key`). */
  answerApproval(key: string, decision: Decision): void {
    const responder = this.responders.get(key)
    if (!responder) {
      this.store.addNotice('This approval cannot be answered right now; it comes back once reconnected.')
      return
    }
    this.responders.delete(key)
    this.store.removeApproval(key)
    responder(decision)
  }
}

/** The page's localStorage, or null outside a page (tests) or where it is blocked. */
function pageLocalStorage(): FolderStorage | null {
  try {
    return (globalThis as { localStorage?: FolderStorage }).localStorage ?? null
  } catch {
    return null
  }
}
