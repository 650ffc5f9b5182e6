/**
 * The loaded threads of this process and everything about their lifecycle: start, resume (load
 * from the rollout, or rejoin a live thread), fork, read, list, unsubscribe, archive, unarchive,
 * rename, unload; live statuses (each change announced exactly once, to every connection); and the
 * rollout store and index, opened on first use so a core that never touches a thread pays nothing.
 *
 * It must never leave a thread half-registered: a thread is in the live map, the loaded list and
 * the subscriptions together or in none of them. Turns are run by TurnController (agent/turns.ts).
 */
import { validateDynamicTools } from './dynamicToolSpecs'
import type { Analytics } from '../analytics/analytics'
import type { ConfigService } from '../config/service'
import { invalidRequest } from '../protocol/errors'
import { latestPlan } from '../protocol/plan'
import type { ThreadListParams, ThreadListResponse, ThreadStatus } from '../protocol/items'
import type { DynamicToolSpec } from '../protocol/tools'
import type {
  ParamsOf,
  ResultOf,
  ServerRequestMethod,
  ServerRequestParams,
  ServerRequestResponse,
} from '../protocol/registry'
import type { RequestContext } from '../transport/requestContext'
import type { SendOptions, ServerRequestSender } from '../transport/serverRequestApi'
import type { ConnectionId } from '../transport/connection'
import type { OutboundRouter } from '../transport/outboundRouter'
import type { Logger } from '../util/log'
import { uuidv7 } from '../util/uuid'
import { forkLines, type PendingLine } from './forkLines'
import type { LiveThread } from './liveThread'
import { createLiveThread, loadLiveThread, metaOfThread } from './threadLoader'
import type { SessionMeta, ThreadSettings } from './rollout'
import { RolloutStore, type RolloutStoreOptions } from './rolloutStore'
import { ThreadEvents } from './threadEvents'
import { ThreadIndex } from './threadIndex'
import {
  changesSettings,
  configWithOverrides,
  overridesFromParams,
  resolveSettings,
  checkRequirements,
  type OverrideParams,
  type ResolvedThreadSettings,
} from './threadSettings'
import { assertFolder } from './settingsUpdate'
import { ThreadSubscriptions } from './subscriptions'
import { resumeCursorsOf, resumeResponse, threadResponse, type StartResponse } from './threadResponses'
import {
  archiveThread,
  assertThreadId,
  readThread,
  setThreadName,
  unarchiveThread,
  type StoredThreadHost,
} from './storedThreads'

export interface ThreadManagerOptions {
  home: string
  router: OutboundRouter
  broker: ServerRequestSender
  config: ConfigService
  analytics: Analytics
  version: string
  /** The process originator (fixed by the first initialize). */
  originator: () => string | null
  log: Logger
  /**
   * The thread index, when its owner loads it (the core does, so that a first listing can read it
   * before this manager exists); its owner closes it. Without it, this manager loads and closes one.
   */
  index?: () => Promise<ThreadIndex>
  /** Test hooks for the store (fault injection). */
  storeOptions?: Pick<RolloutStoreOptions, 'wrapFile'>
}

const NOT_LOADED: ThreadStatus = { type: 'notLoaded' }
const IDLE: ThreadStatus = { type: 'idle' }

export const threadNotLoaded = (threadId: string) => invalidRequest(`thread not loaded: ${threadId}`)

export class ThreadManager {
  readonly subscriptions: ThreadSubscriptions
  readonly events: ThreadEvents
  private readonly live = new Map<string, LiveThread>()
  private readonly loading = new Map<string, Promise<LiveThread>>()
  private readonly unloading = new Map<string, Promise<void>>()
  private storage: Promise<{ store: RolloutStore; index: ThreadIndex }> | null = null
  private closed = false

  constructor(private readonly options: ThreadManagerOptions) {
    this.subscriptions = new ThreadSubscriptions({
      delaySecs: () => options.config.current.effective.thread_unload_delay_secs,
      isBusy: (threadId) => this.isBusy(threadId),
      unload: (threadId) => this.unload(threadId),
    })
    this.events = new ThreadEvents(options.router, this.subscriptions)
  }

