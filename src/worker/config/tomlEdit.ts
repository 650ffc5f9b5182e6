/**
 * Comment-preserving edits to the user's `config.toml`, for `config/value/write` and `config/batchWrite`.
 * Edits work on the text: only the statements an edit touches are rewritten, so comments, blank lines and
 * spacing everywhere else survive byte for byte. This module must never return text that reads back as
 * anything but the intended value: every step is re-parsed and compared, and a mismatch throws
 * `TomlEditError` instead of handing broken or different config to the writer. It does no I/O.
 */
import toml from 'toml'
import { ParseError, parseTOML, type AST } from 'toml-eslint-parser'

export type TomlValue = string | number | boolean | Date | TomlValue[] | { [key: string]: TomlValue }

export interface TomlEdit {
  /** Key path, already split: ['features', 'collaboration_modes'], ['model_providers', 'my.id', 'base_url'] */
  path: string[]
  /** undefined (or null) removes the key (and its whole subtree) */
  value: unknown
  mergeStrategy: 'replace' | 'upsert'
}

export class TomlEditError extends Error {}

type Table = Record<string, unknown>
type Path = readonly string[]
type KeyPath = readonly (string | number)[]

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

function serialise(value: unknown): string {
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
function normalise(value: unknown, at: string): unknown {
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
function isTable(value: unknown): value is Table {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function hasOwn(table: Table, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(table, key)
}

/** Defines rather than assigns, so a `__proto__` key stays data instead of changing the prototype. */
function setOwn(table: Table, key: string, value: unknown): void {
  Object.defineProperty(table, key, { value, writable: true, enumerable: true, configurable: true })
}

function getAt(root: Table, path: Path): unknown {
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

function nest(path: Path, value: unknown): unknown {
  return path.reduceRight<unknown>((inner, key) => {
    const table: Table = {}
    setOwn(table, key, inner)
    return table
  }, value)
}

function label(path: Path): string {
  return path.length === 0 ? 'the document root' : `\`${path.join('.')}\``
}

function checkEdit(edit: TomlEdit): void {
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
function canonical(value: unknown): string {
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

// ---------------------------------------------------------------------------------------------------
// The parsed text

interface KvInfo {
  node: AST.TOMLKeyValue
  /** Section prefix + dotted key parts; array-of-tables entries carry their index as a number. */
  fullKey: KeyPath
  /** A statement on its own line (top level or in a section), as opposed to inside an inline table. */
  lineLevel: boolean
}

interface SectionInfo {
  node: AST.TOMLTable
  headerKey: string[]
  lineStart: number
}

interface Doc {
  text: string
  eol: string
  value: Table
  kvs: KvInfo[]
  topKvs: KvInfo[]
  sections: SectionInfo[]
  commentStarts: Set<number>
}

function keyParts(key: AST.TOMLKey): string[] {
  return key.keys.map((part) => (part.type === 'TOMLBare' ? part.name : part.value))
}

function parseDoc(text: string): Doc {
  // `toml` first: it is what the rest of the app reads config with, and its positions are the better ones.
  const value = toml.parse(text, { bigint: true }) as Table
  const ast = parseTOML(text, { tomlVersion: '1.1' })
  const newline = text.indexOf('\n')
  const doc: Doc = {
    text,
    eol: newline > 0 && text[newline - 1] === '\r' ? '\r\n' : '\n',
    value,
    kvs: [],
    topKvs: [],
    sections: [],
    commentStarts: new Set(ast.comments.map((comment) => comment.range[0])),
  }
  const addKv = (node: AST.TOMLKeyValue, prefix: KeyPath, lineLevel: boolean): KvInfo => {
    const info: KvInfo = { node, fullKey: [...prefix, ...keyParts(node.key)], lineLevel }
    doc.kvs.push(info)
    if (node.value.type === 'TOMLInlineTable') {
      for (const child of node.value.body) addKv(child, info.fullKey, false)
    }
    return info
  }
  for (const node of ast.body[0].body) {
    if (node.type === 'TOMLKeyValue') {
      doc.topKvs.push(addKv(node, [], true))
    } else {
      doc.sections.push({ node, headerKey: keyParts(node.key), lineStart: lineStartOf(text, node.range[0]) })
      for (const kv of node.body) addKv(kv, node.resolvedKey, true)
    }
  }
  return doc
}

function loadDocument(text: string): Doc {
  try {
    return parseDoc(text)
  } catch (error) {
    throw new TomlEditError(`the file is not valid TOML: ${describeInvalid(text, error)}`)
  }
}

/**
 * toml-eslint-parser words errors for people ("Unspecified values are invalid") but places some at the
 * end of the following line; `toml` places them on the offending character but lists grammar tokens.
 * Take the words of the one and the place of the other when both fail.
 */
function describeInvalid(text: string, error: unknown): string {
  let friendly: ParseError | undefined
  try {
    parseTOML(text, { tomlVersion: '1.1' })
  } catch (eslintError) {
    if (eslintError instanceof ParseError) friendly = eslintError
  }
  if (!friendly) return describeParseError(error)
  const place = error instanceof ParseError ? undefined : positionOf(error)
  return `${friendly.message} (${place ?? `line ${friendly.lineNumber}, column ${friendly.column + 1}`})`
}

function positionOf(error: unknown): string | undefined {
  const details = error as {
    line?: unknown
    column?: unknown
    location?: { start?: { line: number; column: number } }
  }
  const start = details.location?.start
  if (start) return `line ${start.line}, column ${start.column}`
  if (typeof details.line === 'number' && typeof details.column === 'number') {
    return `line ${details.line}, column ${details.column}`
  }
  return undefined
}

function describeParseError(error: unknown): string {
  if (error instanceof ParseError)
    return `${error.message} (line ${error.lineNumber}, column ${error.column + 1})`
  const message = (error as { message?: string }).message ?? String(error)
  const place = positionOf(error)
  return place ? `${message} (${place})` : message
}

function startsWith(key: KeyPath, prefix: Path): boolean {
  return key.length >= prefix.length && prefix.every((part, index) => key[index] === part)
}

function samePath(key: KeyPath, path: Path): boolean {
  return key.length === path.length && startsWith(key, path)
}

// ---------------------------------------------------------------------------------------------------
// Lines

/** Start of the line holding `pos`. */
function lineStartOf(text: string, pos: number): number {
  return pos <= 0 ? 0 : text.lastIndexOf('\n', pos - 1) + 1
}

/** Just past the newline ending the line holding `pos` (or the end of the text). */
function lineEndWithNewline(text: string, pos: number): number {
  const newline = text.indexOf('\n', pos)
  return newline === -1 ? text.length : newline + 1
}

/** End of the content of the line holding `pos`, before `\n` or `\r\n`. */
function lineContentEnd(text: string, pos: number): number {
  const newline = text.indexOf('\n', pos)
  if (newline === -1) return text.length
  return newline > 0 && text[newline - 1] === '\r' ? newline - 1 : newline
}

/** Whether the line just before line start `pos` is blank. */
function blankLineBefore(text: string, pos: number): boolean {
  return pos > 0 && text.slice(lineStartOf(text, pos - 1), pos).trim() === ''
}

function blankLineAt(text: string, pos: number): boolean {
  return pos < text.length && text.slice(pos, lineEndWithNewline(text, pos)).trim() === ''
}

function indentOf(text: string, pos: number): string {
  const before = text.slice(lineStartOf(text, pos), pos)
  return /^[ \t]*$/.test(before) ? before : ''
}

/**
 * Start of the comment lines directly above a header (no blank line between): they describe that
 * section, so they go with it when it is removed and stay with it when the section before is removed.
 * A block reaching the top of the file is the file's own header and is never claimed.
 */
function attachedCommentStart(doc: Doc, lineStart: number): number {
  let start = lineStart
  while (start > 0) {
    const previous = lineStartOf(doc.text, start - 1)
    const indent = /^[ \t]*/.exec(doc.text.slice(previous, start))?.[0].length ?? 0
    if (!doc.commentStarts.has(previous + indent)) break
    start = previous
  }
  return start === 0 ? lineStart : start
}

/** Where a section's lines end: before the next header's comments, or at the end of the file. */
function sectionEnd(doc: Doc, index: number): number {
  const section = doc.sections[index] as SectionInfo
  const next = doc.sections[index + 1]
  if (!next) return doc.text.length
  return Math.max(
    attachedCommentStart(doc, next.lineStart),
    lineEndWithNewline(doc.text, section.node.range[1]),
  )
}

function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end)
}

/** Removes whole-line ranges, last first, tidying the blank lines each removal leaves around it. */
function removeLineRanges(text: string, ranges: [number, number][]): string {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0])
  const merged: [number, number][] = []
  for (const range of sorted) {
    const last = merged[merged.length - 1]
    if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1])
    else merged.push([...range])
  }
  let out = text
  for (const [rangeStart, rangeEnd] of merged.reverse()) {
    let start = rangeStart
    let end = rangeEnd
    if (end >= out.length) {
      // Removing the tail: do not leave the file ending in blank lines.
      end = out.length
      while (start > 0 && blankLineBefore(out, start)) start = lineStartOf(out, start - 1)
    } else if (start === 0 || blankLineBefore(out, start)) {
      // Blank on both sides: keep one separation, not two.
      while (blankLineAt(out, end)) end = lineEndWithNewline(out, end)
    }
    out = splice(out, start, end, '')
  }
  return out
}

