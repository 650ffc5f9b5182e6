/**
 * `thread/list` over the index's summaries: filters, the three sort orders (cached until the next
 * change), and position cursors. A ThreadListing reads the entries map it is given; the index
 * calls `invalidate()` whenever that map changes. An entry may be a snapshot row
 * (indexSnapshot.ts): its sort and common filter fields are at hand, and the whole summary is
 * parsed only for the threads a page shows or a filter on other fields (search, parent) needs.
 *
 * It must never read a rollout or the disk (beyond the read states the thread state store keeps),
 * and never change a summary.
 */
import { ErrorCode, invalidRequest, RpcError } from '../protocol/errors'
import type { ThreadListParams, ThreadListResponse, ThreadSortKey, ThreadStatus } from '../protocol/items'
import { sourceMatchesKinds } from '../protocol/threadList'
import type { IndexEntries } from './indexEntries'
import { summaryOf, type IndexEntry } from './indexSnapshot'
import { readStateEligible, ThreadStateStore } from './threadState'
import { threadFromSummary } from './threadSummary'

export const LIST_DEFAULT_LIMIT = 25
export const LIST_MAX_LIMIT = 100

export const NOT_LOADED: ThreadStatus = { type: 'notLoaded' }

// ---------------------------------------------------------------------------------------------
// Cursors: base64url of [sortKey, value, id]. The position, not an offset, so a thread inserted
// between two pages neither repeats an entry nor skips one.

interface Cursor {
  key: ListedSortKey
  value: number
  id: string
  /** A backwards cursor: the entry it names is listed again (in the other direction). */
  inclusive: boolean
}

/** The sort keys the index orders by (`section_position` lists nothing: there are no sections). */
type ListedSortKey = Exclude<ThreadSortKey, 'section_position'>

function encodeCursor(cursor: Cursor): string {
  const parts: unknown[] = [cursor.key, cursor.value, cursor.id]
  if (cursor.inclusive) parts.push(1)
  return Buffer.from(JSON.stringify(parts)).toString('base64url')
}

function decodeCursor(text: string, key: ListedSortKey): Cursor {
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
  } catch {
    parsed = undefined
  }
  if (
    !Array.isArray(parsed) ||
    (parsed.length !== 3 && !(parsed.length === 4 && parsed[3] === 1)) ||
    typeof parsed[1] !== 'number' ||
    typeof parsed[2] !== 'string'
  ) {
    throw invalidRequest(`invalid cursor: ${text}`)
  }
  if (parsed[0] !== key)
    throw invalidRequest(`invalid cursor: ${text} was made for sortKey ${String(parsed[0])}`)
  return { key, value: parsed[1], id: parsed[2], inclusive: parsed.length === 4 }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const EXCLUDED_MAX = 100

/** The list params codex refuses, refused the same way (codex's messages, our UUID check). */
function checkListParams(params: ThreadListParams): void {
  if (params.originators?.length)
    throw new RpcError(
      ErrorCode.InvalidParams,
      'originator filtering is not supported by the local app-server',
    )
  const excluded = params.excludedThreadIds ?? []
  if (excluded.length > EXCLUDED_MAX)
    throw new RpcError(ErrorCode.InvalidParams, `excludedThreadIds accepts at most ${EXCLUDED_MAX} ids`)
  for (const id of excluded)
    if (!UUID.test(id)) throw new RpcError(ErrorCode.InvalidParams, `invalid excluded thread id: ${id}`)
  for (const [field, label] of [
    ['parentThreadId', 'parent'],
    ['ancestorThreadId', 'ancestor'],
    ['attachedToThreadId', 'attached-to'],
  ] as const) {
    const id = params[field]
    if (id != null && !UUID.test(id)) throw invalidRequest(`invalid ${label} thread id: ${id}`)
  }
  if (params.parentThreadId != null && params.ancestorThreadId != null)
    throw invalidRequest('parentThreadId and ancestorThreadId are mutually exclusive')
  if (params.sortKey === 'section_position' && params.sectionId == null)
    throw invalidRequest('section-position sorting requires a section filter')
}

function sortValue(summary: IndexEntry, key: ListedSortKey): number {
  switch (key) {
    case 'created_at':
      return summary.createdAtMs
    case 'updated_at':
      return summary.updatedAtMs
    case 'recency_at':
      return summary.recencyAtMs ?? summary.createdAtMs
  }
}

/** -1, 0, 1 comparing (value, id) pairs: the total order every page walks. */
function compareAt(value: number, id: string, otherValue: number, otherId: string): number {
  if (value !== otherValue) return value < otherValue ? -1 : 1
  return id < otherId ? -1 : id > otherId ? 1 : 0
}

function matchesTerm(s: { name: string | null; preview: string }, term: string): boolean {
  return (s.name !== null && s.name.toLowerCase().includes(term)) || s.preview.toLowerCase().includes(term)
}

/** Entries in ascending (sort value, id) order: an array, or a snapshot's rows made on demand. */
interface Order {
  readonly length: number
  at(i: number): IndexEntry | undefined
}

export class ThreadListing {
  private readonly sorted = new Map<ListedSortKey, Order>()

  constructor(
    private readonly home: string,
    private readonly live: IndexEntries,
  ) {}

  /** Drops the sorted orders: call after every change to the summaries. */
  invalidate(): void {
    this.sorted.clear()
  }

