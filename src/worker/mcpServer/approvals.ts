/**
 * Approval prompts as MCP elicitations. The request carries a readable message and an empty
 * requested schema (a yes/no question), plus the correlation fields codex's own MCP server adds
 * (`threadId`, `codex_elicitation`, `codex_call_id`, ...), so a client written for codex can show the
 * command or the change it is asked about.
 *
 * Both answer shapes are understood: the standard `{action: accept|decline|cancel}` and codex's
 * `{decision: approved|approved_for_session|denied|abort}`. Anything else declines: an answer that
 * cannot be read must never run a command.
 */
import * as z from 'zod/mini'
import type { FileChangeApprovalDecision } from '../protocol/tools'

export const ElicitResult = z.looseObject({
  action: z.optional(z.string()),
  decision: z.optional(z.string()),
  content: z.optional(z.unknown()),
})
export type ElicitResult = z.infer<typeof ElicitResult>

type Request =
  | {
      kind: 'command'
      threadId: string
      turnId: string
      itemId: string
      command?: string | null
      cwd?: string | null
      reason?: string | null
    }
  | {
      kind: 'fileChange'
      threadId: string
      turnId: string
      itemId: string
      reason?: string | null
      grantRoot?: string | null
    }

export function approvalElicitation(
  request: Request,
  mcpCallId: string,
): { message: string; params: Record<string, unknown> } {
  const reason = request.reason ? ` (${request.reason})` : ''
  const message =
    request.kind === 'command'
      ? `Allow codex-desk to run \`${request.command ?? 'a command'}\`${request.cwd ? ` in \`${request.cwd}\`` : ''}?${reason}`
      : `Allow codex-desk to apply the proposed file changes${request.grantRoot ? ` under \`${request.grantRoot}\`` : ''}?${reason}`
  const params: Record<string, unknown> = {
    message,
    requestedSchema: { type: 'object', properties: {} },
    threadId: request.threadId,
    codex_elicitation: request.kind === 'command' ? 'exec-approval' : 'patch-approval',
    codex_mcp_tool_call_id: mcpCallId,
    codex_event_id: request.itemId,
    codex_call_id: request.itemId,
  }
  if (request.kind === 'command') {
    if (request.command) params.codex_command = [request.command]
    if (request.cwd) params.codex_cwd = request.cwd
  } else {
    if (request.reason) params.codex_reason = request.reason
    if (request.grantRoot) params.codex_grant_root = request.grantRoot
  }
  return { message, params }
}

export function decisionFromElicitation(result: ElicitResult): FileChangeApprovalDecision {
  switch (result.decision ?? result.action) {
    case 'accept':
    case 'approved':
      return 'accept'
    case 'approved_for_session':
      return 'acceptForSession'
    case 'cancel':
    case 'abort':
      return 'cancel'
    default:
      return 'decline'
  }
}
