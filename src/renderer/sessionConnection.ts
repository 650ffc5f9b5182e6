/**
 * The session's connection half (sessionThreads.ts adds the user's actions on threads, session.ts
 * the composer queue): one AppServerClient at a time over whatever channel `openChannel` gives (a
 * MessagePort in the app, a websocket in a browser), kept alive with reconnects, and what every
 * connection loads (the thread list, the account, the open thread, the config problems, the model
 * catalog) and answers (approval prompts, kept in sessionApprovals.ts). It feeds the store and never
 * touches the DOM or Node; a failed request is a notice for the user, never an uncaught error.
 */
import { AppServerClient, type ClientChannel } from '../worker/protocol/client'
import { backoffDelayMs } from '../worker/util/retry'
import type { ComposerQueue } from './state/composerQueue'
import type { ConnectionCause } from './state/model'
import { STORE_NOTIFICATIONS, type DeskStore, type ListFilter } from './state/store'
import { ThreadSettingsState, type FolderStorage } from './state/threadSettings'
import { ApprovalPrompts, type Decision } from './sessionApprovals'

export type { Decision } from './sessionApprovals'

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
export const THREAD_PAGE = 100

/** Errors that mean the remembered thread is gone for good (not a passing failure). */
const GONE = /no rollout found|invalid thread id|thread not loaded/

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Reconnect after 250 ms, doubling to 5 s, ±25% so tabs that lost the core together spread out. */
export const RECONNECT_BACKOFF = { baseMs: 250, capMs: 5000, jitter: 0.25 } as const

export abstract class SessionConnection {
  readonly store: DeskStore
  /** Each thread's folder, model and effort, the model catalog and the recent folders. */
  readonly threadSettings: ThreadSettingsState
  protected client: AppServerClient | null = null
  protected initialized = new WeakSet<AppServerClient>()
  private readonly modelsAskedOn = new WeakSet<AppServerClient>()
  private attempt = 0
  private everConnected = false
  private lastLoss: { code: number; reason: string } | null = null
  protected retryTimer: ReturnType<typeof setTimeout> | undefined
  private connecting = 0
  protected disposed = false
  /** The approval prompts waiting for the person (sessionApprovals.ts). */
  private readonly approvals: ApprovalPrompts
  protected readonly staleTimers = new Set<ReturnType<typeof setTimeout>>()
  private readonly backoff: { baseMs: number; capMs: number; jitter: number }
  /** The latest thread/list of the first page; an older answer (a previous search) is dropped. */
  protected listGeneration = 0

  constructor(protected readonly options: SessionOptions) {
    this.store = options.store
    this.approvals = new ApprovalPrompts(options.store)
    this.threadSettings = new ThreadSettingsState(
      options.recentFolders !== undefined ? options.recentFolders : pageLocalStorage(),
    )
    this.backoff = { ...RECONNECT_BACKOFF, ...options.backoff }
  }

  /** Connected and initialized right now. */
  get connected(): boolean {
    return this.client !== null && this.initialized.has(this.client)
  }

  /** Drops the current connection (if any) and connects at once, e.g. when the core restarted. */
  reconnectNow(): void {
    if (this.disposed) return
    const old = this.client
    this.client = null
    if (old) {
      this.store.connectionLost()
      this.approvals.clear()
      old.close()
    }
    this.attempt = 0
    void this.connect()
  }

  // ── the connection ───────────────────────────────────────────────────────────────────────────

  protected async connect(): Promise<void> {
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
    this.approvals.clear()
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
      this.approvals.ask(context, params, {
        kind: 'command',
        command: params.command ?? null,
        cwd: params.cwd ?? null,
      }),
    )
    client.handleRequest('item/fileChange/requestApproval', (params, context) =>
      this.approvals.ask(context, params, { kind: 'fileChange', grantRoot: params.grantRoot ?? null }),
    )
  }

  /** thread/list's filter params for the list's current search and view. */
  protected listParams(): { archived?: boolean; searchTerm?: string } {
    const { search, archived } = this.store.state.listFilter
    const term = search.trim()
    return { ...(archived ? { archived: true } : {}), ...(term ? { searchTerm: term } : {}) }
  }

  protected async loadThreads(client: AppServerClient): Promise<void> {
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

  protected async resume(client: AppServerClient, threadId: string): Promise<void> {
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
  protected fail(what: string, error: unknown, client: AppServerClient, background = false): void {
    if (background && client.closedWith) return
    this.store.addNotice(`${what}: ${messageOf(error)}`)
  }

  protected requireClient(what: string): AppServerClient | null {
    const client = this.client
    if (client && this.initialized.has(client)) return client
    this.store.addNotice(`${what}: not connected to the core.`)
    return null
  }

  protected unsubscribe(client: AppServerClient, threadId: string | null): void {
    if (!threadId) return
    // Its badge stays live (status changes are broadcast); its events stop until it is opened again.
    void client.request('thread/unsubscribe', { threadId }).catch(() => undefined)
  }

  /**
   * A user action backed by requests: not connected, or a failed request, shows `what` with the
   * reason as a notice, and the result is undefined.
   */
  protected async act<T>(what: string, run: (client: AppServerClient) => Promise<T>): Promise<T | undefined> {
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

  /** Answers a prompt shown by the store (its `key`). */
  answerApproval(key: string, decision: Decision): void {
    this.approvals.answer(key, decision)
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
