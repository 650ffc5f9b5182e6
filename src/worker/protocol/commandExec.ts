/**
 * `command/exec` and its follow-ups (`write`, `terminate`, `resize`) and the `command/exec/outputDelta`
 * notification: a client runs one command outside any thread. Shapes follow codex 0.169.0's generated
 * schema (CommandExecParams, CommandExecResponse, CommandExecOutputDeltaNotification, ...). Params
 * objects drop unknown keys as serde does. Runtime-free: no `node:` imports.
 */
import * as z from 'zod/mini'
import type { ClientRequestSpecs, NotificationSpecs } from './spec'
import { SandboxPolicy } from './thread'

export const CommandExecTerminalSize = z.object({ rows: z.number(), cols: z.number() })
export type CommandExecTerminalSize = z.infer<typeof CommandExecTerminalSize>

export const CommandExecParams = z.object({
  command: z.array(z.string()),
  processId: z.nullish(z.string()),
  tty: z.optional(z.boolean()),
  streamStdin: z.optional(z.boolean()),
  streamStdoutStderr: z.optional(z.boolean()),
  outputBytesCap: z.nullish(z.number()),
  disableOutputCap: z.optional(z.boolean()),
  disableTimeout: z.optional(z.boolean()),
  timeoutMs: z.nullish(z.number()),
  cwd: z.nullish(z.string()),
  env: z.nullish(z.record(z.string(), z.nullable(z.string()))),
  size: z.nullish(CommandExecTerminalSize),
  sandboxPolicy: z.nullish(SandboxPolicy),
  permissionProfile: z.nullish(z.string()),
})
export type CommandExecParams = z.infer<typeof CommandExecParams>

export const CommandExecResponse = z.object({ exitCode: z.number(), stdout: z.string(), stderr: z.string() })
export type CommandExecResponse = z.infer<typeof CommandExecResponse>

export const CommandExecWriteParams = z.object({
  processId: z.string(),
  deltaBase64: z.nullish(z.string()),
  closeStdin: z.optional(z.boolean()),
})
export const CommandExecTerminateParams = z.object({ processId: z.string() })
export const CommandExecResizeParams = z.object({ processId: z.string(), size: CommandExecTerminalSize })
export const CommandExecEmptyResponse = z.object({})

export const CommandExecOutputStream = z.enum(['stdout', 'stderr'])
export type CommandExecOutputStream = z.infer<typeof CommandExecOutputStream>

export const CommandExecOutputDeltaNotification = z.object({
  processId: z.string(),
  stream: CommandExecOutputStream,
  deltaBase64: z.string(),
  capReached: z.boolean(),
})
export type CommandExecOutputDeltaNotification = z.infer<typeof CommandExecOutputDeltaNotification>

export const commandExecRequests = {
  'command/exec': { params: CommandExecParams, result: CommandExecResponse },
  'command/exec/write': { params: CommandExecWriteParams, result: CommandExecEmptyResponse },
  'command/exec/terminate': { params: CommandExecTerminateParams, result: CommandExecEmptyResponse },
  'command/exec/resize': { params: CommandExecResizeParams, result: CommandExecEmptyResponse },
} as const satisfies ClientRequestSpecs

export const commandExecNotifications = {
  'command/exec/outputDelta': CommandExecOutputDeltaNotification,
} as const satisfies NotificationSpecs
