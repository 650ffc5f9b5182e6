/**
 * toml-eslint-parser, for the places of keys and values in a TOML text, made safe for long strings.
 * Its tokenizer builds every string with `String.fromCodePoint(...codePoints)`, which overflows the
 * stack past about 120,000 characters ("Maximum call stack size exceeded"), while codex and the
 * `toml` package read 400,000-character values. So before parsing, a string literal longer than
 * MASK_ABOVE characters is replaced by a token of exactly the same length and line breaks that the
 * tokenizer does not build a string for: a value by an array of blanks (`[    ]`), a key by a bare
 * key (`k0_xxxx`). Afterwards those nodes become string nodes again, holding the real value.
 * It must never return a tree whose offsets, lines or columns differ from the text's; when masking
 * does not parse, the text is parsed as it is.
 */
import toml from 'toml'
import { parseTOML, type AST } from 'toml-eslint-parser'

/** Strings up to this many UTF-16 units go to the parser as they are. */
export const MASK_ABOVE = 4096

interface LongString {
  /** Offset of the opening delimiter: where the parser's node for the string starts. */
  start: number
  contentStart: number
  contentEnd: number
  /** Offset just past the closing delimiter. */
  end: number
  multiline: boolean
  style: 'basic' | 'literal'
  /** A key (before `=` or `.`, or in a `[table]` header) rather than a value. */
  key: boolean
}

type Version = '1.0' | '1.1'

export function parseTomlAst(text: string, tomlVersion: Version = '1.1'): AST.TOMLProgram {
  const long = longStrings(text)
  if (long.length === 0) return parseTOML(text, { tomlVersion })
  let masked = ''
  let at = 0
  long.forEach((string, index) => {
    masked += text.slice(at, string.start) + placeholder(text, string, index)
    at = string.end
  })
  masked += text.slice(at)
  let ast: AST.TOMLProgram
  try {
    ast = parseTOML(masked, { tomlVersion })
  } catch {
    return parseTOML(text, { tomlVersion })
  }
  restore(ast, text, long)
  return ast
}

/** Same length and line breaks as the literal; keys are single-line and unique by their number. */
function placeholder(text: string, string: LongString, index: number): string {
  const length = string.end - string.start
  if (string.key) {
    const tag = `k${index}_`
    return tag + 'x'.repeat(length - tag.length)
  }
  return `[${text.slice(string.start + 1, string.end - 1).replace(/[^\r\n]/g, ' ')}]`
}

/**
 * Every string literal longer than MASK_ABOVE, in order. Outside strings, TOML has quotes nowhere
 * and `#` starts a comment to the end of the line, so this is all the lexing needed. An unterminated
 * string ends the scan: the parser reports it.
 */
function longStrings(text: string): LongString[] {
  const found: LongString[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (c === '#') {
      const newline = text.indexOf('\n', i)
      if (newline === -1) break
      i = newline + 1
      continue
    }
    if (c !== '"' && c !== "'") {
      i++
      continue
    }
    const string = stringAt(text, i, c)
    if (!string) break
    if (string.contentEnd - string.contentStart > MASK_ABOVE) {
      string.key = !string.multiline && isKey(text, string)
      found.push(string)
    }
    i = string.end
  }
  return found
}

function stringAt(text: string, start: number, quote: '"' | "'"): LongString | undefined {
  const triple = quote.repeat(3)
  const basic = quote === '"'
  if (text.startsWith(triple, start)) {
    const contentStart = start + 3
    let j = contentStart
    for (;;) {
      j = basic ? nextUnescaped(text, j, contentStart) : text.indexOf(quote, j)
      if (j === -1) return undefined
      if (!text.startsWith(triple, j)) {
        j++
        continue
      }
      // Up to two quotes right before the closing three belong to the content.
      let run = 3
      while (run < 5 && text[j + run] === quote) run++
      const contentEnd = j + run - 3
      const style = basic ? 'basic' : 'literal'
      return { start, contentStart, contentEnd, end: contentEnd + 3, multiline: true, style, key: false }
    }
  }
  const contentStart = start + 1
  const close = basic ? nextUnescaped(text, contentStart, contentStart) : text.indexOf(quote, contentStart)
  const newline = text.indexOf('\n', contentStart)
  if (close === -1 || (newline !== -1 && newline < close)) return undefined
  const style = basic ? 'basic' : 'literal'
  return { start, contentStart, contentEnd: close, end: close + 1, multiline: false, style, key: false }
}

