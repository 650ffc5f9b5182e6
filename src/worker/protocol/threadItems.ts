/**
 * Wire shapes of what a turn holds (protocol.md §5): `UserInput` and every `ThreadItem` variant
 * (user and agent messages, reasoning, commands, file changes, tool calls, sub-agent calls, and the
 * loosely kept item types). items.ts re-exports all of it beside the turn and thread shapes built
 * from it; the rollout store persists these shapes as they are.
 *
 * Runtime-free: zod/mini only, never `node:` or electron imports (main and renderer import this).
 */
import * as z from 'zod/mini'

const nullableString = z.nullable(z.string())
const nullableNumber = z.nullable(z.number())
/** Every item variant may carry when it started and completed, in epoch milliseconds. */
const itemTimes = { startedAtMs: z.optional(z.number()), completedAtMs: z.optional(z.number()) }

// ---------------------------------------------------------------------------------------------
// User input

export const TextElement = z.object({
  byteRange: z.object({ start: z.int(), end: z.int() }),
  placeholder: z.nullish(z.string()),
})

export const UserInput = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('text'),
    text: z.string(),
    // snake_case on the wire, as codex spells it; clients may omit it.
    text_elements: z._default(z.array(TextElement), () => []),
  }),
  z.looseObject({
    type: z.literal('image'),
    url: z.optional(z.string()),
    fileId: z.optional(z.string()),
    detail: z.nullish(z.string()),
  }),
  z.looseObject({ type: z.literal('localImage'), path: z.string(), detail: z.nullish(z.string()) }),
  z.looseObject({ type: z.literal('skill'), name: z.string(), path: z.string() }),
  z.looseObject({ type: z.literal('mention'), name: z.string(), path: z.string() }),
  // Accepted and stored, not interpreted yet: they pass through loosely.
  z.looseObject({ type: z.literal('audio'), url: z.optional(z.string()), fileId: z.optional(z.string()) }),
  z.looseObject({ type: z.literal('localAudio'), path: z.string() }),
])
export type UserInput = z.infer<typeof UserInput>

// ---------------------------------------------------------------------------------------------
// Items

export const ToolStatus = z.enum(['inProgress', 'completed', 'failed', 'declined'])
export const CallStatus = z.enum(['inProgress', 'completed', 'failed'])

export const UserMessageItem = z.object({
  type: z.literal('userMessage'),
  id: z.string(),
  clientId: nullableString,
  content: z.array(UserInput),
  ...itemTimes,
})

export const AgentMessageItem = z.object({
  type: z.literal('agentMessage'),
  id: z.string(),
  text: z.string(),
  phase: nullableString,
  // codex emits these keys (null unless a feature fills them); kept so a round trip is lossless.
  memoryCitation: z.nullable(z.unknown()),
  delivery: z.nullable(z.unknown()),
  questions: z.nullable(z.unknown()),
  moderation: z.nullable(z.unknown()),
  ...itemTimes,
})

export const ReasoningItem = z.object({
  type: z.literal('reasoning'),
  id: z.string(),
  summary: z.array(z.string()),
  content: z.array(z.string()),
  ...itemTimes,
})

export const CommandAction = z.looseObject({
  type: z.enum(['read', 'listFiles', 'search', 'unknown']),
  command: z.string(),
})

export const CommandExecutionItem = z.object({
  type: z.literal('commandExecution'),
  id: z.string(),
  command: z.string(),
  cwd: z.string(),
  processId: nullableString,
  source: z.enum(['agent', 'userShell', 'unifiedExecStartup', 'unifiedExecInteraction']),
  status: ToolStatus,
  commandActions: z.array(CommandAction),
  aggregatedOutput: nullableString,
  exitCode: z.nullable(z.int()),
  durationMs: nullableNumber,
  ...itemTimes,
})

export const FileChangeKind = z.discriminatedUnion('type', [
  z.object({ type: z.literal('add') }),
  z.object({ type: z.literal('delete') }),
  z.object({ type: z.literal('update'), move_path: z.nullish(z.string()) }),
])

export const FileChangeItem = z.object({
  type: z.literal('fileChange'),
  id: z.string(),
  changes: z.array(z.object({ path: z.string(), kind: FileChangeKind, diff: z.string() })),
  status: ToolStatus,
  ...itemTimes,
})

