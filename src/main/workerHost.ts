/**
 * WorkerHost: the main process's supervisor of the core process. It launches the core (through an
 * injected `launch`, so the supervision runs under Node with real child processes in tests) with an
 * allow-listed environment, pipes its output to a rotating log, restarts it after a crash with
 * exponential backoff, gives up after a crash loop with a reason the UI can show, and stops it on
 * quit: a polite shutdown request first, SIGKILL after a timeout.
 *
 * It must never restart a process whose stop was requested, never pass the parent's environment
 * through wholesale (tokens and keys live there), and never leave a child running after `stop()`
 * or `dispose()` resolves. It never imports electron.
 */
import { Emitter, type Disposable, type Event } from '../worker/util/event'
import { backoffDelayMs } from '../worker/util/retry'
import { RotatingLog } from './rotatingLog'

/** What the child may inherit from the parent's environment; anything else needs `extraEnv`. */
export const CHILD_ENV_ALLOW_LIST: readonly string[] = [
  'HOME',
  'USER',
  'PATH',
  'LANG',
  'TMPDIR',
  'CODEX_DESK_HOME',
  'CODEX_DESK_LOG',
  'LOG_FORMAT',
]

/** A readable byte stream: Node's Readable, Electron's `NodeJS.ReadableStream`. */
export interface OutputStream {
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown
  on(event: 'end' | 'close' | 'error', listener: (...args: unknown[]) => void): unknown
}

/** The minimal shape of a supervised child: Electron's UtilityProcess through `fromUtilityProcess`. */
export interface SupervisedProcess {
  /** Undefined until spawned. */
  readonly pid: number | undefined
  readonly stdout: OutputStream | null
  readonly stderr: OutputStream | null
  postMessage(message: unknown, transfer?: unknown[]): void
  /** SIGTERM when no signal is given. */
  kill(signal?: 'SIGTERM' | 'SIGKILL'): void
  onSpawn(listener: () => void): Disposable
  /** Electron reports a code only; Node adds the signal. */
  onExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): Disposable
}

export interface LaunchOptions {
  env: Record<string, string>
  serviceName: string
}

export interface ExitInfo {
  pid: number | undefined
  code: number | null
  signal: NodeJS.Signals | null
  /** `stop()` or `dispose()` asked for it. */
  requested: boolean
  /** Unrequested and not a clean exit: a non-zero code, a signal, or a launch that threw. */
  crashed: boolean
  /** Set when `launch` itself threw. */
  error?: string
}

export type WorkerHostState =
  | { kind: 'stopped' }
  | { kind: 'starting' }
  | { kind: 'running'; pid: number | undefined }
  | { kind: 'restarting'; attempt: number; delayMs: number; lastExit: ExitInfo }
  | { kind: 'failed'; reason: string; lastExit: ExitInfo }

export interface WorkerHostTimers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export interface WorkerHostLogger {
  info(fields: object, message: string): void
  warn(fields: object, message: string): void
  error(fields: object, message: string): void
}

export interface WorkerHostOptions {
  launch(options: LaunchOptions): SupervisedProcess
  /** Asks the core to shut down (the app calls comlink `shutdown()`); default: SIGTERM. */
  requestShutdown?(proc: SupervisedProcess): Promise<void>
  /** Folder of core.log and its rotations. */
  logDir: string
  logMaxBytes?: number
  logKeep?: number
  serviceName?: string
  /** Where allow-listed variables are read from; default `process.env`. */
  env?: NodeJS.ProcessEnv
  /** Added as given (after the allow-list), e.g. CODEX_DESK_HOME chosen by the app. */
  extraEnv?: Record<string, string>
  /** First restart delay, doubling per recent crash up to `maxMs` (jitter included); `jitter` is a ± fraction. */
  backoff?: { initialMs?: number; maxMs?: number; jitter?: number }
  /** `maxCrashes` crashes within `windowMs` put the host in `failed`. */
  crashLoop?: { maxCrashes?: number; windowMs?: number }
  logger?: WorkerHostLogger
  now?: () => number
  timers?: WorkerHostTimers
  random?: () => number
}

