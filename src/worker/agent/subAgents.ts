/**
 * Sub-agents (protocol.md §12): the model tools `spawn_agent`, `send_input`, `wait_agent` and
 * `close_agent`. A child is a real thread (`parentThreadId`, `source.subAgent.thread_spawn`) that
 * runs its own turns; every initialized connection is attached to it and hears `thread/started`.
 * The parent shows each call as a `collabAgentToolCall` item with the children it concerns and
 * their states.
 *
 * It must never let a runaway model grow without bound: children nest at most `agents.max_depth`
 * deep, and at most `agents.max_threads` of one parent's children run at once. A child's events
 * carry the child's thread id; nothing a child does completes the parent's turn.
 */
import type { CollabAgentState, CollabAgentToolCallItem } from '../protocol/items'
import { forkLines, type PendingLine } from '../threads/forkLines'
import type { LiveThread } from '../threads/liveThread'
import type { SessionMeta } from '../threads/rollout'
import { metaOfThread } from '../threads/threadLoader'
import type { ThreadManager } from '../threads/threadManager'
import type { Disposable } from '../util/event'
import { uuidv7 } from '../util/uuid'
import {
  CloseArgs,
  DEFAULT_WAIT_MS,
  FINAL,
  inputOf,
  limitsOf,
  MAX_WAIT_MS,
  MIN_WAIT_MS,
  NICKNAMES,
  parse,
  SendInputArgs,
  SpawnArgs,
  stateOfTurn,
  WaitArgs,
  wireStatus,
} from './subAgentArgs'
import type { Tool, ToolCall, ToolOutput, ToolServices } from './tools'
import type { TurnController } from './turns'

interface Child {
  parentId: string
  closed: boolean
  /** The state when its last turn ended (kept for a child that unloads). */
  last: CollabAgentState
}

export class SubAgents implements Disposable {
  private readonly children = new Map<string, Child>()
  private readonly changed = new Set<() => void>()
  private readonly subscription: Disposable

  constructor(
    private readonly threads: ThreadManager,
    private readonly turns: TurnController,
    private readonly version: string,
  ) {
    this.subscription = turns.onTurnFinished(({ thread, turn }) => {
      const child = this.children.get(thread.id)
      if (!child) return
      child.last = stateOfTurn(turn)
      for (const wake of [...this.changed]) wake()
    })
  }

  dispose(): void {
    this.subscription.dispose()
    this.changed.clear()
  }

  tools(): Tool[] {
    const multiAgent = (settings: ToolServices['settings']) => settings.config.features?.multi_agent !== false
    const canSpawn = (thread: LiveThread, settings: ToolServices['settings']) =>
      multiAgent(settings) && this.depthOf(thread) < limitsOf(settings).maxDepth
    const hasChildren = (thread: LiveThread) =>
      [...this.children.values()].some((child) => child.parentId === thread.id)
    const canManage = (thread: LiveThread, settings: ToolServices['settings']) =>
      multiAgent(settings) && (canSpawn(thread, settings) || hasChildren(thread))
    const tool = (
      name: string,
      description: string,
      properties: object,
      required: string[],
      offered: (thread: LiveThread, settings: ToolServices['settings']) => boolean,
      call: (call: ToolCall, services: ToolServices) => Promise<ToolOutput>,
    ): Tool => ({
      name,
      spec: (thread, settings) =>
        offered(thread, settings) && {
          type: 'function',
          name,
          description,
          strict: false,
          parameters: { type: 'object', properties, required, additionalProperties: false },
        },
      call,
    })
    const id = { type: 'string', description: 'Agent id (from spawn_agent).' }
    const items = {
      type: 'array',
      description: 'Structured input items (text, image, local_image, skill, mention). Use message or items.',
      items: { type: 'object' },
    }
    return [
      tool(
        'spawn_agent',
        'Spawn a sub-agent for a well-scoped task, only when the user asks for sub-agents or parallel work. Returns the agent id and its nickname.',
        {
          message: { type: 'string', description: 'Initial plain-text task for the new agent.' },
          items,
          fork_context: {
            type: 'boolean',
            description: "When true, the new agent starts with this thread's history.",
          },
          model: { type: 'string', description: 'Optional model override for the new agent.' },
          reasoning_effort: { type: 'string', description: 'Optional reasoning effort override.' },
        },
        [],
        canSpawn,
        (call, services) => this.spawn(call, services),
      ),
      tool(
        'send_input',
        'Send a message to an existing agent. With interrupt, its current turn stops first.',
        {
          id,
          message: { type: 'string', description: 'Plain-text message.' },
          items,
          interrupt: { type: 'boolean', description: 'Interrupt the agent before sending.' },
        },
        ['id'],
        canManage,
        (call, services) => this.sendInput(call, services),
      ),
      tool(
        'wait_agent',
        'Wait for agents to finish. Returns when any target reaches a final status, or at the timeout. Use sparingly.',
        {
          targets: { type: 'array', items: { type: 'string' }, description: 'Agent ids to wait on.' },
          timeout_ms: {
            type: 'number',
            description: `Timeout in milliseconds (default ${DEFAULT_WAIT_MS}, min ${MIN_WAIT_MS}, max ${MAX_WAIT_MS}).`,
          },
        },
        ['targets'],
        canManage,
        (call, services) => this.wait(call, services),
      ),
      tool(
        'close_agent',
        'Close an agent that is no longer needed; a running turn is interrupted.',
        { id },
        ['id'],
        canManage,
        (call, services) => this.close(call, services),
      ),
    ]
  }

