/**
 * A loaded thread: its turns with every item (the running turn's streaming items updated in
 * place), the model history, sticky settings, token usage, live status, its rollout sink, the
 * running turn if any, and the server requests it is waiting on.
 *
 * Completed items and completed turns are never mutated once published: a snapshot copies only the
 * running turn and its open items, so a response serialized later still shows the instant it was
 * taken. That is what makes a rejoin exact.
 */
import type { Thread, ThreadItem, ThreadStatus, ThreadTokenUsage, Turn, UserInput } from '../protocol/items'
import type { DynamicToolSpec } from '../protocol/tools'
import type { ModelHistoryEntry, ReplayedThread, ThreadSettings } from './rollout'
import type { RolloutSink } from './rolloutWriter'

/** What the thread needs from its running turn (the agent's turn runner implements it). */
export interface RunningTurn {
  readonly turn: Turn
  /** Ids of items started and not completed. */
  readonly openItemIds: ReadonlySet<string>
  /** True once the turn decided to end; new input then starts a new turn. */
  readonly closing: boolean
  /** Settles when the turn has completed and everything about it was published. */
  readonly done: Promise<void>
  /** Adds input to the running turn; false when it is closing. */
  steer(input: UserInput[], clientUserMessageId: string | null): boolean
  interrupt(): void
}

/** Commands and paths the user accepted for the session. */
export class SessionApprovals {
  /** By command text: whether it was approved to run in the sandbox or outside it. */
  readonly commands = new Map<string, { sandboxed: boolean }>()
  readonly paths = new Set<string>()
}

const IDLE: ThreadStatus = { type: 'idle' }

export class LiveThread {
  readonly id: string
  /** Thread fields other than status and turns. */
  readonly base: Thread
  readonly turns: Turn[]
  readonly history: ModelHistoryEntry[]
  sticky: ThreadSettings
  tokenUsage: ThreadTokenUsage | null
  status: ThreadStatus = IDLE
  running: RunningTurn | null = null
  /** Server requests (approvals, tool calls) this thread waits on, by broker id. */
  readonly pendingRequests = new Set<number>()
  /** Approval requests now waiting: the status shows `waitingOnApproval` while any is. */
  approvalsWaiting = 0
  /** What the user allowed "for the session" (this load of the thread). */
  readonly sessionApprovals = new SessionApprovals()
  /** Tools the client serves for this thread (dynamic tools), stored with the thread. */
  dynamicTools: DynamicToolSpec[] = []
  /** Identifies this load of the thread (ThreadSubscriptions listener generation). */
  generation = 0
  /** Model, provider and effort follow the config (SessionMeta `modelFromFallbackConfig`). */
  readonly modelFollowsConfig: boolean

  constructor(
    replayed: Pick<ReplayedThread, 'thread' | 'turns' | 'modelHistory' | 'settings' | 'tokenUsage' | 'meta'>,
    readonly sink: RolloutSink,
  ) {
    this.id = replayed.thread.id
    this.base = { ...replayed.thread, turns: [] }
    this.turns = replayed.turns
    this.history = replayed.modelHistory
    this.sticky = replayed.settings
    this.tokenUsage = replayed.tokenUsage
    this.dynamicTools = replayed.meta?.dynamicTools ?? []
    this.modelFollowsConfig = replayed.meta?.modelFromFallbackConfig === true
  }

  get ephemeral(): boolean {
    return this.base.ephemeral
  }

  /** The thread as clients see it now; `withTurns` copies the running turn (see the file comment). */
  snapshot(withTurns: boolean): Thread {
    return { ...this.base, status: this.status, turns: withTurns ? this.turnsSnapshot() : [] }
  }

  turnsSnapshot(): Turn[] {
    const running = this.running
    if (!running) return this.turns.slice()
    return this.turns.map((turn) => (turn === running.turn ? copyRunning(turn, running.openItemIds) : turn))
  }

  /** Bumps `updatedAt` (seconds). */
  touch(nowMs = Date.now()): void {
    this.base.updatedAt = Math.max(this.base.updatedAt, Math.floor(nowMs / 1000))
  }
}

function copyRunning(turn: Turn, open: ReadonlySet<string>): Turn {
  const items: ThreadItem[] = turn.items.map((item) => (open.has(item.id) ? structuredClone(item) : item))
  return { ...turn, items }
}

/** A thread's Turn as `turn/started` and `turn/start` report it: no items yet. */
export function turnHeader(turn: Turn): Turn {
  return { ...turn, items: [], itemsView: 'notLoaded' }
}

/** `turn/completed`'s view: only the final agent message(s), as codex sends (`itemsView: summary`). */
export function turnSummary(turn: Turn): Turn {
  let last = -1
  for (let i = turn.items.length - 1; i >= 0; i--) {
    const item = turn.items[i] as ThreadItem
    if (item.type === 'agentMessage') {
      last = i
      break
    }
    if (item.type === 'userMessage') break
  }
  return { ...turn, items: last >= 0 ? [turn.items[last] as ThreadItem] : [], itemsView: 'summary' }
}
