/**
 * codex's `shell_command` tool: runs a script in the user's shell in the thread's cwd, contained by
 * the sandbox the thread's policy asks for, after the approval the policy requires. Output streams
 * to clients as `item/commandExecution/outputDelta`; the `commandExecution` item records the
 * command, cwd, status, output, exit code and duration; the model gets codex's formatted output,
 * truncated head-and-tail.
 *
 * It must never run a command outside the sandbox that neither the policy nor the user allowed,
 * and never leave a process behind when the turn is interrupted or the command times out.
 */
import { resolve } from 'node:path'
import * as z from 'zod/mini'
import type { CommandExecutionItem } from '../protocol/items'
import type { CommandExecutionApprovalDecision } from '../protocol/tools'
import { formatZodError } from '../protocol/errors'
import { looksDeniedBySandbox, planCommand, type CommandPlan } from './approvalPolicy'
import { parseCommandActions } from './exec/commandActions'
import { shellEnvironment } from './exec/env'
import { formatExecOutput } from './exec/output'
import { runCommand, type ExecResult } from './exec/run'
import { isKnownSafeCommand } from './exec/safeCommands'
import { shellArgv } from './exec/shell'
import { detectSandbox, sandboxArgv, type SandboxAvailability } from './sandbox/sandbox'
import {
  parseArguments,
  requestDecision,
  type Tool,
  type ToolCall,
  type ToolOutput,
  type ToolServices,
} from './tools'

export const SHELL_TOOL_NAME = 'shell_command'

/** codex's default for `shell_command` when the model gives no `timeout_ms`. */
export const DEFAULT_SHELL_TIMEOUT_MS = 10_000

const CHECKPOINT_LIMIT = 1024 * 1024

const ShellCommandArgs = z.object({
  command: z.string(),
  workdir: z.nullish(z.string()),
  timeout_ms: z.nullish(z.number()),
  login: z.nullish(z.boolean()),
  sandbox_permissions: z.nullish(z.enum(['use_default', 'require_escalated'])),
  justification: z.nullish(z.string()),
})

const shellCommandSpec = {
  type: 'function',
  name: SHELL_TOOL_NAME,
  description:
    'Runs a shell command and returns its output.\n' +
    '- Always set the `workdir` param when using the shell_command function. Do not use `cd` unless absolutely necessary.',
  strict: false,
  parameters: {
    type: 'object',
    properties: {
      command: { type: 'string', description: "The shell script to execute in the user's default shell" },
      workdir: { type: 'string', description: 'The working directory to execute the command in' },
      timeout_ms: { type: 'number', description: 'The timeout for the command in milliseconds' },
      login: {
        type: 'boolean',
        description: 'Whether to run the shell with login shell semantics. Defaults to true.',
      },
      sandbox_permissions: {
        type: 'string',
        description:
          'Sandbox permissions for the command. Set to "require_escalated" to request running without sandbox restrictions; defaults to "use_default".',
      },
      justification: {
        type: 'string',
        description:
          'Only set if sandbox_permissions is "require_escalated". 1-sentence explanation of why we want to run this command.',
      },
    },
    required: ['command'],
    additionalProperties: false,
  },
} as const

export interface ShellToolOptions {
  /** The environment commands inherit from (shell_environment_policy applies on top). */
  env: NodeJS.ProcessEnv
  /** Finds the sandbox; defaults to probing this machine (cached). */
  detectSandbox?: () => Promise<SandboxAvailability>
}

export function createShellTool(options: ShellToolOptions): Tool {
  const detect = options.detectSandbox ?? detectSandbox
  return {
    name: SHELL_TOOL_NAME,
    spec: () => shellCommandSpec,
    call: (call, services) => runShellCommand(call, services, options.env, detect),
  }
}

type Decision = CommandExecutionApprovalDecision

