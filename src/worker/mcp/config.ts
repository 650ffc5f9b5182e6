/**
 * `[mcp_servers.NAME]` read as codex reads it: stdio servers (`command`, `args`, `env`, `cwd`) and
 * streamable HTTP servers (`url`, `bearer_token_env_var`, `http_headers`, `env_http_headers`), each
 * with `enabled`, `startup_timeout_sec` (or the older `startup_timeout_ms`), `tool_timeout_sec`,
 * `enabled_tools` and `disabled_tools`. Defaults are codex's: 10 s to start, 60 s per tool call.
 *
 * It must never start anything: it only turns TOML tables into configs, and a bad table into a
 * problem for that one server (the others still run).
 */
import type { ConfigService } from '../config/service'

export const DEFAULT_STARTUP_TIMEOUT_MS = 10_000
export const DEFAULT_TOOL_TIMEOUT_MS = 60_000
/** codex's rule for server names (they become part of tool names). */
const SERVER_NAME = /^[a-zA-Z0-9_-]+$/

export type McpTransportConfig =
  | {
      type: 'stdio'
      command: string
      args: string[]
      env: Record<string, string>
      cwd: string | null
    }
  | {
      type: 'streamableHttp'
      url: string
      bearerTokenEnvVar: string | null
      httpHeaders: Record<string, string>
      /** Header name -> the environment variable holding its value. */
      envHttpHeaders: Record<string, string>
    }

export interface McpServerConfig {
  name: string
  enabled: boolean
  transport: McpTransportConfig
  startupTimeoutMs: number
  toolTimeoutMs: number
  /** Only these tools are offered (null: all of them). */
  enabledTools: string[] | null
  disabledTools: string[]
  /** What decides the connection, as text: a server whose fingerprint changes is restarted. */
  fingerprint: string
}

/** A configured server, or why its table cannot be used. */
export type McpServerEntry =
  { ok: true; config: McpServerConfig } | { ok: false; name: string; error: string }

const isTable = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

const strings = (value: unknown): string[] | null =>
  Array.isArray(value) && value.every((v) => typeof v === 'string') ? (value as string[]) : null

function stringMap(value: unknown): Record<string, string> {
  if (!isTable(value)) return {}
  const out: Record<string, string> = {}
  for (const [key, v] of Object.entries(value)) if (typeof v === 'string') out[key] = v
  return out
}

function seconds(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value * 1000 : null
}

/** One server's table; a problem names the key, as codex's config errors do. */
export function parseMcpServer(name: string, table: Record<string, unknown>): McpServerEntry {
  if (!SERVER_NAME.test(name)) {
    return { ok: false, name, error: `invalid server name '${name}': must match pattern ^[a-zA-Z0-9_-]+$` }
  }
  let transport: McpTransportConfig
  if (typeof table.command === 'string') {
    if (table.url !== undefined) return { ok: false, name, error: 'set either `command` or `url`, not both' }
    transport = {
      type: 'stdio',
      command: table.command,
      args: strings(table.args) ?? [],
      env: stringMap(table.env),
      cwd: typeof table.cwd === 'string' ? table.cwd : null,
    }
  } else if (typeof table.url === 'string') {
    transport = {
      type: 'streamableHttp',
      url: table.url,
      bearerTokenEnvVar: typeof table.bearer_token_env_var === 'string' ? table.bearer_token_env_var : null,
      httpHeaders: stringMap(table.http_headers),
      envHttpHeaders: stringMap(table.env_http_headers),
    }
  } else {
    return { ok: false, name, error: 'missing `command` (stdio) or `url` (streamable HTTP)' }
  }
  const startupTimeoutMs =
    seconds(table.startup_timeout_sec) ??
    (typeof table.startup_timeout_ms === 'number' ? table.startup_timeout_ms : null) ??
    DEFAULT_STARTUP_TIMEOUT_MS
  const config: Omit<McpServerConfig, 'fingerprint'> = {
    name,
    enabled: table.enabled !== false,
    transport,
    startupTimeoutMs,
    toolTimeoutMs: seconds(table.tool_timeout_sec) ?? DEFAULT_TOOL_TIMEOUT_MS,
    enabledTools: strings(table.enabled_tools),
    disabledTools: strings(table.disabled_tools) ?? [],
  }
  return { ok: true, config: { ...config, fingerprint: JSON.stringify(config) } }
}

/**
 * The `[mcp_servers]` tables of every config layer, merged per server (a higher layer wins per key).
 * codex-desk's validated config drops keys it does not model, so the layers' TOML is read again.
 */
export async function readMcpServerTables(
  config: ConfigService,
): Promise<Map<string, Record<string, unknown>>> {
  const servers = new Map<string, Record<string, unknown>>()
  const merged = (config.current.merged as Record<string, unknown>).mcp_servers
  let sources: unknown[]
  if (isTable(merged)) sources = [merged]
  else {
    const layers = config.current.layers.filter((layer) => layer.text && !layer.disabledReason)
    if (layers.length === 0) return servers
    const { loadTomlParser } = await import('../config/overrides')
    const parse = await loadTomlParser()
    sources = layers.map((layer) => {
      try {
        const table = parse(layer.text as string)
        return isTable(table) ? table.mcp_servers : undefined
      } catch {
        return undefined // the loader already reported this layer
      }
    })
  }
  for (const source of sources) {
    if (!isTable(source)) continue
    for (const [name, table] of Object.entries(source)) {
      if (isTable(table)) servers.set(name, { ...servers.get(name), ...table })
    }
  }
  return servers
}

/** Whether a server's tool may be offered and called (`enabled_tools`, then `disabled_tools`). */
export function toolAllowed(config: McpServerConfig, tool: string): boolean {
  if (config.enabledTools && !config.enabledTools.includes(tool)) return false
  return !config.disabledTools.includes(tool)
}
