/**
 * Plain-value helpers for config trees: the merge rule (tables merge key by key, recursively;
 * scalars and arrays replace, as codex), path get/set/delete, and normalisation of what the TOML
 * parser returns (null-prototype objects) into plain JSON-like objects.
 */
export type Table = Record<string, unknown>

export const isTable = (v: unknown): v is Table =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)

/** Deep copy into plain objects (the TOML parser returns null-prototype ones). Dates are kept. */
export function plain<T>(value: T): T {
  if (Array.isArray(value)) return value.map(plain) as T
  if (isTable(value)) {
    const out: Table = {}
    for (const [k, v] of Object.entries(value)) out[k] = plain(v)
    return out as T
  }
  return value
}

/** `higher` over `lower`: tables merge recursively, everything else replaces. Inputs are not mutated. */
export function mergeTables(lower: Table, higher: Table): Table {
  const out: Table = { ...lower }
  for (const [key, value] of Object.entries(higher)) {
    const below = out[key]
    out[key] = isTable(below) && isTable(value) ? mergeTables(below, value) : plain(value)
  }
  return out
}

export function getAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root
  for (const part of path) {
    if (!isTable(node) && !Array.isArray(node)) return undefined
    node = (node as Record<PropertyKey, unknown>)[part]
  }
  return node
}

/** Sets `value` at `path`, creating tables on the way (a scalar in the way is replaced). */
export function setAt(root: Table, path: readonly string[], value: unknown): void {
  let node = root
  for (const part of path.slice(0, -1)) {
    const next = node[part]
    node = node[part] = isTable(next) ? next : {}
  }
  node[path[path.length - 1] as string] = value
}

/** Removes the value at `path`; empty parent tables stay (they may be meaningful, e.g. `[features]`). */
export function deleteAt(root: unknown, path: readonly PropertyKey[]): void {
  const parent = getAt(root, path.slice(0, -1))
  const last = path[path.length - 1]
  if (last === undefined) return
  if (Array.isArray(parent) && typeof last === 'number') parent.splice(last, 1)
  else if (isTable(parent)) delete parent[last as string]
}

/** Every leaf (scalar or array) with its dotted key, depth first. Empty tables count as leaves. */
export function leaves(root: Table, prefix: string[] = []): [string[], unknown][] {
  const out: [string[], unknown][] = []
  for (const [key, value] of Object.entries(root)) {
    const path = [...prefix, key]
    if (isTable(value) && Object.keys(value).length > 0) out.push(...leaves(value, path))
    else out.push([path, value])
  }
  return out
}

/** Stable JSON (sorted keys) for fingerprints of layers that have no file. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (isTable(value)) {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`
  }
  return JSON.stringify(value instanceof Date ? value.toISOString() : value)
}
