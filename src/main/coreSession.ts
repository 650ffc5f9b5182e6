/**
 * What main does with each start of the core, on top of the WorkerHost's supervision: a control
 * port (comlink, CoreControl) per process, the optional websocket listener started and restarted
 * from the settings, a fresh app-server connection for the token owner, the core's state for the
 * windows as a CoreStateView with a generation that grows at every (re)start, and the nonce-checked
 * ports windows ask for. Ports are made by an injected factory (MessageChannelMain in the app, Node's
 * MessageChannel in tests), so every line runs under Node against a real core.
 *
 * It must never hand a window a port to a core that is not running, never leave a control call
 * waiting on a dead process (every call has a timeout and ends with its session), never restart
 * the core once shutdown began, and never log the capability token.
 */
import { wrap, type Remote } from 'comlink'
import type { CoreStateView } from '../renderer/bridge'
import { AppServerClient } from '../worker/protocol/client'
import type { CoreControl, CoreParentMessage } from '../worker/protocol/control'
import type { InitializeParams } from '../worker/protocol/initialize'
import { comlinkEndpoint } from '../worker/transport/comlinkEndpoint'
import type { Port } from '../worker/transport/port'
import { Emitter, type Disposable, type Event } from '../worker/util/event'
import { portClientChannel } from './portClient'
import { PortBroker, type PORT_MESSAGE_TYPE } from './portHandoff'
import { webSocketListenerSettings, type AppSettings } from './settings'
import type { ExitInfo, SupervisedProcess, WorkerHost } from './workerHost'

/** Makes a channel, posts one end to the core with `message`, and returns the other end. */
export interface CorePorts {
  open(proc: SupervisedProcess, message: CoreParentMessage): Port
}

export type CoreHost = Pick<
  WorkerHost,
  'state' | 'process' | 'onDidChangeState' | 'onDidStart' | 'onDidExit' | 'retry' | 'stop'
>

/** The websocket listener as the settings dialog shows it. */
export interface ListenerStatus {
  url: string | null
  error: string | null
}

export interface CoreControllerLog {
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
  error(fields: object, message: string): void
}

export interface CoreControllerOptions {
  host: CoreHost
  ports: CorePorts
  settings: { get(): AppSettings; onDidChange: Event<unknown> }
  /** The token owner: gets an initialized connection to every new core. */
  account?: { attach(client: AppServerClient): Promise<void> }
  /** Main's own clientInfo; its connection initializes first, so it fixes the core's originator. */
  clientInfo: InitializeParams['clientInfo']
  log: CoreControllerLog
  /** Each control call and main's initialize (default 10 s). */
  callTimeoutMs?: number
  /**
   * How long a window's connect waits for a (re)starting core (default 4 s): less than the
   * renderer's 5 s wait for the port, so main does not post a port to a request already given up.
   */
  connectWaitMs?: number
  broker?: PortBroker
}

export type WindowPort =
  | { ok: true; port: Port; channel: typeof PORT_MESSAGE_TYPE; message: { nonce: string } }
  | { ok: false; reason: string }

const IDLE: ListenerStatus = Object.freeze({ url: null, error: null })

export function describeExit(exit: ExitInfo): string {
  if (exit.error !== undefined) return `The core could not be started: ${exit.error}`
  if (exit.signal) return `The core was killed by ${exit.signal}`
  return `The core exited with code ${exit.code}`
}

class SessionEnded extends Error {
  constructor() {
    super('the core process ended')
  }
}

/** One started core process: its control proxy and main's own connection to it. */
class CoreSession {
  readonly control: Remote<CoreControl>
  client: AppServerClient | undefined
  /** JSON of the listener settings the core runs with now (null: none). */
  appliedListener: string | null = null
  /** Settles once main's connection is initialized (or failed to); never rejects. */
  ready: Promise<void> = Promise.resolve()
  private readonly ended = new AbortController()

  constructor(
    readonly proc: SupervisedProcess,
    private readonly controlPort: Port,
    private readonly timeoutMs: number,
  ) {
    this.control = wrap<CoreControl>(comlinkEndpoint(controlPort))
  }

  get disposed(): boolean {
    return this.ended.signal.aborted
  }

  /** A control call that rejects after the timeout or when the session ends. */
  call<T>(
    name: string,
    fn: (control: Remote<CoreControl>) => Promise<T>,
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    if (this.disposed) return Promise.reject(new SessionEnded())
    return new Promise<T>((resolve, reject) => {
      const onEnd = () => finish(() => reject(new SessionEnded()))
      const timer = setTimeout(
        () => finish(() => reject(new Error(`the core did not answer ${name} within ${timeoutMs} ms`))),
        timeoutMs,
      )
      let done = false
      const finish = (settle: () => void) => {
        if (done) return
        done = true
        clearTimeout(timer)
        this.ended.signal.removeEventListener('abort', onEnd)
        settle()
      }
      this.ended.signal.addEventListener('abort', onEnd, { once: true })
      fn(this.control).then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => finish(() => reject(error instanceof Error ? error : new Error(String(error)))),
      )
    })
  }

  dispose(): void {
    if (this.disposed) return
    this.ended.abort()
    this.client?.close()
    this.controlPort.close()
  }
}