/**
 * A quoted key is followed by `=` or `.`, or ends a `[table]` header (a `]` on a line that starts
 * with `[`). A value in an array on such a line would be taken for a key and fail to parse masked,
 * which only means the text is parsed unmasked.
 */
function isKey(text: string, string: LongString): boolean {
  const next = /[^ \t]/.exec(text.slice(string.end, string.end + 256))?.[0]
  if (next === '=' || next === '.') return true
  if (next !== ']') return false
  const lineStart = text.lastIndexOf('\n', string.start) + 1
  return /^[ \t]*\[/.test(text.slice(lineStart, string.start))
}

/** The next `"` at or after `from` that no backslash escapes; backslashes before `floor` are not content. */
function nextUnescaped(text: string, from: number, floor: number): number {
  let at = from - 1
  for (;;) {
    at = text.indexOf('"', at + 1)
    if (at === -1) return -1
    let backslashes = 0
    while (at - 1 - backslashes >= floor && text[at - 1 - backslashes] === '\\') backslashes++
    if (backslashes % 2 === 0) return at
  }
}

/** Turns the placeholder nodes back into string nodes holding the real values, in place. */
function restore(ast: AST.TOMLProgram, text: string, long: LongString[]): void {
  const byStart = new Map<number, LongString>()
  const keyByTag = new Map<string, string>()
  for (const string of long) byStart.set(string.start, string)
  const valueAt = (string: LongString) => decode(text.slice(string.start, string.end))
  const visitKey = (key: AST.TOMLKey) => {
    for (const part of key.keys) {
      const string = part.type === 'TOMLBare' ? byStart.get(part.range[0]) : undefined
      if (!string) continue
      const value = valueAt(string)
      keyByTag.set((part as AST.TOMLBare).name, value)
      const quoted = part as unknown as Record<string, unknown>
      delete quoted.name
      Object.assign(quoted, {
        type: 'TOMLQuoted',
        kind: 'string',
        value,
        style: string.style,
        multiline: false,
      })
    }
  }
  const visitValue = (value: AST.TOMLContentNode): void => {
    if (value.type === 'TOMLArray') {
      const string = byStart.get(value.range[0])
      if (string) {
        const node = value as unknown as Record<string, unknown>
        delete node.elements
        Object.assign(node, {
          type: 'TOMLValue',
          kind: 'string',
          style: string.style,
          multiline: string.multiline,
        })
        // Decoded when read: reading 400,000 characters costs as much as parsing them again, and
        // the editor and the diagnostics only read keys.
        let decoded: string | undefined
        Object.defineProperty(node, 'value', {
          get: () => (decoded ??= valueAt(string)),
          set: (next: string) => (decoded = next),
          enumerable: true,
          configurable: true,
        })
        return
      }
      value.elements.forEach(visitValue)
    } else if (value.type === 'TOMLInlineTable') {
      value.body.forEach(visitKeyValue)
    }
  }
  const visitKeyValue = (kv: AST.TOMLKeyValue) => {
    visitKey(kv.key)
    visitValue(kv.value)
  }
  for (const node of ast.body[0].body) {
    if (node.type === 'TOMLKeyValue') {
      visitKeyValue(node)
      continue
    }
    visitKey(node.key)
    node.resolvedKey = node.resolvedKey.map((part) =>
      typeof part === 'string' ? (keyByTag.get(part) ?? part) : part,
    )
    node.body.forEach(visitKeyValue)
  }
}

/** A string literal's value, read by `toml` (which has no length limit). */
function decode(literal: string): string {
  return (toml.parse(`v = ${literal}`) as { v: string }).v
}
