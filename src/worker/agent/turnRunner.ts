/**
 * Runs one turn of a thread: records the user's input, samples the model until it stops asking
 * for tools and no steered input is waiting, and streams every item to the thread's subscribers.
 *
 * Three rules carry it:
 * - Persist before publish: an item's `item_completed` line is written before any client hears
 *   `item/completed`, and each delta's text is written before any client hears the delta (the
 *   DeltaPipeline publishes it once its write completed; deltas arriving together share a write).
 * - What a snapshot shows is exactly what was published: an item joins `turn.items`, and streaming
 *   text grows, in the same synchronous step as its notification, so a rejoin neither misses nor
 *   repeats anything.
 * - Every turn ends: completed, interrupted (every open item gets its `item/completed`) or failed
 *   (the error goes to clients and into the rollout). Nothing a turn does can leave it hanging.
 */
import type { ThreadItem, Turn, UserInput } from '../protocol/items'
import type { NotificationParams, ServerNotificationMethod } from '../protocol/registry'
import { DeltaPipeline } from '../threads/deltaPipeline'
import { turnHeader, type RunningTurn } from '../threads/liveThread'
import { closeItem, previewOf, type RolloutPayloads, type RolloutType } from '../threads/rollout'
import type { Delivery } from '../transport/outboundRouter'
import { uuidv7 } from '../util/uuid'
import { userMessageItem } from './history'
import type { ModelRequest } from './modelClient'
import { withMcpTools } from './mcpTools'
import { compactContext, overflowRecoverable, shouldAutoCompact } from './turnCompaction'
import { turnInput } from './turnContext'
import { turnHeap } from './turnHeap'
import type { SideConversation, TurnHost, TurnJob, TurnOutcome } from './turnHost'
import { turnErrorOf } from './turnItems'
import { onModelEvent, type ModelCall, type Streaming } from './turnModelEvents'
import { jobContext, toolServices, type ServedTurn } from './turnServices'

export type { SideConversation, TurnHost, TurnJob, TurnJobContext, TurnOutcome } from './turnHost'

export class TurnRunner implements RunningTurn {
  readonly turn: Turn
  readonly openItemIds = new Set<string>()
  closing = false
  readonly done: Promise<void>
  private resolveDone!: () => void
  private readonly abort = new AbortController()
  private readonly pending: { input: UserInput[]; clientId: string | null }[] = []
  private readonly startedMs = Date.now()
  private readonly threadId: string
  /** What tools keep for the length of the turn (the patch tool's diff tracker). */
  private readonly scoped = new Map<object, unknown>()
  /** Streaming deltas waiting for their rollout write before they are published. */
  private readonly deltas = new DeltaPipeline()
  /** A "context length exceeded" answer is met by compacting and retrying, once a turn. */
  private compactedForOverflow = false

  constructor(
    private readonly host: TurnHost,
    private readonly input: UserInput[],
    private readonly clientId: string | null,
    rootTurnId: string | null = null,
    /** `turn/start`'s `outputSchema`: the model's final answer must be JSON of this schema. */
    private readonly outputSchema: unknown = null,
    /** `compact`: the turn only compacts the thread's context (thread/compact/start). */
    private readonly kind: 'turn' | 'compact' = 'turn',
    /** The turn does this instead of a model conversation over the thread's history. */
    private readonly job: TurnJob | null = null,
  ) {
    this.threadId = host.thread.id
    this.turn = {
      id: uuidv7(this.startedMs),
      rootTurnId,
      items: [],
      itemsView: 'full',
      status: 'inProgress',
      error: null,
      startedAt: Math.floor(this.startedMs / 1000),
      completedAt: null,
      durationMs: null,
    }
    this.done = new Promise((resolve) => (this.resolveDone = resolve))
  }

  get signal(): AbortSignal {
    return this.abort.signal
  }

  /** Runs the turn to its end; never rejects. */
  start(): void {
    void this.run()
  }

  steer(input: UserInput[], clientId: string | null): boolean {
    if (this.closing) return false
    this.pending.push({ input, clientId })
    return true
  }

  interrupt(): void {
    if (!this.abort.signal.aborted) this.abort.abort(new Error('turn interrupted'))
  }