  get log(): Logger {
    return this.options.log
  }

  /** The ids of the loaded threads (`thread/loaded/list`). */
  loadedIds(): IterableIterator<string> {
    return this.live.keys()
  }

  get(threadId: string): LiveThread | undefined {
    return this.live.get(threadId)
  }

  /** A loaded thread, or `thread not loaded: <id>`. */
  require(threadId: string): LiveThread {
    const live = this.live.get(threadId)
    if (!live) {
      assertThreadId(threadId)
      throw threadNotLoaded(threadId)
    }
    return live
  }

  /** The thread's settings now (config changes apply to values the thread did not override). */
  settingsOf(live: LiveThread): ResolvedThreadSettings {
    const { merged, effective } = this.options.config.current
    const settings = resolveSettings(merged, effective, live.sticky, {
      model: live.base.model,
      modelProvider: live.base.modelProvider,
      reasoningEffort: live.base.reasoningEffort,
      cwd: live.base.cwd,
      followConfig: live.modelFollowsConfig,
    })
    if (live.modelFollowsConfig) {
      // The Thread fields say what the next turn runs with (the fallback was never a choice).
      live.base.model = settings.model
      live.base.modelProvider = settings.modelProvider
      live.base.reasoningEffort = settings.effort
    }
    return settings
  }

  /** Sets the live status; a change is announced once, to every initialized connection. */
  setStatus(live: LiveThread, status: ThreadStatus): void {
    if (sameStatus(live.status, status)) return
    live.status = status
    this.events.toAll(live.id, 'thread/status/changed', { threadId: live.id, status })
  }

  /** Persists new sticky overrides (a `thread_settings` line) and applies them. */
  async applyOverrides(live: LiveThread, overrides: ThreadSettings): Promise<void> {
    if (!changesSettings(live.sticky, overrides)) return
    const { merged, effective } = this.options.config.current
    configWithOverrides(merged, effective, (overrides.config ?? live.sticky.config) as never)
    await live.sink.append('thread_settings', { overrides })
    live.sticky = { ...live.sticky, ...overrides }
    if (typeof overrides.model === 'string') live.base.model = overrides.model
    if (typeof overrides.modelProvider === 'string') live.base.modelProvider = overrides.modelProvider
    if (typeof overrides.cwd === 'string') live.base.cwd = overrides.cwd
    if ('effort' in overrides) live.base.reasoningEffort = (overrides.effort as string | null) ?? null
  }

  /**
   * Sends a server request for the thread to its subscribers (one id for all; the first answer
   * wins) and waits for it. While it waits the thread is busy (it never unloads), and a connection
   * that resumes the thread receives it again with the same id, right after its resume response.
   * Every subscriber hears `serverRequest/resolved` when it ends, however it ends.
   */
  async request<M extends ServerRequestMethod>(
    live: LiveThread,
    method: M,
    params: ServerRequestParams<M>,
    options: SendOptions = {},
  ): Promise<ServerRequestResponse<M>> {
    const targets = [...this.subscriptions.subscribers(live.id)].filter(
      (connection) => !this.events.isJoining(live.id, connection),
    )
    const { id, response } = this.options.broker.send(targets, method, params, options)
    live.pendingRequests.add(id)
    try {
      return await response
    } finally {
      live.pendingRequests.delete(id)
      this.events.toSubscribers(live.id, 'serverRequest/resolved', { threadId: live.id, requestId: id })
      this.subscriptions.activity(live.id)
    }
  }

  // ------------------------------------------------------------------------------------------
  // thread/start, thread/resume, thread/fork

