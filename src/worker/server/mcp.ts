/**
 * MCP server handlers: `mcpServerStatus/list`, `mcpServer/resource/read`, `mcpServer/tool/call`,
 * `config/mcpServer/reload` and `mcpServer/oauth/login`, over the core's one MCP runtime
 * (mcp/runtime.ts). The runtime is created on first use: the first MCP request, or when the threads
 * subsystem loads (as codex starts servers with the first thread), and turns reach it through the
 * agent's `McpToolSource` binding. A config reload (the file watcher, or the reload request)
 * restarts only the servers whose settings changed.
 *
 * It must never load the MCP SDK for a core without MCP servers, nor start a server twice.
 */
import { ErrorCode, invalidRequest, RpcError } from '../protocol/errors'
import type { McpServerStatus, mcpRequests } from '../protocol/mcp'
import type { McpRuntime, McpServerSnapshot } from '../mcp/runtime'
import type { Disposable } from '../util/event'
import type { AppServer } from './appServer'
import type { Handler } from './context'

type Handlers = { [M in keyof typeof mcpRequests]: Handler<M> }

/** The fields of an MCP `Tool` that codex passes on in a status listing. */
const TOOL_FIELDS = [
  'name',
  'title',
  'description',
  'inputSchema',
  'outputSchema',
  'annotations',
  'icons',
  '_meta',
]
const RESOURCE_FIELDS = [
  'name',
  'title',
  'uri',
  'description',
  'mimeType',
  'size',
  'annotations',
  'icons',
  '_meta',
]
const TEMPLATE_FIELDS = ['name', 'title', 'uriTemplate', 'description', 'mimeType', 'annotations']

function pick(
  value: Record<string, unknown>,
  fields: readonly string[],
): Record<string, unknown> & { name: string } {
  const out: Record<string, unknown> = {}
  for (const field of fields) if (value[field] !== undefined) out[field] = value[field]
  return out as Record<string, unknown> & { name: string }
}

function statusOf(server: McpServerSnapshot, full: boolean): McpServerStatus {
  const transport = server.config?.transport
  const inventory = server.inventory
  let httpOrigin: string | null = null
  if (transport?.type === 'streamableHttp') {
    try {
      httpOrigin = new URL(transport.url).origin
    } catch {
      httpOrigin = null
    }
  }
  const info = inventory?.serverInfo
  return {
    name: server.name,
    runtimeStatus:
      server.state === 'connected' ? 'connected' : server.state === 'disabled' ? 'disabled' : server.state,
    pluginId: null,
    httpOrigin,
    serverInfo: info
      ? {
          name: String(info.name ?? ''),
          title: (info.title as string | undefined) ?? null,
          version: String(info.version ?? ''),
          description: (info.description as string | undefined) ?? null,
          icons: (info.icons as unknown[] | undefined) ?? null,
          websiteUrl: (info.websiteUrl as string | undefined) ?? null,
        }
      : null,
    serverCapabilities: inventory?.capabilities ?? null,
    toolListMeta: null,
    tools: Object.fromEntries((inventory?.tools ?? []).map((tool) => [tool.name, pick(tool, TOOL_FIELDS)])),
    toolsError: server.state === 'failed' && server.error ? `MCP startup failed: ${server.error}` : null,
    resources: full ? (inventory?.resources ?? []).map((r) => pick(r, RESOURCE_FIELDS)) : [],
    resourceTemplates: full ? (inventory?.resourceTemplates ?? []).map((r) => pick(r, TEMPLATE_FIELDS)) : [],
    // As codex: a stdio server has no auth; an HTTP server's is a bearer token when one is configured.
    authStatus:
      transport?.type === 'streamableHttp'
        ? transport.bearerTokenEnvVar || transport.httpHeaders.Authorization
          ? 'bearerToken'
          : 'unsupported'
        : 'unsupported',
  }
}

/** One page by codex's decimal-offset cursor; without a limit, everything. */
function page<T>(
  items: readonly T[],
  params: { cursor?: string | null | undefined; limit?: number | null | undefined },
): { data: T[]; nextCursor: string | null } {
  let start = 0
  if (params.cursor != null) {
    if (!/^\d+$/.test(params.cursor)) throw invalidRequest(`invalid cursor: ${params.cursor}`)
    start = Number(params.cursor)
    if (start > items.length)
      throw invalidRequest(`cursor ${start} exceeds total MCP servers ${items.length}`)
  }
  const end = params.limit == null ? items.length : Math.min(items.length, start + Math.max(1, params.limit))
  return { data: items.slice(start, end), nextCursor: end < items.length ? String(end) : null }
}

