/**
 * MCP tools in a turn, as codex 0.169 offers and runs them. Each server is a `namespace` tool
 * `mcp__<server>` holding its tools; the model calls `function_call {namespace, name}`. A call is an
 * `mcpToolCall` item (item/started, `item/mcpToolCall/progress` when the server reports progress,
 * item/completed), and its result goes back to the model shaped as codex shapes it.
 *
 * Approvals follow what codex 0.169 does (measured): a tool annotated `readOnlyHint: true` runs
 * without asking; any other tool asks through `mcpServer/elicitation/request` (a form with
 * `_meta.codex_approval_kind = "mcp_tool_call"`), except under `approval_policy = "never"`, where
 * the call fails. "Allow for this session" (`persist: "session"` or `"always"`) is remembered per
 * thread and tool.
 *
 * The agent reads the core's MCP runtime through `McpToolSource` only; it never imports server/.
 */
import type { McpToolCallItem } from '../protocol/items'
import type { LiveThread } from '../threads/liveThread'
import { parseArguments, type ToolCall, type ToolHost, type ToolOutput, type ToolServices } from './tools'

/** One tool as the model sees it, with the raw names the MCP call uses. */
export interface McpToolEntry {
  server: string
  tool: string
  namespace: string
  name: string
  description: string
  inputSchema: unknown
  readOnlyHint: boolean | null
}

export interface McpCallOutcome {
  content: unknown[]
  structuredContent?: unknown
  isError?: boolean
  _meta?: unknown
}

/** What a turn needs of the MCP runtime (implemented by mcp/runtime.ts, shared by every thread). */
export interface McpToolSource {
  /** The tools to offer now; servers still starting are waited for, each within its startup timeout. */
  tools(): Promise<McpToolEntry[]>
  /** Calls a tool with the server's tool timeout; rejects on timeout, abort or a lost server. */
  callTool(
    server: string,
    tool: string,
    args: unknown,
    options: { signal?: AbortSignal; onProgress?: (message: string) => void },
  ): Promise<McpCallOutcome>
  /** What running servers offer to read (one server, or all); rejects for an unknown server. */
  resources(server: string | null): Promise<McpServerResources[]>
  readResource(server: string, uri: string): Promise<{ contents: unknown[] }>
}

export interface McpServerResources {
  server: string
  resources: Record<string, unknown>[]
  resourceTemplates: Record<string, unknown>[]
}

/** The core's MCP tools, or null when it has none configured (set by the core at start). */
let source: (() => Promise<McpToolSource | null>) | null = null

/** Binds the core's MCP runtime; returns the unbinding. One core per process binds at a time. */
export function bindMcpToolSource(get: () => Promise<McpToolSource | null>): () => void {
  source = get
  return () => {
    if (source === get) source = null
  }
}

/** `host` with the MCP tools added (after every other tool), or `host` itself when there are none. */
export async function withMcpTools(host: ToolHost): Promise<ToolHost> {
  const mcp = source ? await source() : null
  if (!mcp) return host
  const tools = await mcp.tools()
  if (tools.length === 0) return host
  const byName = new Map(tools.map((t) => [`${t.namespace}\0${t.name}`, t]))
  return {
    specs: (thread, settings) => [
      ...host.specs(thread, settings),
      ...RESOURCE_TOOLS,
      ...namespaceSpecs(tools),
    ],
    call: (call, services) => {
      const entry = call.namespace ? byName.get(`${call.namespace}\0${call.name}`) : undefined
      if (entry) return runMcpCall(mcp, entry, call, services)
      if (!call.namespace && RESOURCE_TOOL_NAMES.has(call.name)) return runResourceTool(mcp, call, services)
      return host.call(call, services)
    },
    ...(host.dispose ? { dispose: () => host.dispose?.() } : {}),
  }
}

const cursorParam = (what: string) => ({
  type: 'string',
  description: `Opaque cursor from a previous ${what} call; omit for the first page.`,
})