/** After SIGKILL, how long to wait for the exit event before giving up on it. */
const KILL_WAIT_MS = 2000
/** How long an exit line in the log waits for the child's last output to arrive. */
const OUTPUT_SETTLE_MS = 500

const realTimers: WorkerHostTimers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

const consoleLogger: WorkerHostLogger = {
  info: (fields, message) => console.info(`codex-desk: ${message}`, fields),
  warn: (fields, message) => console.warn(`codex-desk: ${message}`, fields),
  error: (fields, message) => console.error(`codex-desk: ${message}`, fields),
}

/** The child's environment: the allow-listed variables that are set, then `extra`. */
export function childEnvironment(
  source: NodeJS.ProcessEnv,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {}
  for (const key of CHILD_ENV_ALLOW_LIST) {
    const value = source[key]
    if (value !== undefined) env[key] = value
  }
  return { ...env, ...extra }
}

interface Run {
  proc: SupervisedProcess | undefined
  pid: number | undefined
  stopRequested: boolean
  exit: ExitInfo | undefined
  exited: Promise<ExitInfo>
  resolveExited(info: ExitInfo): void
  outputClosed: Promise<void>
  subscriptions: Disposable[]
}

interface Deferred<T> {
  promise: Promise<T>
  settled: boolean
  resolve(value: T): void
  reject(error: Error): void
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void
  let reject!: (error: Error) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  // The caller of start() may drop its promise; a rejection nobody awaits must not crash main.
  promise.catch(() => undefined)
  const d: Deferred<T> = {
    promise,
    settled: false,
    resolve: (value) => {
      d.settled = true
      resolve(value)
    },
    reject: (error) => {
      d.settled = true
      reject(error)
    },
  }
  return d
}

