/**
 * `turn/start`, `turn/steer` and `turn/interrupt` over the loaded threads: starts a TurnRunner
 * (or steers input into the running one, as codex does), and when a turn ends publishes the
 * status and `turn/completed` in codex's order: `idle` then `turn/completed`; on failure
 * `systemError`, then `error`, then `turn/completed`.
 *
 * It must never let a turn that has ended clear the state of a newer one: only the runner that is
 * the thread's current turn may reset it.
 */
import path from 'node:path'
import type { Analytics } from '../analytics/analytics'
import type { AuthManager } from '../auth/authManager'
import { invalidRequest } from '../protocol/errors'
import type { ParamsOf, ResultOf } from '../protocol/registry'
import type { RequestContext } from '../transport/requestContext'
import { turnHeader, turnSummary, type LiveThread } from '../threads/liveThread'
import type { ThreadSettings } from '../threads/rollout'
import { logIgnoredParams } from '../threads/ignoredParams'
import {
  applySettings,
  assertEffort,
  assertPermissionsExclusive,
  turnSettingsOverrides,
} from '../threads/settingsUpdate'
import type { ResolvedThreadSettings } from '../threads/threadSettings'
import type { ThreadManager } from '../threads/threadManager'
import type { ThreadStatus, Turn, UserInput } from '../protocol/items'
import { Emitter, type Event } from '../util/event'
import type { Logger } from '../util/log'
import { prepareLocalImages, prepareRequestImages } from './images'
import { ModelClient, type ModelClientOptions } from './modelClient'
import { resolveProvider } from './providers'
import type { ToolHost } from './tools'
import { TurnRunner, type TurnHost, type TurnJob, type TurnOutcome } from './turnRunner'

export interface TurnControllerOptions {
  threads: ThreadManager
  analytics: Analytics
  /** The agent's tools, loaded on the first model request (they are not needed to resume or read). */
  tools: () => Promise<ToolHost>
  env: NodeJS.ProcessEnv
  log: Logger
  /** Test hooks (a fake clock for retries). */
  modelClientOptions?: Pick<ModelClientOptions, 'sleep' | 'random'>
  /** The account: credentials (and the ChatGPT backend) for providers with `requires_openai_auth`. */
  auth?: AuthManager
  /** `originator` and `User-Agent`; the provider's own `http_headers` win over them. */
  upstreamHeaders?: () => Record<string, string>
}

const WAITING_ON_APPROVAL: ThreadStatus = { type: 'active', activeFlags: ['waitingOnApproval'] }

export class TurnController {
  private readonly turnFinished = new Emitter<{ thread: LiveThread; turn: Turn }>()
  private readonly turnEnding = new Emitter<{ thread: LiveThread; turn: Turn }>()

  constructor(private readonly options: TurnControllerOptions) {}

  async start(params: ParamsOf<'turn/start'>, ctx: RequestContext): Promise<ResultOf<'turn/start'>> {
    const { threads } = this.options
    const live = threads.require(params.threadId)
    if (params.toolOutput && params.input.length > 0) {
      throw invalidRequest('`toolOutput` cannot be combined with nonempty `input`')
    }
    if (params.input.length === 0) throw invalidRequest('input must not be empty')
    assertEffort(params.effort, params.collaborationMode?.settings.reasoning_effort)
    assertPermissionsExclusive(params.permissions, params.sandboxPolicy, 'sandboxPolicy')
    logIgnoredParams(this.options.log, 'turn/start', params)
    const current = threads.settingsOf(live).cwd
    await prepareRequestImages(params.input, params.cwd ? path.resolve(current, params.cwd) : current)
    // Like codex, a change the overrides make is announced before the response.
    await applySettings(threads, live, turnOverrides(params), (send) => send())
    const { turn, runner } = await this.steerOrPrepare(
      live,
      params.input,
      params.clientUserMessageId ?? null,
      null,
      params.outputSchema ?? null,
    )
    if (runner) ctx.afterResponse(() => this.run(runner))
    return { turn: turnHeader(turn) }
  }

  /**
   * Starts a turn the agent itself asked for (a sub-agent's task, or input sent to it): steered
   * into the running turn if there is one. Returns the turn's id.
   */
  async startInternal(live: LiveThread, input: UserInput[], rootTurnId: string | null): Promise<string> {
    // An image that cannot be read is described to the model instead (images.ts).
    await prepareLocalImages(input, this.options.threads.settingsOf(live).cwd).catch(() => undefined)
    const { turn, runner } = await this.steerOrPrepare(live, input, null, rootTurnId)
    if (runner) this.run(runner)
    return turn.id
  }

