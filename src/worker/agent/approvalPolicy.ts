/**
 * Who decides whether a tool may act: the approval policy, the sandbox policy, whether a sandbox
 * is available here, and what the user already allowed for the session. Pure decisions, no I/O;
 * the tools carry them out. codex's rules, with one addition: where no sandbox can enforce a
 * restricted policy, anything that is not a known-safe read-only command needs the user's yes.
 *
 * It must never let a command run outside the sandbox without either an unrestricted policy or an
 * explicit approval.
 */
import { isUnrestricted } from '../protocol/constants'
import type { SandboxPolicy } from '../protocol/thread'
import type { CommandExecutionApprovalDecision } from '../protocol/tools'
import type { ApprovalMode } from '../threads/approvalMode'

// The mode itself is worked out in the threads layer (a thread's settings hold it).
export { approvalModeOf, type ApprovalMode } from '../threads/approvalMode'

export type CommandPlan =
  /** Run now; `sandboxed` says whether inside the sandbox. */
  | { kind: 'run'; sandboxed: boolean }
  /** Ask the user first; on yes run as `sandboxed` says. */
  | { kind: 'ask'; sandboxed: boolean; reason: string | null }
  /** Refuse without asking; `message` goes back to the model. */
  | { kind: 'reject'; message: string }

export interface CommandFacts {
  mode: ApprovalMode
  policy: SandboxPolicy
  sandboxAvailable: boolean
  /** On codex's list of read-only commands. */
  knownSafe: boolean
  /** The model asked to run outside the sandbox (`sandbox_permissions: "require_escalated"`). */
  escalate: boolean
  justification: string | null
  /** The user chose "accept for session" for this command before; `sandboxed` is how it ran then. */
  approvedForSession: { sandboxed: boolean } | null
  /** What the exec-policy rules say about the command (none when no rule decides it). */
  rules?: RuleVerdict
}

/** The rules' verdict on a whole command (every part of a script), from agent/execPolicy. */
export type RuleVerdict =
  | { kind: 'none' }
  /** Every part is allowed by a rule: codex runs it outside the sandbox without asking. */
  | { kind: 'allow' }
  | { kind: 'prompt'; reason: string }
  | { kind: 'forbidden'; reason: string }

/** codex's text when a rule wants a prompt but the policy never asks. */
export const PROMPT_CONFLICT_REASON = 'approval required by policy, but AskForApproval is set to Never'

export const NO_SANDBOX_REASON = 'no sandbox is available on this machine to contain the command'

export function planCommand(facts: CommandFacts): CommandPlan {
  const { mode, policy, sandboxAvailable, knownSafe, escalate } = facts
  const rules = facts.rules ?? { kind: 'none' }
  if (rules.kind === 'forbidden') return { kind: 'reject', message: rules.reason }
  // The user allowed every part of it for good: it runs as codex runs it, outside the sandbox.
  if (rules.kind === 'allow') return { kind: 'run', sandboxed: false }
  if (rules.kind === 'prompt') {
    if (facts.approvedForSession) return { kind: 'run', ...facts.approvedForSession }
    if (mode === 'never') return { kind: 'reject', message: PROMPT_CONFLICT_REASON }
    const sandboxed = !isUnrestricted(policy) && sandboxAvailable && !escalate
    return { kind: 'ask', sandboxed, reason: rules.reason }
  }
  if (isUnrestricted(policy)) {
    return mode === 'untrusted' && !knownSafe && !facts.approvedForSession
      ? { kind: 'ask', sandboxed: false, reason: facts.justification }
      : { kind: 'run', sandboxed: false }
  }
  if (facts.approvedForSession) return { kind: 'run', ...facts.approvedForSession }
  // Restricted policy without a sandbox: read-only commands run, the rest need a human.
  if (!sandboxAvailable) {
    if (knownSafe && !escalate) return { kind: 'run', sandboxed: false }
    if (mode === 'never') {
      return {
        kind: 'reject',
        message: `command not run: ${NO_SANDBOX_REASON}, and the approval policy is "never"`,
      }
    }
    return { kind: 'ask', sandboxed: false, reason: facts.justification ?? NO_SANDBOX_REASON }
  }
  switch (mode) {
    case 'never':
      // The model cannot escalate: the command runs contained, and a failure goes back to it.
      return { kind: 'run', sandboxed: true }
    case 'untrusted':
      if (knownSafe && !escalate) return { kind: 'run', sandboxed: true }
      return { kind: 'ask', sandboxed: !escalate, reason: facts.justification }
    case 'on-request':
    case 'on-failure':
      return escalate
        ? { kind: 'ask', sandboxed: false, reason: facts.justification }
        : { kind: 'run', sandboxed: true }
  }
}

/**
 * The choices a command prompt offers, in codex's order: accept, the proposed prefix rule when there
 * is one, cancel. A one-shot prompt (a rerun outside the sandbox) offers accept and cancel only.
 * `decline` is left out as codex leaves it out, though an answer of `decline` still works.
 */
export function commandDecisions(
  amendment: readonly string[] | null,
  oneShot: boolean,
): CommandExecutionApprovalDecision[] {
  if (oneShot || !amendment) return ['accept', 'cancel']
  return ['accept', { acceptWithExecpolicyAmendment: { execpolicy_amendment: [...amendment] } }, 'cancel']
}

/**
 * Under `on-failure`, a command the sandbox stopped may be retried outside it once the user says
 * yes. A non-zero exit whose output reads like a denial counts; other failures are the command's own.
 */
export function looksDeniedBySandbox(exitCode: number | null, output: string): boolean {
  if (exitCode === 0 || exitCode === null) return false
  return /read-only file system|permission denied|operation not permitted|network is unreachable|could not resolve host|temporary failure in name resolution/i.test(
    output,
  )
}

export type PatchPlan =
  { kind: 'apply' } | { kind: 'ask'; reason: string | null } | { kind: 'reject'; message: string }

export interface PatchFacts {
  mode: ApprovalMode
  policy: SandboxPolicy
  /** Every path the patch writes (moves included) is inside a writable root. */
  allWritable: boolean
  /** Every path was approved for the session before. */
  approvedForSession: boolean
}

/** codex's `assess_patch_safety`: patches are applied by the server itself, never by a shell. */
export function planPatch(facts: PatchFacts): PatchPlan {
  if (facts.approvedForSession) return { kind: 'apply' }
  if (facts.mode === 'untrusted') return { kind: 'ask', reason: null }
  if (isUnrestricted(facts.policy) || facts.allWritable) return { kind: 'apply' }
  if (facts.mode === 'never') {
    return {
      kind: 'reject',
      message: 'patch rejected: writing outside of the project; rejected by user approval settings',
    }
  }
  return { kind: 'ask', reason: patchReason(facts.policy) }
}

/**
 * Why a patch needs a yes under a restricted policy. Under read-only every path is unwritable, even
 * one right inside the working folder, so "outside the workspace" would be wrong there.
 */
export function patchReason(policy: SandboxPolicy): string {
  return policy.type === 'readOnly'
    ? 'the sandbox is read-only, so every file change needs your approval'
    : 'the patch writes outside the folders this thread may write to (or to a protected one such as .git)'
}
