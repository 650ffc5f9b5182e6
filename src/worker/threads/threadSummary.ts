/**
 * What the thread index keeps per thread (a ThreadSummary: everything `thread/list` shows, nothing
 * it does not) and how one is derived from a rollout's lines or turned into a protocol Thread.
 *
 * Pure functions over data: it must never touch the disk, and every field must stay derivable
 * from the rollout (the index is never the only copy of anything).
 */
import type { GitInfo, HistoryMode, SessionSource, Thread, ThreadStatus } from '../protocol/items'
import { previewOf, type RolloutLine, type SessionMeta } from './rollout'

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