  /**
   * Steers the input into the running turn, as codex does, or prepares a new turn (`runner`) for
   * the caller to run. A turn that is wrapping up finishes first, so its turn/completed precedes
   * the next turn/started.
   */
  private async steerOrPrepare(
    live: LiveThread,
    input: UserInput[],
    clientId: string | null,
    rootTurnId: string | null,
    outputSchema: unknown = null,
  ): Promise<{ turn: Turn; runner: TurnRunner | null }> {
    while (live.running?.closing) await live.running.done
    const running = live.running
    if (running) {
      running.steer(input, clientId)
      return { turn: running.turn, runner: null }
    }
    const runner = new TurnRunner(this.host(live), input, clientId, rootTurnId, outputSchema)
    live.running = runner
    live.turns.push(runner.turn)
    return { turn: runner.turn, runner }
  }

  /**
   * thread/compact/start: a turn of its own that summarizes the context (TurnRunner `compact`).
   * Refused while a turn runs: the history it would replace is still growing.
   */
  compact(params: ParamsOf<'thread/compact/start'>, ctx: RequestContext): ResultOf<'thread/compact/start'> {
    const live = this.options.threads.require(params.threadId)
    if (live.running) {
      throw invalidRequest('cannot compact while a turn is running; wait for it to end or interrupt it')
    }
    const runner = new TurnRunner(this.host(live), [], null, null, null, 'compact')
    live.running = runner
    live.turns.push(runner.turn)
    ctx.afterResponse(() => this.run(runner))
    return {}
  }

  /**
   * A turn of its own that does `job` (review/start, thread/shellCommand), run once the response is
   * sent. Refused while a turn runs (`busy` says why). Returns the turn.
   */
  /**
   * thread/shellCommand's way, as codex does it: inside the running turn when there is one (null is
   * returned), else a turn of its own (returned).
   */
  async runJobInTurn(live: LiveThread, job: TurnJob, ctx: RequestContext): Promise<Turn | null> {
    while (live.running?.closing) await live.running.done
    const running = live.running
    if (running instanceof TurnRunner) {
      ctx.afterResponse(() => {
        // The turn may have begun to close meanwhile: the job then gets a turn of its own.
        if (!running.runAside(job)) void running.done.then(() => this.startJobNow(live, job))
      })
      return null
    }
    return this.startJob(live, job, ctx, 'cannot run this while a turn is running')
  }

  private startJobNow(live: LiveThread, job: TurnJob): void {
    if (live.running instanceof TurnRunner && live.running.runAside(job)) return
    if (live.running) {
      void live.running.done.then(() => this.startJobNow(live, job))
      return
    }
    const runner = new TurnRunner(this.host(live), [], null, null, null, 'turn', job)
    live.running = runner
    live.turns.push(runner.turn)
    this.run(runner)
  }

  startJob(live: LiveThread, job: TurnJob, ctx: RequestContext, busy: string): Turn {
    if (live.running) throw invalidRequest(busy)
    const runner = new TurnRunner(this.host(live), [], null, null, null, 'turn', job)
    live.running = runner
    live.turns.push(runner.turn)
    ctx.afterResponse(() => this.run(runner))
    return runner.turn
  }

  /**
   * Fires when a turn has ended, before its status change and `turn/completed` are published: what a
   * listener publishes synchronously reaches clients ahead of them (codex's `thread/readState/changed`).
   */
  get onTurnEnding(): Event<{ thread: LiveThread; turn: Turn }> {
    return this.turnEnding.event
  }

  /** Fires after a turn's `turn/completed` was published. */
  get onTurnFinished(): Event<{ thread: LiveThread; turn: Turn }> {
    return this.turnFinished.event
  }

  private run(runner: TurnRunner): void {
    this.options.analytics.track({ name: 'turn_started' })
    runner.start()
  }

