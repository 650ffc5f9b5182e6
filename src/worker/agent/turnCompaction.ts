/**
 * Compacting a thread's context inside a turn, as codex does: when to do it before a turn (the last
 * request's input passed `model_auto_compact_token_limit` or 90% of the model's context window),
 * whether a "context length exceeded" answer may be met by compacting and retrying, and the
 * compaction itself: the model, offered no tools, writes a checkpoint summary of the history, and
 * the history becomes the user messages plus that summary (history.ts), persisted as a `compacted`
 * line and shown as one `contextCompaction` item of the turn.
 *
 * It never publishes or persists anything but through the turn it is given, so the turn's rules
 * (persist before publish, every item ends) hold for it too.
 */
import type { ThreadItem } from '../protocol/items'
import type { LiveThread } from '../threads/liveThread'
import type { RolloutPayloads } from '../threads/rollout'
import type { ResolvedThreadSettings } from '../threads/threadSettings'
import { uuidv7 } from '../util/uuid'
import { resolveCodexDeskHome } from '../home'
import { buildInput, compactedHistory, compactionInput, justCompacted, outputText } from './history'
import { leadingMessages } from './instructions'
import type { ModelClient, ModelRequest } from './modelClient'
import { effectiveContextWindow } from './modelCatalog'
import { ModelError } from './modelErrors'

/** What compaction needs from the running turn. */
export interface CompactingTurn {
  readonly thread: LiveThread
  readonly turnId: string
  readonly signal: AbortSignal
  settings(): ResolvedThreadSettings
  modelClient(settings: ResolvedThreadSettings): ModelClient
  /** Publishes what streamed before (the item must come after it). */
  drain(): Promise<void>
  startItem(item: ThreadItem): Promise<void>
  completeItem(item: ThreadItem): Promise<void>
  persistCompacted(payload: RolloutPayloads['compacted']): Promise<void>
}

/**
 * Before a turn: the last request's input passed `model_auto_compact_token_limit` or 90% of the
 * model's context window, and the history holds more than a compaction's result.
 */
export function shouldAutoCompact(thread: LiveThread, settings: ResolvedThreadSettings): boolean {
  const used = thread.tokenUsage?.last.inputTokens ?? 0
  if (used === 0 || justCompacted(thread.history)) return false
  const window = effectiveContextWindow(settings.model, settings.modelContextWindow)
  const configured = (settings.config as { model_auto_compact_token_limit?: unknown })
    .model_auto_compact_token_limit
  const ceiling = Math.floor(window * 0.9)
  const limit = typeof configured === 'number' && configured > 0 ? Math.min(configured, ceiling) : ceiling
  return used >= limit
}

/** A "context length exceeded" answer that compacting may cure (once a turn, not right after one). */
export function overflowRecoverable(
  error: unknown,
  thread: LiveThread,
  { alreadyCompacted, aborted }: { alreadyCompacted: boolean; aborted: boolean },
): boolean {
  return (
    !alreadyCompacted &&
    !aborted &&
    error instanceof ModelError &&
    error.codexErrorInfo === 'contextWindowExceeded' &&
    !justCompacted(thread.history)
  )
}

/** Compacts the thread's context (see the file comment); throws when aborted or given no summary. */
export async function compactContext(turn: CompactingTurn): Promise<void> {
  const { thread } = turn
  const settings = turn.settings()
  await turn.drain()
  const item = { type: 'contextCompaction', id: uuidv7() } as ThreadItem
  await turn.startItem(item)
  const leading = await leadingMessages(thread, settings, resolveCodexDeskHome())
  const request: ModelRequest = {
    model: settings.model,
    input: compactionInput(buildInput(thread.history, leading)),
    parallelToolCalls: false,
    store: false,
    ...(settings.effort && settings.effort !== 'none'
      ? { reasoning: { effort: settings.effort, summary: settings.summary ?? 'auto' } }
      : {}),
    // codex offers the summarizer an empty tool list (the client leaves out an empty `tools`).
    extraBody: { tools: [] },
  }
  let summary = ''
  for await (const event of turn.modelClient(settings).stream(request, turn.signal)) {
    if (event.type === 'outputItemDone' && event.item.type === 'message') summary += outputText(event.item)
  }
  if (turn.signal.aborted) throw turn.signal.reason
  if (summary.trim() === '') throw new Error('the model returned no summary to compact the thread with')
  const replacementHistory = compactedHistory(thread.history, summary)
  await turn.persistCompacted({ turnId: turn.turnId, replacementHistory })
  thread.history.splice(0, thread.history.length, ...replacementHistory)
  await turn.completeItem({ ...item })
}
