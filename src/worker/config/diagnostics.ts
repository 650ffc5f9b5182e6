/**
 * Config diagnostics that point at the file, line and column, formatted like a compiler message:
 *
 *     /home/me/.codex-desk/config.toml:2:23: invalid type: string "true", expected a boolean
 *       |
 *     2 | collaboration_modes = "true"
 *       |                       ^^^^^^
 *
 * Positions are 1-based with columns counted in Unicode scalars and the end inclusive, as codex
 * reports them (protocol.md §9). JavaScript strings index UTF-16 code units, so every column from a
 * parser is converted here. `toml-eslint-parser` (./tomlAst) is loaded only when there is a problem to locate.
 */
import type { AST } from 'toml-eslint-parser'
import type { parseTomlAst as ParseTomlAst } from './tomlAst'
import type { ConfigWarningNotification } from '../protocol/notifications'

export type ConfigWarning = ConfigWarningNotification

export interface Position {
  line: number
  column: number
}
export interface TextRange {
  start: Position
  end: Position
}

/** The TOML source of a layer, as diagnostics print it. */
export interface Source {
  /** A file path, or a label such as `--config` for session flags. */
  path: string
  text: string
}

type Span = { start: number; end: number } // UTF-16 offsets, end exclusive

/** The 1-based Unicode-scalar column of a UTF-16 offset within its line. */
function positionAt(text: string, offset: number): Position {
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  const lineStart = before.lastIndexOf('\n') + 1
  return { line, column: [...text.slice(lineStart, offset)].length + 1 }
}

/** UTF-16 offset of a 1-based line and 1-based UTF-16 column (what peg-based parsers report). */
export function offsetOf(text: string, line: number, utf16Column: number): number {
  let offset = 0
  for (let l = 1; l < line; l++) {
    const next = text.indexOf('\n', offset)
    if (next < 0) return text.length
    offset = next + 1
  }
  return Math.min(text.length, offset + Math.max(0, utf16Column - 1))
}

export function rangeOf(text: string, span: Span): TextRange {
  const start = positionAt(text, span.start)
  // End inclusive: the position of the last character, not the one after it.
  const lastChar = Math.max(span.start, span.end - 1)
  const end = span.end > span.start ? positionAt(text, lastChar) : start
  return { start, end }
}

/** `path:line:col: message`, the offending line with a gutter, and `^^^` under the span. */
export function formatDetails(source: Source, range: TextRange, message: string): string {
  const lines = source.text.split(/\r?\n/)
  const lineText = lines[range.start.line - 1] ?? ''
  const chars = [...lineText]
  const startIdx = range.start.column - 1
  const endIdx = range.end.line === range.start.line ? range.end.column - 1 : chars.length - 1
  const width = Math.max(1, endIdx - startIdx + 1)
  // Keep tabs so the underline lines up with the source whatever the tab width is.
  const pad = chars
    .slice(0, startIdx)
    .map((c) => (c === '\t' ? '\t' : ' '))
    .join('')
  const gutter = ' '.repeat(String(range.start.line).length)
  return [
    `${source.path}:${range.start.line}:${range.start.column}: ${message}`,
    `${gutter} |`,
    `${range.start.line} | ${lineText}`,
    `${gutter} | ${pad}${'^'.repeat(width)}`,
  ].join('\n')
}

export function diagnostic(
  summary: string,
  source: Source,
  span: Span | undefined,
  message: string,
  filePath: string | null,
): ConfigWarning {
  if (!span) return { summary, details: `${source.path}: ${message}`, path: filePath, range: null }
  const range = rangeOf(source.text, span)
  return { summary, details: formatDetails(source, range, message), path: filePath, range }
}

// ---- locating keys and values ----

type KeyPath = readonly (string | number)[]

const keyParts = (k: AST.TOMLKey): string[] =>
  k.keys.map((p) => (p.type === 'TOMLBare' ? p.name : String(p.value)))
const same = (a: KeyPath, b: KeyPath) =>
  a.length === b.length && a.every((x, i) => String(x) === String(b[i]))
const startsWith = (full: KeyPath, prefix: KeyPath) =>
  prefix.length <= full.length && prefix.every((x, i) => String(x) === String(full[i]))
const spanOf = (n: { range: [number, number] }): Span => ({ start: n.range[0], end: n.range[1] })