function formatWindow(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`
}

function describeExit(exit: ExitInfo): string {
  if (exit.error !== undefined) return `last launch error: ${exit.error}`
  if (exit.signal) return `last exit signal ${exit.signal}`
  return `last exit code ${exit.code}`
}

export class WorkerHost implements Disposable {
  readonly logPath: string
  private readonly log: RotatingLog
  private readonly logger: WorkerHostLogger
  private readonly timers: WorkerHostTimers
  private readonly now: () => number
  private readonly random: () => number
  private readonly env: Record<string, string>
  private readonly serviceName: string
  private readonly initialMs: number
  private readonly maxMs: number
  private readonly jitter: number
  private readonly maxCrashes: number
  private readonly windowMs: number

  private readonly listenerThrew = (error: unknown) =>
    this.logger.error({ error: String(error) }, 'a core supervisor listener threw')
  private readonly stateEmitter = new Emitter<WorkerHostState>(this.listenerThrew)
  private readonly startEmitter = new Emitter<SupervisedProcess>(this.listenerThrew)
  private readonly exitEmitter = new Emitter<ExitInfo>(this.listenerThrew)
  private currentState: WorkerHostState = { kind: 'stopped' }
  private run: Run | undefined
  private ready: Deferred<SupervisedProcess> | undefined
  private crashTimes: number[] = []
  private restartTimer: { handle: unknown } | undefined
  private stopping: Promise<void> | undefined
  private readonly pendingLogLines = new Set<Promise<void>>()
  private disposed = false

  /** Every state change, in order. */
  readonly onDidChangeState: Event<WorkerHostState> = this.stateEmitter.event
  /** Every spawned process, first start and each restart: reconnect windows and the token owner here. */
  readonly onDidStart: Event<SupervisedProcess> = this.startEmitter.event
  /** Every exit, requested or not. */
  readonly onDidExit: Event<ExitInfo> = this.exitEmitter.event

  constructor(private readonly options: WorkerHostOptions) {
    this.logger = options.logger ?? consoleLogger
    this.timers = options.timers ?? realTimers
    this.now = options.now ?? Date.now
    this.random = options.random ?? Math.random
    this.env = childEnvironment(options.env ?? process.env, options.extraEnv)
    this.serviceName = options.serviceName ?? 'codex-desk core'
    this.initialMs = options.backoff?.initialMs ?? 250
    this.maxMs = options.backoff?.maxMs ?? 30_000
    this.jitter = options.backoff?.jitter ?? 0.1
    this.maxCrashes = Math.max(1, options.crashLoop?.maxCrashes ?? 5)
    this.windowMs = options.crashLoop?.windowMs ?? 60_000
    this.log = new RotatingLog({
      dir: options.logDir,
      ...(options.logMaxBytes !== undefined ? { maxBytes: options.logMaxBytes } : {}),
      ...(options.logKeep !== undefined ? { keep: options.logKeep } : {}),
      onError: (error) => this.logger.warn({ error: error.message }, 'cannot write the core log'),
      now: this.now,
    })
    this.logPath = this.log.path
  }

  get state(): WorkerHostState {
    return this.currentState
  }

  /** The live process (spawned or about to be), if any. */
  get process(): SupervisedProcess | undefined {
    return this.run?.exit ? undefined : this.run?.proc
  }

  /**
   * Starts the core once. While it is starting, running or waiting to restart, every call returns
   * the same promise, which resolves with the running process (or rejects if the host fails or is
   * stopped first). From `failed` it is `retry()`. During a `stop()` it starts after the stop.
   */
  start(): Promise<SupervisedProcess> {
    if (this.disposed) return Promise.reject(new Error('the core supervisor was disposed'))
    if (this.stopping) return this.stopping.then(() => this.start())
    switch (this.currentState.kind) {
      case 'failed':
        return this.retry()
      case 'stopped': {
        this.crashTimes = []
        // Before launching: a launch that throws can settle it synchronously.
        const ready = this.readyPromise()
        this.launchNext()
        return ready
      }
      default:
        return this.readyPromise()
    }
  }

  /** From `failed`: forgets the crash history and starts again. Otherwise the same as `start()`. */
  retry(): Promise<SupervisedProcess> {
    if (this.disposed) return Promise.reject(new Error('the core supervisor was disposed'))
    if (this.currentState.kind !== 'failed') return this.start()
    this.crashTimes = []
    this.writeLine("retrying at the user's request")
    const ready = this.readyPromise()
    this.launchNext()
    return ready
  }

  /**
   * Asks the core to shut down, waits up to `timeoutMs` for it to exit, then SIGKILLs it. Never
   * restarts it. Resolves when the process is gone (or, if even SIGKILL produced no exit event
   * within 2 s, when the host has given up on it and said so in the log).
   */
  stop(timeoutMs = 5000): Promise<void> {
    this.stopping ??= this.doStop(timeoutMs).finally(() => (this.stopping = undefined))
    return this.stopping
  }

  /** Kills a still-running core at once, releases listeners and timers, and closes the log. */
  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    this.cancelRestart()
    const run = this.run
    if (run && !run.exit) {
      run.stopRequested = true
      run.proc?.kill('SIGKILL')
      await this.waitForExit(run, KILL_WAIT_MS)
    }
    if (run) this.detach(run)
    this.run = undefined
    this.rejectReady('the core supervisor was disposed')
    this.currentState = { kind: 'stopped' }
    this.stateEmitter.dispose()
    this.startEmitter.dispose()
    this.exitEmitter.dispose()
    await Promise.all(this.pendingLogLines)
    await this.log.close()
  }

  private async doStop(timeoutMs: number): Promise<void> {
    this.cancelRestart()
    const run = this.run
    if (run && !run.exit && run.proc) {
      const proc = run.proc
      run.stopRequested = true
      this.writeLine('stopping')
      // Not awaited in sequence: a hung core may never answer, and the timeout must still apply.
      void Promise.resolve()
        .then(() => (this.options.requestShutdown ?? defaultShutdown)(proc))
        .catch((error: unknown) => {
          if (run.exit) return
          this.logger.warn(
            { error: String(error) },
            'the core did not take the shutdown request; sending SIGTERM',
          )
          proc.kill('SIGTERM')
        })
      if (!(await this.waitForExit(run, timeoutMs))) {
        this.logger.warn({ pid: run.pid, timeoutMs }, 'the core did not exit in time; killing it')
        this.writeLine(`no exit ${timeoutMs} ms after the shutdown request; sending SIGKILL`)
        proc.kill('SIGKILL')
        if (!(await this.waitForExit(run, KILL_WAIT_MS))) {
          this.logger.error({ pid: run.pid }, 'the core did not exit after SIGKILL; giving up on it')
          this.writeLine('no exit after SIGKILL; giving up on the process')
        }
      }
    }
    if (run) this.detach(run)
    if (this.run === run) this.run = undefined
    this.rejectReady('the core was stopped before it started')
    if (!this.disposed) this.setState({ kind: 'stopped' })
  }

  private readyPromise(): Promise<SupervisedProcess> {
    if (!this.ready) {
      this.ready = deferred()
      const proc = this.process
      if (this.currentState.kind === 'running' && proc) this.ready.resolve(proc)
    }
    return this.ready.promise
  }

  private rejectReady(reason: string): void {
    if (this.ready && !this.ready.settled) this.ready.reject(new Error(reason))
    this.ready = undefined
  }

  private launchNext(): void {
    this.setState({ kind: 'starting' })
    let exitedResolve!: (info: ExitInfo) => void
    const run: Run = {
      proc: undefined,
      pid: undefined,
      stopRequested: false,
      exit: undefined,
      exited: new Promise((resolve) => (exitedResolve = resolve)),
      resolveExited: (info) => exitedResolve(info),
      outputClosed: Promise.resolve(),
      subscriptions: [],
    }
    this.run = run
    let proc: SupervisedProcess
    try {
      proc = this.options.launch({ env: { ...this.env }, serviceName: this.serviceName })
    } catch (error) {
      this.handleExit(run, null, null, (error as Error).message ?? String(error))
      return
    }
    run.proc = proc
    run.outputClosed = Promise.all([this.pipe(proc.stdout), this.pipe(proc.stderr)]).then(() => undefined)
    run.subscriptions.push(
      proc.onSpawn(() => this.handleSpawn(run)),
      proc.onExit((code, signal) => this.handleExit(run, code, signal ?? null)),
    )
  }

  private handleSpawn(run: Run): void {
    if (run !== this.run || run.exit || !run.proc) return
    run.pid = run.proc.pid
    this.writeLine(`core started (pid ${run.pid ?? 'unknown'})`)
    // A stop requested before the spawn is already under way; the process is not "running".
    if (run.stopRequested) return
    this.setState({ kind: 'running', pid: run.pid })
    if (this.ready && !this.ready.settled) this.ready.resolve(run.proc)
    this.startEmitter.fire(run.proc)
  }

  private handleExit(run: Run, code: number | null, signal: NodeJS.Signals | null, error?: string): void {
    if (run.exit) return
    const requested = run.stopRequested
    const exit: ExitInfo = {
      pid: run.pid,
      code,
      signal,
      requested,
      crashed: !requested && (error !== undefined || signal !== null || code !== 0),
      ...(error !== undefined ? { error } : {}),
    }
    run.exit = exit
    run.resolveExited(exit)
    this.logExit(run, exit)
    this.exitEmitter.fire(exit)
    if (run !== this.run) return
    // stop() and dispose() own the state from here.
    if (requested || this.stopping || this.disposed) return
    this.detach(run)
    this.run = undefined
    if (this.ready?.settled) this.ready = undefined
    if (!exit.crashed) {
      this.rejectReady('the core exited before it started')
      this.setState({ kind: 'stopped' })
      return
    }
    this.afterCrash(exit)
  }

  private afterCrash(exit: ExitInfo): void {
    const now = this.now()
    this.crashTimes = this.crashTimes.filter((time) => now - time < this.windowMs)
    this.crashTimes.push(now)
    const crashes = this.crashTimes.length
    if (crashes >= this.maxCrashes) {
      const reason =
        `The codex-desk core crashed ${crashes} times in ${formatWindow(this.windowMs)}; ` +
        `${describeExit(exit)}. See ${this.logPath}.`
      this.logger.error(
        { crashes, code: exit.code, signal: exit.signal },
        'the core keeps crashing; giving up',
      )
      this.writeLine(`giving up: ${reason}`)
      this.rejectReady(reason)
      this.setState({ kind: 'failed', reason, lastExit: exit })
      return
    }
    const delayMs = backoffDelayMs(
      crashes,
      { baseMs: this.initialMs, capMs: this.maxMs, jitter: this.jitter },
      this.random,
    )
    this.logger.warn(
      { code: exit.code, signal: exit.signal, attempt: crashes, delayMs },
      'the core crashed; restarting',
    )
    const timer = {
      handle: this.timers.setTimeout(() => {
        if (this.restartTimer !== timer) return
        this.restartTimer = undefined
        this.launchNext()
      }, delayMs),
    }
    this.restartTimer = timer
    this.setState({ kind: 'restarting', attempt: crashes, delayMs, lastExit: exit })
  }

  private cancelRestart(): void {
    if (!this.restartTimer) return
    this.timers.clearTimeout(this.restartTimer.handle)
    this.restartTimer = undefined
  }

  private waitForExit(run: Run, ms: number): Promise<boolean> {
    if (run.exit) return Promise.resolve(true)
    return new Promise((resolve) => {
      const handle = this.timers.setTimeout(() => resolve(false), ms)
      void run.exited.then(() => {
        this.timers.clearTimeout(handle)
        resolve(true)
      })
    })
  }

  private detach(run: Run): void {
    for (const subscription of run.subscriptions) subscription.dispose()
    run.subscriptions = []
  }

  private pipe(stream: OutputStream | null): Promise<void> {
    if (!stream) return Promise.resolve()
    // Whole lines only, so stdout and stderr never interleave inside a line; a line that never ends
    // is written anyway past 64 KiB.
    let partial: Buffer[] = []
    let partialBytes = 0
    const flushPartial = () => {
      if (partialBytes > 0) this.log.write(Buffer.concat(partial))
      partial = []
      partialBytes = 0
    }
    return new Promise((resolve) => {
      const done = () => {
        flushPartial()
        resolve()
      }
      stream.on('data', (chunk) => {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
        const newline = buffer.lastIndexOf(0x0a)
        if (newline === -1) {
          partial.push(buffer)
          partialBytes += buffer.length
          if (partialBytes > 64 * 1024) flushPartial()
          return
        }
        partial.push(buffer.subarray(0, newline + 1))
        partialBytes += newline + 1
        flushPartial()
        if (newline + 1 < buffer.length) {
          partial.push(buffer.subarray(newline + 1))
          partialBytes += buffer.length - newline - 1
        }
      })
      stream.on('error', done)
      stream.on('end', done)
      stream.on('close', done)
    })
  }

  private logExit(run: Run, exit: ExitInfo): void {
    const what =
      exit.error !== undefined
        ? `core could not be launched: ${exit.error}`
        : `core exited (pid ${exit.pid ?? 'unknown'}, code ${exit.code}, signal ${exit.signal ?? 'none'}` +
          `${exit.requested ? ', requested' : ''})`
    // The child's last words (a stack trace) can arrive after the exit event; write them first.
    const settle = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, OUTPUT_SETTLE_MS)
      void run.outputClosed.then(() => {
        clearTimeout(timer)
        resolve()
      })
    })
    const line = settle.then(() => this.writeLine(what))
    this.pendingLogLines.add(line)
    void line.finally(() => this.pendingLogLines.delete(line))
  }

  private writeLine(text: string): void {
    this.log.write(`[codex-desk ${new Date(this.now()).toISOString()}] ${text}\n`)
  }

  private setState(state: WorkerHostState): void {
    this.currentState = state
    this.stateEmitter.fire(state)
  }

  /** A listener that throws is logged; it must not break supervision or the other listeners. */
}

async function defaultShutdown(proc: SupervisedProcess): Promise<void> {
  proc.kill('SIGTERM')
}
