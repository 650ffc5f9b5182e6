/**
 * What one `codex` or `codex-reply` call does, as an ordinary app-server client of the core: start
 * (or resume) a thread, run the prompt as a turn, report the turn's progress to the MCP caller, turn
 * the core's approval requests into MCP elicitations, and answer with the agent's final message and
 * the thread id.
 *
 * It never runs two turns on one thread at once (a second prompt while one runs is refused with a
 * readable error, not merged into the running turn), and never leaves a turn running after its call
 * was cancelled: cancelling the MCP request interrupts the turn.
 */
import type { AppServerClient, Disposable } from '../protocol/client'
import type { NotificationParams } from '../protocol/registry'

type Turn = NotificationParams<'turn/completed'>['turn']
type ThreadItem = NotificationParams<'item/started'>['item']
import { approvalElicitation, decisionFromElicitation, type ElicitResult } from './approvals'

/** What a call may do towards its MCP caller. */
export interface CallContext {
  /** Aborts when the caller cancels the request (or the MCP connection closes). */
  signal: AbortSignal
  /** A progress line; the caller sees it if it asked for progress, or in its log. */
  progress(message: string, data: Record<string, unknown>): void
  /** Asks the caller's user; undefined when the caller cannot be asked (no elicitation support). */
  elicit?: (params: Record<string, unknown>, signal: AbortSignal) => Promise<ElicitResult>
  /** The MCP request id, for the elicitation's correlation fields. */
  callId: string
}

export interface TurnOutcome {
  threadId: string
  /** The agent's last message of the turn, or the reason the turn did not finish. */
  content: string
  failed: boolean
}

interface ActiveRun {
  context: CallContext
  turnId: string | null
  /** Turns that completed before the turn/start answer told us which one is ours. */
  completed: Map<string, Turn>
  finished: (turn: Turn) => void
  /** Settles when the run is over, however it ended. */
  over: Promise<unknown>
  lastAgentMessage: string | null
  steps: number
}

export class McpSessions {
  private readonly runs = new Map<string, ActiveRun>()
  private readonly subscriptions: Disposable[] = []

  constructor(private readonly client: AppServerClient) {
    this.subscriptions.push(
      client.onNotification('item/started', (p) => this.itemStarted(p)),
      client.onNotification('item/completed', (p) => this.itemCompleted(p)),
      client.onNotification('turn/completed', (p) => this.turnCompleted(p)),
      client.onNotification('error', (p) => this.turnError(p)),
      client.handleRequest('item/commandExecution/requestApproval', async (params, request) => {
        const run = this.runs.get(params.threadId)
        const ask = approvalElicitation({ ...params, kind: 'command' }, run?.context.callId ?? '')
        const decision = await this.ask(run, ask, request.signal)
        return { decision }
      }),
      client.handleRequest('item/fileChange/requestApproval', async (params, request) => {
        const run = this.runs.get(params.threadId)
        const ask = approvalElicitation({ ...params, kind: 'fileChange' }, run?.context.callId ?? '')
        const decision = await this.ask(run, ask, request.signal)
        return { decision: typeof decision === 'string' ? decision : 'accept' }
      }),
    )
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose()
    for (const run of this.runs.values()) run.context.progress('The connection to codex-desk closed.', {})
  }

  /** `codex`: a new thread, then its first turn. */
  async start(
    params: Parameters<AppServerClient['request']>[1] & object,
    prompt: string,
    context: CallContext,
  ) {
    const started = await this.client.request('thread/start', params as never)
    context.progress(`Started thread ${started.thread.id} in ${started.cwd} (model ${started.model})`, {
      threadId: started.thread.id,
      cwd: started.cwd,
      model: started.model,
    })
    return this.runTurn(started.thread.id, prompt, context)
  }

  /** `codex-reply`: the thread is loaded (resumed from its rollout if need be), then a turn. */
  async reply(threadId: string, prompt: string, context: CallContext): Promise<TurnOutcome> {
    const previous = this.runs.get(threadId)
    // A cancelled call's turn is being interrupted: the next prompt waits for that, not an error.
    if (previous?.context.signal.aborted) await previous.over
    if (this.runs.has(threadId)) {
      return {
        threadId,
        content: `Thread ${threadId} is still working on the previous prompt; wait for it to finish first.`,
        failed: true,
      }
    }
    await this.client.request('thread/resume', { threadId })
    return this.runTurn(threadId, prompt, context)
  }

