/**
 * The streaming field of an item, as rollout lines grow it: agentMessage `text`, reasoning `summary`
 * and `content` parts, commandExecution `aggregatedOutput`. Replay applies `item_checkpoint` (the
 * whole text so far, older rollouts) and `item_text_delta` (only the new text) lines with it.
 *
 * It must never do I/O, and never let a delta that does not follow the text it extends (a gap left
 * by a failed write) show text nobody saw: such a delta is skipped and reported.
 */
import type { ThreadItem } from '../protocol/items'
import type { ItemTextDelta } from './rolloutLines'

/** Applies checkpointed streaming text (the text so far) to the field that streams for the type. */
export function withCheckpoint(item: ThreadItem, text: string): ThreadItem {
  switch (item.type) {
    case 'agentMessage':
      return { ...item, text }
    case 'reasoning':
      // The checkpoint carries the summary so far as one string; item_completed has the real parts.
      return { ...item, summary: [text] }
    case 'commandExecution':
      return { ...item, aggregatedOutput: text }
    default:
      return item
  }
}

type Where = Pick<ItemTextDelta, 'summaryIndex' | 'contentIndex'>

/** The current text of the field a delta extends, or null when the item type does not stream. */
function fieldOf(item: ThreadItem, where: Where): string | null {
  switch (item.type) {
    case 'agentMessage':
      return item.text
    case 'commandExecution':
      return item.aggregatedOutput ?? ''
    case 'reasoning': {
      const parts = where.contentIndex !== undefined ? item.content : item.summary
      return parts[where.contentIndex ?? where.summaryIndex ?? 0] ?? ''
    }
    default:
      return null
  }
}

function withField(item: ThreadItem, where: Where, text: string): ThreadItem {
  switch (item.type) {
    case 'agentMessage':
      return { ...item, text }
    case 'commandExecution':
      return { ...item, aggregatedOutput: text }
    case 'reasoning': {
      const key = where.contentIndex !== undefined ? 'content' : 'summary'
      const index = where.contentIndex ?? where.summaryIndex ?? 0
      const parts = item[key].slice()
      while (parts.length <= index) parts.push('')
      parts[index] = text
      return { ...item, [key]: parts }
    }
    default:
      return item
  }
}

/**
 * Appends a delta's text at its offset. A delta that overlaps the text (a retried write) adds only
 * what is new; one that starts past the end (the text before it never reached the file) is skipped
 * and reported, because no client was shown text after a failed write.
 */
export function applyTextDelta(
  item: ThreadItem,
  delta: ItemTextDelta,
): { item: ThreadItem; problem: string | null } {
  const current = fieldOf(item, delta)
  if (current === null) return { item, problem: `a text delta for a ${item.type} item was ignored` }
  if (delta.offset > current.length) {
    return {
      item,
      problem: `a text delta of item ${delta.itemId} at offset ${delta.offset} does not follow its ${current.length} characters`,
    }
  }
  const end = delta.offset + delta.text.length
  if (end <= current.length) return { item, problem: null }
  const added = delta.offset === current.length ? delta.text : delta.text.slice(current.length - delta.offset)
  return { item: withField(item, delta, current + added), problem: null }
}

/**
 * An `item_completed` written with `textFromDeltas`: the agentMessage's text is the first N
 * characters of what its deltas streamed (`streamed`, the item as replay had it, if open).
 */
export function completedFromDeltas(
  written: ThreadItem,
  textFromDeltas: number,
  streamed: ThreadItem | undefined,
): { item: ThreadItem; problem: string | null } {
  if (written.type !== 'agentMessage') return { item: written, problem: null }
  const text = streamed?.type === 'agentMessage' ? streamed.text : ''
  const problem =
    text.length < textFromDeltas
      ? `item ${written.id} completed with ${textFromDeltas} streamed characters, ${text.length} are on disk`
      : null
  return {
    item: { ...written, text: text.length > textFromDeltas ? text.slice(0, textFromDeltas) : text },
    problem,
  }
}
