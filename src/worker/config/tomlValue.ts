/**
 * The value side of config edits: TOML-safe copies of JSON-ish values, their inline TOML text, the
 * object a document becomes after edits, and the canonical form read-backs are compared in. It must
 * never accept a value TOML cannot hold (null, NaN, a lone surrogate, a date past 9999): those throw
 * `TomlEditError`. It does no I/O and parses nothing.
 */
export type TomlValue = string | number | boolean | Date | TomlValue[] | { [key: string]: TomlValue }

export interface TomlEdit {
  /** Key path, already split: ['features', 'collaboration_modes'], ['model_providers', 'my.id', 'base_url'] */
  path: string[]
  /** undefined (or null) removes the key (and its whole subtree) */
  value: unknown
  mergeStrategy: 'replace' | 'upsert'
}

export class TomlEditError extends Error {}

export type Table = Record<string, unknown>
export type Path = readonly string[]
export type KeyPath = readonly (string | number)[]

const BARE_KEY = /^[A-Za-z0-9_-]+$/
// With the `u` flag a surrogate pair is one code point, so this only matches unpaired halves, which
// cannot be written to a UTF-8 file nor escaped in TOML.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n
const ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\b': '\\b',
  '\t': '\\t',
  '\n': '\\n',
  '\f': '\\f',
  '\r': '\\r',
}

// ---------------------------------------------------------------------------------------------------
// Values

/** Quotes a key part when it is not a bare key ([A-Za-z0-9_-]+). */
export function tomlKey(part: string): string {
  return BARE_KEY.test(part) ? part : quote(part)
}

/**
 * Serialises a JSON-ish value as a TOML inline value. Members of objects that are null or undefined are
 * left out (absent is the only way TOML says "no value"); everything TOML cannot hold throws.
 */
export function tomlInlineValue(value: unknown): string {
  return serialise(normalise(value, 'the value'))
}

function quote(text: string): string {
  if (LONE_SURROGATE.test(text)) {
    throw new TomlEditError(`${JSON.stringify(text)} contains an unpaired surrogate, which TOML cannot hold`)
  }
  let out = '"'
  for (let i = 0; i < text.length; i++) {
    const ch = text.charAt(i)
    const code = text.charCodeAt(i)
    const escape = ESCAPES[ch]
    if (escape !== undefined) out += escape
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`
    else out += ch
  }
  return `${out}"`
}

function numberText(value: number): string {
  // Integral numbers in the int64 range are TOML integers; BigInt prints them without exponent.
  if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) return BigInt(value).toString()
  const text = String(value)
  return /[.e]/.test(text) ? text : `${text}.0`
}

export function serialise(value: unknown): string {
  if (typeof value === 'string') return quote(value)
  if (typeof value === 'boolean') return String(value)
  if (typeof value === 'bigint') return value.toString()
  if (typeof value === 'number') return numberText(value)
  if (value instanceof Date) return value.toISOString()
  if (Array.isArray(value)) return `[${value.map(serialise).join(', ')}]`
  const entries = Object.entries(value as Table)
  if (entries.length === 0) return '{}'
  return `{ ${entries.map(([key, item]) => `${tomlKey(key)} = ${serialise(item)}`).join(', ')} }`
}

/** Validates a value for TOML and returns a plain copy without null/undefined object members. */
export function normalise(value: unknown, at: string): unknown {
  switch (typeof value) {
    case 'string':
      if (LONE_SURROGATE.test(value)) {
        throw new TomlEditError(`${at} contains an unpaired surrogate, which TOML cannot hold`)
      }
      return value
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value))
        throw new TomlEditError(`${at} is ${value}; only finite numbers can be written`)
      return value
    case 'bigint':
      if (value < INT64_MIN || value > INT64_MAX) {
        throw new TomlEditError(`${at} is ${value}, outside the 64-bit integer range of TOML`)
      }
      return value
    case 'undefined':
      throw new TomlEditError(`${at} is undefined, which TOML cannot hold`)
  }
  if (value === null) throw new TomlEditError(`${at} is null, which TOML cannot hold`)
  if (value instanceof Date) {
    const year = value.getUTCFullYear()
    if (Number.isNaN(value.getTime()) || year < 0 || year > 9999) {
      throw new TomlEditError(`${at} is a date TOML cannot hold`)
    }
    return new Date(value.getTime())
  }
  if (Array.isArray(value)) {
    // Array.from visits holes too, so a sparse array is rejected like an explicit undefined.
    return Array.from(value as unknown[], (item, index) => {
      if (item === null || item === undefined) {
        throw new TomlEditError(`${at}[${index}] is ${item}; TOML arrays cannot hold null`)
      }
      return normalise(item, `${at}[${index}]`)
    })
  }
  if (isTable(value)) {
    const out: Table = {}
    for (const [key, item] of Object.entries(value)) {
      if (LONE_SURROGATE.test(key)) throw new TomlEditError(`a key in ${at} contains an unpaired surrogate`)
      if (item !== null && item !== undefined) setOwn(out, key, normalise(item, `${at}.${key}`))
    }
    return out
  }
  throw new TomlEditError(`${at} is a ${describeType(value)}, which TOML cannot hold`)
}