  async steer(params: ParamsOf<'turn/steer'>): Promise<ResultOf<'turn/steer'>> {
    const live = this.options.threads.require(params.threadId)
    const check = () => {
      const running = live.running
      if (!running || running.closing) throw invalidRequest('no active turn to steer')
      if (running.turn.id !== params.expectedTurnId) {
        throw invalidRequest(
          `expected active turn id \`${params.expectedTurnId}\` but found \`${running.turn.id}\``,
        )
      }
      return running
    }
    check()
    if (params.input.length === 0) throw invalidRequest('input must not be empty')
    await prepareRequestImages(params.input, this.options.threads.settingsOf(live).cwd)
    // The turn may have ended while the images were read.
    const running = check()
    running.steer(params.input, params.clientUserMessageId ?? null)
    return { turnId: running.turn.id }
  }

  interrupt(params: ParamsOf<'turn/interrupt'>): ResultOf<'turn/interrupt'> {
    const live = this.options.threads.require(params.threadId)
    const running = live.running
    if (!running) throw invalidRequest('no active turn to interrupt')
    if (running.turn.id !== params.turnId) {
      throw invalidRequest(`expected active turn id ${params.turnId} but found ${running.turn.id}`)
    }
    running.interrupt()
    return {}
  }

  private host(live: LiveThread): TurnHost {
    const { threads, tools } = this.options
    const log = this.options.log
    return {
      thread: live,
      log,
      tools,
      publish: (method, params) => threads.events.toSubscribers(live.id, method, params),
      setActive: () => threads.setStatus(live, { type: 'active', activeFlags: [] }),
      markWaitingOnApproval: () => threads.setStatus(live, WAITING_ON_APPROVAL),
      request: async (method, params, { approval, timeoutMs, signal }) => {
        if (approval) {
          live.approvalsWaiting++
          threads.setStatus(live, WAITING_ON_APPROVAL)
        }
        try {
          return await threads.request(live, method, params, {
            signal,
            ...(timeoutMs !== undefined ? { timeoutMs } : {}),
          })
        } finally {
          if (approval && --live.approvalsWaiting === 0 && live.running) {
            threads.setStatus(live, { type: 'active', activeFlags: [] })
          }
        }
      },
      settings: () => threads.settingsOf(live),
      modelClient: (settings) => this.modelClient(settings),
      finished: (runner, outcome) => this.finished(live, runner, outcome),
    }
  }

  private modelClient(settings: ResolvedThreadSettings): ModelClient {
    const { env, auth, upstreamHeaders, log } = this.options
    const config = { ...settings.config, model_provider: settings.modelProvider }
    let provider = resolveProvider(config, env, { accountMayAuthenticate: auth !== undefined })
    if (upstreamHeaders) provider = { ...provider, headers: { ...upstreamHeaders(), ...provider.headers } }
    const chosen = auth ? auth.forModelRequest(provider) : { provider }
    return new ModelClient(chosen.provider, {
      log,
      ...this.options.modelClientOptions,
      ...(chosen.auth ? { auth: chosen.auth } : {}),
    })
  }

  private finished(live: LiveThread, runner: TurnRunner, outcome: TurnOutcome): void {
    const { threads, analytics } = this.options
    // A stale runner (one that is no longer the thread's turn) publishes nothing about the thread.
    if (live.running !== runner) return
    live.running = null
    const threadId = live.id
    const turn = runner.turn
    this.turnEnding.fire({ thread: live, turn })
    if (outcome.status === 'failed') {
      threads.setStatus(live, { type: 'systemError' })
      threads.events.toSubscribers(threadId, 'error', {
        threadId,
        turnId: turn.id,
        error: outcome.error,
        willRetry: false,
      })
    } else {
      threads.setStatus(live, { type: 'idle' })
    }
    threads.events.toSubscribers(threadId, 'turn/completed', { threadId, turn: turnSummary(turn) })
    threads.subscriptions.activity(threadId)
    this.turnFinished.fire({ thread: live, turn })
    analytics.track({
      name: 'turn_completed',
      status: outcome.status,
      durationMs: turn.durationMs ?? 0,
      ...(live.tokenUsage
        ? { inputTokens: live.tokenUsage.last.inputTokens, outputTokens: live.tokenUsage.last.outputTokens }
        : {}),
    })
  }
}

/** turn/start's sticky overrides, in thread_settings form (`serviceTier: null` changes nothing here). */
function turnOverrides(params: ParamsOf<'turn/start'>): ThreadSettings {
  const out = turnSettingsOverrides(params)
  if (params.serviceTier != null) out.serviceTier = params.serviceTier
  return out
}
