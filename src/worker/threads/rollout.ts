/**
 * The replay that rebuilds a thread from its rollout lines (docs/rollouts.md). The line format is in
 * rolloutLines.ts and re-exported here; how streaming text lines grow an item is in rolloutText.ts.
 * Pure functions over objects.
 *
 * It must never do I/O (the store does) and never throw on bad input from disk: a line that refers
 * to something replay cannot place is reported in `problems` and everything else is still used.
 */
import type { Thread, ThreadItem, ThreadTokenUsage, Turn, UserInput } from '../protocol/items'
import type { RolloutLine, SessionMeta, ThreadSettings } from './rolloutLines'
import { applyTextDelta, completedFromDeltas, withCheckpoint } from './rolloutText'

export * from './rolloutLines'

// ---------------------------------------------------------------------------------------------
// Replay

/** How long a preview is, in characters: enough for a list row. */
export const PREVIEW_MAX_CHARS = 200

/** The preview of a thread: the text of its first user message, truncated. */
export function previewOf(content: readonly UserInput[]): string {
  const text = content
    .filter((input): input is Extract<UserInput, { type: 'text' }> => input.type === 'text')
    .map((input) => input.text)
    .join('\n')
    .trim()
  if (text.length <= PREVIEW_MAX_CHARS) return text
  return Array.from(text).slice(0, PREVIEW_MAX_CHARS).join('')
}

export interface ModelHistoryEntry {
  turnId: string | null
  item: unknown
}

export interface ReplayedThread {
  /** Status `notLoaded`; `turns` filled with `itemsView: 'full'`. */
  thread: Thread
  /** The same array as `thread.turns`. */
  turns: Turn[]
  meta: SessionMeta | null
  name: string | null
  /**
   * Every `response_item`, in order (from the last `compacted` line's replacement history on):
   * enough to rebuild the model's input exactly.
   */
  modelHistory: ModelHistoryEntry[]
  /** The last `token_usage`, or null. */
  tokenUsage: ThreadTokenUsage | null
  /** Sticky overrides, merged in order. */
  settings: ThreadSettings
  /** Items that were started but never completed (before replay closed them), in order. */
  openItems: { turnId: string; itemId: string }[]
  /** Turns with no `turn_completed` line that replay closed as interrupted (a crashed process). */
  interruptedOnReplay: string[]
  /** The highest ordinal seen, -1 for none. */
  lastOrdinal: number
  /** Lines that referred to something replay could not place (e.g. an item for an unknown turn). */
  problems: string[]
}

export interface ReplayOptions {
  /** Used when the session_meta line is missing or unreadable. */
  threadId?: string
  path?: string | null
  /**
   * What a turn without `turn_completed` is. `interrupted` (the default): the process that ran it
   * died, so the turn and its open items are closed. `inProgress`: the turn is running in this
   * process (a read of a live thread), so it and its streaming items are left open.
   */
  openTurn?: 'interrupted' | 'inProgress'
}

const CLOSED_TOOL_STATUS = 'failed'

/** Marks an item that will never complete as closed: no spinner forever on the client. */
export function closeItem(item: ThreadItem, atMs: number | undefined): ThreadItem {
  const closed = { ...item } as ThreadItem & { status?: unknown }
  if (closed.status === 'inProgress') {
    closed.status = closed.type === 'collabAgentToolCall' ? 'interrupted' : CLOSED_TOOL_STATUS
  }
  if (closed.completedAtMs === undefined && atMs !== undefined) closed.completedAtMs = atMs
  return closed as ThreadItem
}

interface TurnState {
  turn: Turn
  /** Index in turn.items by item id. */
  index: Map<string, number>
  /** Items started and not yet completed. */
  open: Set<string>
  /** When the turn's latest line was written: a crashed turn's best-known end. */
  lastLineMs: number
  startedLineMs: number
}

const seconds = (ms: number) => Math.floor(ms / 1000)

/**
 * Rebuilds a thread from its lines. Items keep the order in which they first appeared; an item's
 * latest state wins (item_completed over item_started over checkpoints). See ReplayOptions.openTurn
 * for turns that never completed.
 */
