/**
 * One live MCP server: the official SDK client over stdio (a child process of the core) or
 * streamable HTTP, connected and inventoried (tools, resources, resource templates) within the
 * server's startup timeout. It reports an unexpected end once (`onLost`), so the runtime can restart
 * the server; it never restarts anything itself.
 *
 * The SDK is imported here, on the first connection: a core without MCP servers never loads it
 * (the cold-start budget). It must never leave a child process behind: `close()` ends it.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js'
import type { Logger } from '../util/log'
import type { McpServerConfig } from './config'

/** An MCP tool, resource or template as the server described it (passed on unchanged). */
export type McpObject = Record<string, unknown> & { name: string }

export interface McpInventory {
  serverInfo: Record<string, unknown> | null
  capabilities: Record<string, unknown> | null
  tools: McpObject[]
  resources: McpObject[]
  resourceTemplates: McpObject[]
}

export interface McpCallResult {
  content: unknown[]
  structuredContent?: unknown
  isError?: boolean
  _meta?: unknown
}

export interface CallOptions {
  timeoutMs: number
  signal?: AbortSignal
  /** The server reported progress (only asked for when given). */
  onProgress?: (message: string) => void
  meta?: Record<string, unknown>
}

export class McpTimeoutError extends Error {}

export class McpConnection {
  private client: Client | null = null
  private closing = false
  private lostListener: ((reason: string) => void) | null = null
  /** Progress listeners by the `progressToken` this connection sent. */
  private readonly progress = new Map<string, (message: string) => void>()
  private nextToken = 1
  inventory: McpInventory | null = null
  /** The server process (stdio), for `ps` and the tests. */
  pid: number | null = null

  constructor(
    readonly config: McpServerConfig,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
    private readonly version: string,
  ) {}

  /** Called once when the server goes away without `close()` (it crashed, or its stream ended). */
  onLost(listener: (reason: string) => void): void {
    this.lostListener = listener
  }

