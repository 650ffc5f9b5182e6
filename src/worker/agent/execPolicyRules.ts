/**
 * codex's rules-file format, as text: parses the `prefix_rule(...)` subset of its Starlark rules
 * files into rules and problems, writes the line codex appends for an allowed prefix, cuts rules
 * out of a file's text, and describes a pattern for people. No file access: agent/execPolicy reads,
 * watches and writes the files.
 *
 * It must never accept a line it cannot parse as a rule (a malformed statement becomes a problem
 * and is skipped, the rest of the file still counts), and never throw on what a user wrote.
 */
import { shellJoin } from './exec/shell'

export type RuleDecision = 'allow' | 'prompt' | 'forbidden'

export interface PrefixRule {
  /** One entry per argv position: the words allowed there (alternatives). */
  pattern: string[][]
  decision: RuleDecision
  justification: string | null
  /** The file (a name inside the rules folder) and 1-based line the rule starts on. */
  file: string
  line: number
  /** Where the rule's text sits in its file, for removal. */
  start: number
  end: number
}

export interface RuleProblem {
  file: string
  line: number
  message: string
}

export interface LoadedRules {
  rules: PrefixRule[]
  problems: RuleProblem[]
}

// ---------------------------------------------------------------------------------------------
// Parsing: the `prefix_rule(...)` subset of codex's Starlark rules files.

interface Token {
  kind: 'ident' | 'string' | 'punct'
  value: string
  line: number
  start: number
  end: number
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  '0': '\0',
  '\\': '\\',
  '"': '"',
  "'": "'",
  '/': '/',
}

function tokenize(text: string, file: string, problems: RuleProblem[]): Token[] {
  const tokens: Token[] = []
  let line = 1
  let i = 0
  const skipLine = () => {
    while (i < text.length && text[i] !== '\n') i++
  }
  while (i < text.length) {
    const c = text[i] as string
    if (c === '\n') {
      line++
      i++
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++
    } else if (c === '#') {
      skipLine()
    } else if (/[A-Za-z_]/.test(c)) {
      const start = i
      while (i < text.length && /[A-Za-z0-9_]/.test(text[i] as string)) i++
      tokens.push({ kind: 'ident', value: text.slice(start, i), line, start, end: i })
    } else if ('()[],='.includes(c)) {
      tokens.push({ kind: 'punct', value: c, line, start: i, end: i + 1 })
      i++
    } else if (c === '"' || c === "'") {
      const start = i
      let value = ''
      let j = i + 1
      let closed = false
      let bad: string | null = null
      while (j < text.length && text[j] !== '\n') {
        const d = text[j] as string
        if (d === c) {
          closed = true
          break
        }
        if (d === '\\') {
          const e = text[j + 1] ?? ''
          if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) {
            value += String.fromCharCode(Number.parseInt(text.slice(j + 2, j + 6), 16))
            j += 6
            continue
          }
          const escaped = ESCAPES[e]
          if (escaped === undefined) bad ??= `unsupported escape \\${e}`
          value += escaped ?? ''
          j += 2
          continue
        }
        value += d
        j++
      }
      if (!closed || bad) {
        problems.push({ file, line, message: bad ?? 'unterminated string' })
        i = j
        skipLine()
        // Whatever was on this line cannot be trusted: drop its tokens too.
        while (tokens.length > 0 && (tokens.at(-1) as Token).line === line) tokens.pop()
        continue
      }
      i = j + 1
      tokens.push({ kind: 'string', value, line, start, end: i })
    } else {
      problems.push({ file, line, message: `unexpected character ${JSON.stringify(c)}` })
      skipLine()
      while (tokens.length > 0 && (tokens.at(-1) as Token).line === line) tokens.pop()
    }
  }
  return tokens
}

class RuleSyntaxError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message)
  }
}

type Value = string | Value[]

/** Parses every statement of a rules file; each bad statement becomes a problem and is skipped. */
export function parseRules(text: string, file: string): LoadedRules {
  const problems: RuleProblem[] = []
  const tokens = tokenize(text, file, problems)
  const rules: PrefixRule[] = []
  let pos = 0
  const peek = () => tokens[pos]
  const expect = (value: string): Token => {
    const token = tokens[pos]
    if (!token || token.kind !== 'punct' || token.value !== value) {
      throw new RuleSyntaxError(`expected \`${value}\``, pos)
    }
    pos++
    return token
  }
  const parseValue = (): Value => {
    const token = peek()
    if (!token) throw new RuleSyntaxError('unexpected end of file', pos)
    if (token.kind === 'string') {
      pos++
      return token.value
    }
    if (token.kind === 'punct' && token.value === '[') {
      pos++
      const items: Value[] = []
      while (!(peek()?.kind === 'punct' && peek()?.value === ']')) {
        items.push(parseValue())
        if (peek()?.kind === 'punct' && peek()?.value === ',') pos++
        else break
      }
      expect(']')
      return items
    }
    throw new RuleSyntaxError('expected a string or a list', pos)
  }

  while (pos < tokens.length) {
    const first = tokens[pos] as Token
    try {
      if (first.kind !== 'ident') throw new RuleSyntaxError('expected a rule such as prefix_rule(...)', pos)
      pos++
      expect('(')
      const args = new Map<string, Value>()
      while (!(peek()?.kind === 'punct' && peek()?.value === ')')) {
        const name = peek()
        if (!name || name.kind !== 'ident') throw new RuleSyntaxError('expected a keyword argument', pos)
        pos++
        expect('=')
        if (args.has(name.value)) throw new RuleSyntaxError(`\`${name.value}\` given twice`, pos)
        args.set(name.value, parseValue())
        if (peek()?.kind === 'punct' && peek()?.value === ',') pos++
        else break
      }
      const close = expect(')')
      if (first.value !== 'prefix_rule') {
        problems.push({ file, line: first.line, message: `\`${first.value}\` is not supported; ignored` })
        continue
      }
      const rule = ruleFromArgs(args)
      if (typeof rule === 'string') problems.push({ file, line: first.line, message: rule })
      else rules.push({ ...rule, file, line: first.line, start: first.start, end: close.end })
    } catch (error) {
      if (!(error instanceof RuleSyntaxError)) throw error
      problems.push({ file, line: (tokens[error.at] ?? first).line, message: error.message })
      pos = recover(tokens, error.at, first)
    }
  }
  return { rules, problems }
}

