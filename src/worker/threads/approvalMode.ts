/**
 * The approval mode a thread runs with, worked out from the wire's approval policy and the config's.
 * The threads layer keeps it in a thread's settings (threads/threadSettings.ts); what each mode
 * allows is decided in agent/approvalPolicy.ts, which re-exports these.
 *
 * Pure: it must never do I/O, nor import agent/ or server/.
 */
import type { AskForApproval } from '../protocol/thread'

/** `config.toml` still has `on-failure`; the wire reports it as `on-request` (protocol.md §6). */
export type ApprovalMode = 'untrusted' | 'on-request' | 'on-failure' | 'never'

/** The mode a thread runs with: a wire policy, or the config's when the client sent none. */
export function approvalModeOf(policy: AskForApproval, configPolicy: string | undefined): ApprovalMode {
  if (typeof policy !== 'string') return 'on-request' // {granular}: its rules are not enforced yet
  if (policy === 'on-request' && configPolicy === 'on-failure') return 'on-failure'
  return policy
}
