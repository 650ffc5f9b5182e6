/**
 * The model's view of a thread: user input turned into Responses API input items, and the
 * thread's recorded history (every `response_item` of its rollout, in order) turned back into the
 * `input` of the next request.
 *
 * It must never send the model something the user did not see recorded: the history is exactly
 * what the rollout holds, so a resumed thread continues from the same context a live one would.
 */
import type { UserInput } from '../protocol/items'

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
  for (const part of input) {
    switch (part.type) {
      case 'text':
        content.push({ type: 'input_text', text: part.text })
        break
      case 'image': {
        const detail = part.detail ?? 'auto'
        if (part.url) content.push({ type: 'input_image', image_url: part.url, detail })
        else if (part.fileId) content.push({ type: 'input_image', file_id: part.fileId, detail })
        break
      }
      case 'localImage':
        content.push({ type: 'input_text', text: `<image path="${part.path}" (not attached)>` })
        break
      case 'skill':
      case 'mention':
        content.push({ type: 'input_text', text: `<${part.type} name="${part.name}" path="${part.path}">` })
        break
      default:
        break
    }
  }
  return { type: 'message', role: 'user', content }
}

/** A developer message (developer instructions go first in every request). */
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

/** The request input for a thread's recorded history. */
export function buildInput(history: readonly { item: unknown }[], developerInstructions: string | null) {
  const input: unknown[] = []
  if (developerInstructions) input.push(developerMessageItem(developerInstructions))
  for (const entry of history) {
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

export const DEFAULT_BASE_INSTRUCTIONS = `You are a coding agent running in codex-desk, a desktop host for the Codex app-server protocol. You help the user with software engineering tasks in their workspace.

Be concise and direct. Prefer doing the work over describing it. When you are unsure about the user's intent, ask a short question. When you finish, say briefly what you did and what is left.`
