/**
 * The model's view of a thread: user input turned into Responses API input items, and the
 * thread's recorded history (every `response_item` of its rollout, in order) turned back into the
 * `input` of the next request.
 *
 * It must never send the model something the user did not see recorded: the history is exactly
 * what the rollout holds, so a resumed thread continues from the same context a live one would.
 */
import type { UserInput } from '../protocol/items'
import { localImageContent } from './images'

type InputContent =
  | { type: 'input_text'; text: string }
  | { type: 'input_image'; image_url?: string; file_id?: string; detail: string }

/** One user message as the model sees it. Inputs the model cannot take are described in text. */
export function userMessageItem(input: readonly UserInput[]): {
  type: 'message'
  role: 'user'
  content: InputContent[]
} {
  const content: InputContent[] = []
  let images = 0
  for (const part of input) {
    switch (part.type) {
      case 'text':
        content.push({ type: 'input_text', text: part.text })
        break
      case 'image': {
        images++
        const detail = part.detail ?? 'auto'
        if (part.url) content.push({ type: 'input_image', image_url: part.url, detail })
        else if (part.fileId) content.push({ type: 'input_image', file_id: part.fileId, detail })
        break
      }
      case 'localImage':
        content.push(...localImageContent(part, ++images))
        break
      // As in codex, neither shows in the message: a named skill follows it whole (agent/skillContext.ts).
      case 'skill':
      case 'mention':
        break
      default:
        break
    }
  }
  return { type: 'message', role: 'user', content }
}

/** A developer message (the base and developer instructions go first in every request). */
export function developerMessageItem(text: string): {
  type: 'message'
  role: 'developer'
  content: InputContent[]
} {
  return { type: 'message', role: 'developer', content: [{ type: 'input_text', text }] }
}

/**
 * Prepares a recorded item for the next request. Requests go with `store: false`, so items must not
 * refer to server-side state: output ids and statuses are dropped, and reasoning is sent back only
 * when it carries its encrypted content.
 */
export function historyInputItem(item: unknown): unknown | undefined {
  if (!item || typeof item !== 'object') return undefined
  const record = item as Record<string, unknown>
  switch (record.type) {
    case 'message': {
      const { id: _id, status: _status, ...rest } = record
      return rest
    }
    case 'reasoning': {
      if (typeof record.encrypted_content !== 'string') return undefined
      const { id: _id, status: _status, ...rest } = record
      return rest
    }
    case 'function_call':
    case 'custom_tool_call': {
      const { id: _id, status: _status, ...rest } = record
      return rest
    }
    default:
      return record
  }
}

/**
 * What the model was told about the thread's setting at the start of a turn (agent/turnContext.ts):
 * the messages sent, and the facts they state, so the next turn repeats only what changed. Recorded
 * as one `response_item` after the turn's first user message; the request puts its messages before
 * that message, where codex sends them.
 */
export const TURN_CONTEXT_TYPE = 'codex_desk_turn_context'

export interface TurnContextEntry<State = unknown> {
  type: typeof TURN_CONTEXT_TYPE
  state: State
  items: unknown[]
}

export function isTurnContext(item: unknown): item is TurnContextEntry {
  return (
    typeof item === 'object' &&
    item !== null &&
    (item as { type?: unknown }).type === TURN_CONTEXT_TYPE &&
    Array.isArray((item as { items?: unknown }).items)
  )
}

/**
 * The request input for a thread's recorded history, after `leading` (the base and developer
 * instructions). A turn's context messages go just before the turn's first recorded item.
 */
