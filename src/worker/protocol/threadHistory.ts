/**
 * Paginated thread history and per-thread state: `thread/turns/list`, `thread/items/list`,
 * `thread/items/read`, `thread/readState/update`, `thread/goal/*`, `thread/backgroundTerminals/list`,
 * with the notifications they cause. Shapes follow codex 0.169.0's generated schema. Runtime-free.
 *
 * `experimental: true` marks the methods codex's stable schema does not list.
 */
import * as z from 'zod/mini'
import { ItemsView, ThreadItem, ThreadReadState, Turn } from './items'
import type { ClientRequestSpecs, NotificationSpecs } from './spec'

const nullableString = z.nullable(z.string())
const threadId = { threadId: z.string() }
const SortDirection = z.enum(['asc', 'desc'])
const pageSize = z.nullish(z.int().check(z.nonnegative()))

// ---------------------------------------------------------------------------------------------
// thread/turns/list, thread/items/list, thread/items/read

export const ThreadTurnsListParams = z.object({
  ...threadId,
  /** Opaque; a previous page's `nextCursor` or `backwardsCursor`. */
  cursor: z.nullish(z.string()),
  limit: pageSize,
  /** Default `desc`: newest turn first. */
  sortDirection: z.nullish(SortDirection),
  /** Default `summary`: the first user message and the final agent message of each turn. */
  itemsView: z.nullish(ItemsView),
})
export type ThreadTurnsListParams = z.infer<typeof ThreadTurnsListParams>

export const ThreadTurnsListResponse = z.object({
  data: z.array(Turn),
  nextCursor: nullableString,
  backwardsCursor: nullableString,
})
export type ThreadTurnsListResponse = z.infer<typeof ThreadTurnsListResponse>

/** An exclusive position inside the requested turn (needs `turnId`). */
export const ThreadItemsListAnchor = z.object({ type: z.literal('item'), itemId: z.string() })
export type ThreadItemsListAnchor = z.infer<typeof ThreadItemsListAnchor>

export const ThreadItemOutputDeferral = z.object({
  commandExecution: z.optional(z.boolean()),
  mcpToolCall: z.optional(z.boolean()),
})
export type ThreadItemOutputDeferral = z.infer<typeof ThreadItemOutputDeferral>

export const ThreadItemsListParams = z.object({
  ...threadId,
  turnId: z.nullish(z.string()),
  cursor: z.nullish(z.union([z.string(), ThreadItemsListAnchor])),
  limit: pageSize,
  /** Default `asc`: oldest item first. */
  sortDirection: z.nullish(SortDirection),
  deferOutput: z.nullish(ThreadItemOutputDeferral),
})
export type ThreadItemsListParams = z.infer<typeof ThreadItemsListParams>

export const ThreadItemEntry = z.object({
  turnId: z.string(),
  item: ThreadItem,
  startedAtMs: z.nullable(z.number()),
  completedAtMs: z.nullable(z.number()),
  /** Present (true) only when the item's saved output was left out; `thread/items/read` has it. */
  outputDeferred: z.optional(z.boolean()),
})
export type ThreadItemEntry = z.infer<typeof ThreadItemEntry>

export const ThreadItemsListResponse = z.object({
  data: z.array(ThreadItemEntry),
  nextCursor: nullableString,
  backwardsCursor: nullableString,
})
export type ThreadItemsListResponse = z.infer<typeof ThreadItemsListResponse>

export const ThreadItemsReadParams = z.object({
  ...threadId,
  turnId: z.string(),
  /** 1 to 100 ids. */
  itemIds: z.array(z.string()),
})
export const ThreadItemsReadResponse = z.object({ data: z.array(ThreadItemEntry) })

// ---------------------------------------------------------------------------------------------
// Read state

export { ThreadReadState, ThreadUnreadPosition } from './items'

export const ThreadReadStateUpdateParams = z.object({
  ...threadId,
  operation: z.object({ type: z.enum(['read', 'unread']) }),
  expectedRevision: z.string(),
})
export const ThreadReadStateUpdateResponse = z.object({ readState: ThreadReadState })
export const ThreadReadStateChangedNotification = z.object({ ...threadId, readState: ThreadReadState })

