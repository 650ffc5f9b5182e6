/**
 * Assembles the core: router, message processor, server-request broker and handlers, and accepts
 * transports of any kind. Every entry point (headless CLI, utility process, tests) builds one of
 * these; nothing here knows which transports exist.
 */
import { Analytics } from '../analytics/analytics'
import type { AuthManager } from '../auth/authManager'
import type { ConfigService } from '../config/service'
import { earlyRequests } from '../protocol/earlyRequests'
import type { Connection } from '../transport/connection'
import type { QueueLimits } from '../transport/outboundQueue'
import { OutboundRouter } from '../transport/outboundRouter'
import { DEFAULT_MAX_MESSAGE_BYTES } from '../transport/stdio'
import { CLOSE_GOING_AWAY, type CloseInfo, type Transport } from '../transport/types'
import { DisposableStore } from '../util/event'
import type { LoggerFactory } from '../util/log'
import { accountHandlers } from './account'
import type { HandlerMap } from './context'
import { configHandlers } from './config'
import { DeskDiagnostics } from './deskDiagnostics'
import { initializeHandler } from './initialize'
import { type AnyHandler, MessageProcessor } from './messageProcessor'
import { Originator } from './originator'
import { ServerRequestBroker } from './serverRequests'
import { threadHandlers } from './thread'
import { turnHandlers } from './turn'
import { modelHandlers } from './models'
import { extensionHandlers } from './extensions'
import { historyHandlers } from './threadHistory'
import { compactHandlers } from './compact'
import { mcpHandlers } from './mcp'
import { reviewHandlers } from './review'
import { CommandExecManager } from './commandExec'
import { FileSearchService } from './fileSearch'
import type { ToolHost } from '../agent/tools'
import type { SandboxAvailability } from '../agent/sandbox/sandbox'
import type { ConfigWarningNotification } from '../protocol/notifications'
import type { ModelClientOptions } from '../agent/modelClient'
import type { ThreadManagerOptions } from '../threads/threadManager'
import type { ThreadIndex } from '../threads/threadIndex'
import type { ThreadSystem } from '../agent/threadSystem'

export interface AppServerOptions {
  codexHome: string
  version: string
  logs: LoggerFactory
  env?: NodeJS.ProcessEnv
  queueLimits?: QueueLimits
  maxInflightPerConnection?: number
  overloadRetryAfterMs?: number
  maxMessageBytes?: number
  /** The loaded config; its problems reach every connection after initialize, and again on reload. */
  config: ConfigService
  /** The tools the agent may call (the default answers every call as unsupported). */
  tools?: ToolHost
  /** Test hooks: rollout fault injection, model retry clock. */
  storeOptions?: ThreadManagerOptions['storeOptions']
  modelClientOptions?: Pick<ModelClientOptions, 'sleep' | 'random'>
}

export class AppServer {
  readonly router: OutboundRouter
  readonly broker: ServerRequestBroker
  readonly processor: MessageProcessor
  readonly originator: Originator
  readonly config: ConfigService
  readonly analytics: Analytics
  private authLoad: Promise<AuthManager> | null = null
  private loadedAuth: AuthManager | null = null
  private system: Promise<ThreadSystem> | null = null
  private loadedSystem: ThreadSystem | null = null
  private indexLoad: Promise<ThreadIndex> | null = null
  private readonly systemListeners: ((system: ThreadSystem) => void)[] = []
  private readonly disposables = new DisposableStore()
  private readonly maxMessageBytes: number
  private closed = false
  /** Problems found while running (no sandbox here): sent to each connection at initialize. */
  private readonly runtimeWarnings: ConfigWarningNotification[] = []
  /** The current problems and notices for clients that ask (the desk UI), see deskDiagnostics.ts. */
  private readonly desk: DeskDiagnostics

