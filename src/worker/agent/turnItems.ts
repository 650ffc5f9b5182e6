/**
 * Pure pieces of a turn: the ThreadItem a model output item starts, token usage accumulation, and
 * any failure as the TurnError clients see.
 */
import { emptyAgentMessage, type ThreadItem, type ThreadTokenUsage, type TurnError } from '../protocol/items'
import { uuidv7 } from '../util/uuid'
import type { ResponseOutputItem, TokenUsage } from './modelClient'
import { ModelError } from './modelErrors'
import { webSearchItem } from './webSearch'

const emptyBreakdown = (): TokenUsage => ({
  totalTokens: 0,
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteInputTokens: 0,
  outputTokens: 0,
  reasoningOutputTokens: 0,
})

/** The thread's usage after one more model response: `last` is that response, `total` the sum. */
export function addUsage(
  previous: ThreadTokenUsage | null,
  usage: TokenUsage,
  modelContextWindow: number | null,
): ThreadTokenUsage {
  const total = previous?.total ?? emptyBreakdown()
  return {
    total: {
      totalTokens: total.totalTokens + usage.totalTokens,
      inputTokens: total.inputTokens + usage.inputTokens,
      cachedInputTokens: total.cachedInputTokens + usage.cachedInputTokens,
      cacheWriteInputTokens: total.cacheWriteInputTokens + usage.cacheWriteInputTokens,
      outputTokens: total.outputTokens + usage.outputTokens,
      reasoningOutputTokens: total.reasoningOutputTokens + usage.reasoningOutputTokens,
    },
    last: { ...usage },
    modelContextWindow,
  }
}

/** The ThreadItem a model output item starts, or null for items clients do not see. */
export function startedItem(output: ResponseOutputItem): ThreadItem | null {
  const id = (output as { id?: string }).id || uuidv7()
  switch (output.type) {
    case 'message':
      return emptyAgentMessage(id)
    case 'reasoning':
      return { type: 'reasoning', id, summary: [], content: [] }
    case 'web_search_call':
      return webSearchItem(output, id, false)
    default:
      return null
  }
}

/** Any failure as the TurnError clients see. */
export function turnErrorOf(error: unknown): TurnError {
  if (error instanceof ModelError) return { ...error.toTurnError(), misalignment: null }
  const message = error instanceof Error ? error.message : String(error)
  const code = (error as { code?: unknown })?.code
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) {
    return {
      message: `could not save the thread: ${message}`,
      codexErrorInfo: 'other',
      additionalDetails: null,
      misalignment: null,
    }
  }
  return { message, codexErrorInfo: 'other', additionalDetails: null, misalignment: null }
}
