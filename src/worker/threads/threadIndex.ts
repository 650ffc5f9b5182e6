/**
 * The thread index: one summary per stored thread (everything `thread/list` shows, nothing it
 * does not), kept in memory and persisted as an append-only log, `$home/thread_index.jsonl`, so
 * `thread/list` never opens a rollout. Each log line is an upsert or a delete; the last line for an
 * id wins. The log is compacted (temp file + rename) once it holds about twice as many lines as
 * there are threads, and rebuilt by scanning the rollouts when it is missing or unreadable.
 *
 * It must never be the only copy of anything: every field is derived from the rollouts, so losing
 * the file costs a rescan, never data. Listing reads no rollout; only the read states it reports
 * come from the thread state log (threadState.ts).
 */
import { open, readFile, readdir, stat, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { ErrorCode, invalidRequest, RpcError } from '../protocol/errors'
import type {
  GitInfo,
  HistoryMode,
  SessionSource,
  Thread,
  ThreadListParams,
  ThreadListResponse,
  ThreadSortKey,
  ThreadStatus,
} from '../protocol/items'
import { sourceMatchesKinds } from '../protocol/items'
import { BatchQueue } from '../util/batchQueue'
import { silentLogs, type Logger } from '../util/log'
import { writeFileAtomic } from '../util/atomicWrite'
import { decodeLines, previewOf, type RolloutLine, type SessionMeta } from './rollout'
import { readStateEligible, ThreadStateStore } from './threadState'

export const INDEX_FILE = 'thread_index.jsonl'
export const INDEX_VERSION = 1
export const SESSIONS_DIR = 'sessions'
export const ARCHIVED_DIR = 'archived_sessions'

export const LIST_DEFAULT_LIMIT = 25
export const LIST_MAX_LIMIT = 100

/** What the index knows about one thread: enough to answer thread/list without the rollout. */
export interface ThreadSummary {
  id: string
  path: string
  archived: boolean
  /** Milliseconds, for a stable order between threads created in the same second. */
  createdAtMs: number
  updatedAtMs: number
  /** When a turn last started; null before the first turn (sorts as createdAtMs). */
  recencyAtMs: number | null
  name: string | null
  /** The first user message, truncated (rollout.ts previewOf). */
  preview: string
  cwd: string
  modelProvider: string
  model: string | null
  reasoningEffort: string | null
  source: SessionSource
  sessionId: string
  forkedFromId: string | null
  parentThreadId: string | null
  cliVersion: string
  originator: string | null
  threadSource: string | null
  agentNickname: string | null
  agentRole: string | null
  gitInfo: GitInfo | null
  historyMode: HistoryMode
  projectId: string | null
}

type LogLine =
  { op: 'header'; version: number } | { op: 'upsert'; thread: ThreadSummary } | { op: 'delete'; id: string }

/** createdAt in ms: the meta's second, refined by the line's milliseconds when they agree. */
function createdAtMsOf(meta: SessionMeta, lineMs: number): number {
  return Math.floor(lineMs / 1000) === meta.createdAt ? lineMs : meta.createdAt * 1000
}

export function summaryFromMeta(
  meta: SessionMeta,
  path: string,
  lineMs: number,
  archived = false,
): ThreadSummary {
  const createdAtMs = createdAtMsOf(meta, lineMs)
  const spawn =
    typeof meta.source === 'object' &&
    'subAgent' in meta.source &&
    typeof meta.source.subAgent === 'object' &&
    'thread_spawn' in meta.source.subAgent
      ? meta.source.subAgent.thread_spawn
      : undefined
  return {
    id: meta.id,
    path,
    archived,
    createdAtMs,
    updatedAtMs: createdAtMs,
    recencyAtMs: null,
    name: meta.name ?? null,
    preview: '',
    cwd: meta.cwd,
    modelProvider: meta.modelProvider,
    model: meta.model,
    reasoningEffort: meta.reasoningEffort,
    source: meta.source,
    sessionId: meta.sessionId ?? meta.id,
    forkedFromId: meta.forkedFromId,
    parentThreadId: meta.parentThreadId ?? spawn?.parent_thread_id ?? null,
    cliVersion: meta.cliVersion,
    originator: meta.originator,
    threadSource: meta.threadSource ?? null,
    agentNickname: meta.agentNickname ?? spawn?.agent_nickname ?? null,
    agentRole: meta.agentRole ?? spawn?.agent_role ?? null,
    gitInfo: meta.gitInfo ?? null,
    historyMode: meta.historyMode,
    projectId: meta.projectId ?? null,
  }
}

/**
 * Folds one rollout line into a summary. Returns true when the change is worth a log line: the
 * name or settings changed, the preview appeared, or a turn started or ended. Item traffic
 * returns false, so a streaming turn writes nothing here.
 */
export function applyLineToSummary(summary: ThreadSummary, line: RolloutLine): boolean {
  const ms = Date.parse(line.timestamp)
  const at = Number.isFinite(ms) ? ms : summary.updatedAtMs
  switch (line.type) {
    case 'thread_settings': {
      const { name, overrides } = line.payload
      if ('name' in line.payload) summary.name = name ?? null
      if (overrides) {
        if (typeof overrides.model === 'string') summary.model = overrides.model
        if (typeof overrides.modelProvider === 'string') summary.modelProvider = overrides.modelProvider
        if (typeof overrides.effort === 'string') summary.reasoningEffort = overrides.effort
        if (typeof overrides.cwd === 'string') summary.cwd = overrides.cwd
      }
      summary.updatedAtMs = Math.max(summary.updatedAtMs, at)
      return true
    }
    case 'turn_started':
      summary.recencyAtMs = at
      summary.updatedAtMs = Math.max(summary.updatedAtMs, at)
      return true
    case 'turn_completed':
      summary.updatedAtMs = Math.max(summary.updatedAtMs, at)
      return true
    case 'item_started':
    case 'item_completed':
      if (summary.preview === '' && line.payload.item.type === 'userMessage') {
        summary.preview = previewOf(line.payload.item.content)
        return summary.preview !== ''
      }
      return false
    default:
      return false
  }
}

/** A summary from a rollout's lines (or the first and last of them), or null without a session_meta. */
export function summaryFromLines(path: string, lines: readonly RolloutLine[], archived: boolean) {
  const first = lines[0]
  if (first?.type !== 'session_meta') return null
  const summary = summaryFromMeta(first.payload, path, Date.parse(first.timestamp), archived)
  for (const line of lines) applyLineToSummary(summary, line)
  return summary
}

export function threadFromSummary(summary: ThreadSummary, status: ThreadStatus): Thread {
  const s = Math.floor
  return {
    id: summary.id,
    sessionId: summary.sessionId,
    forkedFromId: summary.forkedFromId,
    parentThreadId: summary.parentThreadId,
    preview: summary.preview,
    ephemeral: false,
    modelProvider: summary.modelProvider,
    model: summary.model,
    reasoningEffort: summary.reasoningEffort,
    createdAt: s(summary.createdAtMs / 1000),
    updatedAt: s(summary.updatedAtMs / 1000),
    recencyAt: summary.recencyAtMs === null ? null : s(summary.recencyAtMs / 1000),
    status,
    path: summary.path,
    cwd: summary.cwd,
    cliVersion: summary.cliVersion,
    originator: summary.originator,
    source: summary.source,
    threadSource: summary.threadSource,
    agentNickname: summary.agentNickname,
    agentRole: summary.agentRole,
    gitInfo: summary.gitInfo,
    name: summary.name,
    historyMode: summary.historyMode,
    section: null,
    sectionEnteredAt: null,
    projectId: summary.projectId,
    turns: [],
  }
}

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

function sortValue(summary: ThreadSummary, key: ListedSortKey): number {
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

const NOT_LOADED: ThreadStatus = { type: 'notLoaded' }

// ---------------------------------------------------------------------------------------------

export interface ThreadIndexOptions {
  home: string
  logger?: Logger
  /** The log is compacted when it has more than max(2 x live threads, this) lines. Default 64. */
  compactMinLines?: number
}

/** How many rollouts a rebuild reads at once. */
const SCAN_CONCURRENCY = 16
/** Rollouts up to this size are read whole on rebuild; bigger ones only at the head and tail. */
const SCAN_WHOLE_BYTES = 256 * 1024
const SCAN_CHUNK_BYTES = 64 * 1024

export class ThreadIndex {
  readonly path: string
  private readonly live = new Map<string, ThreadSummary>()
  private readonly sorted = new Map<ListedSortKey, ThreadSummary[]>()
  private readonly logger: Logger
  private readonly compactMinLines: number
  /** Lines in the log file, valid or not: what compaction measures. */
  private logLines = 0
  private needsCompaction = false
  /** The single writer: batches whatever queued while the previous write was in flight. */
  private readonly writes = new BatchQueue<string>((lines) => this.writeBatch(lines))
  private file: FileHandle | null = null
  private closed = false
  /** How the in-memory state was obtained, for logs and tests. */
  loadedFrom: 'log' | 'rebuild' = 'log'

  private constructor(
    private readonly home: string,
    logger: Logger,
    compactMinLines: number,
  ) {
    this.path = join(home, INDEX_FILE)
    this.logger = logger
    this.compactMinLines = compactMinLines
  }

  /** Loads the log, or rebuilds it from the rollouts when it is missing or unreadable. */
  static async load(options: ThreadIndexOptions): Promise<ThreadIndex> {
    const index = new ThreadIndex(
      options.home,
      options.logger ?? silentLogs.get('threadIndex'),
      options.compactMinLines ?? 64,
    )
    const reason = await index.readLog()
    if (reason !== null) await index.rebuild(reason)
    return index
  }

  get size(): number {
    return this.live.size
  }

  /** Lines currently in the log file (compaction keeps this under ~2x size). */
  get logLineCount(): number {
    return this.logLines
  }

  /** The live summary: read it, never change it (use upsert), or the sorted pages go stale. */
  get(id: string): Readonly<ThreadSummary> | undefined {
    return this.live.get(id)
  }

  /** All summaries, in no particular order. */
  all(): IterableIterator<Readonly<ThreadSummary>> {
    return this.live.values()
  }

  thread(id: string, status: ThreadStatus = NOT_LOADED): Thread | undefined {
    const summary = this.live.get(id)
    return summary ? threadFromSummary(summary, status) : undefined
  }

  /** Adds or replaces a summary; resolves once its log line is written. */
  upsert(summary: ThreadSummary): Promise<void> {
    this.live.set(summary.id, summary)
    this.sorted.clear()
    return this.write({ op: 'upsert', thread: summary })
  }

  delete(id: string): Promise<void> {
    if (!this.live.delete(id)) return Promise.resolve()
    this.sorted.clear()
    return this.write({ op: 'delete', id })
  }

  /** Archive and unarchive: the rollout moved. */
  setArchived(id: string, archived: boolean, path: string): Promise<void> {
    const summary = this.live.get(id)
    if (!summary) return Promise.resolve()
    return this.upsert({ ...summary, archived, path })
  }

  /**
   * Folds freshly written rollout lines into the thread's summary and logs it when something
   * listed changed. Called by the rollout store after each write; a log failure is logged, not
   * thrown (the rollout already has the truth, and the next compaction rewrites the whole log).
   */
  applyLines(threadId: string, lines: readonly RolloutLine[]): void {
    const current = this.live.get(threadId)
    if (!current) return
    const next = { ...current }
    let changed = false
    for (const line of lines) changed = applyLineToSummary(next, line) || changed
    if (!changed) return
    this.upsert(next).catch((error: unknown) =>
      this.logger.warn(
        { threadId, error },
        'could not log a thread index update; the next compaction writes it',
      ),
    )
  }

  /** Resolves once every queued log line is written. */
  flush(): Promise<void> {
    return this.writes.idle()
  }

  async close(): Promise<void> {
    await this.flush()
    this.closed = true
    await this.file?.close()
    this.file = null
  }

  // ------------------------------------------------------------------------------------------
  // thread/list

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

    const matches = (s: ThreadSummary) =>
      s.archived === archived &&
      (cwds === null || cwds.has(s.cwd)) &&
      (providers === null || providers.has(s.modelProvider)) &&
      sourceMatchesKinds(s.source, kinds) &&
      (term === null ||
        (s.name !== null && s.name.toLowerCase().includes(term)) ||
        s.preview.toLowerCase().includes(term)) &&
      (excluded === null || !excluded.has(s.id)) &&
      (parent === null || s.parentThreadId === parent) &&
      (ancestor === null || this.descendsFrom(s, ancestor)) &&
      (project === undefined || s.projectId === project)

    const order = this.sortedBy(key)
    const step = desc ? -1 : 1
    let i = desc ? order.length - 1 : 0
    if (cursor) {
      // Forward cursors start strictly after their entry, backwards ones at it.
      i = desc
        ? this.countUpTo(order, key, cursor, cursor.inclusive) - 1
        : this.countUpTo(order, key, cursor, !cursor.inclusive)
    }
    const page: ThreadSummary[] = []
    let more = false
    for (; i >= 0 && i < order.length; i += step) {
      const summary = order[i] as ThreadSummary
      if (!matches(summary)) continue
      if (page.length === limit) {
        more = true
        break
      }
      page.push(summary)
    }
    const first = page[0]
    const last = page[page.length - 1]
    const data = page.map((s) => threadFromSummary(s, liveStatus(s.id)))
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
  private descendsFrom(summary: ThreadSummary, ancestor: string): boolean {
    let parent = summary.parentThreadId
    for (let depth = 0; parent !== null && depth < 64; depth++) {
      if (parent === ancestor) return true
      parent = this.live.get(parent)?.parentThreadId ?? null
    }
    return false
  }

  /** Ascending by (sort value, id); cached until the next change. */
  private sortedBy(key: ListedSortKey): ThreadSummary[] {
    let order = this.sorted.get(key)
    if (!order) {
      const keyed = Array.from(this.live.values(), (s) => ({ s, v: sortValue(s, key) }))
      keyed.sort((a, b) => compareAt(a.v, a.s.id, b.v, b.s.id))
      order = keyed.map((k) => k.s)
      this.sorted.set(key, order)
    }
    return order
  }

  /**
   * The number of leading entries that sort before the cursor (`orEqual`: at or before it). The
   * first entry after the cursor is at `countUpTo(.., true)`; the last one before it at
   * `countUpTo(.., false) - 1`.
   */
  private countUpTo(order: ThreadSummary[], key: ListedSortKey, c: Cursor, orEqual: boolean): number {
    let lo = 0
    let hi = order.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const s = order[mid] as ThreadSummary
      const cmp = compareAt(sortValue(s, key), s.id, c.value, c.id)
      if (cmp < 0 || (orEqual && cmp === 0)) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  // ------------------------------------------------------------------------------------------
  // The log

  /** Reads the log into memory. Returns why a rebuild is needed, or null. */
  private async readLog(): Promise<string | null> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      return code === 'ENOENT' ? 'the index file is missing' : `the index file is unreadable (${code})`
    }
    let valid = 0
    let bad = 0
    const parts = text.split('\n')
    for (const raw of parts) {
      if (raw.trim() === '') continue
      let line: LogLine
      try {
        line = JSON.parse(raw) as LogLine
      } catch {
        bad++
        continue
      }
      if (line?.op === 'header') {
        if (line.version !== INDEX_VERSION) return `the index file has version ${line.version}`
        valid++
      } else if (line?.op === 'upsert' && typeof line.thread?.id === 'string') {
        this.live.set(line.thread.id, line.thread)
        valid++
      } else if (line?.op === 'delete' && typeof line.id === 'string') {
        this.live.delete(line.id)
        valid++
      } else {
        bad++
      }
    }
    if (valid === 0 && bad > 0) {
      this.live.clear()
      return 'the index file has no readable line'
    }
    this.logLines = valid + bad
    if (bad > 0 || (text.length > 0 && !text.endsWith('\n'))) {
      // A torn tail would swallow the next append; rewrite the file clean before writing to it.
      this.logger.warn({ path: this.path, skipped: bad }, 'thread index had unreadable lines; compacting it')
      await this.compact()
    }
    this.loadedFrom = 'log'
    return null
  }

  /** Scans sessions/ and archived_sessions/ and replaces the in-memory state and the log. */
  async rebuild(reason = 'requested'): Promise<void> {
    const t0 = performance.now()
    const files = [
      ...(await listRollouts(join(this.home, SESSIONS_DIR), 3)).map((path) => ({ path, archived: false })),
      ...(await listRollouts(join(this.home, ARCHIVED_DIR), 0)).map((path) => ({ path, archived: true })),
    ]
    const found = new Map<string, ThreadSummary>()
    let unreadable = 0
    let next = 0
    const worker = async () => {
      while (next < files.length) {
        const file = files[next++] as { path: string; archived: boolean }
        try {
          const summary = await summarizeRollout(file.path, file.archived)
          if (!summary) unreadable++
          else if (found.has(summary.id)) {
            this.logger.warn(
              { threadId: summary.id, path: file.path },
              'two rollouts for one thread; kept the first',
            )
          } else found.set(summary.id, summary)
        } catch (error) {
          unreadable++
          this.logger.warn({ path: file.path, error }, 'could not read a rollout while rebuilding the index')
        }
      }
    }
    await Promise.all(Array.from({ length: SCAN_CONCURRENCY }, worker))
    await this.flush()
    this.live.clear()
    for (const [id, summary] of found) this.live.set(id, summary)
    this.sorted.clear()
    await this.compact()
    this.loadedFrom = 'rebuild'
    this.logger.info(
      { reason, threads: found.size, unreadable, ms: Math.round(performance.now() - t0) },
      'rebuilt the thread index by scanning the rollouts',
    )
  }

  private write(line: LogLine): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the thread index is closed'))
    return this.writes.push(JSON.stringify(line) + '\n')
  }

  private async writeBatch(lines: string[]): Promise<void> {
    try {
      if (this.needsCompaction || this.logLines + lines.length > this.compactLimit()) {
        // The snapshot already holds what the batch says (memory is updated before queuing).
        this.needsCompaction = true
        await this.compactNow()
      } else {
        this.file ??= await open(this.path, 'a')
        await this.file.write(lines.join(''))
        this.logLines += lines.length
      }
    } catch (error) {
      // Memory is ahead of the file now; rewrite it whole at the next chance.
      this.needsCompaction = true
      throw new Error(`could not write the thread index ${this.path}: ${(error as Error).message}`, {
        cause: error,
      })
    }
  }

  /**
   * Rewrites the log, through the write queue: compacting beside a drain could rename the file
   * under an append in flight and lose that line.
   */
  private compact(): Promise<void> {
    this.needsCompaction = true
    return this.writes.push('')
  }

  private compactLimit(): number {
    return Math.max(2 * this.live.size, this.compactMinLines)
  }

  /** Rewrites the log as a header plus one upsert per thread, atomically. Only drain() calls it. */
  private async compactNow(): Promise<void> {
    if (!this.needsCompaction) return
    const lines: string[] = [JSON.stringify({ op: 'header', version: INDEX_VERSION })]
    for (const summary of this.live.values()) lines.push(JSON.stringify({ op: 'upsert', thread: summary }))
    await writeFileAtomic(this.path, lines.join('\n') + '\n')
    // The append handle still points at the old file; the next append reopens the new one.
    await this.file?.close()
    this.file = null
    this.logLines = lines.length
    this.needsCompaction = false
  }
}