export function replay(lines: readonly RolloutLine[], options: ReplayOptions = {}): ReplayedThread {
  const openTurn = options.openTurn ?? 'interrupted'
  const problems: string[] = []
  let meta: SessionMeta | null = null
  let name: string | null = null
  let settings: ThreadSettings = {}
  let tokenUsage: ThreadTokenUsage | null = null
  let preview: string | null = null
  let lastOrdinal = -1
  let firstMs: number | null = null
  let lastMs = 0
  let recencyMs: number | null = null
  const modelHistory: ModelHistoryEntry[] = []
  const turns: TurnState[] = []
  const byId = new Map<string, TurnState>()

  const interruptedOnReplay: string[] = []
  const closeTurn = (state: TurnState) => {
    const { turn } = state
    if (turn.status !== 'inProgress') return
    interruptedOnReplay.push(turn.id)
    turn.status = 'interrupted'
    turn.completedAt = seconds(state.lastLineMs)
    turn.durationMs = state.lastLineMs - state.startedLineMs
    closeOpenItems(state, state.lastLineMs)
  }
  const closeOpenItems = (state: TurnState, atMs: number) => {
    for (const itemId of state.open) {
      const at = state.index.get(itemId) as number
      state.turn.items[at] = closeItem(state.turn.items[at] as ThreadItem, atMs)
    }
    state.open.clear()
  }
  const turnFor = (turnId: string, atMs: number, what: string): TurnState => {
    let state = byId.get(turnId)
    if (!state) {
      // An item for a turn we never saw start: keep the item rather than lose it.
      problems.push(`${what} for turn ${turnId} before its turn_started`)
      state = newTurn(turnId, null, null, atMs)
    }
    return state
  }
  const newTurn = (turnId: string, rootTurnId: string | null, startedAt: number | null, atMs: number) => {
    const state: TurnState = {
      turn: {
        id: turnId,
        rootTurnId,
        items: [],
        itemsView: 'full',
        status: 'inProgress',
        error: null,
        startedAt,
        completedAt: null,
        durationMs: null,
      },
      index: new Map(),
      open: new Set(),
      lastLineMs: atMs,
      startedLineMs: atMs,
    }
    turns.push(state)
    byId.set(turnId, state)
    return state
  }
  const putItem = (state: TurnState, item: ThreadItem, open: boolean) => {
    const at = state.index.get(item.id)
    if (at === undefined) {
      state.index.set(item.id, state.turn.items.length)
      state.turn.items.push(item)
    } else {
      state.turn.items[at] = item
    }
    if (open) state.open.add(item.id)
    else state.open.delete(item.id)
    if (preview === null && item.type === 'userMessage') preview = previewOf(item.content)
  }

  /** Removes an item the turn dropped (a broken stream's partial output): no read shows it. */
  const dropItem = (state: TurnState, itemId: string) => {
    const at = state.index.get(itemId)
    state.open.delete(itemId)
    if (at === undefined) return
    state.turn.items.splice(at, 1)
    state.index.delete(itemId)
    for (const [id, index] of state.index) if (index > at) state.index.set(id, index - 1)
  }

  for (const line of lines) {
    const atMs = Date.parse(line.timestamp)
    const ms = Number.isFinite(atMs) ? atMs : lastMs
    if (firstMs === null) firstMs = ms
    lastMs = Math.max(lastMs, ms)
    lastOrdinal = Math.max(lastOrdinal, line.ordinal)
    switch (line.type) {
      case 'session_meta':
        if (meta === null) {
          meta = line.payload
          if (meta.name !== undefined) name = meta.name
        } else problems.push(`a second session_meta at ordinal ${line.ordinal} was ignored`)
        break
      case 'thread_settings':
        if ('name' in line.payload) name = line.payload.name ?? null
        if (line.payload.overrides) settings = { ...settings, ...line.payload.overrides }
        break
      case 'turn_started': {
        const { turnId, startedAt, rootTurnId } = line.payload
        if (byId.has(turnId)) break
        // A turn starting while another is open means the process died during the other one.
        for (const state of turns) closeTurn(state)
        newTurn(turnId, rootTurnId ?? null, startedAt, ms)
        recencyMs = ms
        break
      }
      case 'item_started': {
        const state = turnFor(line.payload.turnId, ms, 'item_started')
        state.lastLineMs = ms
        if (state.turn.status !== 'inProgress') break
        // An item_completed seen first (reordered writes cannot happen, but be safe) wins.
        const known = state.index.get(line.payload.item.id)
        if (known === undefined || state.open.has(line.payload.item.id))
          putItem(state, line.payload.item, true)
        break
      }
      case 'item_checkpoint': {
        const state = turnFor(line.payload.turnId, ms, 'item_checkpoint')
        state.lastLineMs = ms
        const at = state.index.get(line.payload.itemId)
        // A checkpoint for a completed item is stale; one for an unknown item has nothing to hold it.
        if (at === undefined || !state.open.has(line.payload.itemId)) break
        state.turn.items[at] = withCheckpoint(state.turn.items[at] as ThreadItem, line.payload.text)
        break
      }
      case 'item_text_delta': {
        const state = turnFor(line.payload.turnId, ms, 'item_text_delta')
        state.lastLineMs = ms
        const at = state.index.get(line.payload.itemId)
        // Text for a completed or unknown item is stale or has nothing to hold it, as for checkpoints.
        if (at === undefined || !state.open.has(line.payload.itemId)) break
        const applied = applyTextDelta(state.turn.items[at] as ThreadItem, line.payload)
        state.turn.items[at] = applied.item
        if (applied.problem) problems.push(applied.problem)
        break
      }
      case 'item_completed': {
        const { turnId, item, textFromDeltas } = line.payload
        const state = turnFor(turnId, ms, 'item_completed')
        state.lastLineMs = ms
        if (line.payload.discarded) dropItem(state, item.id)
        else if (textFromDeltas === undefined) putItem(state, item, false)
        else {
          const at = state.index.get(item.id)
          const streamed = at !== undefined && state.open.has(item.id) ? state.turn.items[at] : undefined
          const completed = completedFromDeltas(item, textFromDeltas, streamed)
          if (completed.problem) problems.push(completed.problem)
          putItem(state, completed.item, false)
        }
        break
      }
      case 'response_item':
        modelHistory.push({ turnId: line.payload.turnId, item: line.payload.item })
        break
      case 'compacted':
        // Compaction replaces the model's view; the turns and items clients see stay as they were.
        modelHistory.length = 0
        for (const entry of line.payload.replacementHistory) modelHistory.push(entry)
        break
      case 'token_usage':
        tokenUsage = line.payload.usage
        break
      case 'turn_completed': {
        const p = line.payload
        const state = turnFor(p.turnId, ms, 'turn_completed')
        state.lastLineMs = ms
        state.turn.status = p.status
        state.turn.error = p.error
        state.turn.completedAt = p.completedAt
        state.turn.durationMs = p.durationMs
        closeOpenItems(state, p.completedAt === null ? ms : p.completedAt * 1000)
        break
      }
    }
  }

  const openItems: { turnId: string; itemId: string }[] = []
  for (const state of turns)
    for (const itemId of state.open) openItems.push({ turnId: state.turn.id, itemId })
  if (openTurn === 'interrupted') for (const state of turns) closeTurn(state)

  const threadId = meta?.id ?? options.threadId
  if (threadId === undefined)
    throw new Error('the rollout has no session_meta line and no thread id was given')
  const m: Partial<SessionMeta> = meta ?? {}
  const spawn =
    m.source &&
    typeof m.source === 'object' &&
    'subAgent' in m.source &&
    typeof m.source.subAgent === 'object'
      ? 'thread_spawn' in m.source.subAgent
        ? m.source.subAgent.thread_spawn
        : undefined
      : undefined
  const str = (key: string): string | undefined => {
    const value = settings[key]
    return typeof value === 'string' ? value : undefined
  }
  const turnList = turns.map((state) => state.turn)
  const createdAt = m.createdAt ?? seconds(firstMs ?? 0)
  const thread: Thread = {
    id: threadId,
    sessionId: m.sessionId ?? threadId,
    forkedFromId: m.forkedFromId ?? null,
    parentThreadId: m.parentThreadId ?? spawn?.parent_thread_id ?? null,
    preview: preview ?? '',
    ephemeral: false,
    modelProvider: str('modelProvider') ?? m.modelProvider ?? 'openai',
    model: str('model') ?? m.model ?? null,
    reasoningEffort: str('effort') ?? m.reasoningEffort ?? null,
    createdAt,
    updatedAt: Math.max(createdAt, seconds(lastMs)),
    recencyAt: recencyMs === null ? null : seconds(recencyMs),
    status: { type: 'notLoaded' },
    path: options.path ?? null,
    cwd: str('cwd') ?? m.cwd ?? '',
    cliVersion: m.cliVersion ?? '',
    originator: m.originator ?? null,
    source: m.source ?? 'unknown',
    threadSource: m.threadSource ?? null,
    agentNickname: m.agentNickname ?? spawn?.agent_nickname ?? null,
    agentRole: m.agentRole ?? spawn?.agent_role ?? null,
    gitInfo: m.gitInfo ?? null,
    name,
    historyMode: m.historyMode ?? 'paginated',
    section: null,
    sectionEnteredAt: null,
    projectId: m.projectId ?? null,
    turns: turnList,
  }
  return {
    thread,
    turns: turnList,
    meta,
    name,
    modelHistory,
    tokenUsage,
    settings,
    openItems,
    interruptedOnReplay,
    lastOrdinal,
    problems,
  }
}
