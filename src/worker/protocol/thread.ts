/**
 * Thread method shapes (protocol.md §4) and the approval and sandbox values they carry (§6):
 * `thread/start`, `thread/resume`, `thread/fork`, `thread/read`, `thread/unsubscribe`, archive,
 * unarchive, `thread/name/set`, `thread/loaded/list`, and the thread notifications. `Thread` itself
 * and `thread/list` live in items.ts with the other persisted shapes.
 *
 * Params use `z.object`, which drops unknown keys as serde does; every optional field is nullish
 * because codex accepts both an omitted key and `null`. Runtime-free: zod/mini only.
 */
import * as z from 'zod/mini'
import { HistoryMode, Thread, ThreadReadState, ThreadStatus, ThreadTokenUsage } from './items'

const nullableString = z.nullable(z.string())

// ---------------------------------------------------------------------------------------------
// Approval and sandbox values (protocol.md §6)

/** codex's variant order, which its serde message lists; `granular` is the object form. */
const ASK_FOR_APPROVAL_VARIANTS = ['untrusted', 'on-request', 'granular', 'never'] as const

export const GranularApprovalConfig = z.looseObject({
  sandbox_approval: z.boolean(),
  rules: z.boolean(),
  mcp_elicitations: z.boolean(),
  request_permissions: z.optional(z.boolean()),
  skill_approval: z.optional(z.boolean()),
})
export type GranularApprovalConfig = z.infer<typeof GranularApprovalConfig>

/**
 * The last union option never matches. For a string the others rejected it reports a non-aborting
 * issue, which a zod union returns as is (instead of a bare `invalid_union`), so formatZodError
 * gives codex's "unknown variant `on-failure` …, expected one of `untrusted`, `on-request`,
 * `granular`, `never`". Anything else aborts, leaving the plain union error.
 */
const UnknownApprovalVariant = z.custom<never>().check(
  z.superRefine((value: unknown, ctx) => {
    if (value === 'granular') {
      ctx.addIssue({ code: 'custom', message: 'invalid type: unit variant, expected newtype variant' })
    } else if (typeof value === 'string') {
      ctx.addIssue({ code: 'invalid_value', values: [...ASK_FOR_APPROVAL_VARIANTS], input: value })
    } else {
      ctx.addIssue({ code: 'custom', message: 'expected an approval policy', continue: false })
    }
  }),
)

/** `"on-failure"` (still valid in config.toml) and README's `"unlessTrusted"` are rejected on the wire. */
export const AskForApproval = z.union([
  z.enum(['untrusted', 'on-request', 'never']),
  z.object({ granular: GranularApprovalConfig }),
  UnknownApprovalVariant,
])
export type AskForApproval = z.infer<typeof AskForApproval>

/** The kebab-case mode of start, resume and fork; `"workspaceWrite"` is rejected. */
export const SandboxMode = z.enum(['read-only', 'workspace-write', 'danger-full-access'])
export type SandboxMode = z.infer<typeof SandboxMode>

/** The object form of turn/start `sandboxPolicy` and of every response; responses fill the optional fields. */
export const SandboxPolicy = z.discriminatedUnion('type', [
  z.object({ type: z.literal('readOnly'), networkAccess: z.optional(z.boolean()) }),
  z.object({
    type: z.literal('workspaceWrite'),
    writableRoots: z.optional(z.array(z.string())),
    networkAccess: z.optional(z.boolean()),
    excludeTmpdirEnvVar: z.optional(z.boolean()),
    excludeSlashTmp: z.optional(z.boolean()),
  }),
  z.object({ type: z.literal('dangerFullAccess') }),
  z.object({
    type: z.literal('externalSandbox'),
    networkAccess: z.optional(z.enum(['restricted', 'enabled'])),
  }),
])
export type SandboxPolicy = z.infer<typeof SandboxPolicy>

export { isUnrestricted } from './constants'

export const ApprovalsReviewer = z.enum(['user', 'auto_review', 'guardian_subagent'])
export type ApprovalsReviewer = z.infer<typeof ApprovalsReviewer>

/**
 * Any value the model advertises (`low`, `high`, `xhigh`, ...): codex 0.169 takes any string and
 * sends it on. An empty one is refused by the handlers with codex's own words
 * (`reasoning_effort must not be empty`), see threads/settingsUpdate.ts.
 */
export const ReasoningEffort = z.string()
export type ReasoningEffort = z.infer<typeof ReasoningEffort>

export const ReasoningSummary = z.enum(['auto', 'concise', 'detailed', 'none'])
export type ReasoningSummary = z.infer<typeof ReasoningSummary>