/** Rollout files under `dir`, `depth` folders down (sessions/YYYY/MM/DD is 3, archived is 0). */
async function listRollouts(dir: string, depth: number): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  if (depth === 0)
    return names.filter((n) => n.startsWith('rollout-') && n.endsWith('.jsonl')).map((n) => join(dir, n))
  const nested = await Promise.all(names.map((n) => listRollouts(join(dir, n), depth - 1)))
  return nested.flat()
}

/**
 * A summary from a rollout without reading all of it: the whole file when small, else its head
 * (meta, first message, early names) and its tail (later names, the last turn). A name set in the
 * middle of a big rollout and never again is missed; the index log, when present, has it.
 */
async function summarizeRollout(path: string, archived: boolean): Promise<ThreadSummary | null> {
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    const readAt = async (position: number, length: number) => {
      const buffer = Buffer.alloc(length)
      const { bytesRead } = await handle.read(buffer, 0, length, position)
      return buffer.subarray(0, bytesRead).toString('utf8')
    }
    if (size <= SCAN_WHOLE_BYTES)
      return summaryFromLines(path, decodeLines(await readAt(0, size)).lines, archived)
    const head = decodeLines(await readAt(0, SCAN_CHUNK_BYTES)).lines
    const tailText = await readAt(size - SCAN_CHUNK_BYTES, SCAN_CHUNK_BYTES)
    // The tail starts mid-line; drop that fragment rather than report it.
    const tail = decodeLines(tailText.slice(tailText.indexOf('\n') + 1)).lines
    const lastHead = head[head.length - 1]?.ordinal ?? -1
    return summaryFromLines(path, [...head, ...tail.filter((l) => l.ordinal > lastHead)], archived)
  } finally {
    await handle.close()
  }
}

/** Exists for the store's fallback scan: a rollout's path by thread id, without the index. */
export async function scanForRollout(
  home: string,
  threadId: string,
): Promise<{ path: string; archived: boolean } | null> {
  const suffix = `-${threadId}.jsonl`
  for (const [dir, depth, archived] of [
    [join(home, SESSIONS_DIR), 3, false],
    [join(home, ARCHIVED_DIR), 0, true],
  ] as const) {
    const hit = (await listRollouts(dir, depth)).find((p) => p.endsWith(suffix))
    if (hit) {
      const exists = await stat(hit).then(
        () => true,
        () => false,
      )
      if (exists) return { path: hit, archived }
    }
  }
  return null
}
