/**
 * The front matter of a codex-format SKILL.md: the small YAML subset skills use (block mappings,
 * plain, quoted and block scalars, nested mappings, block and flow collections), and the checks
 * codex applies to `name`, `description` and `metadata.short-description`. A skill that does not
 * parse gets a message naming the problem and, for YAML errors, its line and column.
 *
 * It must never throw for bad input (every problem is a `YamlError` or an `{ok: false}` result) and
 * never evaluate anything YAML could ask for (anchors, aliases and tags are refused). No I/O.
 */

/** codex's limits, in characters. */
const MAX_NAME = 64
const MAX_DESCRIPTION = 1024
const MAX_SHORT_DESCRIPTION = 500

export type YamlNode =
  | { kind: 'scalar'; value: string; line: number; col: number }
  | { kind: 'null'; line: number; col: number }
  | { kind: 'sequence'; line: number; col: number }
  | { kind: 'mapping'; entries: Map<string, YamlNode>; line: number; col: number }

export class YamlError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly col: number,
    /** What the parser was in the middle of, e.g. "while scanning a quoted scalar at line 1 column 7". */
    readonly context?: string,
  ) {
    super(message)
  }

  /** serde_yaml's layout: `<problem> at line L column C[, <context>]`. */
  describe(): string {
    return `${this.message} at line ${this.line} column ${this.col}${this.context ? `, ${this.context}` : ''}`
  }
}

interface Line {
  text: string
  indent: number
  /** 1-based, counted from the first line after the opening `---`. */
  no: number
}

const isBlank = (line: Line) => line.text.trim() === '' || line.text.trim().startsWith('#')
const KEY =
  /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"[\]{},&*!|>%@`-][^:]*?|-[^\s:][^:]*?)[ \t]*:(?:[ \t]+|$)/

export function parseFrontMatter(yaml: string): Map<string, YamlNode> {
  const lines: Line[] = yaml.split('\n').map((raw, i) => {
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw
    const indent = text.length - text.trimStart().length
    if (/^ *\t/.test(text) && text.trim() !== '') {
      throw new YamlError('found a tab character where an indentation space is expected', i + 1, 1)
    }
    return { text, indent, no: i + 1 }
  })
  const first = lines.find((l) => !isBlank(l))
  if (!first) return new Map()
  if (first.indent > 0 || /^-( |$)/.test(first.text.trim())) {
    throw new YamlError('the front matter must be a mapping of keys to values', first.no, first.indent + 1)
  }
  const { node, next } = parseMapping(lines, lines.indexOf(first), 0)
  const rest = lines.slice(next).find((l) => !isBlank(l))
  if (rest) throw new YamlError('did not find expected key', rest.no, rest.indent + 1)
  return node.entries
}

function parseMapping(
  lines: Line[],
  start: number,
  indent: number,
): { node: Extract<YamlNode, { kind: 'mapping' }>; next: number } {
  const entries = new Map<string, YamlNode>()
  const head = lines[start] as Line
  let i = start
  while (i < lines.length) {
    const line = lines[i] as Line
    if (isBlank(line)) {
      i++
      continue
    }
    if (line.indent < indent) break
    if (line.indent > indent)
      throw new YamlError('mapping values are not allowed here', line.no, line.indent + 1)
    const content = line.text.slice(indent)
    const match = KEY.exec(content)
    if (!match) throw new YamlError("could not find expected ':'", line.no, indent + 1)
    const key = unquoteKey(match[1] as string)
    if (entries.has(key)) throw new YamlError(`duplicate key \`${key}\``, line.no, indent + 1)
    const valueCol = indent + match[0].length + 1
    const { node, next } = parseValue(lines, i, indent, content.slice(match[0].length), valueCol)
    entries.set(key, node)
    i = next
  }
  return { node: { kind: 'mapping', entries, line: head.no, col: indent + 1 }, next: i }
}

function unquoteKey(raw: string): string {
  if (raw.startsWith('"')) return unescapeDouble(raw.slice(1, -1), 0, 0)
  if (raw.startsWith("'")) return raw.slice(1, -1).replaceAll("''", "'")
  return raw.trim()
}

