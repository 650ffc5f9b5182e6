/**
 * The one MCP runtime of a core: every configured server runs once, shared by every thread and
 * every client. It starts on first use, follows config changes (only a server whose settings changed
 * is restarted), restarts a server that crashed (with backoff: 0.5 s, 1 s, 2 s ... 30 s, reset once it
 * has run a minute), and reports each change as `mcpServer/startupStatus/updated`.
 *
 * It must never start a second process for a server that is running, nor leave one behind on
 * dispose. Threads reach it through the agent's `McpToolSource` interface only.
 */
import type { McpServerResources, McpToolEntry, McpToolSource } from '../agent/mcpTools'
import type { McpServerStartupState } from '../protocol/mcp'
import type { Logger } from '../util/log'
import { parseMcpServer, toolAllowed, type McpServerConfig } from './config'
import { McpConnection, type CallOptions, type McpCallResult, type McpInventory } from './connection'
import { qualifyTools } from './naming'

const FIRST_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 30_000
/** A server that ran this long before crashing starts its backoff over. */
const STABLE_MS = 60_000

export type McpSlotState = 'starting' | 'connected' | 'failed' | 'disabled'

export interface McpServerSnapshot {
  name: string
  config: McpServerConfig | null
  state: McpSlotState
  error: string | null
  inventory: McpInventory | null
  pid: number | null
}

export interface McpRuntimeOptions {
  /** The `[mcp_servers]` tables as they are now (read again on every reconfigure). */
  readTables(): Promise<Map<string, Record<string, unknown>>>
  env: NodeJS.ProcessEnv
  log: Logger
  version: string
  /** A server's startup state changed: `mcpServer/startupStatus/updated` for every client. */
  onStatus(name: string, status: McpServerStartupState, error: string | null): void
}

interface Slot {
  name: string
  config: McpServerConfig | null
  state: McpSlotState
  error: string | null
  connection: McpConnection | null
  /** Settles when the current start attempt has ended. */
  starting: Promise<void> | null
  restartTimer: NodeJS.Timeout | null
  crashes: number
  readySince: number
  stopped: boolean
}

export class McpRuntime implements McpToolSource {
  private readonly slots = new Map<string, Slot>()
  private started: Promise<void> | null = null
  private chain: Promise<void> = Promise.resolve()
  private disposed = false

  constructor(private readonly options: McpRuntimeOptions) {}

  /** Starts every configured server, once; later calls wait for that first configure. */
  ensureStarted(): Promise<void> {
    this.started ??= this.reconfigure()
    return this.started
  }

  /** Reads the config again: removed servers stop, new ones start, changed ones restart. */
  reconfigure(): Promise<void> {
    const run = this.chain.then(() => this.apply())
    this.chain = run.catch((error: unknown) => this.options.log.warn({ error }, 'MCP reconfigure failed'))
    this.started ??= run
    return run
  }

  private async apply(): Promise<void> {
    if (this.disposed) return
    const tables = await this.options.readTables()
    for (const [name, slot] of this.slots) {
      const table = tables.get(name)
      const next = table ? parseMcpServer(name, table) : null
      if (next && next.ok && slot.config?.fingerprint === next.config.fingerprint) continue
      if (next && !next.ok && slot.config === null && slot.error === next.error) continue
      await this.stop(slot)
      this.slots.delete(name)
    }
    for (const [name, table] of tables) {
      if (this.slots.has(name)) continue
      const entry = parseMcpServer(name, table)
      const slot: Slot = {
        name,
        config: entry.ok ? entry.config : null,
        state: 'failed',
        error: entry.ok ? null : entry.error,
        connection: null,
        starting: null,
        restartTimer: null,
        crashes: 0,
        readySince: 0,
        stopped: false,
      }
      this.slots.set(name, slot)
      if (!entry.ok) this.options.onStatus(name, 'failed', entry.error)
      else if (!entry.config.enabled) slot.state = 'disabled'
      else this.launch(slot)
    }
  }

  private launch(slot: Slot): void {
    const config = slot.config as McpServerConfig
    slot.state = 'starting'
    slot.error = null
    this.options.onStatus(slot.name, 'starting', null)
    const connection = new McpConnection(config, this.options.env, this.options.log, this.options.version)
    slot.connection = connection
    connection.onLost((reason) => this.lost(slot, connection, reason))
    slot.starting = connection.start().then(
      () => {
        if (slot.stopped || slot.connection !== connection) return
        slot.state = 'connected'
        slot.readySince = Date.now()
        this.options.log.info({ server: slot.name, pid: connection.pid }, 'MCP server ready')
        this.options.onStatus(slot.name, 'ready', null)
      },
      (error: unknown) => {
        if (slot.stopped || slot.connection !== connection) return
        slot.state = 'failed'
        slot.connection = null
        slot.error = (error as Error).message
        this.options.log.warn({ server: slot.name, error }, 'MCP server failed to start')
        this.options.onStatus(slot.name, 'failed', slot.error)
      },
    )
  }