/** codex's tools for MCP resources (descriptions as codex 0.169 sends them), offered with any server. */
const RESOURCE_TOOLS = [
  {
    type: 'function',
    name: 'list_mcp_resources',
    description:
      'Lists resources provided by MCP servers. Resources allow servers to share data that provides context to language models, such as files, database schemas, or application-specific information. Prefer resources over web search when possible.',
    strict: false,
    parameters: {
      type: 'object',
      properties: {
        cursor: cursorParam('list_mcp_resources'),
        server: {
          type: 'string',
          description: 'MCP server name. Omit to list resources from every configured server.',
        },
      },
      additionalProperties: false,
    },
  },
  {
    type: 'function',
    name: 'list_mcp_resource_templates',
    description:
      'Lists resource templates provided by MCP servers. Parameterized resource templates allow servers to share data that takes parameters and provides context to language models, such as files, database schemas, or application-specific information. Prefer resource templates over web search when possible.',
    strict: false,
    parameters: {
      type: 'object',
      properties: {
        cursor: cursorParam('list_mcp_resource_templates'),
        server: {
          type: 'string',
          description: 'MCP server name. Omit to list resource templates from every configured server.',
        },
      },
      additionalProperties: false,
    },
  },
  {
    type: 'function',
    name: 'read_mcp_resource',
    description: 'Read a specific resource from an MCP server given the server name and resource URI.',
    strict: false,
    parameters: {
      type: 'object',
      properties: {
        server: {
          type: 'string',
          description:
            "MCP server name exactly as configured. Must match the 'server' field returned by list_mcp_resources.",
        },
        uri: {
          type: 'string',
          description: 'Resource URI to read. Must be one of the URIs returned by list_mcp_resources.',
        },
      },
      required: ['server', 'uri'],
      additionalProperties: false,
    },
  },
]
const RESOURCE_TOOL_NAMES = new Set(RESOURCE_TOOLS.map((tool) => tool.name))

/**
 * The resource tools as codex runs them: an `mcpToolCall` item (server `codex` when no server was
 * named), and the JSON answer as the model's output, as it is (no wall time).
 */
async function runResourceTool(
  mcp: McpToolSource,
  call: ToolCall,
  services: ToolServices,
): Promise<ToolOutput> {
  const parsed = parseArguments(call)
  const args = (
    parsed.ok && typeof parsed.value === 'object' && parsed.value !== null ? parsed.value : {}
  ) as {
    server?: unknown
    uri?: unknown
  }
  const server = typeof args.server === 'string' ? args.server : null
  const started = Date.now()
  const item: McpItem = {
    type: 'mcpToolCall',
    id: call.callId,
    server: server ?? 'codex',
    tool: call.name,
    status: 'inProgress',
    arguments: parsed.ok ? parsed.value : call.arguments,
    appContext: null,
    mcpAppUi: null,
    pluginId: null,
    readOnlyHint: null,
    result: null,
    error: null,
    durationMs: null,
  }
  await services.startItem(item)
  let answer: unknown
  try {
    if (!parsed.ok) throw new Error(parsed.message)
    if (call.name === 'read_mcp_resource') {
      if (!server || typeof args.uri !== 'string')
        throw new Error('read_mcp_resource needs `server` and `uri`')
      answer = { server, uri: args.uri, ...(await mcp.readResource(server, args.uri)) }
    } else {
      const key = call.name === 'list_mcp_resources' ? 'resources' : 'resourceTemplates'
      const listed = await mcp.resources(server)
      const entries = listed.flatMap((s) =>
        s[key].map((entry) => (server ? entry : { server: s.server, ...entry })),
      )
      answer = server ? { server, [key]: entries } : { [key]: entries }
    }
  } catch (error) {
    if (services.signal.aborted) throw error
    const message = (error as Error).message
    await services.completeItem({
      ...item,
      status: 'failed',
      error: { message },
      durationMs: Date.now() - started,
    })
    return message
  }
  const text = JSON.stringify(answer)
  await services.completeItem({
    ...item,
    status: 'completed',
    result: { content: [{ type: 'text', text }], structuredContent: null, _meta: null },
    durationMs: Date.now() - started,
  })
  return text
}

function namespaceSpecs(tools: readonly McpToolEntry[]): unknown[] {
  const namespaces = new Map<string, McpToolEntry[]>()
  for (const tool of tools) namespaces.set(tool.namespace, [...(namespaces.get(tool.namespace) ?? []), tool])
  return [...namespaces].map(([namespace, entries]) => ({
    type: 'namespace',
    name: namespace,
    description: `Tools in the ${namespace} namespace.`,
    tools: entries
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((entry) => ({
        type: 'function',
        name: entry.name,
        description: entry.description,
        strict: false,
        parameters: parameters(entry.inputSchema),
      })),
  }))
}

/** The tool's input schema without `$schema` (as codex sends it); an object schema when absent. */
function parameters(schema: unknown): unknown {
  if (typeof schema !== 'object' || schema === null) return { type: 'object', properties: {} }
  const { $schema: _dropped, ...rest } = schema as Record<string, unknown>
  return rest
}

/** Tools the user allowed for the rest of the session, per thread. */
const sessionAllowed = new WeakMap<LiveThread, Set<string>>()

type McpItem = McpToolCallItem & {
  appContext: null
  mcpAppUi: null
  pluginId: null
  readOnlyHint: boolean | null
}