  /** Jobs running beside the turn's own work (a user's shell command); the turn ends after them. */
  private readonly asides = new Set<Promise<void>>()

  /**
   * Runs `job` inside this turn, beside what it is doing (codex runs a user's shell command that
   * arrives mid-turn this way). False when the turn is closing: the caller then starts a turn.
   */
  runAside(job: TurnJob): boolean {
    if (this.closing) return false
    const running = job.run(jobContext(this.served())).catch((error: unknown) => {
      if (!this.abort.signal.aborted)
        this.host.log.warn({ threadId: this.threadId, error }, 'aside job failed')
    })
    this.asides.add(running)
    void running.finally(() => this.asides.delete(running))
    return true
  }

  private async run(): Promise<void> {
    const { host } = this
    let outcome: TurnOutcome
    turnHeap.beforeTurn()
    try {
      await this.persist('turn_started', {
        turnId: this.turn.id,
        startedAt: this.turn.startedAt as number,
        ...(this.turn.rootTurnId ? { rootTurnId: this.turn.rootTurnId } : {}),
      })
      host.setActive()
      await this.publish('turn/started', {
        threadId: this.threadId,
        turn: turnHeader(this.turn),
      })
      if (this.kind === 'compact') await this.compact()
      else if (this.job) await this.job.run(jobContext(this.served()))
      else {
        if (shouldAutoCompact(host.thread, host.settings())) await this.compact()
        await this.recordUserMessage(this.input, this.clientId)
        for (;;) {
          await this.drainSteered()
          this.throwIfAborted()
          let followUp: boolean
          try {
            followUp = await this.sample()
          } catch (error) {
            if (!this.overflowRecoverable(error)) throw error
            this.compactedForOverflow = true
            await this.compact()
            continue
          }
          if (this.pending.length > 0) continue
          if (!followUp) break
        }
      }
      while (this.asides.size > 0) await Promise.all(this.asides)
      this.closing = true
      outcome = { status: 'completed' }
    } catch (error) {
      this.closing = true
      outcome = this.abort.signal.aborted
        ? { status: 'interrupted' }
        : { status: 'failed', error: turnErrorOf(error) }
      if (outcome.status === 'failed') host.log.warn({ threadId: this.threadId, error }, 'turn failed')
    }
    // An aside stops with the turn (it shares the abort signal when interrupted): wait for its end.
    if (this.asides.size > 0) {
      if (outcome.status === 'failed') this.interrupt()
      await Promise.all(this.asides)
    }
    await this.finish(outcome)
    host.finished(this, outcome)
    this.resolveDone()
    turnHeap.afterTurn()
  }

  private throwIfAborted(): void {
    if (this.abort.signal.aborted) throw this.abort.signal.reason
  }

  private async drainSteered(): Promise<void> {
    while (this.pending.length > 0) {
      const next = this.pending.shift() as { input: UserInput[]; clientId: string | null }
      await this.recordUserMessage(next.input, next.clientId)
    }
  }

  private persist<T extends RolloutType>(type: T, payload: RolloutPayloads[T]): Promise<void> {
    return this.host.thread.sink.append(type, payload)
  }

  private publish<M extends ServerNotificationMethod>(method: M, params: NotificationParams<M>): Delivery {
    return this.host.publish(method, params)
  }

  private async recordUserMessage(input: UserInput[], clientId: string | null): Promise<void> {
    const now = Date.now()
    const item: ThreadItem = {
      type: 'userMessage',
      id: uuidv7(now),
      clientId,
      content: input,
      startedAtMs: now,
      completedAtMs: now,
    }
    const modelItem = userMessageItem(input)
    await Promise.all([
      this.persist('response_item', { turnId: this.turn.id, item: modelItem }),
      this.persist('item_completed', { turnId: this.turn.id, item }),
    ])
    const thread = this.host.thread
    thread.history.push({ turnId: this.turn.id, item: modelItem })
    if (thread.base.preview === '') thread.base.preview = previewOf(input)
    this.turn.items.push(item)
    const base = { threadId: this.threadId, turnId: this.turn.id }
    void this.publish('item/started', { ...base, item, startedAtMs: now })
    await this.publish('item/completed', { ...base, item, completedAtMs: now })
  }