  async start(params: ParamsOf<'thread/start'>, ctx: RequestContext): Promise<StartResponse> {
    const cfg = this.options.config.current
    const overrides = overridesFromParams(params)
    const effective = configWithOverrides(cfg.merged, cfg.effective, overrides.config as never)
    await this.checkOverrideRequirements(params)
    if (typeof overrides.cwd === 'string') await assertFolder(overrides.cwd)
    const dynamicTools = params.dynamicTools ? validateDynamicTools(params.dynamicTools) : []
    const meta: SessionMeta = {
      id: uuidv7(),
      createdAt: Math.floor(Date.now() / 1000),
      cwd: (overrides.cwd as string | undefined) ?? process.cwd(),
      originator: this.options.originator(),
      cliVersion: this.options.version,
      // codex reports app-server threads as `vscode` (protocol.md §4); clients filter on it.
      source: 'vscode',
      threadSource: params.threadSource ?? null,
      modelProvider: (overrides.modelProvider as string | undefined) ?? effective.model_provider,
      model: (overrides.model as string | undefined) ?? effective.model,
      reasoningEffort: effective.model_reasoning_effort ?? null,
      forkedFromId: null,
      parentThreadId: null,
      ephemeral: false,
      historyMode: params.historyMode ?? 'paginated',
      projectId: params.projectId ?? null,
      ...(dynamicTools.length ? { dynamicTools } : {}),
      // A config file that did not load leaves the built-in model and provider: not a choice to keep.
      ...(cfg.layers.some((layer) => layer.disabledReason) ? { modelFromFallbackConfig: true } : {}),
    }
    const sticky = overrides
    const lines: PendingLine[] = Object.keys(sticky).length
      ? [{ type: 'thread_settings', payload: { overrides: sticky } }]
      : []
    const live = await this.create(meta, lines, params.ephemeral ?? false)
    return this.register(live, ctx, false)
  }

  async resume(params: ParamsOf<'thread/resume'>, ctx: RequestContext): Promise<ResultOf<'thread/resume'>> {
    assertThreadId(params.threadId)
    await this.checkOverrideRequirements(params)
    const live = this.live.get(params.threadId) ?? (await this.load(params.threadId))
    await this.applyOverrides(live, overridesFromParams(params))
    const cursors = await resumeCursorsOf(live)
    // From here to the return, nothing awaits: the snapshot, the subscription and the join window
    // are taken at one instant (threadEvents.ts).
    const connection = ctx.connection.id
    this.subscriptions.subscribe(live.id, connection)
    const response = resumeResponse(live, this.settingsOf(live), !params.excludeTurns, cursors)
    // The last turn's plan as of the snapshot: no Turn or item field holds it, so it is sent again.
    const lastTurn = live.turns.at(-1)
    const plan = lastTurn ? latestPlan(live.history, lastTurn.id) : null
    this.events.beginJoin(live.id, connection)
    ctx.afterResponse(() =>
      this.events.completeJoin(live.id, connection, () => {
        if (plan)
          void this.options.router.notify([connection], 'turn/plan/updated', { threadId: live.id, ...plan })
        for (const id of live.pendingRequests) this.options.broker.replay(id, connection)
      }),
    )
    return response
  }

  async fork(params: ParamsOf<'thread/fork'>, ctx: RequestContext): Promise<ResultOf<'thread/fork'>> {
    assertThreadId(params.threadId)
    await this.checkOverrideRequirements(params)
    const source = this.live.get(params.threadId)
    let base: SessionMeta
    let lines: PendingLine[]
    let sticky: ThreadSettings
    if (source) {
      lines = forkLines({ turns: source.turnsSnapshot(), history: source.history }, params.lastTurnId)
      base = { ...metaOfThread(source.base), ...dynamicToolsOf(source.dynamicTools) }
      sticky = source.sticky
    } else {
      const replayed = await this.read(params.threadId, true)
      lines = forkLines({ turns: replayed.turns, history: replayed.history }, params.lastTurnId)
      base = { ...metaOfThread(replayed.thread), ...dynamicToolsOf(replayed.meta?.dynamicTools ?? []) }
      sticky = replayed.settings
    }
    const overrides = { ...sticky, ...overridesFromParams(params) }
    const meta: SessionMeta = {
      ...base,
      id: uuidv7(),
      createdAt: Math.floor(Date.now() / 1000),
      forkedFromId: params.threadId,
      threadSource: params.threadSource ?? base.threadSource,
      originator: this.options.originator() ?? base.originator,
      cliVersion: this.options.version,
      ...(typeof overrides.model === 'string' ? { model: overrides.model } : {}),
      ...(typeof overrides.modelProvider === 'string' ? { modelProvider: overrides.modelProvider } : {}),
      ...(typeof overrides.cwd === 'string' ? { cwd: overrides.cwd } : {}),
    }
    if (Object.keys(overrides).length) lines.unshift({ type: 'thread_settings', payload: { overrides } })
    const live = await this.create(meta, lines, params.ephemeral ?? false)
    return this.register(live, ctx, !params.excludeTurns)
  }

