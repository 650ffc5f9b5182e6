/**
 * What the sub-agent tools (subAgents.ts) read from and say to the model: the argument schemas and
 * wait limits, the parsing of a call's arguments, the child's input built from them, and the agent
 * states in the shapes codex reports them. Pure functions and data; it never touches a thread.
 */
import * as z from 'zod/mini'
import { CONFIG_DEFAULTS } from '../config/schema'
import { formatZodError } from '../protocol/errors'
import type { CollabAgentState, Turn, UserInput } from '../protocol/items'
import { parseArguments, type ToolCall, type ToolServices } from './tools'

export const DEFAULT_WAIT_MS = 30_000
export const MIN_WAIT_MS = 10_000
export const MAX_WAIT_MS = 300_000

export const NICKNAMES = [
  'Erdos',
  'Noether',
  'Turing',
  'Lovelace',
  'Hopper',
  'Euler',
  'Gauss',
  'Curie',
  'Kepler',
  'Fermi',
  'Ramanujan',
  'Hypatia',
]

const InputItems = z.array(
  z.looseObject({
    type: z.string(),
    text: z.optional(z.string()),
    image_url: z.optional(z.string()),
    path: z.optional(z.string()),
    name: z.optional(z.string()),
  }),
)
export const SpawnArgs = z.object({
  message: z.nullish(z.string()),
  items: z.nullish(InputItems),
  fork_context: z.nullish(z.boolean()),
  model: z.nullish(z.string()),
  reasoning_effort: z.nullish(z.string()),
})
export const SendInputArgs = z.object({
  id: z.string(),
  message: z.nullish(z.string()),
  items: z.nullish(InputItems),
  interrupt: z.nullish(z.boolean()),
})
export const WaitArgs = z.object({
  targets: z.nullish(z.array(z.string())),
  /** The older name of `targets`. */
  ids: z.nullish(z.array(z.string())),
  timeout_ms: z.nullish(z.number()),
})
export const CloseArgs = z.object({ id: z.string() })

export const FINAL: ReadonlySet<CollabAgentState['status']> = new Set([
  'completed',
  'errored',
  'interrupted',
  'shutdown',
  'notFound',
])

export function limitsOf(settings: ToolServices['settings']): { maxDepth: number; maxThreads: number } {
  const agents = settings.config.agents
  return {
    maxDepth: agents.max_depth ?? CONFIG_DEFAULTS.agents.max_depth,
    maxThreads: agents.max_threads ?? CONFIG_DEFAULTS.agents.max_threads,
  }
}

export function parse<T>(call: ToolCall, schema: z.ZodMiniType<T>): T | string {
  const raw = parseArguments(call)
  if (!raw.ok) return raw.message
  const parsed = schema.safeParse(raw.value)
  return parsed.success ? parsed.data : `failed to parse function arguments: ${formatZodError(parsed.error)}`
}

/** The child's input: the message, then any structured items (codex's collab input item shape). */
export function inputOf(
  message: string | null | undefined,
  items: z.infer<typeof InputItems> | null | undefined,
): UserInput[] {
  const input: UserInput[] = []
  if (message && message.trim() !== '') input.push({ type: 'text', text: message, text_elements: [] })
  for (const item of items ?? []) {
    if (item.type === 'text' && item.text) input.push({ type: 'text', text: item.text, text_elements: [] })
    else if (item.type === 'image' && item.image_url) input.push({ type: 'image', url: item.image_url })
    else if (item.type === 'local_image' && item.path) input.push({ type: 'localImage', path: item.path })
    else if (item.type === 'skill' && item.name && item.path)
      input.push({ type: 'skill', name: item.name, path: item.path })
    else if (item.type === 'mention' && item.name && item.path)
      input.push({ type: 'mention', name: item.name, path: item.path })
  }
  return input
}

export function stateOfTurn(turn: Turn): CollabAgentState {
  switch (turn.status) {
    case 'inProgress':
      return { status: 'running', message: null }
    case 'failed':
      return { status: 'errored', message: turn.error?.message ?? null }
    case 'interrupted':
      return { status: 'interrupted', message: null }
    case 'completed': {
      const last = turn.items.findLast((item) => item.type === 'agentMessage')
      return { status: 'completed', message: last?.type === 'agentMessage' ? last.text : null }
    }
  }
}

/** codex's AgentStatus as the model reads it. */
export function wireStatus(state: CollabAgentState): unknown {
  switch (state.status) {
    case 'completed':
      return { completed: state.message }
    case 'errored':
      return { errored: state.message }
    case 'pendingInit':
      return 'pending_init'
    case 'notFound':
      return 'not_found'
    default:
      return state.status
  }
}
