/**
 * Turns `command/exec` params into what CommandExecProcess runs, with codex's rules and error texts:
 * the checks on combined options, the sandbox policy (the request's, else the configured mode's),
 * the environment (shell_environment_policy, then the request's overrides, `null` unsetting), the
 * timeout and output cap defaults, and the argv wrapped for the sandbox and the pseudo-terminal.
 *
 * It must never widen a policy: a restricted policy on a machine without a working sandbox is an
 * error, not an unsandboxed run. It knows nothing of connections.
 */
import path from 'node:path'
import type { EffectiveConfig } from '../config/schema'
import type { CommandExecParams } from '../protocol/commandExec'
import { ErrorCode, invalidRequest, RpcError } from '../protocol/errors'
import { isUnrestricted, type SandboxPolicy } from '../protocol/thread'
import { sandboxPolicyFor } from '../threads/threadSettings'
import {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_OUTPUT_BYTES_CAP,
  ptyAvailable,
  ttyArgv,
  type CommandExecSpec,
  type TerminalSize,
} from './commandExec'
import { shellEnvironment } from './exec/env'
import { detectSandbox, sandboxArgv } from './sandbox/sandbox'

export const invalidParams = (message: string): RpcError => new RpcError(ErrorCode.InvalidParams, message)

export interface CommandExecPlan {
  spec: Omit<CommandExecSpec, 'onOutput'>
  processId: string | null
  streamStdin: boolean
  streamOutput: boolean
}

/** codex's size check, shared with `command/exec/resize`. */
export function checkedSize(size: TerminalSize): TerminalSize {
  if (size.rows <= 0 || size.cols <= 0)
    throw invalidParams('command/exec size rows and cols must be greater than 0')
  return { rows: Math.floor(size.rows), cols: Math.floor(size.cols) }
}

/** The request's environment: the policy's, then the request's overrides (`null` unsets). */
function environment(
  config: EffectiveConfig,
  base: NodeJS.ProcessEnv,
  overrides: Record<string, string | null> | null | undefined,
): Record<string, string> {
  const env = shellEnvironment(config.shell_environment_policy, base)
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (value === null) delete env[name]
    else env[name] = value
  }
  return env
}

export async function planCommandExec(
  params: CommandExecParams,
  options: { config: EffectiveConfig; env: NodeJS.ProcessEnv; serverCwd: string },
): Promise<CommandExecPlan> {
  if (params.timeoutMs != null && params.disableTimeout)
    throw invalidParams('command/exec cannot set both timeoutMs and disableTimeout')
  if (params.outputBytesCap != null && params.disableOutputCap)
    throw invalidParams('command/exec cannot set both outputBytesCap and disableOutputCap')
  const tty = params.tty === true
  if (params.size != null && !tty) throw invalidParams('command/exec size requires tty: true')
  const size = params.size != null ? checkedSize(params.size) : null
  if (params.permissionProfile != null && params.sandboxPolicy != null)
    throw invalidRequest('`permissionProfile` cannot be combined with `sandboxPolicy`')
  if (params.permissionProfile != null)
    throw invalidRequest(`unknown permissions profile: ${params.permissionProfile}`)
  const processId = params.processId ?? null
  const streamStdin = tty || params.streamStdin === true
  const streamOutput = tty || params.streamStdoutStderr === true
  if (processId === null && (tty || streamStdin || streamOutput))
    throw invalidRequest('command/exec tty or streaming requires a client-supplied processId')
  if (params.command.length === 0) throw invalidRequest('command must not be empty')
  if (tty && !ptyAvailable())
    throw invalidRequest('command/exec tty is not available on this machine (it needs util-linux `script`)')

  const { config } = options
  const cwd = params.cwd ? path.resolve(options.serverCwd, params.cwd) : options.serverCwd
  const policy: SandboxPolicy = params.sandboxPolicy ?? sandboxPolicyFor(config.sandbox_mode, config)
  let argv = tty ? ttyArgv(params.command, size) : params.command
  if (!isUnrestricted(policy)) {
    const sandbox = await detectSandbox()
    if (sandbox.kind === 'none') {
      throw invalidRequest(
        `commands cannot be sandboxed on this machine (${sandbox.reason ?? 'no sandbox found'}); ` +
          'pass sandboxPolicy {"type":"dangerFullAccess"} to run it without one',
      )
    }
    argv = sandboxArgv(argv, policy, { cwd, kind: sandbox.kind })
  }
  const timeoutMs = params.disableTimeout ? null : (params.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS)
  const outputBytesCap = params.disableOutputCap ? null : (params.outputBytesCap ?? DEFAULT_OUTPUT_BYTES_CAP)
  return {
    spec: {
      argv,
      cwd,
      env: environment(config, options.env, params.env),
      timeoutMs,
      outputBytesCap,
      tty,
      stdin: streamStdin,
    },
    processId,
    streamStdin,
    streamOutput,
  }
}
