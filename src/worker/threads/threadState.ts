/**
 * Per-thread state that is not history: the read state (which finished turn first needs the user's
 * attention, guarded by a revision) and the thread's goal. Both live in one append-only log,
 * `$home/thread_state.jsonl`, one line per change holding that thread's whole state (the last line
 * for an id wins), so they survive a restart and two processes on one home both append safely.
 *
 * It must never lose an acknowledged change: a mutation resolves only after its line is written.
 * It never reads rollouts; callers say which thread a state belongs to and whether it may have one.
 */
import { randomUUID } from 'node:crypto'
import {
  appendFileSync,
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { invalidRequest } from '../protocol/errors'
import type { Thread, ThreadItem, Turn } from '../protocol/items'
import type { ThreadGoal, ThreadReadState } from '../protocol/threadHistory'
import { silentLogs, type Logger } from '../util/log'

export const THREAD_STATE_FILE = 'thread_state.jsonl'

/** As stored: `firstUnreadTurn` '' means "marked unread at the thread's start", null means read. */
interface StoredReadState {
  firstUnreadTurn: string | null
  revision: string
}

interface StoredState {
  readState: StoredReadState | null
  goal: ThreadGoal | null
}

interface LogLine extends StoredState {
  id: string
}

export type ReadStateUpdate =
  | { kind: 'applied'; readState: ThreadReadState }
  | { kind: 'conflict'; readState: ThreadReadState }
  | { kind: 'unavailable' }

/**
 * Threads whose finished turns can ask for attention, as codex decides: stored, started by a person
 * (not a sub-agent, an internal or unknown source), and not a helper thread (`threadSource` other
 * than `user`, e.g. the TUI's title generator).
 */
export function readStateEligible(thread: Pick<Thread, 'ephemeral' | 'source' | 'threadSource'>): boolean {
  if (thread.ephemeral) return false
  if (typeof thread.source !== 'string' || thread.source === 'unknown') return false
  return thread.threadSource === null || thread.threadSource === 'user'
}

/** thread/read's `readState`: the thread's read state when it may have one, else null (as codex). */
export function readStateOfThread(
  home: string,
  thread: Pick<Thread, 'id' | 'ephemeral' | 'source' | 'threadSource'>,
): ThreadReadState | null {
  return readStateEligible(thread) ? ThreadStateStore.forHome(home).readState(thread.id) : null
}

function toWire(state: StoredReadState): ThreadReadState {
  const turn = state.firstUnreadTurn
  return {
    firstUnread:
      turn === null ? null : turn === '' ? { type: 'threadStart' } : { type: 'turn', turnId: turn },
    revision: state.revision,
  }
}

const stores = new Map<string, ThreadStateStore>()

export class ThreadStateStore {
  readonly path: string
  private readonly states = new Map<string, StoredState>()
  /** Bytes of the log this process has applied (always at a line end). */
  private applied = 0
  private lines = 0
  /** Mutations run one at a time: each reads, decides and appends before the next starts. */
  private queue: Promise<unknown> = Promise.resolve()

  /** One store per home in a process, so every part of the core sees the same state. */
  static forHome(home: string, logger?: Logger): ThreadStateStore {
    let store = stores.get(home)
    if (!store) stores.set(home, (store = new ThreadStateStore(home, logger)))
    return store
  }

  private constructor(
    home: string,
    private readonly logger: Logger = silentLogs.get('threads'),
  ) {
    this.path = join(home, THREAD_STATE_FILE)
  }

  // ------------------------------------------------------------------------------------------
  // Read state

  /** The thread's read state, or null before anything asked for its attention. */
  readState(threadId: string): ThreadReadState | null {
    this.catchUp()
    const stored = this.states.get(threadId)?.readState
    return stored ? toWire(stored) : null
  }

  /** Read states of the given threads that have one (thread/list's `readStates`). */
  readStates(threadIds: Iterable<string>): Record<string, ThreadReadState> {
    this.catchUp()
    const out: Record<string, ThreadReadState> = {}
    for (const id of threadIds) {
      const stored = this.states.get(id)?.readState
      if (stored) out[id] = toWire(stored)
    }
    return out
  }

  /**
   * Marks the thread read or unread if `expectedRevision` is the current revision; otherwise
   * reports the current state as a conflict. A thread without a read state is unavailable.
   */
  update(threadId: string, operation: 'read' | 'unread', expectedRevision: string): Promise<ReadStateUpdate> {
    return this.mutate(async () => {
      const state = this.states.get(threadId)
      const current = state?.readState
      if (!state || !current) return { kind: 'unavailable' }
      if (current.revision !== expectedRevision) return { kind: 'conflict', readState: toWire(current) }
      const next: StoredReadState = {
        firstUnreadTurn: operation === 'read' ? null : (current.firstUnreadTurn ?? ''),
        revision: randomUUID(),
      }
      this.write(threadId, { ...state, readState: next })
      return { kind: 'applied', readState: toWire(next) }
    })
  }

  /**
   * A finished turn asks for attention: it becomes the first unread position unless an earlier one
   * is still unread. Returns the new state when it changed.
   */
  attention(threadId: string, turnId: string): ThreadReadState | null {
    this.catchUp()
    const state = this.states.get(threadId) ?? { readState: null, goal: null }
    if (state.readState && state.readState.firstUnreadTurn !== null) return null
    const next: StoredReadState = { firstUnreadTurn: turnId, revision: randomUUID() }
    this.write(threadId, { ...state, readState: next })
    return toWire(next)
  }

  // ------------------------------------------------------------------------------------------
  // Goals

  goal(threadId: string): ThreadGoal | null {
    this.catchUp()
    return this.states.get(threadId)?.goal ?? null
  }

  /** Replaces the goal with what `change` makes of the current one (null: no goal yet). */
  setGoal(threadId: string, change: (current: ThreadGoal | null) => ThreadGoal): Promise<ThreadGoal> {
    return this.mutate(async () => {
      const state = this.states.get(threadId) ?? { readState: null, goal: null }
      const goal = change(state.goal)
      this.write(threadId, { ...state, goal })
      return goal
    })
  }

  /** Removes the goal; false when there was none. */
  clearGoal(threadId: string): Promise<boolean> {
    return this.mutate(async () => {
      const state = this.states.get(threadId)
      if (!state?.goal) return false
      this.write(threadId, { ...state, goal: null })
      return true
    })
  }

  /** Waits for queued writes (tests, shutdown). */
  async flush(): Promise<void> {
    await this.queue.catch(() => undefined)
  }

  // ------------------------------------------------------------------------------------------
  // The log

  private mutate<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      this.catchUp()
      return work()
    })
    this.queue = run.catch(() => undefined)
    return run
  }

  /**
   * Appends the thread's new state. Synchronous (one short line, a few times per turn at most), so
   * no other change can come between a caller's decision and its line, and a caller can announce
   * the change right after, in order with the turn's other events. Compaction, when the log has grown, is synchronous too.
   */
  private write(threadId: string, state: StoredState): void {
    const line = JSON.stringify({ id: threadId, ...state } satisfies LogLine) + '\n'
    appendFileSync(this.path, line, { encoding: 'utf8', mode: 0o600 })
    this.states.set(threadId, state)
    // Reading our own line back also picks up whatever another process appended before it.
    this.catchUp()
    if (this.lines > Math.max(64, 2 * this.states.size)) this.compact()
  }

  /**
   * Applies lines appended since the last look (by this process or another). A log that shrank was
   * compacted by another process: it is read again from the start.
   */
  private catchUp(): void {
    let fd: number
    try {
      fd = openSync(this.path, 'r')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        this.logger.warn({ error }, 'cannot read thread state')
      return
    }
    try {
      const size = fstatSync(fd).size
      if (size < this.applied) {
        this.states.clear()
        this.applied = 0
        this.lines = 0
      }
      if (size === this.applied) return
      const buffer = Buffer.alloc(size - this.applied)
      const read = readSync(fd, buffer, 0, buffer.length, this.applied)
      const end = buffer.subarray(0, read).lastIndexOf(0x0a) + 1
      if (end === 0) return
      for (const text of buffer.subarray(0, end).toString('utf8').split('\n')) {
        if (text.trim() === '') continue
        this.lines++
        try {
          const line = JSON.parse(text) as LogLine
          if (typeof line.id === 'string')
            this.states.set(line.id, { readState: line.readState ?? null, goal: line.goal ?? null })
        } catch {
          this.logger.warn({ path: this.path }, 'skipped an unreadable thread state line')
        }
      }
      this.applied += end
    } finally {
      closeSync(fd)
    }
  }

  /** Rewrites the log as one line per thread that still has state, through a temp file. */
  private compact(): void {
    const tmp = `${this.path}.${process.pid}.tmp`
    let text = ''
    for (const [id, state] of this.states) {
      if (state.readState || state.goal) text += JSON.stringify({ id, ...state } satisfies LogLine) + '\n'
    }
    try {
      const fd = openSync(tmp, 'w', 0o600)
      try {
        writeFileSync(fd, text, 'utf8')
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
      renameSync(tmp, this.path)
      this.applied = Buffer.byteLength(text)
      this.lines = text === '' ? 0 : text.split('\n').length - 1
    } catch (error) {
      this.logger.warn({ error }, 'could not compact the thread state log')
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The rules codex applies around the stored state

/** What `thread/goal/set` may change. */
export interface GoalChange {
  objective?: string | null | undefined
  status?: ThreadGoal['status'] | null | undefined
  tokenBudget?: number | null | undefined
}

/** The goal after a `thread/goal/set`, or the error codex gives for it. */
export function changedGoal(
  threadId: string,
  current: ThreadGoal | null,
  change: GoalChange,
  nowMs = Date.now(),
): ThreadGoal {
  if (change.tokenBudget != null && change.tokenBudget <= 0)
    throw invalidRequest('goal budgets must be positive when provided')
  if (change.objective != null && change.objective.trim() === '')
    throw invalidRequest('goal objective must not be empty')
  const now = Math.floor(nowMs / 1000)
  if (!current) {
    if (change.objective == null)
      throw invalidRequest(`cannot update goal for thread ${threadId}: no goal exists`)
    return {
      threadId,
      objective: change.objective,
      status: change.status ?? 'active',
      tokenBudget: change.tokenBudget ?? null,
      tokensUsed: 0,
      timeUsedSeconds: 0,
      createdAt: now,
      updatedAt: now,
    }
  }
  const next: ThreadGoal = {
    ...current,
    objective: change.objective ?? current.objective,
    status: change.status ?? current.status,
    tokenBudget: change.tokenBudget ?? current.tokenBudget,
  }
  const changed =
    next.objective !== current.objective ||
    next.status !== current.status ||
    next.tokenBudget !== current.tokenBudget
  return changed ? { ...next, updatedAt: now } : current
}

/**
 * Whether a finished turn asks for the user's attention (codex's rule): a failure always does; a
 * completed turn does when it ends with a non-empty answer and no active goal will carry on by
 * itself; an interrupted one when it has an error or an answer.
 */
export function turnNeedsAttention(turn: Turn, goal: ThreadGoal | null): boolean {
  let answer: string | null = null
  for (let i = turn.items.length - 1; i >= 0; i--) {
    const item = turn.items[i] as ThreadItem
    if (item.type === 'agentMessage') {
      answer = item.text
      break
    }
  }
  if (turn.status === 'failed' || turn.error) return true
  if (turn.status === 'interrupted') return answer !== null
  if (turn.status !== 'completed' || answer === null) return false
  if (answer.includes('<decision>DONT_NOTIFY</decision>')) return false
  return goal?.status !== 'active' && answer.trim() !== ''
}