  /**
   * A thread the agent created (a sub-agent). codex attaches every connection initialized at that
   * moment; beyond codex, `thread/started` announces it, so clients need not dig its id out of the
   * parent's items.
   */
  async spawn(meta: SessionMeta, lines: PendingLine[], ephemeral: boolean): Promise<LiveThread> {
    const live = await this.create(meta, lines, ephemeral)
    this.add(live)
    for (const connection of this.options.router.all()) {
      if (connection.initialized && !connection.closed) this.subscriptions.subscribe(live.id, connection.id)
    }
    this.events.toAll(live.id, 'thread/started', { thread: live.snapshot(false) })
    return live
  }

  // ------------------------------------------------------------------------------------------
  // thread/read, thread/list, thread/unsubscribe

  readThread(params: ParamsOf<'thread/read'>): Promise<ResultOf<'thread/read'>> {
    return readThread(this.stored(), params)
  }

  async list(params: ThreadListParams): Promise<ThreadListResponse> {
    const { index } = await this.open()
    return index.list(params, (id) => this.live.get(id)?.status ?? NOT_LOADED)
  }

  unsubscribe(threadId: string, connection: ConnectionId): ResultOf<'thread/unsubscribe'> {
    if (!this.live.has(threadId)) return { status: 'notLoaded' }
    this.events.abortJoin(threadId, connection)
    return { status: this.subscriptions.unsubscribe(threadId, connection) }
  }

  connectionClosed(connection: ConnectionId): void {
    this.events.connectionClosed(connection)
    this.subscriptions.connectionClosed(connection)
  }

  // ------------------------------------------------------------------------------------------
  // thread/archive, thread/unarchive, thread/name/set

  archive(threadId: string): Promise<void> {
    return archiveThread(this.stored(), threadId)
  }

  unarchive(threadId: string): Promise<ResultOf<'thread/unarchive'>> {
    return unarchiveThread(this.stored(), threadId)
  }

  setName(threadId: string, name: string): Promise<void> {
    return setThreadName(this.stored(), threadId, name)
  }

  // ------------------------------------------------------------------------------------------
  // Loading and unloading

  /** Unloads a thread with no subscriber and no activity (or, with `force`, any idle thread). */
  unload(threadId: string, options: { force?: boolean; announceClosed?: boolean } = {}): void {
    const live = this.live.get(threadId)
    if (!live) return
    if (!options.force && (this.isBusy(threadId) || this.subscriptions.subscribers(threadId).size > 0)) return
    this.live.delete(threadId)
    this.subscriptions.detachListener(threadId, live.generation)
    this.setStatus(live, NOT_LOADED)
    if (options.announceClosed !== false) this.events.toAll(threadId, 'thread/closed', { threadId })
    this.subscriptions.removeThread(threadId)
    const closing = live.sink.close().catch((error: unknown) => {
      this.log.warn({ threadId, error }, 'closing the rollout of an unloaded thread failed')
    })
    this.unloading.set(threadId, closing)
    void closing.finally(() => {
      if (this.unloading.get(threadId) === closing) this.unloading.delete(threadId)
    })
  }

