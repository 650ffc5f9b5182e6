/**
 * codex's `shell_command` tool: runs a script in the user's shell in the thread's cwd, contained by
 * the sandbox the thread's policy asks for, after the approval the policy requires. Output streams
 * to clients as `item/commandExecution/outputDelta`, each delta written to the rollout first; the
 * `commandExecution` item records the command, cwd, status, output, exit code and duration; the
 * model gets codex's formatted output, truncated head-and-tail. Exec-policy rules (agent/execPolicy) come first: a command every part of
 * which a rule allows runs without asking, a forbidden one never runs, and a prompt proposes the
 * prefix rule codex would, which the user may keep with "don't ask again".
 *
 * It must never run a command outside the sandbox that neither the policy nor the user allowed,
 * and never leave a process behind when the turn is interrupted or the command times out.
 */
import { randomUUID } from 'node:crypto'
import { resolve } from 'node:path'
import * as z from 'zod/mini'
import type { CommandExecutionItem } from '../protocol/items'
import type {
  CommandExecutionApprovalDecision,
  CommandExecutionRequestApprovalParams,
} from '../protocol/tools'
import { formatZodError } from '../protocol/errors'
import {
  commandDecisions,
  looksDeniedBySandbox,
  planCommand,
  type CommandPlan,
  type RuleVerdict,
} from './approvalPolicy'
import { parseCommandActions } from './exec/commandActions'
import { shellEnvironment } from './exec/env'
import { formatExecOutput } from './exec/output'
import { runCommand, type ExecResult } from './exec/run'
import { isKnownSafeCommand } from './exec/safeCommands'
import { shellArgv, shellJoin } from './exec/shell'
import {
  checkCommands,
  commandsForPolicy,
  execPolicyFor,
  forbiddenReason,
  promptReason,
  proposeAmendment,
  proposeRetryAmendment,
  type ExecPolicyStore,
  type PolicyCheck,
} from './execPolicy'
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

/**
 * Characters of a call's output streamed to clients (and into the rollout with them); past it the
 * command runs on silently and its item carries the capped output, as codex caps its live stream.
 */
export const STREAM_LIMIT = 1024 * 1024

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
  /** The core's home, whose `rules/` hold the exec-policy rules. */
  home: string
}

export function createShellTool(options: ShellToolOptions): Tool {
  const detect = options.detectSandbox ?? detectSandbox
  return {
    name: SHELL_TOOL_NAME,
    spec: () => shellCommandSpec,
    call: (call, services) =>
      runShellCommand(call, services, options.env, detect, execPolicyFor(options.home, services.log)),
  }
}

type Decision = CommandExecutionApprovalDecision

