/**
 * Pages of a thread's history (`thread/turns/list`, `thread/items/list`, `thread/items/read`)
 * without replaying the whole thread. A rollout is scanned once into an outline (each turn's
 * ordinal and byte range, each item's ordinal: threads/rolloutOutline.ts), kept per file and
 * extended from where the last scan stopped. Only the turns a page shows are read back and replayed.
 *
 * Positions are rollout ordinals: a turn's is its `turn_started` line, an item's the first line
 * that mentions it. Cursors carry one ordinal, as codex's do, so a turn or item appended between
 * two pages never repeats or shifts what follows.
 *
 * It must never write a rollout, and never hold more than an outline of a thread in memory, plus a
 * bounded cache of turns read back (32 MiB of their rollout bytes, across threads).
 */
import { ErrorCode, invalidRequest, RpcError } from '../protocol/errors'
import type { ItemsView, ThreadItem, Turn } from '../protocol/items'
import type {
  ThreadItemEntry,
  ThreadItemsListParams,
  ThreadItemsListResponse,
  ThreadTurnsListParams,
  ThreadTurnsListResponse,
} from '../protocol/threadHistory'
import { RolloutOutline, type OutlineTurn } from './rolloutOutline'
import { readOutlineTurn } from './turnRead'

export const TURNS_DEFAULT_LIMIT = 25
export const TURNS_MAX_LIMIT = 100
export const ITEMS_DEFAULT_LIMIT = 100
export const ITEMS_MAX_LIMIT = 500
const OUTLINES_KEPT = 16

/** What a page is read from: the rollout, and the loaded thread's turns when this process has it. */
export interface HistorySource {
  threadId: string
  path: string | null
  ephemeral: boolean
  /** A loaded thread's turns as thread/read shows them (the running turn included), else null. */
  liveTurns: Turn[] | null
}

/** thread/resume's history cursors (null for a thread with no turn, or no item, to page back to). */
export interface ResumeCursors {
  turnsBackwardsCursor: string | null
  itemsBackwardsCursor: string | null
}

// ---------------------------------------------------------------------------------------------
// Cursors: codex's shape, a JSON object naming the thread, an ordinal and whether it is included.

type Scope = 'turns' | 'itemsByCreatedAtOrdinal'

interface Cursor {
  ordinal: number
  includeAnchor: boolean
}

function encodeCursor(threadId: string, scope: Scope, cursor: Cursor): string {
  return JSON.stringify({
    requestedThreadId: threadId,
    rolloutOrdinal: cursor.ordinal,
    includeAnchor: cursor.includeAnchor,
    scope: { kind: scope },
  })
}

function decodeCursor(text: string, threadId: string, scope: Scope): Cursor {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    value = undefined
  }
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>
  const kind = (v.scope as { kind?: unknown } | undefined)?.kind
  if (
    v.requestedThreadId !== threadId ||
    !Number.isSafeInteger(v.rolloutOrdinal) ||
    typeof v.includeAnchor !== 'boolean' ||
    kind !== scope
  ) {
    throw invalidRequest(`invalid cursor: ${text}`)
  }
  return { ordinal: v.rolloutOrdinal as number, includeAnchor: v.includeAnchor }
}

function pageLimit(requested: number | null | undefined, fallback: number, max: number): number {
  return !requested || requested <= 0 ? fallback : Math.min(requested, max)
}

/**
 * One page over entries sorted by ordinal (ascending), walked in `desc` or `asc` order from the
 * cursor. `backwardsCursor` points at the first entry, included, for the opposite direction.
 */