function describeType(value: unknown): string {
  if (typeof value !== 'object' || value === null) return typeof value
  return (value as { constructor?: { name?: string } }).constructor?.name ?? 'object'
}

/** Plain or null-prototype objects (the `toml` package returns the latter); not Dates, Maps, classes. */
export function isTable(value: unknown): value is Table {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

export function hasOwn(table: Table, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(table, key)
}

/** Defines rather than assigns, so a `__proto__` key stays data instead of changing the prototype. */
function setOwn(table: Table, key: string, value: unknown): void {
  Object.defineProperty(table, key, { value, writable: true, enumerable: true, configurable: true })
}

export function getAt(root: Table, path: Path): unknown {
  let current: unknown = root
  for (const part of path) {
    if (!isTable(current) || !hasOwn(current, part)) return undefined
    current = current[part]
  }
  return current
}

function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone)
  if (value instanceof Date) return new Date(value.getTime())
  if (isTable(value)) {
    const out: Table = {}
    for (const [key, item] of Object.entries(value)) setOwn(out, key, clone(item))
    return out
  }
  return value
}

export function nest(path: Path, value: unknown): unknown {
  return path.reduceRight<unknown>((inner, key) => {
    const table: Table = {}
    setOwn(table, key, inner)
    return table
  }, value)
}

export function label(path: Path): string {
  return path.length === 0 ? 'the document root' : `\`${path.join('.')}\``
}

export function checkEdit(edit: TomlEdit): void {
  if (!Array.isArray(edit.path) || edit.path.some((part) => typeof part !== 'string')) {
    throw new TomlEditError('an edit path must be a list of key names')
  }
}

// ---------------------------------------------------------------------------------------------------
// Value semantics

/** The object value of a document after edits, for callers that validate before writing. */
export function applyEditsToValue(doc: Record<string, unknown>, edits: TomlEdit[]): Record<string, unknown> {
  const root = clone(doc) as Table
  for (const edit of edits) {
    checkEdit(edit)
    editValue(root, edit.path, edit.value, edit.mergeStrategy)
  }
  return root
}

function editValue(root: Table, path: Path, value: unknown, strategy: TomlEdit['mergeStrategy']): void {
  if (value === null || value === undefined) {
    if (path.length === 0) throw new TomlEditError('the document root cannot be removed')
    removeAt(root, path)
    return
  }
  const next = normalise(value, label(path))
  if (strategy === 'upsert' && isTable(next) && isTable(getAt(root, path))) {
    // Walk the raw value so that null members remove keys, as they do at the top of an edit.
    for (const [key, item] of Object.entries(value as Table)) editValue(root, [...path, key], item, 'upsert')
    return
  }
  if (path.length === 0) {
    if (!isTable(next)) throw new TomlEditError('the document root can only be set to a table')
    for (const key of Object.keys(root)) delete root[key]
    for (const [key, item] of Object.entries(next)) setOwn(root, key, item)
    return
  }
  let table = root
  for (const part of path.slice(0, -1)) {
    const child = hasOwn(table, part) ? table[part] : undefined
    if (isTable(child)) {
      table = child
    } else {
      const created: Table = {}
      setOwn(table, part, created)
      table = created
    }
  }
  setOwn(table, path[path.length - 1] as string, next)
}

function removeAt(root: Table, path: Path): void {
  const parent = getAt(root, path.slice(0, -1))
  const key = path[path.length - 1] as string
  if (isTable(parent) && hasOwn(parent, key)) delete parent[key]
}

/**
 * A canonical string for comparing read-back values: integers as bigints whatever their JS type (JSON
 * cannot tell 2 from 2.0), Dates by ISO string, key order ignored, and empty tables dropped, because
 * removing the last key of a table that only existed implicitly (`[a.b]`, `a.b = 1`) makes it vanish
 * from the text while the object model keeps `{}`; for config the two mean the same.
 */
export function canonical(value: unknown): string {
  switch (typeof value) {
    case 'bigint':
      return `i${value}`
    case 'number':
      return Number.isInteger(value) ? `i${BigInt(value)}` : `f${value}`
    case 'string':
      return JSON.stringify(value)
    case 'boolean':
      return String(value)
  }
  if (value instanceof Date) return `d${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()}`
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (isTable(value)) {
    const entries: string[] = []
    for (const key of Object.keys(value).sort()) {
      const item = canonical(value[key])
      if (item !== '{}') entries.push(`${JSON.stringify(key)}:${item}`)
    }
    return `{${entries.join(',')}}`
  }
  return `?${String(value)}`
}
