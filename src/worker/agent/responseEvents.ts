/**
 * Maps the events of one Responses API stream (`ResponseStreamEvent`) to what the model client hands
 * the agent loop (`ModelEvent`), or to the end of the attempt when the server reports a failure in
 * the stream. Pure mapping plus debug logging: it must never touch the connection, timers or retry
 * budgets (the client owns those), and never log more of an event than its type and error code.
 */
import type { ResponseStreamEvent, ResponseUsage } from 'openai/resources/responses/responses'
import type { Logger } from '../util/log'
import type { ModelEvent, TokenUsage } from './modelClient'
import {
  ModelError,
  parseTryAgainIn,
  responseFailedError,
  streamFailure,
  type AttemptFailure,
} from './modelErrors'
import { itemIdOf, outputIndexOf, type OutputItemKeys } from './outputItems'

// Closing events that repeat text the deltas and `output_item.done` already carry; never parsed.
export const UNUSED_EVENTS: ReadonlySet<string> = new Set([
  'response.output_text.done',
  'response.content_part.done',
  'response.reasoning_text.done',
  'response.reasoning_summary_text.done',
  'response.reasoning_summary_part.done',
  'response.function_call_arguments.done',
])

function toUsage(usage: ResponseUsage | null | undefined): TokenUsage | null {
  if (!usage) return null
  const inputTokens = usage.input_tokens ?? 0
  const outputTokens = usage.output_tokens ?? 0
  return {
    inputTokens,
    cachedInputTokens: usage.input_tokens_details?.cached_tokens ?? 0,
    cacheWriteInputTokens: usage.input_tokens_details?.cache_write_tokens ?? 0,
    outputTokens,
    reasoningOutputTokens: usage.output_tokens_details?.reasoning_tokens ?? 0,
    totalTokens: usage.total_tokens ?? inputTokens + outputTokens,
  }
}

/**
 * What one stream event means: a `ModelEvent` to pass on (the client holds `completed` back until
 * the body ends), the attempt's end (a failure the server reported), or nothing (an event we skip).
 */
export type StreamStep = ModelEvent | AttemptFailure | undefined

/** One stream event as a step; `items` keys the event to its output item within the attempt. */
export function toModelEvent(
  event: ResponseStreamEvent,
  items: OutputItemKeys,
  log: Logger,
  logFields: Record<string, unknown>,
): StreamStep {
  switch (event.type) {
    case 'response.created':
      return { type: 'created', responseId: event.response.id }
    case 'response.output_item.added':
      return {
        type: 'outputItemAdded',
        outputIndex: items.added(event.output_index, event.item),
        item: event.item,
      }
    case 'response.output_text.delta': {
      const open = items.delta('message', event.item_id, event.output_index)
      if (!open) return undefined
      return {
        type: 'textDelta',
        itemId: open.id ?? itemIdOf(event.item_id) ?? '',
        outputIndex: open.key,
        contentIndex: outputIndexOf(event.content_index) ?? 0,
        delta: event.delta,
      }
    }
    case 'response.reasoning_summary_text.delta': {
      const open = items.delta('reasoning', event.item_id, event.output_index)
      if (!open) return undefined
      return {
        type: 'reasoningSummaryDelta',
        itemId: open.id ?? itemIdOf(event.item_id) ?? '',
        outputIndex: open.key,
        summaryIndex: outputIndexOf(event.summary_index) ?? 0,
        delta: event.delta,
      }
    }
    case 'response.reasoning_text.delta': {
      const open = items.delta('reasoning', event.item_id, event.output_index)
      if (!open) return undefined
      return {
        type: 'reasoningTextDelta',
        itemId: open.id ?? itemIdOf(event.item_id) ?? '',
        outputIndex: open.key,
        contentIndex: outputIndexOf(event.content_index) ?? 0,
        delta: event.delta,
      }
    }
    case 'response.output_item.done':
      return {
        type: 'outputItemDone',
        outputIndex: items.done(event.output_index, event.item),
        item: event.item,
      }
    case 'response.completed':
      return {
        type: 'completed',
        responseId: event.response.id,
        usage: toUsage(event.response.usage),
      }
    case 'response.failed': {
      const error = responseFailedError(
        event.response.error?.code,
        event.response.error?.message,
        parseTryAgainIn(event.response.error?.message) ?? null,
      )
      log.debug(
        { ...logFields, status: 'response.failed', code: event.response.error?.code },
        'model response failed',
      )
      return streamFailure(error)
    }
    case 'response.incomplete': {
      const reason = event.response.incomplete_details?.reason ?? 'unknown'
      const error = new ModelError(`Incomplete response returned, reason: ${reason}`, {
        codexErrorInfo: 'other',
      })
      return { kind: 'failed', error }
    }
    case 'error': {
      const error = responseFailedError(event.code, event.message, parseTryAgainIn(event.message) ?? null)
      log.debug({ ...logFields, status: 'error event', code: event.code }, 'model stream error event')
      return streamFailure(error)
    }
    default:
      if (log.isLevelEnabled('trace')) log.trace({ type: event.type }, 'ignored model event')
      return undefined
  }
}
