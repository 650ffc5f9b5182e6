/**
 * Turn method shapes (protocol.md §5): `turn/start`, `turn/steer`, `turn/interrupt`, and the turn,
 * item and delta notifications. `Turn`, `ThreadItem` and `UserInput` live in items.ts with the
 * other persisted shapes. Runtime-free: zod/mini only.
 */
import * as z from 'zod/mini'
import { ThreadItem, Turn, TurnError, UserInput } from './items'
import {
  ApprovalsReviewer,
  AskForApproval,
  CollaborationMode,
  MultiAgentMode,
  Personality,
  ReasoningEffort,
  ReasoningSummary,
  SandboxPolicy,
  TurnEnvironmentParams,
} from './thread'

const ids = { threadId: z.string(), turnId: z.string() }
const itemIds = { ...ids, itemId: z.string() }

// ---------------------------------------------------------------------------------------------
// turn/start, turn/steer, turn/interrupt

/** Experimental params: codex gates each when present and not null. */
const turnStartExperimental = {
  environments: z.nullish(z.array(TurnEnvironmentParams)),
  /** A permission profile id, exclusive with `sandboxPolicy`. */
  permissions: z.nullish(z.string()),
  runtimeWorkspaceRoots: z.nullish(z.array(z.string())),
  collaborationMode: z.nullish(CollaborationMode),
  additionalContext: z.nullish(z.record(z.string(), z.unknown())),
  responsesapiClientMetadata: z.nullish(z.record(z.string(), z.string())),
  responsesapiClientMetadataPatch: z.nullish(z.record(z.string(), z.string())),
  /** Accepted and ignored, as codex does. */
  multiAgentMode: z.nullish(MultiAgentMode),
}

export const TurnStartParams = z.object({
  threadId: z.string(),
  input: z.array(UserInput),
  /** Echoed back as the user message item's `clientId`. */
  clientUserMessageId: z.nullish(z.string()),
  // Sticky overrides: they also apply to the thread's later turns.
  cwd: z.nullish(z.string()),
  approvalPolicy: z.nullish(AskForApproval),
  approvalsReviewer: z.nullish(ApprovalsReviewer),
  /** The object form here, unlike the kebab-case `sandbox` of thread/start. */
  sandboxPolicy: z.nullish(SandboxPolicy),
  model: z.nullish(z.string()),
  serviceTier: z.nullish(z.string()),
  effort: z.nullish(ReasoningEffort),
  summary: z.nullish(ReasoningSummary),
  personality: z.nullish(Personality),
  /** Replaces the thread's list; `[]` clears it. */
  disabledPluginIds: z.nullish(z.array(z.string())),
  // This turn only.
  /** A JSON Schema for the final message. */
  outputSchema: z.nullish(z.unknown()),
  serviceTierForTurn: z.nullish(z.string()),
  cyberAccessProgram: z.nullish(z.enum(['standard', 'daybreakBlue', 'daybreakRed'])),
  turnTrigger: z.nullish(z.string()),
  parentTurnId: z.nullish(z.string()),
  rootTurnId: z.nullish(z.string()),
  toolOutput: z.nullish(
    z.looseObject({
      name: z.string(),
      namespace: z.nullish(z.string()),
      output: z.unknown(),
      retain: z.nullish(z.boolean()),
    }),
  ),
  ...turnStartExperimental,
})
export type TurnStartParams = z.infer<typeof TurnStartParams>

export const TURN_START_EXPERIMENTAL_FIELDS: readonly string[] = Object.keys(turnStartExperimental)

/**
 * `status: 'inProgress'`, no items, `itemsView: 'notLoaded'`. While a turn is running the input is
 * steered into it instead, and this carries the running turn.
 */
export const TurnStartResponse = z.object({ turn: Turn })
export type TurnStartResponse = z.infer<typeof TurnStartResponse>

export const TurnSteerParams = z.object({
  threadId: z.string(),
  input: z.array(UserInput),
  /** Required: the steer fails unless this is the running turn. */
  expectedTurnId: z.string(),
  clientUserMessageId: z.nullish(z.string()),
})
export type TurnSteerParams = z.infer<typeof TurnSteerParams>

export const TurnSteerResponse = z.object({ turnId: z.string() })
export type TurnSteerResponse = z.infer<typeof TurnSteerResponse>

/** The result is `EmptyResponse` (thread.ts). */
export const TurnInterruptParams = z.object(ids)
export type TurnInterruptParams = z.infer<typeof TurnInterruptParams>

// ---------------------------------------------------------------------------------------------
// Notifications

export const TurnStartedNotification = z.object({ threadId: z.string(), turn: Turn })
export type TurnStartedNotification = z.infer<typeof TurnStartedNotification>

/** Its turn has `itemsView: 'summary'`: only the final agent message(s). */
export const TurnCompletedNotification = z.object({ threadId: z.string(), turn: Turn })
export type TurnCompletedNotification = z.infer<typeof TurnCompletedNotification>

export const ItemStartedNotification = z.object({ item: ThreadItem, ...ids, startedAtMs: z.number() })
export type ItemStartedNotification = z.infer<typeof ItemStartedNotification>

export const ItemCompletedNotification = z.object({
  item: ThreadItem,
  ...ids,
  completedAtMs: z.number(),
  contentTokenCount: z.optional(z.nullable(z.int())),
})
export type ItemCompletedNotification = z.infer<typeof ItemCompletedNotification>

export const AgentMessageDeltaNotification = z.object({ ...itemIds, delta: z.string() })
export type AgentMessageDeltaNotification = z.infer<typeof AgentMessageDeltaNotification>

export const ReasoningSummaryTextDeltaNotification = z.object({
  ...itemIds,
  delta: z.string(),
  summaryIndex: z.int(),
})
export type ReasoningSummaryTextDeltaNotification = z.infer<typeof ReasoningSummaryTextDeltaNotification>

export const ReasoningSummaryPartAddedNotification = z.object({ ...itemIds, summaryIndex: z.int() })
export type ReasoningSummaryPartAddedNotification = z.infer<typeof ReasoningSummaryPartAddedNotification>

export const ReasoningTextDeltaNotification = z.object({
  ...itemIds,
  delta: z.string(),
  contentIndex: z.int(),
})
export type ReasoningTextDeltaNotification = z.infer<typeof ReasoningTextDeltaNotification>

/** `willRetry: false` is followed by `turn/completed` with status `failed`. */
export const ErrorNotification = z.object({ error: TurnError, willRetry: z.boolean(), ...ids })
export type ErrorNotification = z.infer<typeof ErrorNotification>

export const WarningNotification = z.object({ threadId: z.nullish(z.string()), message: z.string() })
export type WarningNotification = z.infer<typeof WarningNotification>

/** To every subscriber once a server request is answered or cleared (first answer wins). */
export const ServerRequestResolvedNotification = z.object({
  threadId: z.string(),
  requestId: z.union([z.string(), z.number()]),
})
export type ServerRequestResolvedNotification = z.infer<typeof ServerRequestResolvedNotification>