async function runMcpCall(
  mcp: McpToolSource,
  entry: McpToolEntry,
  call: ToolCall,
  services: ToolServices,
): Promise<ToolOutput> {
  const parsed = parseArguments(call)
  const args = parsed.ok ? parsed.value : call.arguments
  const started = Date.now()
  const item: McpItem = {
    type: 'mcpToolCall',
    id: call.callId,
    server: entry.server,
    tool: entry.tool,
    status: 'inProgress',
    arguments: args,
    appContext: null,
    mcpAppUi: null,
    pluginId: null,
    readOnlyHint: entry.readOnlyHint,
    result: null,
    error: null,
    durationMs: null,
  }
  await services.startItem(item)
  const fail = async (message: string): Promise<ToolOutput> => {
    await services.completeItem({
      ...item,
      status: 'failed',
      error: { message },
      durationMs: Date.now() - started,
    })
    return [
      { type: 'input_text', text: wallTime(started) },
      { type: 'input_text', text: message },
    ]
  }
  if (!parsed.ok) return fail(parsed.message)

  const approval = await approve(entry, args, services)
  if (approval !== 'run') return fail(approval)

  let result: McpCallOutcome
  try {
    result = await mcp.callTool(entry.server, entry.tool, args, {
      signal: services.signal,
      onProgress: (message) =>
        void services.publish('item/mcpToolCall/progress', {
          threadId: services.threadId,
          turnId: services.turnId,
          itemId: item.id,
          message,
        }),
    })
  } catch (error) {
    if (services.signal.aborted) throw error
    return fail((error as Error).message)
  }
  await services.completeItem({
    ...item,
    status: result.isError ? 'failed' : 'completed',
    result: {
      content: result.content,
      structuredContent: result.structuredContent ?? null,
      _meta: result._meta ?? null,
    },
    durationMs: Date.now() - started,
  })
  return modelOutput(result, started)
}

function wallTime(started: number): string {
  return `Wall time: ${((Date.now() - started) / 1000).toFixed(4)} seconds\nOutput:`
}

/**
 * codex's shaping of a result for the model: structured content as JSON text after the wall time;
 * otherwise the wall time, then each content block (text as `input_text`, images as `input_image`).
 */
export function modelOutput(result: McpCallOutcome, started: number): ToolOutput {
  if (result.structuredContent !== undefined && result.structuredContent !== null) {
    return `${wallTime(started)}\n${JSON.stringify(result.structuredContent)}`
  }
  const parts: unknown[] = [{ type: 'input_text', text: wallTime(started) }]
  for (const block of result.content) {
    const b = block as { type?: string; text?: string; data?: string; mimeType?: string }
    if (b.type === 'text' && typeof b.text === 'string') parts.push({ type: 'input_text', text: b.text })
    else if (b.type === 'image' && b.data && b.mimeType)
      parts.push({ type: 'input_image', image_url: `data:${b.mimeType};base64,${b.data}` })
    else parts.push({ type: 'input_text', text: JSON.stringify(block) })
  }
  return parts
}

/** 'run', or the message the call fails with. */
async function approve(entry: McpToolEntry, args: unknown, services: ToolServices): Promise<string> {
  if (entry.readOnlyHint === true) return 'run'
  const key = `${entry.server}\0${entry.tool}`
  if (sessionAllowed.get(services.thread)?.has(key)) return 'run'
  const policy = services.settings.approvalPolicy
  const noElicitations =
    policy === 'never' ||
    (typeof policy === 'object' &&
      policy !== null &&
      'granular' in policy &&
      !policy.granular.mcp_elicitations)
  if (noElicitations)
    return `MCP tool call requires approval, but approval policy is ${describePolicy(policy)}`
  services.markWaitingOnApproval()
  let response
  try {
    response = await services.request(
      'mcpServer/elicitation/request',
      {
        threadId: services.threadId,
        turnId: services.turnId,
        serverName: entry.server,
        mode: 'form',
        _meta: {
          codex_approval_kind: 'mcp_tool_call',
          persist: ['session', 'always'],
          tool_name: entry.tool,
          tool_description: entry.description,
          tool_params: args,
          tool_params_display: Object.entries(
            typeof args === 'object' && args !== null ? (args as Record<string, unknown>) : {},
          ).map(([name, value]) => ({ name, value, display_name: name })),
        },
        message: `Allow the ${entry.server} MCP server to run tool "${entry.tool}"?`,
        requestedSchema: { type: 'object', properties: {} },
      },
      { approval: true },
    )
  } catch (error) {
    if (services.signal.aborted) throw error
    return 'user rejected MCP tool call'
  }
  if (response.action !== 'accept') return 'user rejected MCP tool call'
  const persist = (response._meta as { persist?: unknown } | undefined)?.persist
  if (persist === 'session' || persist === 'always') {
    const allowed = sessionAllowed.get(services.thread) ?? new Set<string>()
    allowed.add(key)
    sessionAllowed.set(services.thread, allowed)
  }
  return 'run'
}

function describePolicy(policy: unknown): string {
  return typeof policy === 'string' ? policy : 'granular'
}