async function runShellCommand(
  call: ToolCall,
  services: ToolServices,
  env: NodeJS.ProcessEnv,
  detect: () => Promise<SandboxAvailability>,
  rules: ExecPolicyStore,
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
  const environment = shellEnvironment(settings.config.shell_environment_policy, env)
  const { commands, parsed: scriptParsed } = commandsForPolicy(
    args.command,
    shellArgv(args.command, { login: args.login ?? true, env: environment }),
  )
  const check = checkCommands((await rules.load()).rules, commands)
  // Each part is known safe, or allowed by a rule (codex weighs the parts one by one).
  const partSafe = (words: string[]) => scriptParsed && isKnownSafeCommand(shellJoin(words))
  const knownSafe = commands.every(
    (words, i) => check.matches[i]?.some((rule) => rule.decision === 'allow') || partSafe(words),
  )
  const plan = planCommand({
    mode: settings.approvalMode,
    policy: settings.sandboxPolicy,
    sandboxAvailable: sandbox.kind !== 'none',
    knownSafe,
    escalate,
    justification: args.justification ?? null,
    approvedForSession: thread.sessionApprovals.commands.get(args.command) ?? null,
    rules: ruleVerdict(check, args.command),
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
  // One stream per item: a rerun outside the sandbox continues the output clients already have.
  const stream: OutputStream = { offset: 0, stopped: false }
  if (plan.kind === 'ask') {
    services.markWaitingOnApproval()
    await services.startItem(item)
    // codex's proposal: the first part no rule covers that itself needs asking about.
    const amendment = proposeAmendment(
      check,
      commands,
      (words) => !(partSafe(words) && (settings.approvalMode === 'untrusted' || !escalate)),
    )
    const decision = await askApproval(services, item, plan, { amendment, oneShot: false })
    const verdict = await applyDecision(services, args.command, decision, plan, rules)
    if (verdict) return declined(services, item, verdict)
  } else {
    await services.startItem(item)
  }

  const timeoutMs = positiveOr(args.timeout_ms, DEFAULT_SHELL_TIMEOUT_MS)
  // The plan only contains a command where a sandbox exists and the policy is restricted.
  let result = await execute(services, item, stream, args, cwd, sandboxed, sandbox, env, timeoutMs)
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
      reason: 'command failed; retry without sandbox?',
    }
    // A rerun is new authority for this one call: its own approval id, accept or cancel only.
    const decision = await askApproval(services, item, retry, {
      amendment: proposeRetryAmendment(check, commands),
      oneShot: true,
    })
    const verdict = await applyDecision(services, args.command, decision, retry, rules)
    if (verdict) return declined(services, item, verdict)
    result = await execute(services, item, stream, args, cwd, false, sandbox, env, timeoutMs)
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

/** What the rules say about the whole script, with codex's texts. */
function ruleVerdict(check: PolicyCheck, command: string): RuleVerdict {
  if (check.forbidden) return { kind: 'forbidden', reason: forbiddenReason(command, check.forbidden) }
  if (check.prompt) return { kind: 'prompt', reason: promptReason(command, check.prompt) }
  return check.allAllowed ? { kind: 'allow' } : { kind: 'none' }
}

/** The request with every field codex fills, in codex's order; absent values are left out. */
async function askApproval(
  services: ToolServices,
  item: CommandExecutionItem,
  plan: Extract<CommandPlan, { kind: 'ask' }>,
  options: { amendment: string[] | null; oneShot: boolean },
): Promise<Decision> {
  const { amendment, oneShot } = options
  const params: CommandExecutionRequestApprovalParams = {
    kind: 'command',
    threadId: services.threadId,
    turnId: services.turnId,
    itemId: item.id,
    startedAtMs: item.startedAtMs ?? Date.now(),
    ...(oneShot ? { approvalId: randomUUID() } : {}),
    environmentId: 'local',
    ...(plan.reason !== null ? { reason: plan.reason } : {}),
    command: item.command,
    cwd: item.cwd,
    commandActions: item.commandActions,
    ...(amendment ? { proposedExecpolicyAmendment: amendment } : {}),
    availableDecisions: commandDecisions(amendment, oneShot),
  }
  return requestDecision(services, 'item/commandExecution/requestApproval', params)
}

/**
 * What the decision means for the call: null to go ahead (remembering a session approval, or keeping
 * the prefix rule the user accepted), or how to tell the model it was refused. `cancel` also ends
 * the turn.
 */
async function applyDecision(
  services: ToolServices,
  command: string,
  decision: Decision,
  plan: Extract<CommandPlan, { kind: 'ask' }>,
  rules: ExecPolicyStore,
): Promise<'declined' | 'cancelled' | null> {
  if (decision === 'decline') return 'declined'
  if (decision === 'cancel') {
    services.cancelTurn()
    return 'cancelled'
  }
  if (decision === 'acceptForSession') {
    services.thread.sessionApprovals.commands.set(command, { sandboxed: plan.sandboxed })
  } else if (typeof decision === 'object' && 'acceptWithExecpolicyAmendment' in decision) {
    const prefix = decision.acceptWithExecpolicyAmendment.execpolicy_amendment
    // As in codex: the command runs either way; a rule that cannot be kept is logged.
    try {
      if (prefix.length === 0) throw new Error('the amendment is empty')
      await rules.allow(prefix)
    } catch (error) {
      services.log.warn(
        { threadId: services.threadId, prefix, err: error },
        'could not keep the approved rule',
      )
    }
  } else if (
    typeof decision === 'object' &&
    decision.applyNetworkPolicyAmendment.network_policy_amendment.action === 'deny'
  ) {
    return 'declined'
  }
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

/** How much of an item's output has been streamed; `offset` is also where the rollout has it up to. */
interface OutputStream {
  offset: number
  /** The limit was reached, or a write failed (the turn fails when the item completes). */
  stopped: boolean
}

/**
 * Streams one chunk of output: written to the rollout at the item's offset, then published as
 * `item/commandExecution/outputDelta`, so what a client saw survives a crash. Past STREAM_LIMIT the
 * chunk is cut (never inside a surrogate pair) and streaming stops.
 */
function streamOutput(services: ToolServices, itemId: string, stream: OutputStream, chunk: string): void {
  if (stream.stopped) return
  let delta = chunk
  const room = STREAM_LIMIT - stream.offset
  if (delta.length >= room) {
    stream.stopped = true
    let end = room
    const last = delta.charCodeAt(end - 1)
    if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--
    delta = delta.slice(0, end)
    if (delta === '') return
  }
  const offset = stream.offset
  stream.offset += delta.length
  try {
    // The producer is a child's pipe that cannot be awaited here; STREAM_LIMIT bounds what waits.
    void services.streamText(itemId, offset, delta, () =>
      services.publish('item/commandExecution/outputDelta', {
        threadId: services.threadId,
        turnId: services.turnId,
        itemId,
        delta,
      }),
    )
  } catch (error) {
    // An earlier write failed: nothing more is published; completing the item reports the failure.
    stream.stopped = true
    services.log.warn({ threadId: services.threadId, itemId, error }, 'command output is not streamed')
  }
}

async function execute(
  services: ToolServices,
  item: CommandExecutionItem,
  stream: OutputStream,
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
  return runCommand({
    argv,
    cwd,
    env: environment,
    timeoutMs,
    signal: services.signal,
    onOutput: (chunk) => streamOutput(services, item.id, stream, chunk),
  })
}

function positiveOr(value: number | null | undefined, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback
}