export class CoreController implements Disposable {
  private readonly host: CoreHost
  private readonly options: CoreControllerOptions
  private readonly log: CoreControllerLog
  private readonly callTimeoutMs: number
  private readonly connectWaitMs: number
  private readonly broker: PortBroker
  private readonly listenerThrew = (error: unknown) =>
    this.log.error({ error: String(error) }, 'a core state listener threw')
  private readonly stateEmitter = new Emitter<CoreStateView>(this.listenerThrew)
  private readonly listenerEmitter = new Emitter<ListenerStatus>(this.listenerThrew)
  /** Fires on every state change and new session: what a waiting connect re-checks on. */
  private readonly wakeEmitter = new Emitter<void>()
  private readonly subscriptions: Disposable[] = []
  private generation = 0
  private view: CoreStateView
  private session: CoreSession | undefined
  private listener: ListenerStatus = IDLE
  private listenerWork: Promise<void> = Promise.resolve()
  private shuttingDown = false
  private disposed = false

  /** The core's state for the windows; `generation` tells a restart from the same run. */
  readonly onDidChangeState: Event<CoreStateView> = this.stateEmitter.event
  readonly onDidChangeListener: Event<ListenerStatus> = this.listenerEmitter.event

  constructor(options: CoreControllerOptions) {
    this.options = options
    this.host = options.host
    this.log = options.log
    this.callTimeoutMs = options.callTimeoutMs ?? 10_000
    this.connectWaitMs = options.connectWaitMs ?? 4000
    this.broker = options.broker ?? new PortBroker()
    if (this.host.state.kind !== 'stopped') this.generation = 1
    this.view = this.toView()
    this.subscriptions.push(
      this.host.onDidChangeState((state) => {
        if (state.kind === 'starting') this.generation++
        this.view = this.toView()
        this.stateEmitter.fire(this.view)
        this.wakeEmitter.fire()
      }),
      this.host.onDidStart((proc) => this.beginSession(proc)),
      this.host.onDidExit(() => {
        // After an exit the host reports no live process; a session for any other is over.
        if (this.session && this.host.process !== this.session.proc) this.endSession()
      }),
      options.settings.onDidChange(() => this.reconcileListener()),
    )
    const running = this.host.process
    if (this.host.state.kind === 'running' && running) this.beginSession(running)
  }

  get state(): CoreStateView {
    return this.view
  }

  get listenerStatus(): ListenerStatus {
    return this.listener
  }

  /**
   * A window's connect request (`sender` is its webContents id): checks the nonce and the rate
   * (PortBroker), waits briefly for a (re)starting core, and opens a connection. The caller posts
   * `port.raw` to the window, or closes `port` if the window is gone.
   */
  async openWindowPort(sender: string | number, nonce: unknown): Promise<WindowPort> {
    const decision = this.broker.request(sender, nonce)
    if (!decision.ok) return decision
    const proc = await this.whenReady()
    if (!proc) return { ok: false, reason: `the core is not running (${this.view.kind})` }
    const port = this.options.ports.open(proc, { type: 'connect', client: decision.client })
    return { ok: true, port, channel: decision.channel, message: decision.message }
  }

  /** The window is gone. */
  forgetWindow(sender: string | number): void {
    this.broker.forgetSender(sender)
  }

  /** The retry button: starts the core again after the host gave up (or after a clean exit). */
  retry(): void {
    if (this.shuttingDown || this.disposed) return
    const kind = this.host.state.kind
    if (kind !== 'failed' && kind !== 'stopped') return
    this.host.retry().catch((error: unknown) => {
      // The state (failed again) tells the windows; the log says why.
      this.log.warn({ error: String(error) }, 'the core did not start after a retry')
    })
  }

  /** For WorkerHost's `requestShutdown`: asks the core through its control port. */
  async requestShutdown(proc: SupervisedProcess): Promise<void> {
    const session = this.session
    if (!session || session.proc !== proc) {
      proc.kill('SIGTERM')
      return
    }
    await session.call('shutdown', (control) => control.shutdown())
  }

