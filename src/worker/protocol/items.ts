/**
 * Wire shapes of threads, turns and items (protocol.md §4 and §5): `UserInput`, `ThreadItem`,
 * `Turn`, `ThreadStatus`, `SessionSource`, token usage, `Thread`, and the `thread/list` params and
 * result. The rollout store persists these shapes as they are and the thread index rebuilds
 * `Thread` from them, so a field added here is a field that reaches disk.
 *
 * The user input and item shapes (threadItems.ts) are re-exported from here, so importers keep
 * one module for every persisted shape.
 *
 * Runtime-free: zod/mini only, never `node:` or electron imports (main and renderer import this).
 */
import * as z from 'zod/mini'
import { ThreadItem } from './threadItems'

export * from './threadItems'
export * from './threadList'

const nullableString = z.nullable(z.string())
const nullableNumber = z.nullable(z.number())

// ---------------------------------------------------------------------------------------------
// Turns

export const TurnStatus = z.enum(['inProgress', 'completed', 'interrupted', 'failed'])
export type TurnStatus = z.infer<typeof TurnStatus>

const httpStatus = z.object({ httpStatusCode: z.nullable(z.int()) })

export const CodexErrorInfo = z.union([
  z.enum([
    'contextWindowExceeded',
    'usageLimitExceeded',
    'rateLimitExceeded',
    'serverOverloaded',
    'modelNotFound',
    'internalServerError',
    'unauthorized',
    'badRequest',
    'sandboxError',
    'other',
  ]),
  z.object({ httpConnectionFailed: httpStatus }),
  z.object({ responseStreamConnectionFailed: httpStatus }),
  z.object({ responseStreamDisconnected: httpStatus }),
  z.object({ responseTooManyFailedAttempts: httpStatus }),
  z.object({ activeTurnNotSteerable: z.object({ turnKind: z.string() }) }),
])
export type CodexErrorInfo = z.infer<typeof CodexErrorInfo>

export const TurnError = z.object({
  message: z.string(),
  codexErrorInfo: z.nullable(CodexErrorInfo),
  additionalDetails: nullableString,
  misalignment: z.nullable(z.unknown()),
})
export type TurnError = z.infer<typeof TurnError>

export const ItemsView = z.enum(['notLoaded', 'summary', 'full'])
export type ItemsView = z.infer<typeof ItemsView>

export const Turn = z.object({
  id: z.string(),
  rootTurnId: nullableString,
  items: z.array(ThreadItem),
  itemsView: ItemsView,
  status: TurnStatus,
  error: z.nullable(TurnError),
  /** Seconds since the epoch. */
  startedAt: nullableNumber,
  completedAt: nullableNumber,
  durationMs: nullableNumber,
})
export type Turn = z.infer<typeof Turn>

// ---------------------------------------------------------------------------------------------
// Threads

export const ActiveFlag = z.enum(['waitingOnApproval', 'waitingOnUserInput'])

export const ThreadStatus = z.discriminatedUnion('type', [
  z.object({ type: z.literal('notLoaded') }),
  z.object({ type: z.literal('idle') }),
  z.object({ type: z.literal('systemError') }),
  z.object({ type: z.literal('active'), activeFlags: z.array(ActiveFlag) }),
])
export type ThreadStatus = z.infer<typeof ThreadStatus>

export const SubAgentSource = z.union([
  z.enum(['review', 'compact', 'memory_consolidation']),
  z.object({ other: z.string() }),
  z.object({
    thread_spawn: z.object({
      parent_thread_id: z.string(),
      depth: z.int(),
      agent_path: z.nullish(z.string()),
      agent_nickname: z.nullish(z.string()),
      agent_role: z.nullish(z.string()),
    }),
  }),
])

export const SessionSource = z.union([
  z.enum(['cli', 'vscode', 'exec', 'appServer', 'unknown']),
  z.object({ custom: z.string() }),
  z.object({ subAgent: SubAgentSource }),
])
export type SessionSource = z.infer<typeof SessionSource>

export const TokenUsageBreakdown = z.object({
  totalTokens: z.number(),
  inputTokens: z.number(),
  cachedInputTokens: z.number(),
  cacheWriteInputTokens: z.number(),
  outputTokens: z.number(),
  reasoningOutputTokens: z.number(),
})
export type TokenUsageBreakdown = z.infer<typeof TokenUsageBreakdown>

export const ThreadTokenUsage = z.object({
  total: TokenUsageBreakdown,
  last: TokenUsageBreakdown,
  modelContextWindow: nullableNumber,
})
export type ThreadTokenUsage = z.infer<typeof ThreadTokenUsage>

export const GitInfo = z.object({ sha: nullableString, branch: nullableString, originUrl: nullableString })
export type GitInfo = z.infer<typeof GitInfo>

export const HistoryMode = z.enum(['legacy', 'paginated'])
export type HistoryMode = z.infer<typeof HistoryMode>

export const Thread = z.object({
  /** A UUIDv7. */
  id: z.string(),
  sessionId: z.string(),
  forkedFromId: nullableString,
  parentThreadId: nullableString,
  preview: z.string(),
  ephemeral: z.boolean(),
  modelProvider: z.string(),
  model: nullableString,
  reasoningEffort: nullableString,
  /** Seconds since the epoch, like every Thread timestamp. */
  createdAt: z.number(),
  updatedAt: z.number(),
  recencyAt: nullableNumber,
  status: ThreadStatus,
  path: nullableString,
  cwd: z.string(),
  cliVersion: z.string(),
  originator: nullableString,
  source: SessionSource,
  threadSource: nullableString,
  agentNickname: nullableString,
  agentRole: nullableString,
  gitInfo: z.nullable(GitInfo),
  name: nullableString,
  historyMode: HistoryMode,
  // v0.169 extras; codex-desk has no sections or projects yet, so these are null.
  section: nullableString,
  sectionEnteredAt: nullableNumber,
  projectId: nullableString,
  /** Filled only by resume, fork and read with includeTurns; `[]` elsewhere. */
  turns: z.array(Turn),
})
export type Thread = z.infer<typeof Thread>

// ---------------------------------------------------------------------------------------------
// thread/list (declared here; the registry entry is added by whoever wires the handler)

export const ThreadUnreadPosition = z.discriminatedUnion('type', [
  z.object({ type: z.literal('threadStart') }),
  z.object({ type: z.literal('turn'), turnId: z.string() }),
])
export type ThreadUnreadPosition = z.infer<typeof ThreadUnreadPosition>

/** `firstUnread` null means read; `revision` guards an update against activity the caller has not seen. */
export const ThreadReadState = z.object({
  firstUnread: z.nullable(ThreadUnreadPosition),
  revision: z.string(),
})
export type ThreadReadState = z.infer<typeof ThreadReadState>

export const ThreadListResponse = z.object({
  data: z.array(Thread),
  /** Read states of the listed threads that have one, by thread id. */
  readStates: z.nullable(z.record(z.string(), ThreadReadState)),
  nextCursor: nullableString,
  backwardsCursor: nullableString,
})
export type ThreadListResponse = z.infer<typeof ThreadListResponse>