function page<T extends { ordinal: number }>(
  sorted: readonly T[],
  desc: boolean,
  cursor: Cursor | null,
  limit: number,
): { entries: T[]; next: Cursor | null; backwards: Cursor | null } {
  const after = (o: number) =>
    cursor === null ||
    (desc
      ? o < cursor.ordinal || (cursor.includeAnchor && o === cursor.ordinal)
      : o > cursor.ordinal || (cursor.includeAnchor && o === cursor.ordinal))
  const entries: T[] = []
  let more = false
  for (let i = desc ? sorted.length - 1 : 0; i >= 0 && i < sorted.length; i += desc ? -1 : 1) {
    const entry = sorted[i] as T
    if (!after(entry.ordinal)) continue
    if (entries.length === limit) {
      more = true
      break
    }
    entries.push(entry)
  }
  const first = entries[0]
  const last = entries[entries.length - 1]
  return {
    entries,
    next: more && last ? { ordinal: last.ordinal, includeAnchor: false } : null,
    backwards: first ? { ordinal: first.ordinal, includeAnchor: true } : null,
  }
}

// ---------------------------------------------------------------------------------------------
// Views

/** codex's summary: the turn's first user message and its final agent message. */
function summaryItems(items: readonly ThreadItem[]): ThreadItem[] {
  const user = items.find((item) => item.type === 'userMessage')
  let agent: ThreadItem | undefined
  for (let i = items.length - 1; i >= 0 && !agent; i--)
    if ((items[i] as ThreadItem).type === 'agentMessage') agent = items[i]
  if (user && agent && user.id !== agent.id) return [user, agent]
  return user ? [user] : agent ? [agent] : []
}

function withView(turn: Turn, view: ItemsView): Turn {
  const items = view === 'full' ? turn.items : view === 'summary' ? summaryItems(turn.items) : []
  return { ...turn, items, itemsView: view }
}

function entryOf(
  turnId: string,
  item: ThreadItem,
  defer: ThreadItemsListParams['deferOutput'],
): ThreadItemEntry {
  const times = item as { startedAtMs?: number | null; completedAtMs?: number | null }
  const entry: ThreadItemEntry = {
    turnId,
    item,
    startedAtMs: times.startedAtMs ?? null,
    completedAtMs: times.completedAtMs ?? null,
  }
  if (defer?.commandExecution && item.type === 'commandExecution' && item.status === 'completed') {
    if (item.aggregatedOutput)
      return { ...entry, item: { ...item, aggregatedOutput: null }, outputDeferred: true }
  }
  if (defer?.mcpToolCall && item.type === 'mcpToolCall' && item.status === 'completed' && item.result) {
    return { ...entry, item: { ...item, result: null }, outputDeferred: true }
  }
  return entry
}

// ---------------------------------------------------------------------------------------------
// Pages

interface Keyed {
  ordinal: number
  turnId: string
  itemId?: string
}

/**
 * Stored turns kept read back, counted by the bytes of their rollout ranges (about half of which is
 * model history, not kept), so a page asked for again is not read again.
 */
const TURN_CACHE_BYTES = 32 * 1024 * 1024

export class HistoryPages {
  /** Outlines by rollout path, least recently used first. */
  private readonly outlines = new Map<string, RolloutOutline>()
  /**
   * Stored turns read back, least recently used first, by path and turn id; an entry counts only
   * while the turn's byte range is the one it was read from (a turn that grew is read again).
   */
  private readonly turnCache = new Map<string, { start: number; end: number; turn: Promise<Turn | null> }>()
  private turnCacheBytes = 0

  async turns(source: HistorySource, params: ThreadTurnsListParams): Promise<ThreadTurnsListResponse> {
    if (source.ephemeral) throw invalidRequest('ephemeral threads do not support thread/turns/list')
    const outline = await this.outline(source)
    const keys = this.turnKeys(source, outline)
    const cursor = params.cursor ? decodeCursor(params.cursor, source.threadId, 'turns') : null
    const desc = (params.sortDirection ?? 'desc') === 'desc'
    const limit = pageLimit(params.limit, TURNS_DEFAULT_LIMIT, TURNS_MAX_LIMIT)
    const { entries, next, backwards } = page(keys, desc, cursor, limit)
    const loader = this.turnLoader(source, outline)
    const data: Turn[] = []
    for (const key of entries) {
      const turn = await loader(key.turnId)
      if (turn) data.push(withView(turn, params.itemsView ?? 'summary'))
    }
    return {
      data,
      nextCursor: next && encodeCursor(source.threadId, 'turns', next),
      backwardsCursor: backwards && encodeCursor(source.threadId, 'turns', backwards),
    }
  }