/** The value after `key:` on line `i`, and the index of the first line after it. */
function parseValue(
  lines: Line[],
  i: number,
  indent: number,
  rest: string,
  col: number,
): { node: YamlNode; next: number } {
  const line = lines[i] as Line
  const at = { line: line.no, col }
  const text = rest.trimEnd()
  if (text === '' || text.startsWith('#')) {
    let j = i + 1
    while (j < lines.length && isBlank(lines[j] as Line)) j++
    const child = lines[j]
    if (child && child.indent >= indent && /^-( |$)/.test(child.text.trim())) {
      // A block sequence may sit at the key's own indentation.
      let k = j
      while (k < lines.length) {
        const l = lines[k] as Line
        if (!isBlank(l) && (l.indent < indent || (l.indent === indent && !/^-( |$)/.test(l.text.trim()))))
          break
        k++
      }
      return { node: { kind: 'sequence', line: child.no, col: child.indent + 1 }, next: k }
    }
    if (child && child.indent > indent) return parseMapping(lines, j, child.indent)
    return { node: { kind: 'null', ...at }, next: i + 1 }
  }
  if (/^[&*!]/.test(text)) {
    throw new YamlError('anchors, aliases and tags are not supported in skill front matter', at.line, at.col)
  }
  if (text[0] === '|' || text[0] === '>') return blockScalar(lines, i, indent, text, at)
  if (text[0] === '"' || text[0] === "'") return quotedScalar(lines, i, rest, at)
  if (text[0] === '[' || text[0] === '{') return flowCollection(lines, i, text, at)
  // A plain scalar, possibly continued on more-indented lines (folded with spaces).
  let value = stripComment(text)
  if (/:(\s|$)/.test(value))
    throw new YamlError('mapping values are not allowed in this context', at.line, at.col)
  let j = i + 1
  let pendingBreaks = 0
  while (j < lines.length) {
    const l = lines[j] as Line
    if (l.text.trim() === '') {
      pendingBreaks++
      j++
      continue
    }
    if (l.indent <= indent || l.text.trim().startsWith('#')) break
    const part = stripComment(l.text.trim())
    value += pendingBreaks > 0 ? '\n'.repeat(pendingBreaks) + part : ' ' + part
    pendingBreaks = 0
    j++
  }
  if (/^(null|Null|NULL|~)$/.test(value)) return { node: { kind: 'null', ...at }, next: j }
  return { node: { kind: 'scalar', value, ...at }, next: j }
}

function stripComment(text: string): string {
  const hash = text.search(/\s#/)
  return (hash === -1 ? text : text.slice(0, hash)).trimEnd()
}

function blockScalar(
  lines: Line[],
  i: number,
  indent: number,
  header: string,
  at: { line: number; col: number },
): { node: YamlNode; next: number } {
  const m = /^([|>])([+-]?)([1-9]?)([+-]?)\s*(#.*)?$/.exec(header)
  if (!m) throw new YamlError('invalid block scalar header', at.line, at.col)
  const folded = m[1] === '>'
  const chomp = m[2] || m[4]
  let j = i + 1
  const body: string[] = []
  let contentIndent = m[3] ? indent + Number(m[3]) : -1
  while (j < lines.length) {
    const l = lines[j] as Line
    if (l.text.trim() === '') {
      body.push('')
      j++
      continue
    }
    if (l.indent <= indent) break
    if (contentIndent === -1) contentIndent = l.indent
    if (l.indent < contentIndent) break
    body.push(l.text.slice(contentIndent))
    j++
  }
  // Trailing blank lines belong to the scalar only for chomping; the next key starts after them.
  let end = body.length
  while (end > 0 && body[end - 1] === '') end--
  const kept = body.slice(0, end)
  let value = folded
    ? kept.reduce((acc, part, k) => {
        if (k === 0) return part
        const prev = kept[k - 1] as string
        if (part === '' || prev === '' || part.startsWith(' ') || prev.startsWith(' '))
          return acc + '\n' + part
        return acc + ' ' + part
      }, '')
    : kept.join('\n')
  if (chomp === '+') value += '\n'.repeat(body.length - end + (kept.length ? 1 : 0))
  else if (chomp !== '-' && kept.length) value += '\n'
  return { node: { kind: 'scalar', value, ...at }, next: j }
}

function quotedScalar(
  lines: Line[],
  i: number,
  rest: string,
  at: { line: number; col: number },
): { node: YamlNode; next: number } {
  const quote = rest[0] as string
  // Gather the text up to the closing quote, across lines (line breaks fold to spaces).
  let source = rest.slice(1)
  let j = i
  for (;;) {
    const close = findClosingQuote(source, quote)
    if (close !== -1) {
      const after = source.slice(close + 1).trim()
      if (after !== '' && !after.startsWith('#')) {
        throw new YamlError('did not find expected key after a quoted scalar', (lines[j] as Line).no, 1)
      }
      const raw = source.slice(0, close)
      const value =
        quote === '"'
          ? unescapeDouble(foldQuoted(raw), at.line, at.col)
          : foldQuoted(raw).replaceAll("''", "'")
      return { node: { kind: 'scalar', value, ...at }, next: j + 1 }
    }
    j++
    const l = lines[j]
    if (!l) {
      const last = lines[j - 1] as Line
      throw new YamlError(
        'found unexpected end of stream',
        last.no,
        last.text.length + 1,
        `while scanning a quoted scalar at line ${at.line} column ${at.col}`,
      )
    }
    source += '\n' + l.text.trim()
  }
}

function findClosingQuote(text: string, quote: string): number {
  for (let k = 0; k < text.length; k++) {
    if (quote === '"' && text[k] === '\\') k++
    else if (text[k] === quote) {
      if (quote === "'" && text[k + 1] === "'") k++
      else return k
    }
  }
  return -1
}

/** Inside quotes a single line break is a space and an empty line is a newline. */
const foldQuoted = (raw: string) => raw.replace(/\n(\n*)/g, (_m, extra: string) => (extra ? extra : ' '))

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  '"': '"',
  '\\': '\\',
  '/': '/',
  ' ': ' ',
  e: '\x1b',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
  N: '\u0085',
  _: '\u00a0',
  L: '\u2028',
  P: '\u2029',
}

function unescapeDouble(raw: string, line: number, col: number): string {
  return raw.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|\n|.)/g, (_m, esc: string) => {
    if (esc === '\n') return ''
    if (/^[xuU]/.test(esc) && esc.length > 1) return String.fromCodePoint(parseInt(esc.slice(1), 16))
    const out = ESCAPES[esc]
    if (out === undefined) throw new YamlError(`unknown escape character \`\\${esc}\``, line, col)
    return out
  })
}