  list(
    params: ThreadListParams = {},
    liveStatus: (id: string) => ThreadStatus = () => NOT_LOADED,
  ): ThreadListResponse {
    checkListParams(params)
    const sortKey = params.sortKey ?? 'created_at'
    // codex-desk has no sections and attaches no threads: such a listing is empty, as codex's is
    // for an empty section. No cursor was ever handed out for it.
    if (sortKey === 'section_position' || params.sectionId != null || params.attachedToThreadId != null) {
      if (params.cursor) throw invalidRequest(`invalid cursor: ${params.cursor}`)
      return { data: [], readStates: {}, nextCursor: null, backwardsCursor: null }
    }
    const key: ListedSortKey = sortKey
    const desc = (params.sortDirection ?? 'desc') === 'desc'
    const requested = params.limit ?? 0
    const limit = requested <= 0 ? LIST_DEFAULT_LIMIT : Math.min(requested, LIST_MAX_LIMIT)
    const cursor = params.cursor ? decodeCursor(params.cursor, key) : null
    const archived = params.archived ?? false
    const cwdList = params.cwd == null ? [] : Array.isArray(params.cwd) ? params.cwd : [params.cwd]
    // Like the other list filters, an empty array means no filter.
    const cwds = cwdList.length > 0 ? new Set(cwdList) : null
    const providers = params.modelProviders?.length ? new Set(params.modelProviders) : null
    const term = params.searchTerm ? params.searchTerm.toLowerCase() : null
    const kinds = params.sourceKinds
    const excluded = params.excludedThreadIds?.length ? new Set(params.excludedThreadIds) : null
    const parent = params.parentThreadId ?? null
    const ancestor = params.ancestorThreadId ?? null
    const project = params.projectId

    // The fields every entry has first; the rest need the whole summary (summaryOf parses it).
    const matches = (s: IndexEntry) =>
      s.archived === archived &&
      (cwds === null || cwds.has(s.cwd)) &&
      (providers === null || providers.has(s.modelProvider)) &&
      sourceMatchesKinds(s.source, kinds) &&
      (excluded === null || !excluded.has(s.id)) &&
      (term === null || matchesTerm(summaryOf(s), term)) &&
      (parent === null || summaryOf(s).parentThreadId === parent) &&
      (ancestor === null || this.descendsFrom(summaryOf(s), ancestor)) &&
      (project === undefined || summaryOf(s).projectId === project)

    const order = this.sortedBy(key)
    const step = desc ? -1 : 1
    let i = desc ? order.length - 1 : 0
    if (cursor) {
      // Forward cursors start strictly after their entry, backwards ones at it.
      i = desc
        ? this.countUpTo(order, key, cursor, cursor.inclusive) - 1
        : this.countUpTo(order, key, cursor, !cursor.inclusive)
    }
    const page: IndexEntry[] = []
    let more = false
    for (; i >= 0 && i < order.length; i += step) {
      const summary = order.at(i) as IndexEntry
      if (!matches(summary)) continue
      if (page.length === limit) {
        more = true
        break
      }
      page.push(summary)
    }
    const first = page[0]
    const last = page[page.length - 1]
    const data = page.map((s) => threadFromSummary(summaryOf(s), liveStatus(s.id)))
    const states = ThreadStateStore.forHome(this.home)
    return {
      data,
      readStates: states.readStates(data.filter(readStateEligible).map((thread) => thread.id)),
      nextCursor:
        more && last
          ? encodeCursor({ key, value: sortValue(last, key), id: last.id, inclusive: false })
          : null,
      backwardsCursor: first
        ? encodeCursor({ key, value: sortValue(first, key), id: first.id, inclusive: true })
        : null,
    }
  }

  /** True when `ancestor` is the thread's parent, or its parent's parent, and so on. */
  private descendsFrom(summary: { parentThreadId: string | null }, ancestor: string): boolean {
    let parent = summary.parentThreadId
    for (let depth = 0; parent !== null && depth < 64; depth++) {
      if (parent === ancestor) return true
      const entry = this.live.get(parent)
      parent = entry ? summaryOf(entry).parentThreadId : null
    }
    return false
  }

  /** Ascending by (sort value, id); cached until the next change. */
  private sortedBy(key: ListedSortKey): Order {
    let order = this.sorted.get(key)
    if (!order) {
      // A snapshot's rows are in created_at order already; walking them makes only the rows a
      // page looks at. Otherwise entries loaded from a snapshot still come in that order, so
      // that sort is one pass.
      order = (key === 'created_at' ? this.live.snapshotOrder() : null) ?? this.sortedArray(key)
      this.sorted.set(key, order)
    }
    return order
  }

  private sortedArray(key: ListedSortKey): IndexEntry[] {
    const order = Array.from(this.live.values())
    order.sort((a, b) => compareAt(sortValue(a, key), a.id, sortValue(b, key), b.id))
    return order
  }

  /**
   * The number of leading entries that sort before the cursor (`orEqual`: at or before it). The
   * first entry after the cursor is at `countUpTo(.., true)`; the last one before it at
   * `countUpTo(.., false) - 1`.
   */
  private countUpTo(order: Order, key: ListedSortKey, c: Cursor, orEqual: boolean): number {
    let lo = 0
    let hi = order.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const s = order.at(mid) as IndexEntry
      const cmp = compareAt(sortValue(s, key), s.id, c.value, c.id)
      if (cmp < 0 || (orEqual && cmp === 0)) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
