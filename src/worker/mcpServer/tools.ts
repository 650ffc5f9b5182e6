/**
 * The two tools `codex-desk mcp-server` offers, with the names, titles and JSON schemas codex's own
 * MCP server gives them (`codex`: start a session and run a prompt; `codex-reply`: continue one),
 * and the translation of a `codex` call into the app-server's thread/start params.
 *
 * Pure data and validation: no I/O. Every property in the schemas below reaches the core; an argument
 * they do not list is accepted, as codex's server accepts it, and reported to the caller's log by the
 * session (`unknownArguments`), never silently dropped.
 */
import * as z from 'zod/mini'
import type { ParamsIn } from '../protocol/registry'

const OUTPUT_SCHEMA = {
  type: 'object',
  properties: { threadId: { type: 'string' }, content: { type: 'string' } },
  required: ['threadId', 'content'],
} as const

export const CODEX_TOOL = {
  name: 'codex',
  title: 'Codex',
  description:
    'Run a Codex session: start a new thread in codex-desk and run the prompt as its first turn. ' +
    "Returns the agent's final message and the thread id to continue it with codex-reply.",
  inputSchema: {
    type: 'object',
    properties: {
      prompt: { type: 'string', description: 'The first user prompt of the session.' },
      model: {
        type: 'string',
        description: "The model to use instead of config.toml's, e.g. 'gpt-5.1-codex'.",
      },
      profile: {
        type: 'string',
        description: 'A profile from config.toml ([profiles.NAME]) to take defaults from.',
      },
      cwd: {
        type: 'string',
        description: "The session's working folder; a relative path is resolved against the server's folder.",
      },
      'approval-policy': {
        type: 'string',
        enum: ['untrusted', 'on-failure', 'on-request', 'never'],
        description:
          'When the agent asks before running a command: `untrusted`, `on-failure`, `on-request`, `never`.',
      },
      sandbox: {
        type: 'string',
        enum: ['read-only', 'workspace-write', 'danger-full-access'],
        description: 'Sandbox mode for commands: `read-only`, `workspace-write` or `danger-full-access`.',
      },
      config: {
        type: 'object',
        additionalProperties: true,
        description: 'Config settings by dotted key, overriding config.toml for this session.',
      },
      'base-instructions': {
        type: 'string',
        description: 'Instructions to use instead of the default ones.',
      },
      'developer-instructions': {
        type: 'string',
        description: 'Developer instructions added to the conversation as a developer message.',
      },
      'compact-prompt': {
        type: 'string',
        description: 'The prompt used when the conversation is compacted.',
      },
    },
    required: ['prompt'],
  },
  outputSchema: OUTPUT_SCHEMA,
} as const

export const CODEX_REPLY_TOOL = {
  name: 'codex-reply',
  title: 'Codex Reply',
  description: 'Continue a Codex session: run the next prompt in the thread a `codex` call returned.',
  inputSchema: {
    type: 'object',
    properties: {
      threadId: { type: 'string', description: 'The thread id the `codex` tool returned.' },
      conversationId: { type: 'string', description: 'Deprecated: the same as threadId.' },
      prompt: { type: 'string', description: 'The next user prompt.' },
    },
    required: ['prompt'],
  },
  outputSchema: OUTPUT_SCHEMA,
} as const

export const TOOLS = [CODEX_TOOL, CODEX_REPLY_TOOL]

const CodexArgs = z.object({
  prompt: z.string(),
  model: z.optional(z.string()),
  profile: z.optional(z.string()),
  cwd: z.optional(z.string()),
  'approval-policy': z.optional(z.enum(['untrusted', 'on-failure', 'on-request', 'never'])),
  sandbox: z.optional(z.enum(['read-only', 'workspace-write', 'danger-full-access'])),
  config: z.optional(z.record(z.string(), z.unknown())),
  'base-instructions': z.optional(z.string()),
  'developer-instructions': z.optional(z.string()),
  'compact-prompt': z.optional(z.string()),
})
export type CodexArgs = z.infer<typeof CodexArgs>

const ReplyArgs = z.object({
  threadId: z.optional(z.string()),
  conversationId: z.optional(z.string()),
  prompt: z.string(),
})

/** A tool call's arguments that cannot be used: the message is for the caller, as the tool's error. */
export class ToolArgumentError extends Error {}

function parse<T>(schema: z.ZodMiniType<T>, tool: string, args: unknown): T {
  const result = schema.safeParse(args ?? {})
  if (result.success) return result.data
  const problems = result.error.issues.map((issue) => {
    const where = issue.path.length > 0 ? `\`${issue.path.join('.')}\`` : 'the arguments'
    return `${where}: ${issue.message}`
  })
  throw new ToolArgumentError(`Invalid arguments for \`${tool}\`: ${problems.join('; ')}`)
}

/** The arguments of a call that its tool's schema does not list. */
export function unknownArguments(tool: { inputSchema: { properties: object } }, args: unknown): string[] {
  if (typeof args !== 'object' || args === null) return []
  return Object.keys(args).filter((key) => !Object.hasOwn(tool.inputSchema.properties, key))
}

export function parseCodexArgs(args: unknown): CodexArgs {
  return parse(CodexArgs, 'codex', args)
}

export function parseReplyArgs(args: unknown): { threadId: string; prompt: string } {
  const parsed = parse(ReplyArgs, 'codex-reply', args)
  const threadId = parsed.threadId ?? parsed.conversationId
  if (!threadId)
    throw new ToolArgumentError('Invalid arguments for `codex-reply`: give the `threadId` to continue')
  return { threadId, prompt: parsed.prompt }
}

/** The thread/start params for a `codex` call; `serverCwd` resolves a relative `cwd`. */
export function threadStartParams(
  args: CodexArgs,
  resolveCwd: (cwd: string) => string,
): ParamsIn<'thread/start'> {
  const config: Record<string, unknown> = { ...(args.config ?? {}) }
  if (args.profile !== undefined) config.profile = args.profile
  if (args['compact-prompt'] !== undefined) config.compact_prompt = args['compact-prompt']
  return {
    ...(args.model !== undefined ? { model: args.model } : {}),
    ...(args.cwd !== undefined ? { cwd: resolveCwd(args.cwd) } : {}),
    // `on-failure` is gone from the app-server protocol (codex 0.169 deprecates it); asking when the
    // sandbox refuses something is what `on-request` does.
    ...(args['approval-policy'] !== undefined
      ? { approvalPolicy: args['approval-policy'] === 'on-failure' ? 'on-request' : args['approval-policy'] }
      : {}),
    ...(args.sandbox !== undefined ? { sandbox: args.sandbox } : {}),
    ...(Object.keys(config).length > 0 ? { config } : {}),
    ...(args['base-instructions'] !== undefined ? { baseInstructions: args['base-instructions'] } : {}),
    ...(args['developer-instructions'] !== undefined
      ? { developerInstructions: args['developer-instructions'] }
      : {}),
    threadSource: 'mcp',
  }
}