async function runShellCommand(
  call: ToolCall,
  services: ToolServices,
  env: NodeJS.ProcessEnv,
  detect: () => Promise<SandboxAvailability>,
): Promise<ToolOutput> {
  const raw = parseArguments(call)
  if (!raw.ok) return raw.message
  const parsed = ShellCommandArgs.safeParse(raw.value)
  if (!parsed.success) return `failed to parse function arguments: ${formatZodError(parsed.error)}`
  const args = parsed.data
  const { settings, thread } = services
  const cwd = resolve(settings.cwd, args.workdir ?? '.')
  const sandbox = await detect()
  const escalate = args.sandbox_permissions === 'require_escalated'
  const plan = planCommand({
    mode: settings.approvalMode,
    policy: settings.sandboxPolicy,
    sandboxAvailable: sandbox.kind !== 'none',
    knownSafe: isKnownSafeCommand(args.command),
    escalate,
    justification: args.justification ?? null,
    approvedForSession: thread.sessionApprovals.commands.get(args.command) ?? null,
  })
  if (plan.kind === 'reject') return plan.message

  const item: CommandExecutionItem = {
    type: 'commandExecution',
    id: call.callId,
    command: args.command,
    cwd,
    processId: null,
    source: 'agent',
    status: 'inProgress',
    commandActions: parseCommandActions(args.command),
    aggregatedOutput: null,
    exitCode: null,
    durationMs: null,
  }
  const sandboxed = plan.sandboxed
  if (plan.kind === 'ask') {
    services.markWaitingOnApproval()
    await services.startItem(item)
    const decision = await askApproval(services, item, plan)
    const verdict = applyDecision(services, args.command, decision, plan)
    if (verdict) return declined(services, item, verdict)
  } else {
    await services.startItem(item)
  }

  const timeoutMs = positiveOr(args.timeout_ms, DEFAULT_SHELL_TIMEOUT_MS)
  // The plan only contains a command where a sandbox exists and the policy is restricted.
  let result = await execute(services, item, args, cwd, sandboxed, sandbox, env, timeoutMs)
  // on-failure: a command the sandbox stopped may run again outside it, if the user agrees.
  if (
    sandboxed &&
    settings.approvalMode === 'on-failure' &&
    !result.aborted &&
    looksDeniedBySandbox(result.exitCode, result.output)
  ) {
    const retry: CommandPlan = {
      kind: 'ask',
      sandboxed: false,
      reason: 'command failed in the sandbox; retry without sandbox?',
    }
    const decision = await askApproval(services, item, retry)
    const verdict = applyDecision(services, args.command, decision, retry)
    if (verdict) return declined(services, item, verdict)
    result = await execute(services, item, args, cwd, false, sandbox, env, timeoutMs)
  }
  if (result.aborted) throw services.signal.reason ?? new Error('turn interrupted')
  await services.completeItem({
    ...item,
    processId: result.pid === null ? null : String(result.pid),
    status: result.exitCode === 0 ? 'completed' : 'failed',
    aggregatedOutput: result.output,
    exitCode: result.exitCode,
    durationMs: result.durationMs,
  })
  return formatExecOutput(result, { timeoutMs })
}

async function askApproval(
  services: ToolServices,
  item: CommandExecutionItem,
  plan: Extract<CommandPlan, { kind: 'ask' }>,
): Promise<Decision> {
  return requestDecision(services, 'item/commandExecution/requestApproval', {
    threadId: services.threadId,
    turnId: services.turnId,
    itemId: item.id,
    startedAtMs: item.startedAtMs ?? Date.now(),
    kind: 'command',
    reason: plan.reason,
    command: item.command,
    cwd: item.cwd,
    commandActions: item.commandActions,
  })
}

/**
 * What the decision means for the call: null to go ahead (remembering a session approval), or how
 * to tell the model it was refused. `cancel` also ends the turn.
 */
function applyDecision(
  services: ToolServices,
  command: string,
  decision: Decision,
  plan: Extract<CommandPlan, { kind: 'ask' }>,
): 'declined' | 'cancelled' | null {
  if (decision === 'decline') return 'declined'
  if (decision === 'cancel') {
    services.cancelTurn()
    return 'cancelled'
  }
  if (decision === 'acceptForSession') {
    services.thread.sessionApprovals.commands.set(command, { sandboxed: plan.sandboxed })
  }
  // accept, acceptForSession, and the amendment variants (accepted for this run; amendments are not kept).
  return null
}

async function declined(
  services: ToolServices,
  item: CommandExecutionItem,
  verdict: 'declined' | 'cancelled',
): Promise<ToolOutput> {
  await services.completeItem({ ...item, status: 'declined', durationMs: 0 })
  if (verdict === 'cancelled') throw services.signal.reason ?? new Error('turn cancelled by the user')
  return 'exec command rejected by user'
}

async function execute(
  services: ToolServices,
  item: CommandExecutionItem,
  args: z.infer<typeof ShellCommandArgs>,
  cwd: string,
  contained: boolean,
  sandbox: SandboxAvailability,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<ExecResult> {
  const { settings } = services
  const policy = settings.sandboxPolicy
  const environment = shellEnvironment(settings.config.shell_environment_policy, env)
  const base = shellArgv(args.command, { login: args.login ?? true, env: environment })
  const argv = contained ? sandboxArgv(base, policy, { cwd, kind: sandbox.kind }) : base
  // What clients saw so far, kept for the crash checkpoint (bounded like the item's output).
  let output = ''
  return runCommand({
    argv,
    cwd,
    env: environment,
    timeoutMs,
    signal: services.signal,
    onOutput: (delta) => {
      if (output.length < CHECKPOINT_LIMIT) {
        output += delta
        services.checkpoint(item.id, output)
      }
      void services.publish('item/commandExecution/outputDelta', {
        threadId: services.threadId,
        turnId: services.turnId,
        itemId: item.id,
        delta,
      })
    },
  })
}

function positiveOr(value: number | null | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback
}