/** Deprecated in codex (no style is selected any more), still validated and reported. */
export const Personality = z.enum(['none', 'friendly', 'pragmatic'])
export type Personality = z.infer<typeof Personality>

/** Deprecated and ignored by codex; always reported as `explicitRequestOnly`. */
export const MultiAgentMode = z.union([
  z.enum(['explicitRequestOnly', 'proactive']),
  z.strictObject({ custom: z.string() }),
])
export type MultiAgentMode = z.infer<typeof MultiAgentMode>

/**
 * A collaboration mode preset; its `model` and `reasoning_effort` take precedence over the plain
 * `model` and `effort` params. `developer_instructions: null` means "the mode's built-in text".
 */
export const CollaborationMode = z.object({
  mode: z.enum(['plan', 'default']),
  settings: z.object({
    model: z.string(),
    reasoning_effort: z.nullish(ReasoningEffort),
    developer_instructions: z.nullish(z.string()),
  }),
})
export type CollaborationMode = z.infer<typeof CollaborationMode>

/** An execution environment a turn may use (codex-desk runs every turn locally in its cwd). */
export const TurnEnvironmentParams = z.object({
  environmentId: z.string(),
  cwd: z.string(),
  runtimeWorkspaceRoots: z.nullish(z.array(z.string())),
})
export type TurnEnvironmentParams = z.infer<typeof TurnEnvironmentParams>

// ---------------------------------------------------------------------------------------------
// thread/start, thread/resume, thread/fork

/** The settings start, resume and fork all accept; resume and fork apply them to the loaded thread. */
const threadOverrides = {
  model: z.nullish(z.string()),
  modelProvider: z.nullish(z.string()),
  serviceTier: z.nullish(z.string()),
  cwd: z.nullish(z.string()),
  approvalPolicy: z.nullish(AskForApproval),
  approvalsReviewer: z.nullish(ApprovalsReviewer),
  sandbox: z.nullish(SandboxMode),
  /** Config overrides keyed by dotted path, as `-c key=value` would set them. */
  config: z.nullish(z.record(z.string(), z.unknown())),
  baseInstructions: z.nullish(z.string()),
  developerInstructions: z.nullish(z.string()),
  /** Deprecated in codex, still accepted. */
  personality: z.nullish(Personality),
}

/**
 * Experimental params (codex gates each when present and not null). Plain booleans are in
 * `*_EXPERIMENTAL_FLAGS` instead: codex gates those only when `true`.
 */
const threadStartExperimental = {
  /** Validated by threads/dynamicToolSpecs.ts. */
  dynamicTools: z.nullish(z.array(z.unknown())),
  /** A permission profile id, exclusive with `sandbox`. */
  permissions: z.nullish(z.string()),
  runtimeWorkspaceRoots: z.nullish(z.array(z.string())),
  environments: z.nullish(z.array(TurnEnvironmentParams)),
  historyMode: z.nullish(HistoryMode),
  projectId: z.nullish(z.string()),
  selectedCapabilityRoots: z.nullish(z.array(z.looseObject({ id: z.string(), location: z.unknown() }))),
  daybreakEnabled: z.nullish(z.boolean()),
  /** Accepted and ignored, as codex does. */
  multiAgentMode: z.nullish(MultiAgentMode),
  /** codex's test-only field for the experimental gate. */
  mockExperimentalField: z.nullish(z.string()),
}

const threadStartFlags = {
  allowProviderModelFallback: z.nullish(z.boolean()),
  experimentalRawEvents: z.nullish(z.boolean()),
}

export const ThreadStartParams = z.object({
  ...threadOverrides,
  serviceName: z.nullish(z.string()),
  ephemeral: z.nullish(z.boolean()),
  sessionStartSource: z.nullish(z.enum(['startup', 'clear'])),
  threadSource: z.nullish(z.string()),
  ...threadStartExperimental,
  ...threadStartFlags,
})
export type ThreadStartParams = z.infer<typeof ThreadStartParams>

export const THREAD_START_EXPERIMENTAL_FIELDS: readonly string[] = Object.keys(threadStartExperimental)
export { THREAD_START_EXPERIMENTAL_FLAGS } from './constants'

const threadStartResponseShape = {
  thread: Thread,
  model: z.string(),
  modelProvider: z.string(),
  serviceTier: nullableString,
  cwd: z.string(),
  approvalPolicy: AskForApproval,
  approvalsReviewer: ApprovalsReviewer,
  /** Always the object form, e.g. `{type: 'readOnly', networkAccess: false}`. */
  sandbox: SandboxPolicy,
  reasoningEffort: nullableString,
  instructionSources: z.array(z.string()),
  disabledPluginIds: z.array(z.string()),
}

export const ThreadStartResponse = z.object(threadStartResponseShape)
export type ThreadStartResponse = z.infer<typeof ThreadStartResponse>