  async items(source: HistorySource, params: ThreadItemsListParams): Promise<ThreadItemsListResponse> {
    if (source.ephemeral) throw invalidRequest('ephemeral threads do not support thread/items/list')
    const turnId = params.turnId || null
    if (params.cursor && typeof params.cursor === 'object' && turnId === null)
      throw new RpcError(ErrorCode.InvalidParams, 'turnId is required when cursor is an item anchor')
    const outline = await this.outline(source)
    let keys = this.itemKeys(source, outline)
    if (turnId !== null) keys = keys.filter((key) => key.turnId === turnId)
    let cursor: Cursor | null = null
    if (typeof params.cursor === 'string') {
      cursor = decodeCursor(params.cursor, source.threadId, 'itemsByCreatedAtOrdinal')
    } else if (params.cursor) {
      const itemId = params.cursor.itemId
      const anchor = keys.find((key) => key.itemId === itemId)
      if (!anchor) throw invalidRequest(`item ${itemId} not found in turn ${turnId}`)
      cursor = { ordinal: anchor.ordinal, includeAnchor: false }
    }
    const desc = (params.sortDirection ?? 'asc') === 'desc'
    const limit = pageLimit(params.limit, ITEMS_DEFAULT_LIMIT, ITEMS_MAX_LIMIT)
    const { entries, next, backwards } = page(keys, desc, cursor, limit)
    const loader = this.turnLoader(source, outline)
    const data: ThreadItemEntry[] = []
    for (const key of entries) {
      const item = (await loader(key.turnId))?.items.find((i) => i.id === key.itemId)
      if (item) data.push(entryOf(key.turnId, item, params.deferOutput))
    }
    return {
      data,
      nextCursor: next && encodeCursor(source.threadId, 'itemsByCreatedAtOrdinal', next),
      backwardsCursor: backwards && encodeCursor(source.threadId, 'itemsByCreatedAtOrdinal', backwards),
    }
  }

  /** Whole items of one turn, in the turn's order (`thread/items/read`). */
  async read(source: HistorySource, turnId: string, itemIds: readonly string[]): Promise<ThreadItemEntry[]> {
    if (itemIds.length < 1 || itemIds.length > 100)
      throw new RpcError(ErrorCode.InvalidParams, 'itemIds must hold 1 to 100 item ids')
    if (source.ephemeral) throw invalidRequest('ephemeral threads do not support thread/items/read')
    const outline = await this.outline(source)
    const turn = await this.turnLoader(source, outline)(turnId)
    const wanted = new Set(itemIds)
    return (turn?.items ?? [])
      .filter((item) => wanted.has(item.id))
      .map((item) => entryOf(turnId, item, null))
  }

  /**
   * The cursors thread/resume hands out (`turnsBackwardsCursor`, `itemsBackwardsCursor`): anchored
   * at the newest turn and the newest item, included, for a `desc` walk back through the history.
   */
  async resumeCursors(source: HistorySource): Promise<ResumeCursors> {
    if (source.ephemeral || !source.path) return { turnsBackwardsCursor: null, itemsBackwardsCursor: null }
    const outline = await this.outline(source)
    const turn = this.turnKeys(source, outline).at(-1)
    const item = this.itemKeys(source, outline).at(-1)
    const at = (key: Keyed | undefined, scope: Scope) =>
      key ? encodeCursor(source.threadId, scope, { ordinal: key.ordinal, includeAnchor: true }) : null
    return {
      turnsBackwardsCursor: at(turn, 'turns'),
      itemsBackwardsCursor: at(item, 'itemsByCreatedAtOrdinal'),
    }
  }

