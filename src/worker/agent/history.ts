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