const threadResumeExperimental = {
  history: z.nullish(z.array(z.unknown())),
  path: z.nullish(z.string()),
  initialTurnsPage: z.nullish(
    z.object({
      itemsView: z.nullish(z.enum(['notLoaded', 'summary', 'full'])),
      limit: z.nullish(z.int().check(z.nonnegative())),
      sortDirection: z.nullish(z.enum(['asc', 'desc'])),
    }),
  ),
  permissions: z.nullish(z.string()),
  runtimeWorkspaceRoots: z.nullish(z.array(z.string())),
}

export const ThreadResumeParams = z.object({
  threadId: z.string(),
  ...threadOverrides,
  excludeTurns: z.nullish(z.boolean()),
  ...threadResumeExperimental,
})
export type ThreadResumeParams = z.infer<typeof ThreadResumeParams>

export const THREAD_RESUME_EXPERIMENTAL_FIELDS: readonly string[] = Object.keys(threadResumeExperimental)

export const ThreadResumeResponse = z.object({
  ...threadStartResponseShape,
  collaborationMode: z.nullable(z.unknown()),
  turnsBackwardsCursor: nullableString,
  itemsBackwardsCursor: nullableString,
})
export type ThreadResumeResponse = z.infer<typeof ThreadResumeResponse>

const threadForkExperimental = {
  beforeTurnId: z.nullish(z.string()),
  path: z.nullish(z.string()),
  permissions: z.nullish(z.string()),
  runtimeWorkspaceRoots: z.nullish(z.array(z.string())),
}

const threadForkFlags = {
  attachToSource: z.nullish(z.boolean()),
  deferGoalContinuation: z.nullish(z.boolean()),
  experimentalDisablePredictionMcp: z.nullish(z.boolean()),
  experimentalPredictionMode: z.nullish(z.boolean()),
}

export const ThreadForkParams = z.object({
  threadId: z.string(),
  /** Fork after this turn; the whole thread when omitted. */
  lastTurnId: z.nullish(z.string()),
  excludeTurns: z.nullish(z.boolean()),
  ephemeral: z.nullish(z.boolean()),
  threadSource: z.nullish(z.string()),
  ...threadOverrides,
  ...threadForkExperimental,
  ...threadForkFlags,
})
export type ThreadForkParams = z.infer<typeof ThreadForkParams>

export const THREAD_FORK_EXPERIMENTAL_FIELDS: readonly string[] = Object.keys(threadForkExperimental)
export { THREAD_FORK_EXPERIMENTAL_FLAGS } from './constants'

/** A new thread id, `forkedFromId` set. */
export const ThreadForkResponse = z.object(threadStartResponseShape)
export type ThreadForkResponse = z.infer<typeof ThreadForkResponse>

// ---------------------------------------------------------------------------------------------
// Other thread methods

const threadId = { threadId: z.string() }

export const ThreadReadParams = z.object({ ...threadId, includeTurns: z.nullish(z.boolean()) })
export type ThreadReadParams = z.infer<typeof ThreadReadParams>

/** `readState`: the thread's read state; null where it cannot have one (ephemeral, a helper thread). */
export const ThreadReadResponse = z.object({
  thread: Thread,
  readState: z.optional(z.nullable(ThreadReadState)),
})
export type ThreadReadResponse = z.infer<typeof ThreadReadResponse>

export const ThreadUnsubscribeParams = z.object(threadId)
export type ThreadUnsubscribeParams = z.infer<typeof ThreadUnsubscribeParams>

export const ThreadUnsubscribeResponse = z.object({
  status: z.enum(['unsubscribed', 'notSubscribed', 'notLoaded']),
})
export type ThreadUnsubscribeResponse = z.infer<typeof ThreadUnsubscribeResponse>

/** Params of the methods that take nothing but a thread id (archive, unarchive). */
export const ThreadIdParams = z.object(threadId)
export type ThreadIdParams = z.infer<typeof ThreadIdParams>

/** `{}`: the result of archive, name/set and turn/interrupt. */
export const EmptyResponse = z.object({})
export type EmptyResponse = z.infer<typeof EmptyResponse>

export const ThreadUnarchiveResponse = z.object({ thread: Thread })
export type ThreadUnarchiveResponse = z.infer<typeof ThreadUnarchiveResponse>

/** Names need not be unique. */
export const ThreadNameSetParams = z.object({ ...threadId, name: z.string() })
export type ThreadNameSetParams = z.infer<typeof ThreadNameSetParams>

export const ThreadLoadedListParams = z.object({
  /** The last id of the previous page. */
  cursor: z.nullish(z.string()),
  limit: z.nullish(z.int().check(z.nonnegative())),
})
export type ThreadLoadedListParams = z.infer<typeof ThreadLoadedListParams>