// ---------------------------------------------------------------------------------------------------
// Text edits

/** Applies the edits in order; returns the new text. Throws TomlEditError when the text is not valid TOML or an edit cannot be expressed. */
export function applyTomlEdits(text: string, edits: TomlEdit[]): string {
  const original = loadDocument(text)
  let doc = original
  for (const edit of edits) {
    checkEdit(edit)
    doc = applyEdit(doc, edit.path, edit.value, edit.mergeStrategy)
  }
  // Every step was checked already; this last comparison also covers how the steps combine.
  const expected = applyEditsToValue(original.value, edits)
  const paths = edits.map((edit) => label(edit.path)).join(', ')
  let actual: unknown
  try {
    actual = toml.parse(doc.text, { bigint: true })
  } catch (error) {
    throw new TomlEditError(
      `could not express the edits to ${paths} in TOML: the result does not parse (${describeParseError(error)})`,
    )
  }
  if (canonical(actual) !== canonical(expected)) {
    throw new TomlEditError(
      `could not express the edits to ${paths} in TOML: the result reads back differently`,
    )
  }
  return doc.text
}

function applyEdit(doc: Doc, path: Path, value: unknown, strategy: TomlEdit['mergeStrategy']): Doc {
  if (value === null || value === undefined) return removeKey(doc, path)
  const next = normalise(value, label(path))
  const existing = getAt(doc.value, path)
  if (isTable(existing) && isTable(next)) {
    // Table onto table: edit key by key (replace also drops the keys it does not name), so the
    // section's comments and layout stay instead of being rewritten wholesale.
    let current = doc
    if (strategy === 'replace') {
      for (const key of Object.keys(existing)) {
        if (!hasOwn(next, key)) current = removeKey(current, [...path, key])
      }
    }
    for (const [key, item] of Object.entries(value as Table)) {
      current = applyEdit(current, [...path, key], item, strategy)
    }
    return current
  }
  if (path.length === 0) throw new TomlEditError('the document root can only be set to a table')
  return setKey(doc, path, next)
}