/**
 * After a bad statement: go on at the next line that starts with a name that is not a keyword
 * argument (`decision = ...` belongs to the broken call), so later rules still count.
 */
function recover(tokens: Token[], at: number, first: Token): number {
  const badLine = (tokens[at] ?? first).line
  let pos = Math.max(at, tokens.indexOf(first) + 1)
  for (; pos < tokens.length; pos++) {
    const token = tokens[pos] as Token
    const next = tokens[pos + 1]
    const startsLine = token.line > badLine && (tokens[pos - 1]?.line ?? 0) < token.line
    if (startsLine && token.kind === 'ident' && !(next?.kind === 'punct' && next.value === '=')) return pos
  }
  return pos
}

/** The rule a `prefix_rule(...)` call describes, or what is wrong with it. */
function ruleFromArgs(
  args: Map<string, Value>,
): Pick<PrefixRule, 'pattern' | 'decision' | 'justification'> | string {
  for (const key of args.keys()) {
    if (!['pattern', 'decision', 'justification', 'match', 'not_match'].includes(key)) {
      return `unknown argument \`${key}\``
    }
  }
  const raw = args.get('pattern')
  if (!Array.isArray(raw) || raw.length === 0) return '`pattern` must be a non-empty list'
  const pattern: string[][] = []
  for (const element of raw) {
    const alternatives = typeof element === 'string' ? [element] : element
    if (alternatives.length === 0 || !alternatives.every((word) => typeof word === 'string')) {
      return 'each `pattern` element must be a string or a non-empty list of strings'
    }
    pattern.push(alternatives as string[])
  }
  const decision = args.get('decision') ?? 'allow'
  if (decision !== 'allow' && decision !== 'prompt' && decision !== 'forbidden') {
    return '`decision` must be "allow", "prompt" or "forbidden"'
  }
  const justification = args.get('justification') ?? null
  if (justification !== null && (typeof justification !== 'string' || justification.trim() === '')) {
    return '`justification` must be a non-empty string'
  }
  return { pattern, decision, justification }
}

// ---------------------------------------------------------------------------------------------
// Writing and describing

/** The line codex appends for an allowed prefix: `prefix_rule(pattern=["git", "pull"], decision="allow")`. */
export function allowRuleLine(prefix: readonly string[]): string {
  return `prefix_rule(pattern=[${prefix.map((word) => JSON.stringify(word)).join(', ')}], decision="allow")`
}

/** A rule's pattern for people: words joined as a shell would read them, alternatives as [a|b]. */
export function describePattern(rule: Pick<PrefixRule, 'pattern'>): string {
  return rule.pattern
    .map((alternatives) =>
      alternatives.length === 1
        ? shellJoin(alternatives)
        : `[${alternatives.map((w) => shellJoin([w])).join('|')}]`,
    )
    .join(' ')
}

/**
 * `current` (a rules file's text) with an allow rule for `prefix` appended, or null when the same
 * line is there already.
 */
export function withAllowRule(current: string, prefix: readonly string[]): string | null {
  const line = allowRuleLine(prefix)
  if (current.split('\n').some((existing) => existing.trim() === line)) return null
  const separator = current.length > 0 && !current.endsWith('\n') ? '\n' : ''
  return `${current}${separator}${line}\n`
}

/** `text` without `rules` (parsed from it): a rule alone on its line(s) takes the whole line(s). */
export function withoutRules(text: string, rules: readonly PrefixRule[]): string {
  for (const rule of [...rules].sort((a, b) => b.start - a.start)) {
    let { start, end } = rule
    const lineStart = text.lastIndexOf('\n', start - 1) + 1
    const nextNewline = text.indexOf('\n', end)
    const lineEnd = nextNewline < 0 ? text.length : nextNewline + 1
    if (text.slice(lineStart, start).trim() === '' && stripComment(text.slice(end, lineEnd)).trim() === '') {
      start = lineStart
      end = lineEnd
    }
    text = text.slice(0, start) + text.slice(end)
  }
  return text
}

function stripComment(text: string): string {
  const hash = text.indexOf('#')
  return hash < 0 ? text : text.slice(0, hash)
}