export interface Located {
  /** The key that names the path (or the table header). */
  key: Span
  /** The value; for a table header, the header itself. */
  value: Span
}

/**
 * Where `path` is set in the document: an exact key-value (top level, in a table, in an inline table),
 * a table header, or the part of a longer dotted key or header that names it.
 */
export function locate(ast: AST.TOMLProgram, path: KeyPath): Located | undefined {
  let partial: Located | undefined
  const visit = (kvs: readonly AST.TOMLKeyValue[], prefix: KeyPath): Located | undefined => {
    for (const kv of kvs) {
      const own = keyParts(kv.key)
      const full = [...prefix, ...own]
      if (same(full, path)) return { key: spanOf(kv.key), value: spanOf(kv.value) }
      if (startsWith(full, path) && !partial) {
        const part = kv.key.keys[path.length - prefix.length - 1]
        if (part) partial = { key: spanOf(part), value: spanOf(part) }
      }
      if (kv.value.type === 'TOMLInlineTable' && startsWith(path, full)) {
        const hit = visit(kv.value.body, full)
        if (hit) return hit
      }
    }
    return undefined
  }
  const top = ast.body[0]
  if (!top) return undefined
  for (const node of top.body) {
    if (node.type === 'TOMLKeyValue') {
      const hit = visit([node], [])
      if (hit) return hit
      continue
    }
    if (same(node.resolvedKey, path)) return { key: spanOf(node.key), value: spanOf(node.key) }
    if (startsWith(node.resolvedKey, path) && !partial)
      partial = { key: spanOf(node.key), value: spanOf(node.key) }
    if (startsWith(path, node.resolvedKey)) {
      const hit = visit(node.body, node.resolvedKey)
      if (hit) return hit
    }
  }
  return partial
}

let parseTomlAst: typeof ParseTomlAst | undefined

/** Parses for positions (long strings too, see ./tomlAst); only called when a problem needs locating. */
export async function loadAst(text: string): Promise<AST.TOMLProgram | undefined> {
  parseTomlAst ??= (await import('./tomlAst')).parseTomlAst
  try {
    return parseTomlAst(text, '1.0')
  } catch {
    try {
      return parseTomlAst(text, '1.1')
    } catch {
      return undefined
    }
  }
}

// ---- serde-like messages for schema problems ----

function describeInput(input: unknown): string {
  if (typeof input === 'string') return `string ${JSON.stringify(input)}`
  if (typeof input === 'boolean') return `boolean \`${input}\``
  if (typeof input === 'number')
    return Number.isInteger(input) ? `integer \`${input}\`` : `float \`${input}\``
  if (input instanceof Date) return `datetime \`${input.toISOString()}\``
  if (Array.isArray(input)) return 'a sequence'
  if (input && typeof input === 'object') return 'a table'
  return String(input)
}

const EXPECTED: Record<string, string> = {
  boolean: 'a boolean',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  object: 'a table',
  array: 'a sequence',
  record: 'a table',
}

export interface SchemaIssue {
  code: string
  path: PropertyKey[]
  input?: unknown
  expected?: string
  values?: readonly unknown[]
  keys?: readonly string[]
  minimum?: number | bigint
  format?: string
  message: string
}

export const dotted = (path: readonly PropertyKey[]) => path.map(String).join('.')

/** One line, in the words serde uses, so messages read like codex's. */
export function issueMessage(issue: SchemaIssue): string {
  const at = issue.path.length ? ` in \`${dotted(issue.path)}\`` : ''
  switch (issue.code) {
    case 'invalid_type':
      return `invalid type: ${describeInput(issue.input)}, expected ${EXPECTED[issue.expected ?? ''] ?? issue.expected}${at}`
    case 'invalid_value':
      return `unknown variant \`${String(issue.input)}\`, expected one of ${(issue.values ?? []).map((v) => `\`${String(v)}\``).join(', ')}${at}`
    case 'too_small':
      return `invalid value: ${describeInput(issue.input)}, expected at least ${String(issue.minimum)}${at}`
    case 'invalid_format':
      return `invalid value: ${describeInput(issue.input)}, expected ${issue.format === 'url' ? 'a URL' : `a ${issue.format}`}${at}`
    default:
      return `${issue.message}${at}`
  }
}