type Candidate = () => string | null

/** Takes the first candidate text that parses and reads back as `expected`. */
function firstThatReadsBack(path: Path, expected: Table, candidates: Candidate[]): Doc {
  let reason = 'no place to write it was found'
  for (const candidate of candidates) {
    let text: string | null
    let doc: Doc
    try {
      text = candidate()
      if (text === null) continue
      doc = parseDoc(text)
    } catch (error) {
      reason = `the result would not parse (${describeParseError(error)})`
      continue
    }
    if (canonical(doc.value) === canonical(expected)) return doc
    reason = 'the result would read back as a different value'
  }
  throw new TomlEditError(`could not express the edit to ${label(path)} in TOML: ${reason}`)
}

function removeKey(doc: Doc, path: Path): Doc {
  if (path.length === 0) throw new TomlEditError('the document root cannot be removed')
  if (getAt(doc.value, path) === undefined) return doc
  const expected = applyEditsToValue(doc.value, [{ path: [...path], value: null, mergeStrategy: 'replace' }])
  return firstThatReadsBack(path, expected, [() => removeDefinitions(doc, path).text])
}

/** Removes every statement that defines `path` or something below it. */
function removeDefinitions(doc: Doc, path: Path): Doc {
  let current = doc
  // One group of line removals, then inline-table members one by one (their ranges shift each time).
  for (let round = 0; round < 10_000; round++) {
    const text = removeOnce(current, path)
    if (text === null) return current
    current = parseDoc(text)
  }
  throw new TomlEditError(`could not remove ${label(path)}: too many definitions`)
}