  private async runTurn(threadId: string, prompt: string, context: CallContext): Promise<TurnOutcome> {
    let finished!: (turn: Turn) => void
    const done = new Promise<Turn>((resolve) => (finished = resolve))
    let over!: () => void
    const run: ActiveRun = {
      context,
      turnId: null,
      completed: new Map(),
      finished,
      over: new Promise<void>((resolve) => (over = resolve)),
      lastAgentMessage: null,
      steps: 0,
    }
    this.runs.set(threadId, run)
    const interrupt = () => {
      if (run.turnId)
        void this.client.request('turn/interrupt', { threadId, turnId: run.turnId }).catch(() => {})
    }
    context.signal.addEventListener('abort', interrupt, { once: true })
    try {
      const { turn } = await this.client.request('turn/start', {
        threadId,
        input: [{ type: 'text', text: prompt, text_elements: [] }],
      })
      run.turnId = turn.id
      const early = run.completed.get(turn.id)
      if (early) finished(early)
      if (context.signal.aborted) interrupt()
      const final = await done
      return outcome(threadId, final, run.lastAgentMessage)
    } finally {
      context.signal.removeEventListener('abort', interrupt)
      if (this.runs.get(threadId) === run) this.runs.delete(threadId)
      over()
    }
  }

  private async ask(
    run: ActiveRun | undefined,
    ask: { message: string; params: Record<string, unknown> },
    signal: AbortSignal,
  ) {
    if (!run?.context.elicit) {
      // Nobody can be asked: the request is refused, so the agent gets "declined" and goes on within
      // the sandbox (README: "Approvals over MCP").
      run?.context.progress(
        `Declined without asking (the MCP client cannot answer approvals): ${ask.message}`,
        {},
      )
      return 'decline' as const
    }
    run.context.progress(`Waiting for approval: ${ask.message}`, {})
    const linked = AbortSignal.any([signal, run.context.signal])
    try {
      return decisionFromElicitation(await run.context.elicit(ask.params, linked))
    } catch (error) {
      run.context.progress(`The approval request failed (${(error as Error).message}); declined.`, {})
      return 'decline' as const
    }
  }

  private itemStarted(p: NotificationParams<'item/started'>): void {
    const run = this.runs.get(p.threadId)
    if (!run) return
    const line = describeStart(p.item)
    if (line)
      this.step(run, line, { threadId: p.threadId, turnId: p.turnId, itemId: p.item.id, type: p.item.type })
  }

  private itemCompleted(p: NotificationParams<'item/completed'>): void {
    const run = this.runs.get(p.threadId)
    if (!run) return
    if (p.item.type === 'agentMessage') {
      run.lastAgentMessage = p.item.text
      this.step(run, p.item.text, {
        threadId: p.threadId,
        turnId: p.turnId,
        itemId: p.item.id,
        type: 'agentMessage',
      })
      return
    }
    const line = describeEnd(p.item)
    if (line)
      this.step(run, line, { threadId: p.threadId, turnId: p.turnId, itemId: p.item.id, type: p.item.type })
  }

  private turnError(p: NotificationParams<'error'>): void {
    const run = this.runs.get(p.threadId)
    if (run && p.willRetry) this.step(run, `Retrying: ${p.error.message}`, { threadId: p.threadId })
  }

  private turnCompleted(p: NotificationParams<'turn/completed'>): void {
    const run = this.runs.get(p.threadId)
    if (!run) return
    if (run.turnId === null) run.completed.set(p.turn.id, p.turn)
    else if (p.turn.id === run.turnId) run.finished(p.turn)
  }

  private step(run: ActiveRun, message: string, data: Record<string, unknown>): void {
    run.steps += 1
    run.context.progress(message, data)
  }
}

function outcome(threadId: string, turn: Turn, lastAgentMessage: string | null): TurnOutcome {
  if (turn.status === 'completed') return { threadId, content: lastAgentMessage ?? '', failed: false }
  if (turn.status === 'interrupted') {
    return {
      threadId,
      content: lastAgentMessage ?? 'The turn was interrupted before the agent answered.',
      failed: true,
    }
  }
  const reason = turn.error?.message ?? 'the turn failed'
  return { threadId, content: `The turn failed: ${reason}`, failed: true }
}

function describeStart(item: ThreadItem): string | null {
  switch (item.type) {
    case 'commandExecution':
      return `Running \`${item.command}\``
    case 'fileChange':
      return `Editing ${item.changes.map((c) => c.path).join(', ')}`
    case 'mcpToolCall':
      return `Calling ${item.server}/${item.tool}`
    case 'webSearch':
      return `Searching the web: ${item.query}`
    default:
      return null
  }
}

function describeEnd(item: ThreadItem): string | null {
  switch (item.type) {
    case 'commandExecution':
      return `\`${item.command}\` ${item.status === 'completed' ? `exited ${item.exitCode ?? 0}` : item.status}`
    case 'fileChange':
      return `Files ${item.status === 'completed' ? 'changed' : item.status}: ${item.changes.map((c) => c.path).join(', ')}`
    default:
      return null
  }
}
