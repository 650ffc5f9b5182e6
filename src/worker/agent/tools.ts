/**
 * The seam between the turn runner and the tools the model may call. The runner asks for the tool
 * specs of each request and hands every function call to `call`, whose result goes back to the
 * model as a `function_call_output`. The tools work (shell, apply_patch, dynamic tools) plugs in
 * here; until a tool is known, a call gets codex's answer for an unknown tool.
 */
import type { Logger } from '../util/log'

export interface ToolCall {
  name: string
  callId: string
  /** The raw JSON argument string the model produced. */
  arguments: string
}

export interface ToolContext {
  threadId: string
  turnId: string
  /** Aborts when the turn is interrupted. */
  signal: AbortSignal
  log: Logger
}

/** What goes back to the model: a plain string, or content items. */
export type ToolOutput = string | unknown[]

export interface ToolHost {
  /** Responses API tool definitions for the next request. */
  specs(): unknown[]
  call(call: ToolCall, context: ToolContext): Promise<ToolOutput>
}

export const NO_TOOLS: ToolHost = {
  specs: () => [],
  call: async (call) => `unsupported call: ${call.name}`,
}