function removeOnce(doc: Doc, path: Path): string | null {
  const ranges: [number, number][] = []
  const removedSections = new Set<AST.TOMLTable>()
  doc.sections.forEach((section, index) => {
    if (!startsWith(section.headerKey, path)) return
    removedSections.add(section.node)
    ranges.push([attachedCommentStart(doc, section.lineStart), sectionEnd(doc, index)])
  })
  for (const kv of doc.kvs) {
    if (!kv.lineLevel || !startsWith(kv.fullKey, path)) continue
    const parent = kv.node.parent
    if (parent.type === 'TOMLTable' && removedSections.has(parent)) continue
    // The whole line goes, trailing comment included; comment lines above stay.
    ranges.push([lineStartOf(doc.text, kv.node.range[0]), lineEndWithNewline(doc.text, kv.node.range[1])])
  }
  if (ranges.length > 0) return removeLineRanges(doc.text, ranges)

  const member = doc.kvs.find((kv) => !kv.lineLevel && startsWith(kv.fullKey, path))
  if (!member) return null
  const table = member.node.parent as AST.TOMLInlineTable
  const body = table.body
  const index = body.indexOf(member.node)
  const following = body[index + 1]
  const preceding = body[index - 1]
  if (following) return splice(doc.text, member.node.range[0], following.range[0], '')
  if (preceding) return splice(doc.text, preceding.range[1], member.node.range[1], '')
  return splice(doc.text, table.range[0], table.range[1], '{}')
}

function setKey(doc: Doc, path: Path, value: unknown): Doc {
  // Below a value that is not a table (a scalar, an array, an array of tables) the whole value becomes
  // a table, so write that ancestor instead.
  for (let depth = 1; depth < path.length; depth++) {
    const ancestor = getAt(doc.value, path.slice(0, depth))
    if (ancestor === undefined) break
    if (!isTable(ancestor)) return setKey(doc, path.slice(0, depth), nest(path.slice(depth), value))
  }
  const expected = applyEditsToValue(doc.value, [{ path: [...path], value, mergeStrategy: 'replace' }])
  let cleared: Doc | undefined
  const afterRemoval = (): Doc => (cleared ??= removeDefinitions(doc, path))
  return firstThatReadsBack(path, expected, [
    () => replaceExistingValue(doc, path, value),
    () => insertIntoInlineTable(doc, path, value),
    () => insertIntoSection(afterRemoval(), path, value),
    () => insertNewSection(afterRemoval(), path, value, true),
    () => insertTopLevel(afterRemoval(), path, value),
    () => insertNewSection(afterRemoval(), path, value, false),
  ])
}

function dotted(path: Path): string {
  return path.map(tomlKey).join('.')
}

/** `key = value` already there: only the value's text changes. */
function replaceExistingValue(doc: Doc, path: Path, value: unknown): string | null {
  const kv = doc.kvs.find((candidate) => samePath(candidate.fullKey, path))
  if (!kv) return null
  return splice(doc.text, kv.node.value.range[0], kv.node.value.range[1], serialise(value))
}