  // ------------------------------------------------------------------------------------------

  private depthOf(thread: LiveThread): number {
    const source = thread.base.source
    if (typeof source === 'object' && 'subAgent' in source) {
      const spawn = source.subAgent
      if (typeof spawn === 'object' && 'thread_spawn' in spawn) return spawn.thread_spawn.depth
    }
    return 0
  }

  /** The child's state now, as `agentsStates` reports it. */
  stateOf(id: string): CollabAgentState {
    const child = this.children.get(id)
    if (child?.closed) return { status: 'shutdown', message: null }
    const live = this.threads.get(id)
    if (!live) return child ? child.last : { status: 'notFound', message: null }
    if (live.running) return { status: 'running', message: null }
    const last = live.turns.at(-1)
    return last ? stateOfTurn(last) : { status: 'pendingInit', message: null }
  }

  private async spawn(call: ToolCall, services: ToolServices): Promise<ToolOutput> {
    const args = parse(call, SpawnArgs)
    if (typeof args === 'string') return args
    const input = inputOf(args.message, args.items)
    const parent = services.thread
    const { settings } = services
    const item = this.item(call, services, 'spawnAgent', [], {
      prompt: args.message ?? null,
      model: args.model ?? null,
      reasoningEffort: args.reasoning_effort ?? null,
    })
    await services.startItem(item)
    const depth = this.depthOf(parent) + 1
    const limits = limitsOf(settings)
    const running = [...this.children.entries()].filter(
      ([id, child]) => child.parentId === parent.id && !FINAL.has(this.stateOf(id).status),
    ).length
    const refusal =
      input.length === 0
        ? 'spawn_agent needs a non-empty message or items'
        : depth > limits.maxDepth
          ? `Agent depth limit reached (max ${limits.maxDepth}). Solve the task yourself.`
          : running >= limits.maxThreads
            ? `collab spawn failed: agent thread limit reached (max ${limits.maxThreads})`
            : null
    if (refusal) {
      await services.completeItem({ ...item, status: 'failed' })
      return refusal
    }
    const nickname = NICKNAMES[this.children.size % NICKNAMES.length] as string
    const meta: SessionMeta = {
      ...metaOfThread(parent.base),
      id: uuidv7(),
      createdAt: Math.floor(Date.now() / 1000),
      cliVersion: this.version,
      cwd: settings.cwd,
      source: {
        subAgent: {
          thread_spawn: {
            parent_thread_id: parent.id,
            depth,
            agent_path: null,
            agent_nickname: nickname,
            agent_role: null,
          },
        },
      },
      model: args.model ?? settings.model,
      modelProvider: settings.modelProvider,
      reasoningEffort: args.reasoning_effort ?? settings.effort,
      forkedFromId: null,
      parentThreadId: parent.id,
      agentNickname: nickname,
      agentRole: null,
      name: null,
    }
    const sticky = {
      ...parent.sticky,
      ...(args.model ? { model: args.model } : {}),
      ...(args.reasoning_effort ? { effort: args.reasoning_effort } : {}),
    }
    const lines: PendingLine[] = []
    if (Object.keys(sticky).length) lines.push({ type: 'thread_settings', payload: { overrides: sticky } })
    if (args.fork_context) {
      // Only finished turns: the running one holds this very call, which has no output yet.
      const lastDone = parent.turns.filter((turn) => turn.status !== 'inProgress').at(-1)
      if (lastDone)
        lines.push(...forkLines({ turns: parent.turnsSnapshot(), history: parent.history }, lastDone.id))
    }
    const child = await this.threads.spawn(meta, lines, parent.ephemeral)
    this.children.set(child.id, {
      parentId: parent.id,
      closed: false,
      last: { status: 'pendingInit', message: null },
    })
    await services.completeItem({
      ...item,
      status: 'completed',
      receiverThreadIds: [child.id],
      agentsStates: { [child.id]: { status: 'pendingInit', message: null } },
    })
    await this.turns.startInternal(child, input, services.turnId)
    return JSON.stringify({ agent_id: child.id, nickname })
  }