  /** One model response. Returns true when the model called tools (so it must be sampled again). */
  private async sample(): Promise<boolean> {
    const { host } = this
    const settings = this.side?.settings ? this.side.settings(host.settings()) : host.settings()
    const client = host.modelClient(settings)
    const tools = await withMcpTools(await host.tools())
    const side = this.side
    // The base instructions lead the input as codex sends them (no `instructions` field).
    const input = side
      ? await side.input(settings)
      : await turnInput(host.thread, this.turn.id, settings, async (item) => {
          await this.persist('response_item', { turnId: this.turn.id, item })
          host.thread.history.push({ turnId: this.turn.id, item })
        })
    const specs = tools.specs(host.thread, settings)
    const request: ModelRequest = {
      model: settings.model,
      input,
      tools: side ? side.tools(specs) : specs,
      parallelToolCalls: false,
      store: false,
      ...(settings.effort && settings.effort !== 'none'
        ? { reasoning: { effort: settings.effort, summary: settings.summary ?? 'auto' } }
        : {}),
      ...(this.outputSchema != null ? { extraBody: { text: outputFormat(this.outputSchema) } } : {}),
    }
    const streaming = new Map<number, Streaming>()
    const calls: ModelCall[] = []
    const items = this.served()
    const run = async (call: ModelCall) => {
      this.throwIfAborted()
      const output = await tools.call(call, toolServices(this.served(), settings))
      // A tool that saw the interrupt returns early; its output is not what the model asked for.
      this.throwIfAborted()
      const item = { type: 'function_call_output', call_id: call.callId, output }
      if (side) side.remember(item)
      else {
        await this.persist('response_item', { turnId: this.turn.id, item })
        host.thread.history.push({ turnId: this.turn.id, item })
      }
      return item
    }
    for await (const event of client.stream(request, this.abort.signal)) {
      await onModelEvent(items, event, streaming, calls, settings)
      // As codex: the calls a broken stream completed run now, and the retry carries their outputs.
      if (event.type === 'retrying' && event.phase === 'stream')
        for (const call of calls.splice(0)) event.carry(await run(call))
    }
    await this.deltas.drain()
    for (const call of calls) await run(call)
    return calls.length > 0
  }

  private overflowRecoverable(error: unknown): boolean {
    return overflowRecoverable(error, this.host.thread, {
      alreadyCompacted: this.compactedForOverflow,
      aborted: this.abort.signal.aborted,
    })
  }

  /** Compacts the thread's context (turnCompaction.ts) as an item of this turn. */
  private compact(): Promise<void> {
    const { host } = this
    return compactContext({
      thread: host.thread,
      turnId: this.turn.id,
      signal: this.abort.signal,
      settings: () => host.settings(),
      modelClient: (settings) => host.modelClient(settings),
      drain: () => this.deltas.drain(),
      startItem: (item) => this.startItem(item),
      completeItem: (item) => this.completeItem(item),
      persistCompacted: (payload) => this.persist('compacted', payload),
    })
  }

  /** The side conversation `sample` is on (a job's `converse`), or null for the thread's own. */
  private side: SideConversation | null = null

  private async converse(side: SideConversation): Promise<void> {
    this.side = side
    try {
      while (await this.sample()) this.throwIfAborted()
    } finally {
      this.side = null
    }
  }

  /** This turn as its model events (turnModelEvents.ts), tools and jobs (turnServices.ts) see it. */
  private served(): ServedTurn {
    return {
      host: this.host,
      signal: this.abort.signal,
      scoped: this.scoped,
      interrupt: () => this.interrupt(),
      converse: (side) => this.converse(side),
      thread: this.host.thread,
      threadId: this.threadId,
      turnId: this.turn.id,
      deltas: this.deltas,
      side: () => this.side,
      persist: (type, payload) => this.persist(type, payload),
      publish: (method, params) => this.publish(method, params),
      startItem: (item) => this.startItem(item),
      completeItem: (item, textFromDeltas) => this.completeItem(item, textFromDeltas),
      discardItem: (item) => this.discardItem(item),
    }
  }