export function buildInput(
  history: readonly { turnId: string | null; item: unknown }[],
  leading: unknown[] = [],
) {
  const input: unknown[] = [...leading]
  const contexts = new Map<string, unknown[]>()
  for (const entry of history) {
    if (entry.turnId !== null && isTurnContext(entry.item)) {
      contexts.set(entry.turnId, [...(contexts.get(entry.turnId) ?? []), ...entry.item.items])
    }
  }
  for (const entry of history) {
    if (isTurnContext(entry.item)) {
      if (entry.turnId === null) input.push(...entry.item.items)
      continue
    }
    const hoisted = entry.turnId !== null ? contexts.get(entry.turnId) : undefined
    if (hoisted) {
      input.push(...hoisted)
      contexts.delete(entry.turnId as string)
    }
    const item = historyInputItem(entry.item)
    if (item !== undefined) input.push(item)
  }
  // A turn with nothing but its context so far (its history was compacted mid-turn): the context last.
  for (const items of contexts.values()) input.push(...items)
  return input
}

/** The text of an assistant `message` output item (its `output_text` parts, joined). */
export function outputText(item: { content?: unknown }): string {
  if (!Array.isArray(item.content)) return ''
  let text = ''
  for (const part of item.content as { type?: string; text?: string; refusal?: string }[]) {
    if (part.type === 'output_text' && typeof part.text === 'string') text += part.text
    else if (part.type === 'refusal' && typeof part.refusal === 'string') text += part.refusal
  }
  return text
}

// ---------------------------------------------------------------------------------------------
// Compaction

/** The last user message of a summarization request (our wording of codex's checkpoint prompt). */
export const COMPACT_PROMPT = [
  'You are writing a checkpoint of this conversation so that it can continue in a fresh context.',
  'Summarize it for the assistant who will pick up the work: the task and what the user asked for,',
  'decisions made and why, what has been done so far (files touched, commands that mattered, results),',
  'what is still open or failing, and the concrete next steps. Keep names, paths and values exact;',
  'leave out pleasantries and anything the next assistant does not need. Write only the summary.',
].join('\n')

/** Opens the summary message in the compacted history, so the model knows what it is reading. */
export const SUMMARY_PREFIX =
  'The conversation before this point was compacted. Earlier user messages are kept above; the ' +
  'assistant work is replaced by this summary written by the assistant before compaction:'

/** The summarization request's input: the thread's input as a turn would send it, then the prompt. */
export function compactionInput(input: readonly unknown[]): unknown[] {
  return [...input, userMessageItem([{ type: 'text', text: COMPACT_PROMPT, text_elements: [] }])]
}

function isUserMessage(item: unknown): boolean {
  const record = item as { type?: unknown; role?: unknown } | null
  return record?.type === 'message' && record.role === 'user'
}

/** A summary from an earlier compaction: the new summary covers it, so it is not kept. */
function isSummary(item: unknown): boolean {
  const content = (item as { content?: unknown }).content
  if (!Array.isArray(content)) return false
  const first = content[0] as { type?: unknown; text?: unknown } | undefined
  return typeof first?.text === 'string' && first.text.startsWith(SUMMARY_PREFIX)
}

/**
 * The history after compaction: the user messages as they were (turn context entries are dropped,
 * so the next turn tells the model its setting again, agent/turnContext.ts), then the summary as a
 * user message. Everything the assistant said or called is dropped. Entries are outside any turn.
 */
export function compactedHistory(
  history: readonly { turnId: string | null; item: unknown }[],
  summary: string,
): { turnId: null; item: unknown }[] {
  const kept: { turnId: null; item: unknown }[] = []
  for (const entry of history) {
    if (isTurnContext(entry.item) || !isUserMessage(entry.item) || isSummary(entry.item)) continue
    const item = historyInputItem(entry.item)
    if (item !== undefined) kept.push({ turnId: null, item })
  }
  const text = `${SUMMARY_PREFIX}\n\n${summary.trim()}`
  kept.push({ turnId: null, item: userMessageItem([{ type: 'text', text, text_elements: [] }]) })
  return kept
}

/** True when nothing happened since the history was compacted (every entry is outside a turn). */
export function justCompacted(history: readonly { turnId: string | null }[]): boolean {
  return history.length > 0 && history.every((entry) => entry.turnId === null)
}