  private async outline(source: HistorySource): Promise<RolloutOutline> {
    if (!source.path) throw invalidRequest(`thread not loaded: ${source.threadId}`)
    let outline = this.outlines.get(source.path)
    if (outline) this.outlines.delete(source.path)
    else outline = new RolloutOutline(source.path)
    this.outlines.set(source.path, outline)
    while (this.outlines.size > OUTLINES_KEPT)
      this.outlines.delete(this.outlines.keys().next().value as string)
    await outline.refresh()
    return outline
  }

  /**
   * Turns in history order. A loaded thread's turn that is not on disk yet (it is starting) sorts
   * last, after every ordinal written so far.
   */
  private turnKeys(source: HistorySource, outline: RolloutOutline): Keyed[] {
    const keys: Keyed[] = outline.turns.map((t) => ({ ordinal: t.ordinal, turnId: t.id }))
    let extra = outline.lastOrdinal
    for (const turn of source.liveTurns ?? [])
      if (!outline.turn(turn.id)) keys.push({ ordinal: ++extra, turnId: turn.id })
    return keys.sort((a, b) => a.ordinal - b.ordinal)
  }

  /** Items in history order, the loaded thread's in-memory items included. */
  private itemKeys(source: HistorySource, outline: RolloutOutline): Keyed[] {
    const keys: Keyed[] = outline.items.map((i) => ({
      ordinal: i.ordinal,
      turnId: i.turnId,
      itemId: i.itemId,
    }))
    let extra = outline.lastOrdinal
    for (const turn of source.liveTurns ?? [])
      for (const item of turn.items)
        if (!outline.item(turn.id, item.id)) keys.push({ ordinal: ++extra, turnId: turn.id, itemId: item.id })
    return keys.sort((a, b) => a.ordinal - b.ordinal)
  }

  /** Turn content: the loaded thread's own (as thread/read shows it), else read back from disk. */
  private turnLoader(
    source: HistorySource,
    outline: RolloutOutline,
  ): (turnId: string) => Promise<Turn | null> {
    const live = new Map((source.liveTurns ?? []).map((turn) => [turn.id, turn]))
    const read = new Map<string, Promise<Turn | null>>()
    return (turnId) => {
      const loaded = live.get(turnId)
      if (loaded) return Promise.resolve(loaded)
      let pending = read.get(turnId)
      if (!pending) {
        const entry = outline.turn(turnId)
        pending = entry ? this.storedTurn(outline.path, entry, source.threadId) : Promise.resolve(null)
        read.set(turnId, pending)
      }
      return pending
    }
  }

  /** A stored turn read back from its byte range, or from the cache when that range is unchanged. */
  private storedTurn(path: string, entry: OutlineTurn, threadId: string): Promise<Turn | null> {
    const key = `${path}\n${entry.id}`
    const cached = this.turnCache.get(key)
    if (cached) {
      this.turnCache.delete(key)
      this.turnCacheBytes -= cached.end - cached.start
      if (cached.start === entry.start && cached.end === entry.end) {
        this.turnCache.set(key, cached)
        this.turnCacheBytes += cached.end - cached.start
        return cached.turn
      }
    }
    const turn = readOutlineTurn(path, entry, threadId)
    const bytes = entry.end - entry.start
    if (bytes > TURN_CACHE_BYTES) return turn
    this.turnCache.set(key, { start: entry.start, end: entry.end, turn })
    this.turnCacheBytes += bytes
    // A failed read is not kept.
    turn.catch(() => {
      if (this.turnCache.get(key)?.turn === turn) {
        this.turnCache.delete(key)
        this.turnCacheBytes -= bytes
      }
    })
    for (const [oldest, value] of this.turnCache) {
      if (this.turnCacheBytes <= TURN_CACHE_BYTES) break
      this.turnCache.delete(oldest)
      this.turnCacheBytes -= value.end - value.start
    }
    return turn
  }
}

/** One instance for the process: thread/resume's cursors and the history pages share the outlines. */
export const sharedHistoryPages = new HistoryPages()
