/**
 * Wire shapes for the agent's tools (protocol.md §5-§7): the approval requests the server sends
 * for commands and file changes, the `item/tool/call` request that hands a dynamic tool call to the
 * client, dynamic tool specs, and the tool notifications. Runtime-free.
 */
import * as z from 'zod/mini'
import { CommandAction } from './items'

const itemIds = { threadId: z.string(), turnId: z.string(), itemId: z.string() }

// ---------------------------------------------------------------------------------------------
// Approvals

export const NetworkApprovalContext = z.looseObject({ host: z.string(), protocol: z.string() })

export const CommandExecutionApprovalDecision = z.union([
  z.enum(['accept', 'acceptForSession', 'decline', 'cancel']),
  z.object({
    acceptWithExecpolicyAmendment: z.object({ execpolicy_amendment: z.array(z.string()) }),
  }),
  z.object({
    applyNetworkPolicyAmendment: z.object({
      network_policy_amendment: z.looseObject({ host: z.string(), action: z.string() }),
    }),
  }),
])
export type CommandExecutionApprovalDecision = z.infer<typeof CommandExecutionApprovalDecision>

export const CommandExecutionRequestApprovalParams = z.object({
  ...itemIds,
  startedAtMs: z.number(),
  kind: z.optional(z.enum(['command', 'writeStdin', 'humanCommand'])),
  approvalId: z.nullish(z.string()),
  /** Why the agent asks (the model's justification, or why the sandbox could not run it). */
  reason: z.nullish(z.string()),
  command: z.nullish(z.string()),
  cwd: z.nullish(z.string()),
  commandActions: z.nullish(z.array(CommandAction)),
  environmentId: z.nullish(z.string()),
  networkApprovalContext: z.nullish(NetworkApprovalContext),
  proposedExecpolicyAmendment: z.nullish(z.array(z.string())),
  proposedNetworkPolicyAmendments: z.nullish(z.array(z.unknown())),
  /** Experimental in codex: which decisions the client may offer, in order. */
  availableDecisions: z.nullish(z.array(CommandExecutionApprovalDecision)),
  /** Experimental in codex: extra permissions the command asks for. */
  additionalPermissions: z.nullish(z.unknown()),
})
export type CommandExecutionRequestApprovalParams = z.infer<typeof CommandExecutionRequestApprovalParams>

export const CommandExecutionRequestApprovalResponse = z.object({
  decision: CommandExecutionApprovalDecision,
})

export { SERVER_REQUEST_EXPERIMENTAL_FIELDS } from './constants'

export const FileChangeRequestApprovalParams = z.object({
  ...itemIds,
  startedAtMs: z.number(),
  reason: z.nullish(z.string()),
  /** A root the user may grant write access to for the rest of the session. */
  grantRoot: z.nullish(z.string()),
})
export type FileChangeRequestApprovalParams = z.infer<typeof FileChangeRequestApprovalParams>

export const FileChangeApprovalDecision = z.enum(['accept', 'acceptForSession', 'decline', 'cancel'])
export type FileChangeApprovalDecision = z.infer<typeof FileChangeApprovalDecision>

export const FileChangeRequestApprovalResponse = z.object({ decision: FileChangeApprovalDecision })

// ---------------------------------------------------------------------------------------------
// Dynamic tools

export const DynamicToolCallParams = z.object({
  threadId: z.string(),
  turnId: z.string(),
  callId: z.string(),
  namespace: z.nullable(z.string()),
  tool: z.string(),
  arguments: z.unknown(),
})
export type DynamicToolCallParams = z.infer<typeof DynamicToolCallParams>

export const DynamicToolContentItem = z.discriminatedUnion('type', [
  z.object({ type: z.literal('inputText'), text: z.string() }),
  z.object({ type: z.literal('inputImage'), imageUrl: z.string() }),
  z.object({ type: z.literal('inputAudio'), audioUrl: z.string() }),
])
export type DynamicToolContentItem = z.infer<typeof DynamicToolContentItem>

/**
 * Loose at the broker: a result that does not fit becomes codex's "dynamic tool response was
 * invalid" for the model rather than an error the turn cannot see.
 */
export const DynamicToolCallResponse = z.unknown()
export const DynamicToolCallResult = z.object({
  contentItems: z.array(DynamicToolContentItem),
  success: z.boolean(),
})
export type DynamicToolCallResult = z.infer<typeof DynamicToolCallResult>

/** A validated dynamic tool, as stored with its thread. */
export interface DynamicToolSpec {
  namespace: string | null
  name: string
  description: string
  inputSchema: unknown
  deferLoading: boolean
}

// ---------------------------------------------------------------------------------------------
// Notifications

export const CommandExecutionOutputDeltaNotification = z.object({ ...itemIds, delta: z.string() })
export type CommandExecutionOutputDeltaNotification = z.infer<typeof CommandExecutionOutputDeltaNotification>

export const TurnDiffUpdatedNotification = z.object({
  threadId: z.string(),
  turnId: z.string(),
  diff: z.string(),
})
export type TurnDiffUpdatedNotification = z.infer<typeof TurnDiffUpdatedNotification>
