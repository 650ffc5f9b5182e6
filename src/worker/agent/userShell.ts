/**
 * A command the user runs in a thread (`thread/shellCommand`, the TUI's `!cmd`), as codex 0.169 runs
 * it: a turn of its own holding one `commandExecution` item with `source: "userShell"`, the command
 * shown as the argv joined (`/bin/bash -lc '...'`), its output streamed as
 * `item/commandExecution/outputDelta` (each delta written to the rollout first). The model hears of it
 * on its next request through a `<user_shell_command>` record in the thread's history.
 *
 * Like codex, it runs in the thread's folder with the user's own authority: outside the sandbox and
 * without asking (the user typed it). It must never ask the model anything, and a command that cannot
 * start or fails is a failed item, not a failed turn.
 */
import type { CommandExecutionItem } from '../protocol/items'
import { uuidv7 } from '../util/uuid'
import { parseCommandActions } from './exec/commandActions'
import { shellEnvironment } from './exec/env'
import { modelExitCode, truncateMiddle } from './exec/output'
import { runCommand, type ExecResult } from './exec/run'
import { shellArgv, shellJoin } from './exec/shell'
import type { TurnJob, TurnJobContext } from './turnRunner'

/** codex's default when `timeoutMs` is omitted: one hour. */
export const USER_SHELL_TIMEOUT_MS = 60 * 60 * 1000
/** Output streamed to clients past this many characters is cut (the item keeps the capped whole). */
const STREAM_LIMIT = 1024 * 1024

/** The record the model reads on its next request (codex's `<user_shell_command>` block). */
export function userShellRecord(command: string, result: ExecResult, output: string): unknown {
  const seconds = (result.durationMs / 1000).toFixed(4)
  const body =
    result.spawnError !== null
      ? `execution error: ${result.spawnError}`
      : `Exit code: ${modelExitCode(result)}\nDuration: ${seconds} seconds\nOutput:\n${truncateMiddle(output)}`
  const text = ['<user_shell_command>', '<command>', command, '</command>', '<result>', body, '</result>']
  return {
    type: 'message',
    role: 'user',
    content: [{ type: 'input_text', text: [...text, '</user_shell_command>'].join('\n') }],
  }
}

export class UserShellJob implements TurnJob {
  constructor(
    private readonly command: string,
    private readonly timeoutMs: number,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  async run(context: TurnJobContext): Promise<void> {
    const settings = context.settings()
    const cwd = settings.cwd
    const environment = shellEnvironment(settings.config.shell_environment_policy, this.env)
    const argv = shellArgv(this.command, { login: true, env: environment })
    const item: CommandExecutionItem = {
      type: 'commandExecution',
      id: uuidv7(),
      command: shellJoin(argv),
      cwd,
      processId: null,
      source: 'userShell',
      status: 'inProgress',
      commandActions: parseCommandActions(this.command),
      aggregatedOutput: null,
      exitCode: null,
      durationMs: null,
    }
    await context.startItem(item)
    const services = context.services()
    let offset = 0
    const stream = (chunk: string) => {
      if (offset >= STREAM_LIMIT) return
      const delta = chunk.slice(0, STREAM_LIMIT - offset)
      const at = offset
      offset += delta.length
      try {
        void services.streamText(item.id, at, delta, () =>
          services.publish('item/commandExecution/outputDelta', {
            threadId: context.threadId,
            turnId: context.turnId,
            itemId: item.id,
            delta,
          }),
        )
      } catch (error) {
        offset = STREAM_LIMIT
        context.log.warn({ threadId: context.threadId, error }, 'shell command output is not streamed')
      }
    }
    const result = await runCommand({
      argv,
      cwd,
      env: environment,
      timeoutMs: this.timeoutMs,
      signal: context.signal,
      onOutput: stream,
    })
    const output = result.spawnError !== null ? result.spawnError : result.output
    const exitCode = result.spawnError !== null ? null : modelExitCode(result)
    await context.remember(userShellRecord(this.command, result, output))
    await context.completeItem({
      ...item,
      status: exitCode === 0 ? 'completed' : 'failed',
      aggregatedOutput: output,
      exitCode,
      durationMs: Math.round(result.durationMs),
    })
    if (result.aborted) throw context.signal.reason ?? new Error('turn interrupted')
  }
}