  private lost(slot: Slot, connection: McpConnection, reason: string): void {
    if (slot.stopped || slot.connection !== connection || this.disposed) return
    slot.connection = null
    slot.state = 'failed'
    slot.error = reason
    if (slot.readySince && Date.now() - slot.readySince >= STABLE_MS) slot.crashes = 0
    const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** slot.crashes)
    slot.crashes++
    this.options.log.warn({ server: slot.name, reason, restartInMs: delay }, 'MCP server lost; restarting')
    this.options.onStatus(slot.name, 'failed', reason)
    void connection.close()
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null
      if (!slot.stopped && !this.disposed) this.launch(slot)
    }, delay)
    slot.restartTimer.unref?.()
  }

  private async stop(slot: Slot): Promise<void> {
    slot.stopped = true
    if (slot.restartTimer) clearTimeout(slot.restartTimer)
    const connection = slot.connection
    slot.connection = null
    if (slot.state === 'starting') this.options.onStatus(slot.name, 'cancelled', null)
    await connection?.close()
  }

  /** Waits until no server is starting (each start is bounded by its startup timeout). */
  async settled(): Promise<void> {
    await this.ensureStarted()
    await Promise.all([...this.slots.values()].map((slot) => slot.starting))
  }

  /** Every configured server, sorted by name. */
  snapshot(): McpServerSnapshot[] {
    return [...this.slots.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((slot) => ({
        name: slot.name,
        config: slot.config,
        state: slot.state,
        error: slot.error,
        inventory: slot.state === 'connected' ? (slot.connection?.inventory ?? null) : null,
        pid: slot.connection?.pid ?? null,
      }))
  }

  /** The tools the model may call now, named as codex names them. */
  async tools(): Promise<McpToolEntry[]> {
    await this.settled()
    const raw: { server: string; tool: string; spec: Record<string, unknown> }[] = []
    for (const slot of this.slots.values()) {
      const inventory = slot.state === 'connected' ? slot.connection?.inventory : null
      if (!inventory || !slot.config) continue
      for (const spec of inventory.tools) {
        if (toolAllowed(slot.config, spec.name)) raw.push({ server: slot.name, tool: spec.name, spec })
      }
    }
    const specs = new Map(raw.map((r) => [`${r.server}\0${r.tool}`, r.spec]))
    return qualifyTools(raw).map((q) => {
      const spec = specs.get(`${q.server}\0${q.tool}`) as Record<string, unknown>
      const annotations = spec.annotations as { readOnlyHint?: unknown } | undefined
      return {
        ...q,
        description: typeof spec.description === 'string' ? spec.description : '',
        inputSchema: spec.inputSchema,
        readOnlyHint: typeof annotations?.readOnlyHint === 'boolean' ? annotations.readOnlyHint : null,
      }
    })
  }

  private connected(server: string): { slot: Slot; connection: McpConnection } {
    const slot = this.slots.get(server)
    if (!slot) throw new McpUnknownServerError(`unknown MCP server '${server}'`)
    if (slot.state !== 'connected' || !slot.connection) {
      throw new Error(`MCP server '${server}' is not running${slot.error ? `: ${slot.error}` : ''}`)
    }
    return { slot, connection: slot.connection }
  }

  async callTool(
    server: string,
    tool: string,
    args: unknown,
    options: Omit<CallOptions, 'timeoutMs'>,
  ): Promise<McpCallResult> {
    await this.settled()
    const { slot, connection } = this.connected(server)
    const config = slot.config as McpServerConfig
    if (!toolAllowed(config, tool)) throw new Error(`tool '${tool}' is disabled for MCP server '${server}'`)
    return connection.callTool(tool, args, { ...options, timeoutMs: config.toolTimeoutMs })
  }

  async readResource(server: string, uri: string): Promise<{ contents: Record<string, unknown>[] }> {
    await this.settled()
    return this.connected(server).connection.readResource(uri)
  }

  /** The resources and templates running servers listed at start (one server, or every one). */
  async resources(server: string | null): Promise<McpServerResources[]> {
    await this.settled()
    if (server !== null) {
      const { slot, connection } = this.connected(server)
      return [{ server: slot.name, ...pickResources(connection.inventory) }]
    }
    return this.snapshot()
      .filter((s) => s.inventory)
      .map((s) => ({ server: s.name, ...pickResources(s.inventory) }))
  }

  /** Stops every server (their processes end); nothing starts afterwards. */
  async dispose(): Promise<void> {
    this.disposed = true
    await Promise.all([...this.slots.values()].map((slot) => this.stop(slot)))
    this.slots.clear()
  }
}

export class McpUnknownServerError extends Error {}

function pickResources(inventory: McpInventory | null): Omit<McpServerResources, 'server'> {
  return { resources: inventory?.resources ?? [], resourceTemplates: inventory?.resourceTemplates ?? [] }
}