  /** Quit: no more restarts or retries, the core asked to shut down, killed after `timeoutMs`. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.shuttingDown = true
    await this.host.stop(timeoutMs)
    this.endSession()
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    this.shuttingDown = true
    for (const subscription of this.subscriptions.splice(0)) subscription.dispose()
    this.endSession()
    this.stateEmitter.dispose()
    this.listenerEmitter.dispose()
    this.wakeEmitter.dispose()
  }

  // ── sessions ──────────────────────────────────────────────────────────────────────────────────

  private beginSession(proc: SupervisedProcess): void {
    this.endSession()
    let controlPort: Port
    try {
      controlPort = this.options.ports.open(proc, { type: 'control' })
    } catch (error) {
      this.log.error({ error: String(error) }, 'cannot open the control port to the core')
      return
    }
    const session = new CoreSession(proc, controlPort, this.callTimeoutMs)
    this.session = session
    session.ready = this.connectMain(session)
    this.wakeEmitter.fire()
    this.reconcileListener()
  }

  private endSession(): void {
    const session = this.session
    if (!session) return
    this.session = undefined
    session.dispose()
    this.setListener(IDLE)
  }

  /**
   * Main's own connection: initialized before any window is handed a port (so it fixes the
   * originator), then given to the token owner, which logs the new core in when signed in.
   */
  private async connectMain(session: CoreSession): Promise<void> {
    let client: AppServerClient
    try {
      const port = this.options.ports.open(session.proc, { type: 'connect', client: 'main' })
      client = new AppServerClient(portClientChannel(port), { requestTimeoutMs: this.callTimeoutMs })
      session.client = client
      if (session.disposed) {
        client.close()
        return
      }
      await client.initialize({ clientInfo: this.options.clientInfo })
    } catch (error) {
      if (!session.disposed) this.log.warn({ error: String(error) }, "main's connection to the core failed")
      return
    }
    const account = this.options.account
    if (!account || session.disposed) return
    // Not awaited by `ready`: a sign-in may wait on the network, windows need not.
    account.attach(client).catch((error: unknown) => {
      if (!session.disposed) this.log.warn({ error: String(error) }, 'the token owner could not attach')
    })
  }

  /** The live session's process once main's connection is up; undefined if none comes in time. */
  private async whenReady(): Promise<SupervisedProcess | undefined> {
    const deadline = Date.now() + this.connectWaitMs
    for (;;) {
      if (this.shuttingDown) return undefined
      const kind = this.host.state.kind
      if (kind === 'failed' || kind === 'stopped') return undefined
      const session = this.session
      if (session && !session.disposed) {
        if (!(await this.within(session.ready, deadline))) return undefined
        if (!session.disposed && this.session === session) return session.proc
        continue
      }
      const woke = new Promise<void>((resolve) => {
        const subscription = this.wakeEmitter.event(() => {
          subscription.dispose()
          resolve()
        })
      })
      if (!(await this.within(woke, deadline))) return undefined
    }
  }

  private within(promise: Promise<unknown>, deadline: number): Promise<boolean> {
    const ms = deadline - Date.now()
    if (ms <= 0) return Promise.resolve(false)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms)
      void promise.then(() => {
        clearTimeout(timer)
        resolve(true)
      })
    })
  }

  // ── the websocket listener ────────────────────────────────────────────────────────────────────

  /** Brings the core's listener in line with the settings; calls run one at a time, in order. */
  private reconcileListener(): void {
    this.listenerWork = this.listenerWork.then(() => this.applyListener())
  }

  private async applyListener(): Promise<void> {
    const session = this.session
    const settings = this.options.settings.get()
    const wanted = settings.webSocketListener.enabled ? webSocketListenerSettings(settings) : null
    if (!session || session.disposed) {
      this.setListener(IDLE)
      return
    }
    const key = wanted ? JSON.stringify(wanted) : null
    if (key === session.appliedListener) return
    try {
      if (!wanted) {
        await session.call('stopWebSocketListener', (control) => control.stopWebSocketListener())
        session.appliedListener = null
        this.setListener(IDLE)
        this.log.info({}, 'websocket listener stopped')
        return
      }
      // The core closes a running listener before it starts the new one.
      session.appliedListener = null
      const { url } = await session.call('startWebSocketListener', (control) =>
        control.startWebSocketListener(wanted),
      )
      if (session.disposed) return
      session.appliedListener = key
      this.setListener({ url, error: null })
      this.log.info({ url }, 'websocket listener started')
    } catch (error) {
      if (session.disposed || error instanceof SessionEnded) return
      const message = (error as Error).message
      this.log.warn({ port: wanted?.port ?? null, error: message }, 'websocket listener change failed')
      this.setListener({
        url: null,
        error: wanted ? `The websocket listener could not start: ${message}` : message,
      })
    }
  }

  private setListener(status: ListenerStatus): void {
    if (status.url === this.listener.url && status.error === this.listener.error) return
    this.listener = status
    this.listenerEmitter.fire(status)
  }

  private toView(): CoreStateView {
    const state = this.host.state
    const generation = this.generation
    switch (state.kind) {
      case 'stopped':
        return { kind: 'stopped' }
      case 'starting':
        return { kind: 'starting', generation }
      case 'running':
        return { kind: 'running', generation, pid: state.pid ?? null }
      case 'restarting':
        return {
          kind: 'restarting',
          generation,
          attempt: state.attempt,
          delayMs: state.delayMs,
          reason: describeExit(state.lastExit),
        }
      case 'failed':
        return { kind: 'failed', generation, reason: state.reason }
    }
  }
}