  /** Interrupts running turns, closes every rollout and the index. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.subscriptions.dispose()
    const running = [...this.live.values()].flatMap((live) => (live.running ? [live.running] : []))
    for (const turn of running) turn.interrupt()
    await Promise.race([
      Promise.allSettled(running.map((turn) => turn.done)),
      new Promise((resolve) => setTimeout(resolve, 2000).unref()),
    ])
    await Promise.allSettled([...this.live.values()].map((live) => live.sink.close()))
    await Promise.allSettled(this.unloading.values())
    if (this.storage) {
      const { store, index } = await this.storage
      await store.close()
      if (!this.options.index) await index.close()
    }
  }

  isBusy(threadId: string): boolean {
    const live = this.live.get(threadId)
    return !!live && (live.running !== null || live.pendingRequests.size > 0)
  }

  private open(): Promise<{ store: RolloutStore; index: ThreadIndex }> {
    this.storage ??= (async () => {
      const index = await (this.options.index?.() ??
        ThreadIndex.load({ home: this.options.home, logger: this.log }))
      const store = new RolloutStore({
        home: this.options.home,
        index,
        logger: this.log,
        ...this.options.storeOptions,
      })
      return { store, index }
    })()
    return this.storage
  }

  /** Reads a stored thread that is not loaded here; an unknown id reads as `thread not loaded`. */
  /** What the stored-thread operations (storedThreads.ts) use of this manager. */
  private stored(): StoredThreadHost {
    return {
      open: () => this.open(),
      live: (threadId) => this.live.get(threadId),
      unloadNow: async (threadId) => {
        this.unload(threadId, { force: true, announceClosed: false })
        await this.unloading.get(threadId)
      },
      readStored: async (threadId, withTurns) => (await this.read(threadId, withTurns)).thread,
      router: this.options.router,
      events: this.events,
    }
  }

  private async read(threadId: string, withTurns: boolean) {
    const { store } = await this.open()
    const location = await store.locate(threadId)
    if (!location) throw threadNotLoaded(threadId)
    const replayed = await store.read(location.path)
    const thread = { ...replayed.thread, status: NOT_LOADED, turns: withTurns ? replayed.turns : [] }
    return {
      thread,
      turns: replayed.turns,
      history: replayed.modelHistory,
      settings: replayed.settings,
      meta: replayed.meta,
    }
  }

  private load(threadId: string): Promise<LiveThread> {
    let loading = this.loading.get(threadId)
    if (!loading) {
      loading = this.loadNow(threadId).finally(() => this.loading.delete(threadId))
      this.loading.set(threadId, loading)
    }
    return loading
  }

  private async loadNow(threadId: string): Promise<LiveThread> {
    await this.unloading.get(threadId)
    const existing = this.live.get(threadId)
    if (existing) return existing
    const { store } = await this.open()
    const live = await loadLiveThread(store, threadId)
    this.add(live)
    // notLoaded -> idle: announced like every other change.
    this.events.toAll(threadId, 'thread/status/changed', { threadId, status: IDLE })
    return live
  }

  private async create(meta: SessionMeta, lines: PendingLine[], ephemeral: boolean): Promise<LiveThread> {
    return createLiveThread(ephemeral ? null : (await this.open()).store, meta, lines)
  }

  private add(live: LiveThread): void {
    live.generation = this.subscriptions.attachListener(live.id)
    this.live.set(live.id, live)
  }

  /** Registers a new thread, subscribes the caller, and announces `thread/started` after the response. */
  private register(live: LiveThread, ctx: RequestContext, withTurns: boolean): StartResponse {
    this.add(live)
    this.subscriptions.subscribe(live.id, ctx.connection.id)
    const response = threadResponse(live, this.settingsOf(live), withTurns)
    const started = live.snapshot(false)
    ctx.afterResponse(() => this.events.toAll(live.id, 'thread/started', { thread: started }))
    return response
  }

  checkOverrideRequirements(params: OverrideParams): Promise<void> {
    return checkRequirements(this.options.config.requirements(), params)
  }
}

/** A fork keeps the tools its client serves. */
function dynamicToolsOf(tools: DynamicToolSpec[]): Pick<SessionMeta, 'dynamicTools'> {
  return tools.length ? { dynamicTools: tools } : {}
}

function sameStatus(a: ThreadStatus, b: ThreadStatus): boolean {
  if (a.type !== b.type) return false
  if (a.type !== 'active' || b.type !== 'active') return true
  return (
    a.activeFlags.length === b.activeFlags.length && a.activeFlags.every((f, i) => b.activeFlags[i] === f)
  )
}
