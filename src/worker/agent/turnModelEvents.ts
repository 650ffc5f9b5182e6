/**
 * Model events into items: what one model response streams (modelClient.ts `ModelEvent`) becomes the
 * turn's items. Output items start and complete as items, text and reasoning deltas grow them (each
 * written to the rollout before it is published, through the turn's DeltaPipeline), function calls
 * are collected for the turn to run, token usage is recorded, and a retried stream drops what the
 * failed attempt had left unfinished.
 *
 * It never persists or publishes but through the running turn it is given (ItemTurn), so the turn's
 * rules (persist before publish, what a snapshot shows is what was published) hold for it too; it
 * never runs tools or decides whether the model is sampled again.
 */
import type { ThreadItem } from '../protocol/items'
import type { NotificationParams, ServerNotificationMethod } from '../protocol/registry'
import type { DeltaPipeline } from '../threads/deltaPipeline'
import type { LiveThread } from '../threads/liveThread'
import { closeItem, type RolloutPayloads, type RolloutType } from '../threads/rollout'
import type { ResolvedThreadSettings } from '../threads/threadSettings'
import type { Delivery } from '../transport/outboundRouter'
import { outputText } from './history'
import type { ModelEvent, ResponseOutputItem, TokenUsage } from './modelClient'
import { effectiveContextWindow } from './modelCatalog'
import type { SideConversation } from './turnHost'
import { addUsage, startedItem } from './turnItems'
import { webSearchItem } from './webSearch'

/** A function call the model made, for the turn to run once the response ended. */
export type ModelCall = { name: string; callId: string; arguments: string; namespace?: string }

/** What turning model events into items needs from the running turn. */
export interface ItemTurn {
  readonly thread: LiveThread
  readonly threadId: string
  readonly turnId: string
  /** Streaming deltas waiting for their rollout write before they are published. */
  readonly deltas: DeltaPipeline
  /** The side conversation the response belongs to (a job's `converse`), or null for the thread's own. */
  side(): SideConversation | null
  persist<T extends RolloutType>(type: T, payload: RolloutPayloads[T]): Promise<void>
  publish<M extends ServerNotificationMethod>(method: M, params: NotificationParams<M>): Delivery
  startItem(item: ThreadItem): Promise<void>
  /** `textFromDeltas`: the agentMessage's text is exactly what its deltas wrote (not written again). */
  completeItem(item: ThreadItem, textFromDeltas?: number): Promise<void>
  /** Drops a started item that will never complete: recorded as dropped, removed, not published. */
  discardItem(item: ThreadItem): Promise<void>
}

/**
 * An item being streamed, by the model's output index. Its streaming field (agentMessage `text`,
 * reasoning `summary` parts) grows in place; a snapshot copies open items, so that is safe.
 */
export interface Streaming {
  item: ThreadItem
  /** Characters queued for the rollout per streaming field ('' text, `s<i>` summary, `c<i>` content). */
  queued?: Map<string, number>
}

/** The offset of the next text of `field`, counting `length` more as queued. */
function nextOffset(state: Streaming, field: string, length: number): number {
  const queued = (state.queued ??= new Map())
  const offset = queued.get(field) ?? 0
  queued.set(field, offset + length)
  return offset
}