export const McpToolCallItem = z.object({
  type: z.literal('mcpToolCall'),
  id: z.string(),
  server: z.string(),
  tool: z.string(),
  status: CallStatus,
  arguments: z.unknown(),
  result: z.nullable(
    z.looseObject({ content: z.array(z.unknown()), structuredContent: z.unknown(), _meta: z.unknown() }),
  ),
  error: z.nullable(z.looseObject({ message: z.string() })),
  durationMs: nullableNumber,
  ...itemTimes,
})

export const DynamicToolCallItem = z.object({
  type: z.literal('dynamicToolCall'),
  id: z.string(),
  namespace: nullableString,
  tool: z.string(),
  arguments: z.unknown(),
  status: CallStatus,
  contentItems: z.nullable(z.array(z.unknown())),
  success: z.nullable(z.boolean()),
  durationMs: nullableNumber,
  ...itemTimes,
})

export const CollabAgentStatus = z.enum([
  'pendingInit',
  'running',
  'interrupted',
  'completed',
  'errored',
  'shutdown',
  'notFound',
])
export type CollabAgentStatus = z.infer<typeof CollabAgentStatus>

export const CollabAgentState = z.object({ status: CollabAgentStatus, message: nullableString })
export type CollabAgentState = z.infer<typeof CollabAgentState>

export const CollabAgentToolCallItem = z.object({
  type: z.literal('collabAgentToolCall'),
  id: z.string(),
  tool: z.enum([
    'spawnAgent',
    'sendInput',
    'resumeAgent',
    'wait',
    'closeAgent',
    'sendMessage',
    'followupTask',
    'interruptAgent',
    'listAgents',
  ]),
  status: z.enum(['inProgress', 'completed', 'failed', 'interrupted']),
  senderThreadId: z.string(),
  receiverThreadIds: z.array(z.string()),
  prompt: nullableString,
  model: nullableString,
  reasoningEffort: nullableString,
  agentsStates: z.record(z.string(), CollabAgentState),
  ...itemTimes,
})

/** Item types codex has that codex-desk stores and forwards without a detailed schema yet. */
export const OTHER_ITEM_TYPES = [
  'plan',
  'subAgentActivity',
  'hookPrompt',
  'functionCallOutput',
  'webSearch',
  'imageView',
  'sleep',
  'imageGeneration',
  'enteredReviewMode',
  'exitedReviewMode',
  'contextCompaction',
] as const

/**
 * The loose fallback. Its `type` is a closed list rather than any string so that TypeScript can
 * still narrow `ThreadItem` on `type`; a new codex item type is added to OTHER_ITEM_TYPES.
 */
export const OtherThreadItem = z.looseObject({
  type: z.enum(OTHER_ITEM_TYPES),
  id: z.string(),
  ...itemTimes,
})

export const ThreadItem = z.discriminatedUnion('type', [
  UserMessageItem,
  AgentMessageItem,
  ReasoningItem,
  CommandExecutionItem,
  FileChangeItem,
  McpToolCallItem,
  DynamicToolCallItem,
  CollabAgentToolCallItem,
  OtherThreadItem,
])
export type ThreadItem = z.infer<typeof ThreadItem>
export type UserMessageItem = z.infer<typeof UserMessageItem>
export type AgentMessageItem = z.infer<typeof AgentMessageItem>

/** An agent message before its first delta: what the core starts and a client shows for an unseen id. */
export function emptyAgentMessage(id: string): AgentMessageItem {
  return {
    type: 'agentMessage',
    id,
    text: '',
    phase: null,
    memoryCitation: null,
    delivery: null,
    questions: null,
    moderation: null,
  }
}
export type ReasoningItem = z.infer<typeof ReasoningItem>
export type CommandExecutionItem = z.infer<typeof CommandExecutionItem>
export type FileChangeItem = z.infer<typeof FileChangeItem>
export type McpToolCallItem = z.infer<typeof McpToolCallItem>
export type DynamicToolCallItem = z.infer<typeof DynamicToolCallItem>
export type CollabAgentToolCallItem = z.infer<typeof CollabAgentToolCallItem>
export type OtherThreadItem = z.infer<typeof OtherThreadItem>
