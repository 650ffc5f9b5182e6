/**
 * Reading a model request the way a test about the conversation wants it: without what codex-desk
 * puts before the user's words (agent/turnContext.ts): the developer messages (base and developer
 * instructions, permissions) and the AGENTS.md and environment-context user messages.
 */
import type { RecordedRequest } from './modelServer'

export interface InputItem {
  type: string
  role?: string
  content?: { type: string; text?: string }[]
  [key: string]: unknown
}

const CONTEXT_PREFIXES = ['<environment_context>', '# AGENTS.md instructions for ']

/** True for an input item codex-desk adds as context rather than conversation. */
export function isContextItem(item: InputItem): boolean {
  if (item.type !== 'message') return false
  if (item.role === 'developer') return true
  const first = item.content?.[0]?.text ?? ''
  return item.role === 'user' && CONTEXT_PREFIXES.some((prefix) => first.startsWith(prefix))
}

/** The request's input items that are the conversation itself, in order. */
export function conversationOf(request: RecordedRequest | undefined): InputItem[] {
  const input = (request?.body as { input?: InputItem[] } | undefined)?.input ?? []
  return input.filter((item) => !isContextItem(item))
}