  /** Connects and lists what the server offers; rejects (and cleans up) on failure or timeout. */
  async start(): Promise<McpInventory> {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js')
    const transport = await this.transport()
    const client = new Client(
      { name: 'codex-desk', title: 'codex-desk', version: this.version },
      { capabilities: {} },
    )
    this.client = client
    client.onclose = () => {
      if (this.closing) return
      this.closing = true
      this.lostListener?.('MCP server exited unexpectedly')
    }
    const timeout = this.config.startupTimeoutMs
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new McpTimeoutError(`MCP server startup timed out after ${timeout / 1000}s`)),
        timeout,
      )
    })
    try {
      const inventory = await Promise.race([this.connect(client, transport), deadline])
      this.inventory = inventory
      return inventory
    } catch (error) {
      await this.close()
      throw error
    } finally {
      clearTimeout(timer)
    }
  }

  private async connect(client: Client, transport: Transport): Promise<McpInventory> {
    await client.connect(transport)
    // Progress is taken off the wire here, in order: the SDK hands notifications to their handlers a
    // tick later, after a response that arrived in the same chunk has already dropped the listener.
    const deliver = transport.onmessage
    transport.onmessage = (message, extra) => {
      const m = message as { method?: string; params?: Record<string, unknown> }
      if (m.method === 'notifications/progress' && m.params) {
        const listener = this.progress.get(String(m.params.progressToken))
        if (listener) {
          const { progress, total, message: text } = m.params
          listener(
            typeof text === 'string' ? text : total !== undefined ? `${progress}/${total}` : `${progress}`,
          )
          return
        }
      }
      deliver?.(message, extra)
    }
    const pid = (transport as { pid?: number | null }).pid
    this.pid = typeof pid === 'number' ? pid : null
    const capabilities = (client.getServerCapabilities() ?? null) as Record<string, unknown> | null
    const tools = capabilities?.tools
      ? await this.listAll((cursor) => client.listTools({ cursor }), 'tools')
      : []
    let resources: McpObject[] = []
    let resourceTemplates: McpObject[] = []
    if (capabilities?.resources) {
      resources = await this.listAll((cursor) => client.listResources({ cursor }), 'resources')
      resourceTemplates = await this.listAll(
        (cursor) => client.listResourceTemplates({ cursor }),
        'resourceTemplates',
      ).catch(() => [])
    }
    return {
      serverInfo: (client.getServerVersion() ?? null) as Record<string, unknown> | null,
      capabilities,
      tools,
      resources,
      resourceTemplates,
    }
  }

  private async listAll<K extends string>(
    page: (
      cursor: string | undefined,
    ) => Promise<{ nextCursor?: string | undefined } & { [k in K]?: unknown }>,
    key: K,
  ): Promise<McpObject[]> {
    const out: McpObject[] = []
    let cursor: string | undefined
    for (let pages = 0; pages < 100; pages++) {
      const result = await page(cursor)
      out.push(...((result[key] as McpObject[] | undefined) ?? []))
      cursor = result.nextCursor
      if (!cursor) break
    }
    return out
  }

  private async transport(): Promise<Transport> {
    const { transport } = this.config
    if (transport.type === 'stdio') {
      const { StdioClientTransport, getDefaultEnvironment } =
        await import('@modelcontextprotocol/sdk/client/stdio.js')
      const stdio = new StdioClientTransport({
        command: transport.command,
        args: transport.args,
        // codex's allow-list of the core's variables (HOME, PATH, ...), then the server's own.
        env: { ...getDefaultEnvironment(), ...transport.env },
        ...(transport.cwd ? { cwd: transport.cwd } : {}),
        stderr: 'pipe',
      })
      stdio.stderr?.on('data', (chunk: Buffer) =>
        this.log.debug(
          { server: this.config.name, stderr: chunk.toString('utf8').slice(0, 2000) },
          'MCP server stderr',
        ),
      )
      return stdio
    }
    const { StreamableHTTPClientTransport } =
      await import('@modelcontextprotocol/sdk/client/streamableHttp.js')
    const headers: Record<string, string> = { ...transport.httpHeaders }
    for (const [header, variable] of Object.entries(transport.envHttpHeaders)) {
      const value = this.env[variable]
      if (value) headers[header] = value
    }
    if (transport.bearerTokenEnvVar) {
      const token = this.env[transport.bearerTokenEnvVar]
      if (!token) {
        throw new Error(
          `Environment variable ${transport.bearerTokenEnvVar} for MCP server '${this.config.name}' is not set`,
        )
      }
      headers.Authorization = `Bearer ${token}`
    }
    return new StreamableHTTPClientTransport(new URL(transport.url), { requestInit: { headers } })
  }

  async callTool(tool: string, args: unknown, options: CallOptions): Promise<McpCallResult> {
    const client = this.requireClient()
    const token = options.onProgress ? `codex-desk-${this.nextToken++}` : null
    if (token && options.onProgress) this.progress.set(token, options.onProgress)
    const meta = { ...options.meta, ...(token ? { progressToken: token } : {}) }
    try {
      const result = await client.callTool(
        {
          name: tool,
          ...(args !== undefined && args !== null ? { arguments: args as Record<string, unknown> } : {}),
          ...(Object.keys(meta).length > 0 ? { _meta: meta } : {}),
        },
        undefined,
        { timeout: options.timeoutMs, ...(options.signal ? { signal: options.signal } : {}) },
      )
      return result as McpCallResult
    } catch (error) {
      if ((error as { code?: unknown }).code === -32001) {
        throw new McpTimeoutError(`timed out awaiting tools/call after ${options.timeoutMs / 1000}s`)
      }
      throw error
    } finally {
      if (token) this.progress.delete(token)
    }
  }

  async readResource(uri: string): Promise<{ contents: Record<string, unknown>[] }> {
    const client = this.requireClient()
    const result = await client.readResource({ uri }, { timeout: this.config.toolTimeoutMs })
    return { contents: result.contents as Record<string, unknown>[] }
  }

  private requireClient(): Client {
    if (!this.client || this.closing) throw new Error(`MCP server '${this.config.name}' is not running`)
    return this.client
  }

  /** Ends the connection and the server process (stdio); never throws. */
  async close(): Promise<void> {
    this.closing = true
    const client = this.client
    this.client = null
    if (!client) return
    try {
      await client.close()
    } catch (error) {
      this.log.debug({ server: this.config.name, error }, 'closing an MCP server failed')
    }
  }
}