  constructor(readonly options: AppServerOptions) {
    const env = options.env ?? process.env
    const logs = options.logs
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.originator = new Originator(env.CODEX_INTERNAL_ORIGINATOR_OVERRIDE || undefined)
    this.router = new OutboundRouter({
      log: logs.get('transport'),
      ...(options.queueLimits ? { limits: options.queueLimits } : {}),
    })
    this.broker = new ServerRequestBroker(this.router, logs.get('server'))
    const config = (this.config = options.config)
    config.setIdentity(() => this.loadedAuth?.identity())
    this.analytics = new Analytics({
      state: () => ({
        enabled: config.analytics.enabled,
        endpoint: config.current.merged.analytics?.endpoint,
      }),
      appVersion: options.version,
      log: logs.get('analytics'),
    })
    // The skills catalog's folder watchers are released when the core closes.
    const extensions = extensionHandlers(this)
    this.desk = new DeskDiagnostics({
      router: this.router,
      problems: () => config.warnings,
      notices: () => this.runtimeWarnings,
      probe: () => this.probeSandbox(),
    })
    this.disposables.add(extensions)
    // The one MCP runtime of this core (its servers stop when the core closes).
    const mcp = mcpHandlers(this)
    this.disposables.add(mcp)
    // Client-run commands and file searches belong to the connection that started them.
    const commands = new CommandExecManager(this)
    const fileSearch = new FileSearchService(this)
    this.disposables.add({ dispose: () => (commands.dispose(), fileSearch.dispose()) })
    const handlers: HandlerMap = {
      initialize: initializeHandler({
        originator: this.originator,
        version: options.version,
        codexHome: options.codexHome,
        router: this.router,
        startupWarnings: () => [...config.warnings, ...this.runtimeWarnings],
      }),
      ...threadHandlers(
        () => this.threadSystem(),
        () => this.loadedSystem,
        () => this.threadIndex(),
        options.codexHome,
        config,
      ),
      ...turnHandlers(() => this.threadSystem()),
      ...configHandlers({ config }),
      ...accountHandlers({ auth: () => this.auth(), config, router: this.router, env }),
      ...modelHandlers(this),
      ...extensions.handlers,
      ...historyHandlers(this),
      ...compactHandlers(() => this.threadSystem()),
      ...this.desk.handlers,
      ...mcp.handlers,
      ...reviewHandlers(() => this.threadSystem(), env),
      ...commands.handlers(),
      ...fileSearch.handlers(),
    }
    this.processor = new MessageProcessor({
      // The registry's schemas load on the first request that is not an early one (start-up budget).
      registry: {
        early: earlyRequests,
        load: () => import('../protocol/registry').then((m) => m.clientRequests),
      },
      handlers: handlers as unknown as Record<string, AnyHandler>,
      router: this.router,
      broker: this.broker,
      log: logs.get('server'),
      ...(options.maxInflightPerConnection !== undefined
        ? { maxInflightPerConnection: options.maxInflightPerConnection }
        : {}),
      ...(options.overloadRetryAfterMs !== undefined
        ? { overloadRetryAfterMs: options.overloadRetryAfterMs }
        : {}),
      onRequestError: (method, code) => this.analytics.track({ name: 'error', code, method }),
    })
    this.disposables.add(
      this.router.onMessage(({ connection, frame }) => this.processor.handleFrame(connection, frame)),
    )
    this.disposables.add(
      config.onNewWarnings((warnings) => {
        for (const warning of warnings) this.router.notify('all', 'configWarning', warning)
      }),
    )
    this.disposables.add(config.onDidChangeWarnings(() => this.desk.changed()))
    this.disposables.add(
      this.router.onConnectionClosed(({ connection }) => {
        this.broker.connectionClosed(connection.id)
        this.loadedAuth?.connectionClosed(connection.id)
        this.loadedSystem?.manager.connectionClosed(connection.id)
        commands.connectionClosed(connection.id)
        fileSearch.connectionClosed(connection.id)
      }),
    )
  }

  /** A problem found while running (not in config): every client hears it now, and at initialize. */
  private warn(warning: ConfigWarningNotification): void {
    // The probe and the first turn's tools may both find it: one notice.
    if (this.runtimeWarnings.some((w) => w.summary === warning.summary)) return
    this.runtimeWarnings.push(warning)
    this.router.notify('all', 'configWarning', warning)
    this.desk.changed()
  }

  /** Finds what the sandbox can do here (memoized) and warns as the tools would on their first use. */
  private probeSandbox(): void {
    void import('../agent/sandbox/sandbox')
      .then(({ detectSandbox }) => detectSandbox())
      .then(
        (availability) => {
          if (this.closed) return
          if (availability.kind === 'none') this.noSandbox(availability)
          else if (availability.limits) this.sandboxLimits(availability.limits)
        },
        (error: unknown) => this.options.logs.get('server').warn({ err: error }, 'sandbox probe failed'),
      )
  }

  private noSandbox(availability: SandboxAvailability): void {
    this.warn({
      summary: 'Commands cannot be sandboxed on this machine',
      details:
        `${availability.reason ?? 'no sandbox found'}. Every command that is not known to be ` +
        'read-only now needs your approval, unless the sandbox policy is danger-full-access.',
    })
  }