  private async sendInput(call: ToolCall, services: ToolServices): Promise<ToolOutput> {
    const args = parse(call, SendInputArgs)
    if (typeof args === 'string') return args
    const item = this.item(call, services, 'sendInput', [args.id], { prompt: args.message ?? null })
    await services.startItem(item)
    const input = inputOf(args.message, args.items)
    const live = this.threads.get(args.id)
    const child = this.children.get(args.id)
    const problem =
      input.length === 0
        ? 'send_input needs a non-empty message or items'
        : !child || !live
          ? `agent with id ${args.id} not found`
          : child.closed
            ? `agent with id ${args.id} is closed`
            : null
    if (problem || !live) {
      await services.completeItem({
        ...item,
        status: 'failed',
        agentsStates: { [args.id]: this.stateOf(args.id) },
      })
      return problem as string
    }
    if (args.interrupt && live.running) {
      live.running.interrupt()
      await live.running.done
    }
    const turnId = await this.turns.startInternal(live, input, services.turnId)
    await services.completeItem({
      ...item,
      status: 'completed',
      agentsStates: { [args.id]: this.stateOf(args.id) },
    })
    return JSON.stringify({ submission_id: turnId })
  }

  private async wait(call: ToolCall, services: ToolServices): Promise<ToolOutput> {
    const args = parse(call, WaitArgs)
    if (typeof args === 'string') return args
    const targets = [...new Set(args.targets ?? args.ids ?? [])]
    const item = this.item(call, services, 'wait', targets, {})
    await services.startItem(item)
    if (targets.length === 0) {
      await services.completeItem({ ...item, status: 'failed' })
      return 'wait_agent needs at least one target'
    }
    const timeoutMs = Math.min(MAX_WAIT_MS, Math.max(MIN_WAIT_MS, args.timeout_ms ?? DEFAULT_WAIT_MS))
    const anyFinal = () => targets.some((id) => FINAL.has(this.stateOf(id).status))
    const timedOut = !anyFinal() && !(await this.until(anyFinal, timeoutMs, services.signal))
    const states = Object.fromEntries(targets.map((id) => [id, this.stateOf(id)]))
    await services.completeItem({ ...item, status: 'completed', agentsStates: states })
    const status = Object.fromEntries(
      Object.entries(states)
        .filter(([, state]) => FINAL.has(state.status))
        .map(([id, state]) => [id, wireStatus(state)]),
    )
    return JSON.stringify({ status, timed_out: timedOut })
  }

  private async close(call: ToolCall, services: ToolServices): Promise<ToolOutput> {
    const args = parse(call, CloseArgs)
    if (typeof args === 'string') return args
    const item = this.item(call, services, 'closeAgent', [args.id], {})
    await services.startItem(item)
    const child = this.children.get(args.id)
    const before = this.stateOf(args.id)
    if (!child) {
      await services.completeItem({ ...item, status: 'failed', agentsStates: { [args.id]: before } })
      return `agent with id ${args.id} not found`
    }
    const live = this.threads.get(args.id)
    if (live?.running) {
      live.running.interrupt()
      await live.running.done
    }
    child.closed = true
    for (const wake of [...this.changed]) wake()
    await services.completeItem({
      ...item,
      status: 'completed',
      agentsStates: { [args.id]: { status: 'shutdown', message: null } },
    })
    return JSON.stringify({ status: wireStatus(before) })
  }

  /** Resolves true when `done()` holds, false at the timeout; rejects when the turn is interrupted. */
  private until(done: () => boolean, timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const finish = (outcome: boolean | Error) => {
        clearTimeout(timer)
        this.changed.delete(check)
        signal.removeEventListener('abort', onAbort)
        if (outcome instanceof Error) reject(outcome)
        else resolve(outcome)
      }
      const check = () => {
        if (done()) finish(true)
      }
      const onAbort = () =>
        finish(signal.reason instanceof Error ? signal.reason : new Error('turn interrupted'))
      const timer = setTimeout(() => finish(false), timeoutMs)
      this.changed.add(check)
      if (signal.aborted) onAbort()
      else signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  private item(
    call: ToolCall,
    services: ToolServices,
    tool: CollabAgentToolCallItem['tool'],
    receivers: string[],
    extra: Partial<Pick<CollabAgentToolCallItem, 'prompt' | 'model' | 'reasoningEffort'>>,
  ): CollabAgentToolCallItem {
    return {
      type: 'collabAgentToolCall',
      id: call.callId,
      tool,
      status: 'inProgress',
      senderThreadId: services.threadId,
      receiverThreadIds: receivers,
      prompt: null,
      model: null,
      reasoningEffort: null,
      agentsStates: {},
      ...extra,
    }
  }
}
