/**
 * A `config.toml` text as the editor sees it: the parsed value (`toml`), every key-value and section
 * with its place in the text (`toml-eslint-parser`, through ./tomlAst), and the line arithmetic edits
 * need (where a line or a section ends, which comments belong to a header). It never changes the
 * text itself except through `splice` and `removeLineRanges`, which callers re-parse and check.
 */
import toml from 'toml'
import { ParseError, type AST } from 'toml-eslint-parser'
import { parseTomlAst } from './tomlAst'
import type { KeyPath, Path, Table } from './tomlValue'
import { TomlEditError } from './tomlValue'

// ---------------------------------------------------------------------------------------------------
// The parsed text

export interface KvInfo {
  node: AST.TOMLKeyValue
  /** Section prefix + dotted key parts; array-of-tables entries carry their index as a number. */
  fullKey: KeyPath
  /** A statement on its own line (top level or in a section), as opposed to inside an inline table. */
  lineLevel: boolean
}

export interface SectionInfo {
  node: AST.TOMLTable
  headerKey: string[]
  lineStart: number
}

export interface Doc {
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

export function parseDoc(text: string): Doc {
  // `toml` first: it is what the rest of the app reads config with, and its positions are the better ones.
  const value = toml.parse(text, { bigint: true }) as Table
  const ast = parseTomlAst(text)
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

export function loadDocument(text: string): Doc {
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
    parseTomlAst(text)
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

export function describeParseError(error: unknown): string {
  if (error instanceof ParseError)
    return `${error.message} (line ${error.lineNumber}, column ${error.column + 1})`
  const message = (error as { message?: string }).message ?? String(error)
  const place = positionOf(error)
  return place ? `${message} (${place})` : message
}

export function startsWith(key: KeyPath, prefix: Path): boolean {
  return key.length >= prefix.length && prefix.every((part, index) => key[index] === part)
}

export function samePath(key: KeyPath, path: Path): boolean {
  return key.length === path.length && startsWith(key, path)
}

// ---------------------------------------------------------------------------------------------------
// Lines

/** Start of the line holding `pos`. */
export function lineStartOf(text: string, pos: number): number {
  return pos <= 0 ? 0 : text.lastIndexOf('\n', pos - 1) + 1
}

/** Just past the newline ending the line holding `pos` (or the end of the text). */
export function lineEndWithNewline(text: string, pos: number): number {
  const newline = text.indexOf('\n', pos)
  return newline === -1 ? text.length : newline + 1
}

/** End of the content of the line holding `pos`, before `\n` or `\r\n`. */
export function lineContentEnd(text: string, pos: number): number {
  const newline = text.indexOf('\n', pos)
  if (newline === -1) return text.length
  return newline > 0 && text[newline - 1] === '\r' ? newline - 1 : newline
}

/** Whether the line just before line start `pos` is blank. */
export function blankLineBefore(text: string, pos: number): boolean {
  return pos > 0 && text.slice(lineStartOf(text, pos - 1), pos).trim() === ''
}

function blankLineAt(text: string, pos: number): boolean {
  return pos < text.length && text.slice(pos, lineEndWithNewline(text, pos)).trim() === ''
}

export function indentOf(text: string, pos: number): string {
  const before = text.slice(lineStartOf(text, pos), pos)
  return /^[ \t]*$/.test(before) ? before : ''
}

/**
 * Start of the comment lines directly above a header (no blank line between): they describe that
 * section, so they go with it when it is removed and stay with it when the section before is removed.
 * A block reaching the top of the file is the file's own header and is never claimed.
 */
export function attachedCommentStart(doc: Doc, lineStart: number): number {
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
export function sectionEnd(doc: Doc, index: number): number {
  const section = doc.sections[index] as SectionInfo
  const next = doc.sections[index + 1]
  if (!next) return doc.text.length
  return Math.max(
    attachedCommentStart(doc, next.lineStart),
    lineEndWithNewline(doc.text, section.node.range[1]),
  )
}

export function splice(text: string, start: number, end: number, insert: string): string {
  return text.slice(0, start) + insert + text.slice(end)
}

/** Removes whole-line ranges, last first, tidying the blank lines each removal leaves around it. */
export function removeLineRanges(text: string, ranges: [number, number][]): string {
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