  private sandboxLimits(limits: string): void {
    this.warn({
      summary: 'The command sandbox is limited on this machine',
      details: `Commands still run sandboxed, with every capability dropped, but: ${limits}.`,
    })
  }

  /** The account (auth/authManager.ts), loaded on the first account request or model request. */
  auth(): Promise<AuthManager> {
    this.authLoad ??= import('../auth/authManager').then(({ AuthManager }) => {
      const { options, config } = this
      const auth = new AuthManager({
        home: options.codexHome,
        env: options.env ?? process.env,
        router: this.router,
        broker: this.broker,
        config: () => config.current.effective,
        allowedLoginMethods: () => config.requirements()?.allowedLoginMethods ?? null,
        log: options.logs.get('auth'),
      })
      // Remote requirements are fetched for the signed-in account: a new account gets its own.
      this.disposables.add(
        auth.onDidChange(() => {
          if (config.current.merged.requirements?.url) void config.reload('account changed')
        }),
      )
      this.disposables.add(auth)
      this.loadedAuth = auth
      return auth
    })
    return this.authLoad
  }

  /**
   * The thread index, loaded on first use and alone: a first listing needs nothing else. The
   * threads subsystem is given this one; the core closes it after the subsystem.
   */
  threadIndex(): Promise<ThreadIndex> {
    this.indexLoad ??= import('../threads/threadIndex').then(({ ThreadIndex }) =>
      ThreadIndex.load({ home: this.options.codexHome, logger: this.options.logs.get('threads') }),
    )
    return this.indexLoad
  }

  /** The threads subsystem, loaded on first use (agent/threadSystem.ts). */
  threadSystem(): Promise<ThreadSystem> {
    this.system ??= Promise.all([import('../agent/threadSystem'), this.auth()]).then(
      ([{ createThreadSystem }, auth]) => {
        const { options } = this
        const logs = options.logs
        this.loadedSystem = createThreadSystem({
          home: options.codexHome,
          index: () => this.threadIndex(),
          router: this.router,
          broker: this.broker,
          config: this.config,
          analytics: this.analytics,
          version: options.version,
          originator: () => this.originator.value ?? null,
          auth,
          upstreamHeaders: () => this.originator.upstreamHeaders(options.version),
          log: logs.get('threads'),
          ...(options.storeOptions ? { storeOptions: options.storeOptions } : {}),
          ...(options.tools ? { tools: options.tools } : {}),
          onNoSandbox: (availability) => this.noSandbox(availability),
          onSandboxLimits: (limits) => this.sandboxLimits(limits),
          env: options.env ?? process.env,
          turnLog: logs.get('turns'),
          ...(options.modelClientOptions ? { modelClientOptions: options.modelClientOptions } : {}),
        })
        for (const listener of this.systemListeners.splice(0)) listener(this.loadedSystem)
        return this.loadedSystem
      },
    )
    return this.system
  }

  /**
   * Calls `fn` once with the threads subsystem: as soon as it is created (before the request that
   * loads it gets it), or now when it already exists. It does not load the subsystem.
   */
  onThreadSystem(fn: (system: ThreadSystem) => void): void {
    if (this.loadedSystem) fn(this.loadedSystem)
    else this.systemListeners.push(fn)
  }

  /** Starts serving one client over the given transport. */
  addTransport(transport: Transport): Connection {
    if (this.closed) {
      transport.close(CLOSE_GOING_AWAY)
      throw new Error('the app server is shut down')
    }
    const connection = this.router.add(transport)
    transport.onOversized?.((bytes) =>
      this.processor.handleOversized(connection, bytes, this.maxMessageBytes),
    )
    return connection
  }

  get connectionCount(): number {
    return this.router.size
  }

  /**
   * Closes every connection (1001 by default) and releases what the core holds. The promise settles
   * when queued analytics have been sent (bounded by their request timeout).
   */
  async close(info: CloseInfo = CLOSE_GOING_AWAY): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.broker.cancelAll()
    this.router.closeAll(info)
    this.disposables.dispose()
    this.config.dispose()
    if (this.system) {
      const system = await this.system
      await system.manager.close()
      system.disposeTools()
    }
    if (this.indexLoad) {
      const index = await this.indexLoad.catch(() => null)
      await index?.close()
    }
    await this.analytics.dispose()
  }
}
