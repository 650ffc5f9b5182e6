/**
 * `codex-desk mcp-server`: the agent as a Model Context Protocol server on stdio, built with the
 * official SDK. Its tools (`codex`, `codex-reply`) run ordinary threads on a codex-desk core (see
 * coreLink.ts: the home's running core when there is one, else one in this process), so what an MCP
 * client starts is listed, resumable and watchable like any other thread.
 *
 * Loaded only for this command (a dynamic import from cli.ts): the SDK costs the app-server nothing.
 * It must never write anything but MCP messages to stdout; logs go to stderr.
 */
import { isAbsolute, resolve } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  type CallToolResult,
  type ServerNotification,
  type ServerRequest,
} from '@modelcontextprotocol/sdk/types.js'
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js'
import type { ConfigOverride } from '../config/overrides'
import type { LoggerFactory } from '../util/log'
import { VERSION } from '../version'
import { ElicitResult } from './approvals'
import { connectCore, type CoreLink, type InProcessCore } from './coreLink'
import { McpSessions, type CallContext, type TurnOutcome } from './session'
import {
  CODEX_REPLY_TOOL,
  CODEX_TOOL,
  TOOLS,
  ToolArgumentError,
  parseCodexArgs,
  parseReplyArgs,
  threadStartParams,
  unknownArguments,
} from './tools'

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>

export interface McpServerOptions {
  home: string
  logs: LoggerFactory
  cwd: string
  startInProcess: () => Promise<InProcessCore>
  /** `-c key=value` from the command line, by dotted key: every session gets them. */
  configOverrides?: Record<string, unknown>
  stdin?: NodeJS.ReadableStream
  stdout?: NodeJS.WritableStream
}

export interface RunningMcpServer {
  /** Resolves when the MCP client closed stdin (or `close` was called). */
  closed: Promise<void>
  close(): Promise<void>
}

export async function startMcpServer(options: McpServerOptions): Promise<RunningMcpServer> {
  const log = options.logs.get('mcp-server')
  const server = new Server(
    { name: 'codex-desk', title: 'codex-desk', version: VERSION },
    {
      capabilities: { tools: {}, logging: {} },
      instructions:
        'Run coding tasks with the codex-desk agent: `codex` starts a session in a folder and returns ' +
        'the final answer with a threadId; `codex-reply` continues that session.',
    },
  )
  // One link for the process, made on the first call: listing tools needs no core.
  let link: Promise<CoreLink> | undefined
  let sessions: McpSessions | undefined
  const core = async (): Promise<{ link: CoreLink; sessions: McpSessions }> => {
    link ??= connectCore({ home: options.home, log, startInProcess: options.startInProcess }).then((made) => {
      log.info({ core: made.describe }, 'connected to a codex-desk core')
      sessions = new McpSessions(made.client)
      made.client.onClose(() => {
        // The core went away (an attached app quit): the next call connects again.
        sessions?.dispose()
        sessions = undefined
        link = undefined
      })
      return made
    })
    const made = await link
    return { link: made, sessions: sessions ?? new McpSessions(made.client) }
  }

  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: TOOLS.map((tool) => ({ ...tool })),
  }))
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const { name, arguments: args } = request.params
    const tool =
      name === CODEX_TOOL.name ? CODEX_TOOL : name === CODEX_REPLY_TOOL.name ? CODEX_REPLY_TOOL : null
    if (!tool)
      return errorResult(`Unknown tool \`${name}\`: codex-desk offers \`codex\` and \`codex-reply\`.`)
    const ignored = unknownArguments(tool, args)
    if (ignored.length > 0)
      log.info({ tool: name, ignored }, 'tool call arguments codex-desk does not know; ignored')
    try {
      const context = callContext(server, extra, request.params._meta?.progressToken)
      let result: TurnOutcome
      if (tool === CODEX_TOOL) {
        const parsed = parseCodexArgs(args)
        const { sessions: s } = await core()
        const resolveCwd = (cwd: string) => (isAbsolute(cwd) ? cwd : resolve(options.cwd, cwd))
        const params = threadStartParams(parsed, resolveCwd)
        // The command line's -c first, the call's own `config` over it: an attached core never saw them.
        const config = { ...options.configOverrides, ...params.config }
        if (Object.keys(config).length > 0) params.config = config
        result = await s.start(params, parsed.prompt, context)
      } else {
        const parsed = parseReplyArgs(args)
        const { sessions: s } = await core()
        result = await s.reply(parsed.threadId, parsed.prompt, context)
      }
      return {
        content: [{ type: 'text', text: result.content }],
        structuredContent: { threadId: result.threadId, content: result.content },
        ...(result.failed ? { isError: true } : {}),
      }
    } catch (error) {
      if (error instanceof ToolArgumentError) return errorResult(error.message)
      log.warn({ tool: name, err: (error as Error).message }, 'tool call failed')
      return errorResult(`codex-desk could not run the session: ${(error as Error).message}`)
    }
  })

  const transport = new StdioServerTransport(
    (options.stdin ?? process.stdin) as Readable,
    (options.stdout ?? process.stdout) as Writable,
  )
  let closedResolve!: () => void
  const closed = new Promise<void>((r) => (closedResolve = r))
  let closing = false
  const close = async () => {
    if (closing) return closed
    closing = true
    await server.close().catch(() => {})
    const made = await link?.catch(() => undefined)
    await made?.close()
    closedResolve()
  }
  server.onclose = () => void close()
  ;(options.stdin ?? process.stdin).once('end', () => void close())
  await server.connect(transport)
  log.info('MCP server ready on stdio')
  return { closed, close }
}

function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true }
}

/** What a tool call may do towards its caller: progress and log lines, and elicitations. */
function callContext(server: Server, extra: Extra, progressToken: string | number | undefined): CallContext {
  let progress = 0
  const canElicit = server.getClientCapabilities()?.elicitation !== undefined
  return {
    signal: extra.signal,
    callId: String(extra.requestId),
    progress(message, data) {
      progress += 1
      if (progressToken !== undefined) {
        void extra
          .sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress, message },
          })
          .catch(() => {})
      }
      void server
        .sendLoggingMessage({ level: 'info', logger: 'codex-desk', data: { message, ...data } })
        .catch(() => {})
    },
    ...(canElicit
      ? {
          elicit: (params: Record<string, unknown>, signal: AbortSignal) =>
            extra.sendRequest(
              { method: 'elicitation/create', params: params as never },
              ElicitResult as never,
              { signal },
            ) as Promise<ElicitResult>,
        }
      : {}),
  }
}

/** The `codex-desk mcp-server` command: serves until the client closes stdin or a signal; the exit code. */
export async function runMcpServerCommand(options: {
  home: string
  logs: LoggerFactory
  overrides: readonly ConfigOverride[]
  startInProcess: () => Promise<InProcessCore>
}): Promise<number> {
  let server: RunningMcpServer
  try {
    server = await startMcpServer({
      home: options.home,
      logs: options.logs,
      cwd: process.cwd(),
      startInProcess: options.startInProcess,
      configOverrides: Object.fromEntries(options.overrides.map((o) => [o.path.join('.'), o.value])),
    })
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n`)
    return 1
  }
  process.once('SIGINT', () => void server.close())
  process.once('SIGTERM', () => void server.close())
  await server.closed
  return 0
}