/** `a = { x = 1 }` and the path goes below `a`: add a member to the inline table. */
function insertIntoInlineTable(doc: Doc, path: Path, value: unknown): string | null {
  let owner: KvInfo | undefined
  for (const kv of doc.kvs) {
    if (kv.node.value.type !== 'TOMLInlineTable' || kv.fullKey.length >= path.length) continue
    if (startsWith(path, kv.fullKey as Path) && (!owner || kv.fullKey.length > owner.fullKey.length))
      owner = kv
  }
  if (!owner || owner.node.value.type !== 'TOMLInlineTable') return null
  const table = owner.node.value
  const entry = `${dotted(path.slice(owner.fullKey.length))} = ${serialise(value)}`
  const last = table.body[table.body.length - 1]
  if (!last) return splice(doc.text, table.range[0], table.range[1], `{ ${entry} }`)
  return splice(doc.text, last.range[1], last.range[1], `, ${entry}`)
}

/** A line after the statement ending at `pos` (after its trailing comment), ending the file with a newline. */
function insertLineAfter(doc: Doc, pos: number, line: string): string {
  const end = lineContentEnd(doc.text, pos)
  const insert = doc.eol + line + (end === doc.text.length ? doc.eol : '')
  return splice(doc.text, end, end, insert)
}

/** `rest.of.path = value` at the end of the deepest `[section]` above the path. */
function insertIntoSection(doc: Doc, path: Path, value: unknown): string | null {
  let target: SectionInfo | undefined
  for (const section of doc.sections) {
    const key = section.node.resolvedKey
    if (section.node.kind !== 'standard' || key.length >= path.length || !startsWith(path, key as Path))
      continue
    if (!target || key.length > target.node.resolvedKey.length) target = section
  }
  if (!target) return null
  const line = `${dotted(path.slice(target.node.resolvedKey.length))} = ${serialise(value)}`
  const last = target.node.body[target.node.body.length - 1]
  const indent = last ? indentOf(doc.text, last.range[0]) : ''
  return insertLineAfter(doc, target.node.range[1], indent + line)
}

/**
 * A new `[section]`: the path itself for a table value, else its parent holding the last key. It goes
 * after the last section sharing the most leading key parts (so `[model_providers.local]` joins the
 * other providers), else at the end of the file.
 */
function insertNewSection(
  doc: Doc,
  path: Path,
  value: unknown,
  onlyWithoutTopLevelKeys: boolean,
): string | null {
  const header = isTable(value) ? path : path.slice(0, -1)
  if (header.length === 0) return null
  if (onlyWithoutTopLevelKeys && doc.topKvs.some((kv) => kv.fullKey[0] === path[0])) return null
  const entries: [string, unknown][] = isTable(value)
    ? Object.entries(value)
    : [[path[path.length - 1] as string, value]]
  const lines = [
    `[${dotted(header)}]`,
    ...entries.map(([key, item]) => `${tomlKey(key)} = ${serialise(item)}`),
  ]

  let after = -1
  let shared = 0
  doc.sections.forEach((section, index) => {
    let common = 0
    while (common < header.length && section.headerKey[common] === header[common]) common++
    if (common > 0 && common >= shared) {
      shared = common
      after = index
    }
  })
  const { text, eol } = doc
  const at = after === -1 ? text.length : sectionEnd(doc, after)
  if (at >= text.length) {
    if (text.trim() === '') return text + lines.join(eol) + eol
    let out = text.endsWith('\n') ? text : text + eol
    if (!blankLineBefore(out, out.length)) out += eol
    return out + lines.join(eol) + eol
  }
  const lead = blankLineBefore(text, at) ? '' : eol
  return splice(text, at, at, lead + lines.join(eol) + eol + eol)
}

/** `path = value` among the top-level keys, or before the first section when there are none. */
function insertTopLevel(doc: Doc, path: Path, value: unknown): string {
  const line = `${dotted(path)} = ${serialise(value)}`
  const { text, eol } = doc
  const last = doc.topKvs[doc.topKvs.length - 1]
  if (last) return insertLineAfter(doc, last.node.range[1], indentOf(text, last.node.range[0]) + line)
  const first = doc.sections[0]
  if (first) {
    const at = attachedCommentStart(doc, first.lineStart)
    return splice(text, at, at, line + eol + eol)
  }
  const out = text === '' || text.endsWith('\n') ? text : text + eol
  return out + line + eol
}