  private async startItem(item: ThreadItem): Promise<void> {
    const now = Date.now()
    item.startedAtMs = now
    await this.persist('item_started', { turnId: this.turn.id, item })
    this.turn.items.push(item)
    this.openItemIds.add(item.id)
    await this.publish('item/started', {
      threadId: this.threadId,
      turnId: this.turn.id,
      item,
      startedAtMs: now,
    })
  }

  /**
   * Persists the item's final state, then (same step) swaps it in and publishes `item/completed`.
   * `textFromDeltas`: the agentMessage's text is exactly what its deltas wrote (not written again).
   */
  private async completeItem(item: ThreadItem, textFromDeltas?: number): Promise<void> {
    const now = Date.now()
    item.completedAtMs ??= now
    await this.persist('item_completed', {
      turnId: this.turn.id,
      item,
      ...(textFromDeltas !== undefined ? { textFromDeltas } : {}),
    })
    const at = this.turn.items.findIndex((existing) => existing.id === item.id)
    if (at >= 0) this.turn.items[at] = item
    else this.turn.items.push(item)
    this.openItemIds.delete(item.id)
    this.host.thread.touch(now)
    await this.publish('item/completed', {
      threadId: this.threadId,
      turnId: this.turn.id,
      item,
      completedAtMs: item.completedAtMs,
    })
  }

  /** Drops an open item (what a broken stream left unfinished): no `item/completed`, gone from reads. */
  private async discardItem(item: ThreadItem): Promise<void> {
    await this.persist('item_completed', { turnId: this.turn.id, item, discarded: true })
    const at = this.turn.items.findIndex((existing) => existing.id === item.id)
    if (at >= 0) this.turn.items.splice(at, 1)
    this.openItemIds.delete(item.id)
  }

  /** Closes open items and writes `turn_completed`. Failures to write are logged, never thrown. */
  private async finish(outcome: TurnOutcome): Promise<void> {
    const { host } = this
    const thread = host.thread
    // Deltas whose text is written are published before their items close; after a failed write, none.
    await this.deltas.drain().catch(() => undefined)
    const now = Date.now()
    for (const itemId of [...this.openItemIds]) {
      const open = this.turn.items.find((item) => item.id === itemId)
      if (!open) continue
      const closed = closeItem(structuredClone(open), now)
      if (closed.type === 'agentMessage' && closed.text !== '') {
        // The model should know what it had said when the turn was cut.
        const item = {
          type: 'message',
          role: 'assistant',
          content: [{ type: 'output_text', text: closed.text }],
        }
        thread.history.push({ turnId: this.turn.id, item })
        await this.persist('response_item', { turnId: this.turn.id, item }).catch(() => undefined)
      }
      try {
        await this.completeItem(closed)
      } catch (error) {
        host.log.warn({ threadId: this.threadId, itemId, error }, 'could not persist a closed item')
        this.openItemIds.delete(itemId)
        const at = this.turn.items.indexOf(open)
        if (at >= 0) this.turn.items[at] = closed
        void this.publish('item/completed', {
          threadId: this.threadId,
          turnId: this.turn.id,
          item: closed,
          completedAtMs: now,
        })
      }
    }
    this.turn.status = outcome.status
    this.turn.error = outcome.status === 'failed' ? outcome.error : null
    this.turn.completedAt = Math.floor(now / 1000)
    this.turn.durationMs = now - this.startedMs
    try {
      await this.persist('turn_completed', {
        turnId: this.turn.id,
        status: outcome.status,
        error: this.turn.error,
        completedAt: this.turn.completedAt,
        durationMs: this.turn.durationMs,
      })
      await thread.sink.sync()
    } catch (error) {
      host.log.warn({ threadId: this.threadId, error }, 'could not persist the end of a turn')
    }
    thread.touch(now)
  }
}

/** The Responses API's structured-output format for a turn's `outputSchema`, named as codex names it. */
function outputFormat(schema: unknown): Record<string, unknown> {
  return { format: { type: 'json_schema', name: 'codex_output_schema', strict: true, schema } }
}