function flowCollection(
  lines: Line[],
  i: number,
  text: string,
  at: { line: number; col: number },
): { node: YamlNode; next: number } {
  let depth = 0
  let quote: string | null = null
  let j = i
  let source = text
  for (;;) {
    for (let k = 0; k < source.length; k++) {
      const c = source[k]
      if (quote) {
        if (c === '\\' && quote === '"') k++
        else if (c === quote) quote = null
      } else if (c === '"' || c === "'") quote = c
      else if (c === '[' || c === '{') depth++
      else if (c === ']' || c === '}') depth--
      else if (c === '#' && (k === 0 || /\s/.test(source[k - 1] as string))) break
    }
    if (depth <= 0) break
    j++
    const l = lines[j]
    if (!l) throw new YamlError(`did not find the end of a flow collection`, at.line, at.col)
    source = l.text
  }
  const kind = text[0] === '[' ? 'sequence' : 'mapping'
  return {
    node: kind === 'sequence' ? { kind, ...at } : { kind, entries: new Map(), ...at },
    next: j + 1,
  }
}

// ---------------------------------------------------------------------------------------------
// One SKILL.md

export type ParsedSkill =
  | { ok: true; name: string; description: string; shortDescription: string | null }
  | { ok: false; message: string }

/** The text between the first `---` line and the next one; null when there is none (codex's rule). */
export function extractFrontMatter(text: string): string | null {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l))
  if (lines[0]?.trim() !== '---') return null
  const end = lines.findIndex((l, k) => k > 0 && l.trim() === '---')
  if (end <= 1) return null
  return lines.slice(1, end).join('\n')
}

const singleLine = (value: string) => value.split(/\s+/).filter(Boolean).join(' ')
const typeName = (node: YamlNode) =>
  node.kind === 'sequence' ? 'sequence' : node.kind === 'mapping' ? 'map' : 'null'
const typeError = (field: string, node: YamlNode, expected: string) =>
  `invalid YAML: ${field}: invalid type: ${typeName(node)}, expected ${expected} at line ${node.line} column ${node.col}`

/** Parses a SKILL.md; `folder` (its folder's name) stands in for a missing or empty `name`. */
export function parseSkill(text: string, folder: string): ParsedSkill {
  const yaml = extractFrontMatter(text)
  if (yaml === null) return { ok: false, message: 'missing YAML frontmatter delimited by ---' }
  let fields: Map<string, YamlNode>
  try {
    fields = parseFrontMatter(yaml)
  } catch (error) {
    if (error instanceof YamlError) {
      return { ok: false, message: `invalid YAML: ${error.describe()}` }
    }
    throw error
  }
  const nameNode = fields.get('name')
  const descNode = fields.get('description')
  const metaNode = fields.get('metadata')
  if (nameNode && nameNode.kind !== 'scalar' && nameNode.kind !== 'null') {
    return { ok: false, message: typeError('name', nameNode, 'a string') }
  }
  if (descNode && descNode.kind !== 'scalar' && descNode.kind !== 'null') {
    return { ok: false, message: typeError('description', descNode, 'a string') }
  }
  if (metaNode && metaNode.kind !== 'mapping' && metaNode.kind !== 'null') {
    return { ok: false, message: typeError('metadata', metaNode, 'a map') }
  }
  let shortDescription: string | null = null
  if (metaNode?.kind === 'mapping') {
    const keys = ['short-description', 'shortDescription', 'short_description']
    const short = keys.map((k) => metaNode.entries.get(k)).find((n) => n !== undefined)
    if (short && short.kind !== 'scalar' && short.kind !== 'null') {
      return { ok: false, message: typeError('metadata.short-description', short, 'a string') }
    }
    if (short?.kind === 'scalar') shortDescription = singleLine(short.value) || null
  }
  const name = (nameNode?.kind === 'scalar' && singleLine(nameNode.value)) || singleLine(folder)
  const description = descNode?.kind === 'scalar' ? singleLine(descNode.value) : ''
  const checks: [string, string, number][] = [
    ['name', name, MAX_NAME],
    ['description', description, MAX_DESCRIPTION],
  ]
  if (shortDescription !== null)
    checks.push(['metadata.short-description', shortDescription, MAX_SHORT_DESCRIPTION])
  for (const [field, value, max] of checks) {
    if (value === '') return { ok: false, message: `missing field \`${field}\`` }
    if ([...value].length > max) {
      return { ok: false, message: `invalid ${field}: exceeds maximum length of ${max} characters` }
    }
  }
  return { ok: true, name, description, shortDescription }
}
