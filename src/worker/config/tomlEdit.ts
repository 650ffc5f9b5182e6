/**
 * Comment-preserving edits to the user's `config.toml`, for `config/value/write` and `config/batchWrite`.
 * Edits work on the text: only the statements an edit touches are rewritten, so comments, blank lines and
 * spacing everywhere else survive byte for byte. This module must never return text that reads back as
 * anything but the intended value: every step is re-parsed and compared, and a mismatch throws
 * `TomlEditError` instead of handing broken or different config to the writer. It does no I/O.
 * The value side lives in ./tomlValue, the parsed text and its line arithmetic in ./tomlDoc.
 */
import toml from 'toml'
import type { AST } from 'toml-eslint-parser'
import {
  attachedCommentStart,
  describeParseError,
  indentOf,
  lineContentEnd,
  lineEndWithNewline,
  lineStartOf,
  loadDocument,
  parseDoc,
  removeLineRanges,
  samePath,
  sectionEnd,
  splice,
  startsWith,
  blankLineBefore,
  type Doc,
  type KvInfo,
  type SectionInfo,
} from './tomlDoc'
import {
  applyEditsToValue,
  canonical,
  checkEdit,
  getAt,
  hasOwn,
  isTable,
  label,
  nest,
  normalise,
  serialise,
  tomlKey,
  TomlEditError,
  type Path,
  type Table,
  type TomlEdit,
} from './tomlValue'

export {
  applyEditsToValue,
  tomlInlineValue,
  tomlKey,
  TomlEditError,
  type TomlEdit,
  type TomlValue,
} from './tomlValue'

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