/** One event of a model response, applied to the turn's items (`calls` collects function calls). */
export async function onModelEvent(
  turn: ItemTurn,
  event: ModelEvent,
  streaming: Map<number, Streaming>,
  calls: ModelCall[],
  settings: ResolvedThreadSettings,
): Promise<void> {
  // The delta path builds each notification's params directly: it runs once per delta. A delta is
  // published (the item grows, subscribers hear it) only once its text is in the rollout.
  const isDelta =
    event.type === 'textDelta' ||
    event.type === 'reasoningSummaryDelta' ||
    event.type === 'reasoningTextDelta'
  // Anything else is published after every delta before it.
  if (!isDelta) await turn.deltas.drain()
  switch (event.type) {
    case 'outputItemAdded': {
      if (turn.side() && event.item.type === 'message') return
      const item = startedItem(event.item)
      if (!item) return
      await turn.startItem(item)
      streaming.set(event.outputIndex, { item })
      return
    }
    case 'textDelta': {
      const state = streaming.get(event.outputIndex)
      if (!state || state.item.type !== 'agentMessage') return
      const item = state.item
      const { delta } = event
      const written = turn.thread.sink.appendText({
        turnId: turn.turnId,
        itemId: item.id,
        offset: nextOffset(state, '', delta.length),
        text: delta,
      })
      const wait = turn.deltas.push(written, () => {
        item.text += delta
        return turn.publish('item/agentMessage/delta', {
          threadId: turn.threadId,
          turnId: turn.turnId,
          itemId: item.id,
          delta,
        })
      })
      if (wait) await wait
      return
    }
    case 'reasoningSummaryDelta': {
      const state = streaming.get(event.outputIndex)
      if (!state || state.item.type !== 'reasoning') return
      const item = state.item
      const { delta, summaryIndex } = event
      const written = turn.thread.sink.appendText({
        turnId: turn.turnId,
        itemId: item.id,
        offset: nextOffset(state, `s${summaryIndex}`, delta.length),
        text: delta,
        summaryIndex,
      })
      const wait = turn.deltas.push(written, () => {
        const parts = item.summary
        while (parts.length <= summaryIndex) {
          parts.push('')
          void turn.publish('item/reasoning/summaryPartAdded', {
            threadId: turn.threadId,
            turnId: turn.turnId,
            itemId: item.id,
            summaryIndex: parts.length - 1,
          })
        }
        parts[summaryIndex] += delta
        return turn.publish('item/reasoning/summaryTextDelta', {
          threadId: turn.threadId,
          turnId: turn.turnId,
          itemId: item.id,
          delta,
          summaryIndex,
        })
      })
      if (wait) await wait
      return
    }
    case 'reasoningTextDelta': {
      const state = streaming.get(event.outputIndex)
      if (!state || state.item.type !== 'reasoning') return
      const item = state.item
      const { delta, contentIndex } = event
      const written = turn.thread.sink.appendText({
        turnId: turn.turnId,
        itemId: item.id,
        offset: nextOffset(state, `c${contentIndex}`, delta.length),
        text: delta,
        contentIndex,
      })
      const wait = turn.deltas.push(written, () => {
        const parts = item.content
        while (parts.length <= contentIndex) parts.push('')
        parts[contentIndex] += delta
        return turn.publish('item/reasoning/textDelta', {
          threadId: turn.threadId,
          turnId: turn.turnId,
          itemId: item.id,
          delta,
          contentIndex,
        })
      })
      if (wait) await wait
      return
    }
    case 'outputItemDone': {
      const state = streaming.get(event.outputIndex)
      streaming.delete(event.outputIndex)
      await completeOutput(turn, event.item, state, calls)
      return
    }
    case 'completed':
      if (event.usage) await recordUsage(turn, event.usage, settings)
      return
    case 'retrying': {
      // A broken stream starts over. As in codex, what the failed attempt had streamed but not
      // completed is dropped: clients heard its start and deltas, never its completion, and no read,
      // resume or history page shows it (the model is not told of it either).
      if (event.phase === 'stream') {
        for (const state of streaming.values()) await turn.discardItem(closeItem(state.item, Date.now()))
        streaming.clear()
      }
      const error = event.error.toTurnError()
      void turn.publish('error', {
        threadId: turn.threadId,
        turnId: turn.turnId,
        error: {
          ...error,
          message: `Reconnecting... ${event.attempt}/${event.maxAttempts}`,
          additionalDetails: error.additionalDetails ?? error.message,
          misalignment: null,
        },
        willRetry: true,
      })
      return
    }
    case 'created':
      return
  }
}

async function completeOutput(
  turn: ItemTurn,
  output: ResponseOutputItem,
  state: Streaming | undefined,
  calls: ModelCall[],
): Promise<void> {
  const thread = turn.thread
  const side = turn.side()
  const remember = async () => {
    if (side) return side.remember(output)
    await turn.persist('response_item', { turnId: turn.turnId, item: output })
    thread.history.push({ turnId: turn.turnId, item: output })
  }
  // A side conversation's messages are the job's to show.
  if (side && output.type === 'message') return remember()
  switch (output.type) {
    case 'message': {
      if (!state) {
        const item = startedItem(output) as ThreadItem
        await turn.startItem(item)
        state = { item }
      }
      const streamed = state.item.type === 'agentMessage' ? state.item.text : ''
      const text = outputText(output) || streamed
      await remember()
      await turn.completeItem(
        { ...(state.item as Extract<ThreadItem, { type: 'agentMessage' }>), text },
        text.length > 0 && text === streamed ? text.length : undefined,
      )
      return
    }
    case 'reasoning': {
      const summary = (output.summary ?? []).map((part) => part.text)
      const content = (output.content ?? []).map((part) => part.text)
      await remember()
      if (!state) {
        const item = startedItem(output) as ThreadItem
        await turn.startItem(item)
        state = { item }
      }
      await turn.completeItem({
        ...(state.item as Extract<ThreadItem, { type: 'reasoning' }>),
        summary: summary.length > 0 ? summary : state.item.type === 'reasoning' ? state.item.summary : [],
        content: content.length > 0 ? content : state.item.type === 'reasoning' ? state.item.content : [],
      })
      return
    }
    case 'web_search_call': {
      await remember()
      const started = state?.item ?? (startedItem(output) as ThreadItem)
      if (!state) await turn.startItem(started)
      await turn.completeItem({ ...started, ...webSearchItem(output, started.id, true) } as ThreadItem)
      return
    }
    case 'function_call':
      await remember()
      calls.push({
        name: output.name,
        callId: output.call_id,
        arguments: output.arguments,
        ...(typeof (output as { namespace?: unknown }).namespace === 'string'
          ? { namespace: (output as { namespace: string }).namespace }
          : {}),
      })
      return
    default:
      await remember()
      return
  }
}

async function recordUsage(
  turn: ItemTurn,
  usage: TokenUsage,
  settings: ResolvedThreadSettings,
): Promise<void> {
  const thread = turn.thread
  // As codex reports it: the catalog's window (or `model_context_window`) times the effective percentage.
  const window = effectiveContextWindow(settings.model, settings.modelContextWindow)
  const tokenUsage = addUsage(thread.tokenUsage, usage, window)
  await turn.persist('token_usage', { turnId: turn.turnId, usage: tokenUsage })
  thread.tokenUsage = tokenUsage
  await turn.publish('thread/tokenUsage/updated', {
    threadId: turn.threadId,
    turnId: turn.turnId,
    tokenUsage,
  })
}