export function mcpHandlers(core: AppServer): { handlers: Handlers } & Disposable {
  let created: McpRuntime | null = null
  let loading: Promise<McpRuntime> | null = null
  let disposed = false
  let unbind: (() => void) | null = null

  const runtime = (): Promise<McpRuntime> => {
    loading ??= Promise.all([import('../mcp/runtime'), import('../mcp/config')]).then(
      ([{ McpRuntime }, { readMcpServerTables }]) => {
        created = new McpRuntime({
          readTables: () => readMcpServerTables(core.config),
          env: core.options.env ?? process.env,
          log: core.options.logs.get('mcp'),
          version: core.options.version,
          onStatus: (name, status, error) =>
            core.router.notify('all', 'mcpServer/startupStatus/updated', {
              name,
              status,
              error,
              failureReason: null,
              threadId: null,
            }),
        })
        if (disposed) void created.dispose()
        else void created.ensureStarted()
        return created
      },
    )
    return loading
  }

  // Turns see the runtime's tools; servers start with the threads subsystem (codex starts them with
  // the first thread), so they are usually up before the first turn asks.
  core.onThreadSystem(() => {
    void import('../agent/mcpTools').then(({ bindMcpToolSource }) => {
      if (disposed) return
      unbind = bindMcpToolSource(runtime)
      void runtime()
    })
  })
  // A changed config file restarts the servers whose settings changed (nothing starts before first use).
  const reloads = core.config.onDidReload(() => void created?.reconfigure())

  const require = async (server: string): Promise<McpRuntime> => {
    const rt = await runtime()
    await rt.settled()
    // codex answers an unknown server with an internal error (measured).
    if (!rt.snapshot().some((s) => s.name === server))
      throw new RpcError(ErrorCode.Internal, `unknown MCP server '${server}'`)
    return rt
  }

  const handlers: Handlers = {
    'mcpServerStatus/list': async (params) => {
      const rt = await runtime()
      await rt.settled()
      const full = params.detail !== 'toolsAndAuthOnly'
      const statuses = rt
        .snapshot()
        .filter((s) => params.serverName == null || s.name === params.serverName)
        .map((s) => statusOf(s, full))
      return page(statuses, params)
    },

    'mcpServer/resource/read': async (params) => {
      const rt = await require(params.server)
      try {
        const { contents } = await rt.readResource(params.server, params.uri)
        return { contents, originCallId: null }
      } catch (error) {
        throw new RpcError(
          ErrorCode.Internal,
          `failed to read resource ${params.uri} from MCP server '${params.server}': ${(error as Error).message}`,
        )
      }
    },

    'mcpServer/tool/call': async (params, ctx) => {
      const rt = await require(params.server)
      try {
        const result = await rt.callTool(params.server, params.tool, params.arguments ?? undefined, {
          signal: ctx.signal,
          ...(params._meta && typeof params._meta === 'object'
            ? { meta: params._meta as Record<string, unknown> }
            : {}),
        })
        return {
          content: result.content,
          ...(result.structuredContent != null ? { structuredContent: result.structuredContent } : {}),
          ...(result.isError ? { isError: true } : {}),
          ...(result._meta != null ? { _meta: result._meta } : {}),
        }
      } catch (error) {
        throw new RpcError(
          ErrorCode.Internal,
          `tool call failed for \`${params.server}/${params.tool}\`: ${(error as Error).message}`,
        )
      }
    },

    'config/mcpServer/reload': async () => {
      await core.config.reload('MCP servers reload')
      // The reload above already reconfigured a started runtime (onDidReload); wait for that.
      if (created) await created.reconfigure()
      return {}
    },

    'mcpServer/oauth/login': async (params) => {
      const { readMcpServerTables, parseMcpServer } = await import('../mcp/config')
      const table = (await readMcpServerTables(core.config)).get(params.name)
      if (!table) throw invalidRequest(`No MCP server named '${params.name}' found.`)
      const entry = parseMcpServer(params.name, table)
      if (!entry.ok || entry.config.transport.type !== 'streamableHttp') {
        throw invalidRequest('OAuth login is only supported for streamable HTTP servers.')
      }
      throw invalidRequest(
        'OAuth login for MCP servers is not supported by codex-desk yet; ' +
          'set `bearer_token_env_var` or `http_headers` for this server instead.',
      )
    },
  }

  return {
    handlers,
    dispose: () => {
      disposed = true
      reloads.dispose()
      unbind?.()
      void created?.dispose()
    },
  }
}