export const ThreadLoadedListResponse = z.object({
  data: z.array(z.string()),
  nextCursor: nullableString,
})
export type ThreadLoadedListResponse = z.infer<typeof ThreadLoadedListResponse>

// ---------------------------------------------------------------------------------------------
// thread/settings/update (experimental) and the settings it reports

/**
 * Sticky settings for the thread's next turns; a null or omitted field keeps the current value,
 * except `serviceTier`, where null clears it. `collaborationMode` wins over `model` and `effort`.
 */
export const ThreadSettingsUpdateParams = z.object({
  threadId: z.string(),
  model: z.nullish(z.string()),
  effort: z.nullish(ReasoningEffort),
  summary: z.nullish(ReasoningSummary),
  serviceTier: z.nullish(z.string()),
  cwd: z.nullish(z.string()),
  approvalPolicy: z.nullish(AskForApproval),
  approvalsReviewer: z.nullish(ApprovalsReviewer),
  sandboxPolicy: z.nullish(SandboxPolicy),
  /** A permission profile id, exclusive with `sandboxPolicy`. */
  permissions: z.nullish(z.string()),
  environments: z.nullish(z.array(TurnEnvironmentParams)),
  /** Replaces the list; `[]` clears it. */
  disabledPluginIds: z.nullish(z.array(z.string())),
  collaborationMode: z.nullish(CollaborationMode),
  multiAgentMode: z.nullish(MultiAgentMode),
  personality: z.nullish(Personality),
})
export type ThreadSettingsUpdateParams = z.infer<typeof ThreadSettingsUpdateParams>

/** What a loaded thread's next turn runs with (`thread/settings/updated`). */
export const ThreadSettings = z.object({
  disabledPluginIds: z.array(z.string()),
  cwd: z.string(),
  /** null: the server does not expose an environment selection. */
  environments: z.nullable(
    z.array(
      z.object({ environmentId: z.string(), cwd: z.string(), runtimeWorkspaceRoots: z.array(z.string()) }),
    ),
  ),
  approvalPolicy: AskForApproval,
  approvalsReviewer: ApprovalsReviewer,
  sandboxPolicy: SandboxPolicy,
  activePermissionProfile: z.nullable(z.object({ id: z.string(), extends: nullableString })),
  model: z.string(),
  modelProvider: z.string(),
  serviceTier: nullableString,
  effort: nullableString,
  summary: z.nullable(ReasoningSummary),
  collaborationMode: CollaborationMode,
  multiAgentMode: MultiAgentMode,
  personality: z.nullable(Personality),
})
export type ThreadSettings = z.infer<typeof ThreadSettings>

/** To the thread's subscribers, whenever an update or a turn's overrides change its settings. */
export const ThreadSettingsUpdatedNotification = z.object({
  threadId: z.string(),
  threadSettings: ThreadSettings,
})
export type ThreadSettingsUpdatedNotification = z.infer<typeof ThreadSettingsUpdatedNotification>

// ---------------------------------------------------------------------------------------------
// Notifications

export const ThreadStartedNotification = z.object({ thread: Thread })
export type ThreadStartedNotification = z.infer<typeof ThreadStartedNotification>

export const ThreadStatusChangedNotification = z.object({ ...threadId, status: ThreadStatus })
export type ThreadStatusChangedNotification = z.infer<typeof ThreadStatusChangedNotification>

export const ThreadClosedNotification = z.object(threadId)
export type ThreadClosedNotification = z.infer<typeof ThreadClosedNotification>

export const ThreadArchivedNotification = z.object(threadId)
export type ThreadArchivedNotification = z.infer<typeof ThreadArchivedNotification>

export const ThreadUnarchivedNotification = z.object(threadId)
export type ThreadUnarchivedNotification = z.infer<typeof ThreadUnarchivedNotification>

export const ThreadNameUpdatedNotification = z.object({ ...threadId, threadName: nullableString })
export type ThreadNameUpdatedNotification = z.infer<typeof ThreadNameUpdatedNotification>

/** Sent after each model response, to the thread's subscribers. */
export const ThreadTokenUsageUpdatedNotification = z.object({
  ...threadId,
  turnId: z.string(),
  tokenUsage: ThreadTokenUsage,
})
export type ThreadTokenUsageUpdatedNotification = z.infer<typeof ThreadTokenUsageUpdatedNotification>

/** E.g. before `includeTurns` on a paginated thread. */
export const DeprecationNoticeNotification = z.object({ summary: z.string(), details: nullableString })
export type DeprecationNoticeNotification = z.infer<typeof DeprecationNoticeNotification>
