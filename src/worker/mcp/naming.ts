/**
 * The names the model sees for MCP tools, as codex 0.169 makes them: each server is a namespace
 * `mcp__<server>` holding its tools; both parts keep only `[a-zA-Z0-9_]` (anything else becomes
 * `_`); names that meet after that get `_` + 12 hex digits of a SHA-1 of the raw identity; and
 * when `mcp__<server>__<tool>` would pass 128 characters, the tool name is cut to end in such a hash.
 * (Measured against the real codex: server `my-srv` gives `mcp__my_srv`; a 75-character tool name
 * under a 58-character namespace becomes 55 characters + the hash.)
 *
 * Pure functions: the raw server and tool names stay what the MCP calls use.
 */
import { createHash } from 'node:crypto'

const MAX_NAME_LENGTH = 128
const HASH_LENGTH = 12
const DELIMITER = '__'

export function sanitizeToolName(name: string): string {
  const out = name.replace(/[^a-zA-Z0-9_]/g, '_')
  return out === '' ? '_' : out
}

export function mcpNamespace(server: string): string {
  return `mcp${DELIMITER}${sanitizeToolName(server)}`
}

function hashSuffix(identity: string): string {
  return `_${createHash('sha1').update(identity).digest('hex').slice(0, HASH_LENGTH)}`
}

export interface QualifiedTool {
  server: string
  tool: string
  /** The namespace the model sees (`mcp__server`). */
  namespace: string
  /** The function name inside that namespace. */
  name: string
}

/** Model-visible names for every (server, tool), unique and within codex's length limit. */
export function qualifyTools(tools: readonly { server: string; tool: string }[]): QualifiedTool[] {
  const identity = (t: { server: string; tool: string }) => `${t.server}\0${t.server}\0\0${t.tool}\0${t.tool}`
  const candidates = [...tools]
    .map((t) => ({
      ...t,
      id: identity(t),
      namespace: mcpNamespace(t.server),
      name: sanitizeToolName(t.tool),
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  // Two servers whose names sanitize alike get namespaces told apart by a hash of the raw name.
  const serversByNamespace = new Map<string, Set<string>>()
  for (const c of candidates) {
    const set = serversByNamespace.get(c.namespace) ?? new Set<string>()
    set.add(c.server)
    serversByNamespace.set(c.namespace, set)
  }
  for (const c of candidates) {
    if ((serversByNamespace.get(c.namespace)?.size ?? 0) > 1) {
      c.namespace += hashSuffix(`${c.server}\0${c.server}\0`)
    }
  }
  // Two tools of one namespace whose names sanitize alike both get a hash of their raw identity.
  const toolsByName = new Map<string, number>()
  for (const c of candidates) {
    const key = `${c.namespace}\0${c.name}`
    toolsByName.set(key, (toolsByName.get(key) ?? 0) + 1)
  }
  for (const c of candidates) {
    if ((toolsByName.get(`${c.namespace}\0${c.name}`) ?? 0) > 1) c.name += hashSuffix(c.id)
  }
  const used = new Set<string>()
  const out: QualifiedTool[] = []
  for (const c of candidates) {
    let { namespace, name } = c
    let display = `${namespace}${DELIMITER}${name}`
    for (let attempt = 0; display.length > MAX_NAME_LENGTH || used.has(display); attempt++) {
      const suffix = hashSuffix(attempt === 0 ? c.id : `${c.id}\0${attempt}`)
      const room = MAX_NAME_LENGTH - c.namespace.length - DELIMITER.length
      if (room >= suffix.length) {
        namespace = c.namespace
        name = c.name.slice(0, room - suffix.length) + suffix
      } else {
        namespace = c.namespace.slice(0, MAX_NAME_LENGTH - suffix.length - DELIMITER.length - 1)
        name = suffix
      }
      display = `${namespace}${DELIMITER}${name}`
    }
    used.add(display)
    out.push({ server: c.server, tool: c.tool, namespace, name })
  }
  return out
}