// ---------------------------------------------------------------------------------------------
// Goals

export const ThreadGoalStatus = z.enum([
  'active',
  'paused',
  'blocked',
  'usageLimited',
  'budgetLimited',
  'complete',
])
export type ThreadGoalStatus = z.infer<typeof ThreadGoalStatus>

export const ThreadGoal = z.object({
  threadId: z.string(),
  objective: z.string(),
  status: ThreadGoalStatus,
  tokenBudget: z.nullable(z.int()),
  tokensUsed: z.int(),
  timeUsedSeconds: z.int(),
  /** Seconds since the epoch. */
  createdAt: z.int(),
  updatedAt: z.int(),
})
export type ThreadGoal = z.infer<typeof ThreadGoal>

const GoalOrigin = z.nullish(z.enum(['user', 'automatic']))

export const ThreadGoalGetParams = z.object(threadId)
export const ThreadGoalGetResponse = z.object({ goal: z.nullable(ThreadGoal) })
export const ThreadGoalSetParams = z.object({
  ...threadId,
  objective: z.nullish(z.string()),
  status: z.nullish(ThreadGoalStatus),
  tokenBudget: z.nullish(z.int()),
  origin: GoalOrigin,
})
export type ThreadGoalSetParams = z.infer<typeof ThreadGoalSetParams>
export const ThreadGoalSetResponse = z.object({ goal: ThreadGoal })
export const ThreadGoalClearParams = z.object({ ...threadId, origin: GoalOrigin })
export const ThreadGoalClearResponse = z.object({ cleared: z.boolean() })
export const ThreadGoalUpdatedNotification = z.object({
  ...threadId,
  turnId: nullableString,
  goal: ThreadGoal,
})
export const ThreadGoalClearedNotification = z.object(threadId)

// ---------------------------------------------------------------------------------------------
// Background terminals (codex-desk runs every command to completion inside its turn: none)

export const ThreadBackgroundTerminal = z.object({
  itemId: z.string(),
  processId: z.string(),
  command: z.string(),
  cwd: z.string(),
  osPid: z.nullish(z.int()),
  cpuPercent: z.nullish(z.number()),
  rssKb: z.nullish(z.int()),
})
export const ThreadBackgroundTerminalsListParams = z.object({
  ...threadId,
  cursor: z.nullish(z.string()),
  limit: pageSize,
})
export const ThreadBackgroundTerminalsListResponse = z.object({
  data: z.array(ThreadBackgroundTerminal),
  nextCursor: nullableString,
})

// ---------------------------------------------------------------------------------------------
// Registry fragments

export const historyRequests = {
  'thread/turns/list': { params: ThreadTurnsListParams, result: ThreadTurnsListResponse },
  'thread/items/list': { params: ThreadItemsListParams, result: ThreadItemsListResponse },
  'thread/items/read': {
    params: ThreadItemsReadParams,
    result: ThreadItemsReadResponse,
    experimental: true,
  },
  'thread/readState/update': {
    params: ThreadReadStateUpdateParams,
    result: ThreadReadStateUpdateResponse,
    experimental: true,
  },
  'thread/goal/get': { params: ThreadGoalGetParams, result: ThreadGoalGetResponse },
  'thread/goal/set': { params: ThreadGoalSetParams, result: ThreadGoalSetResponse },
  'thread/goal/clear': { params: ThreadGoalClearParams, result: ThreadGoalClearResponse },
  'thread/backgroundTerminals/list': {
    params: ThreadBackgroundTerminalsListParams,
    result: ThreadBackgroundTerminalsListResponse,
    experimental: true,
  },
} as const satisfies ClientRequestSpecs

export const historyNotifications = {
  'thread/readState/changed': ThreadReadStateChangedNotification,
  'thread/goal/updated': ThreadGoalUpdatedNotification,
  'thread/goal/cleared': ThreadGoalClearedNotification,
} as const satisfies NotificationSpecs
