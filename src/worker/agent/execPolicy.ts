/**
 * Exec-policy rules: the prefix rules behind "Yes, and don't ask again for commands that start with
 * ...". They live as codex keeps them, `prefix_rule(pattern=[...], decision="allow")` lines in
 * `$CODEX_DESK_HOME/rules/*.rules` (new rules go to `default.rules`), so a user can read and edit
 * them, and every core on the same home sees a change on its next command.
 *
 * It must never read a line it cannot parse as a rule (a malformed line is reported and skipped),
 * never let a script of several commands through unless every command is covered, and never leave a
 * half-written rules file: writes take a lock, go to a temp file and are renamed into place (0600).
 */
import { mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../util/atomicWrite'
import type { Logger } from '../util/log'
import { parseWordOnlyScript, shellJoin } from './exec/shell'

export const RULES_DIR = 'rules'
export const DEFAULT_RULES_FILE = 'default.rules'

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

// ---------------------------------------------------------------------------------------------
// Matching

/** The commands a script runs, as codex reads `bash -lc "..."`: plain commands, or the whole argv. */
export function commandsForPolicy(
  script: string,
  argv: readonly string[],
): { commands: string[][]; parsed: boolean } {
  const parsed = parseWordOnlyScript(script)
  if (parsed && parsed.commands.length > 0) return { commands: parsed.commands, parsed: true }
  // Anything the word-only parser rejects is one opaque command: only a rule naming this exact
  // shell invocation can cover it.
  return { commands: [[...argv]], parsed: false }
}

/** The rule's pattern is a prefix of the command (exact words; no path-to-basename resolution). */
export function ruleMatches(rule: Pick<PrefixRule, 'pattern'>, command: readonly string[]): boolean {
  if (command.length < rule.pattern.length) return false
  return rule.pattern.every((alternatives, i) => alternatives.includes(command[i] as string))
}

export interface RuleHit {
  rule: PrefixRule
  command: string[]
}

export interface PolicyCheck {
  /** Per command: the rules that match it. */
  matches: PrefixRule[][]
  /** The most specific forbidding rule that matched, if any. */
  forbidden: RuleHit | null
  /** The most specific prompting rule that matched, if any. */
  prompt: RuleHit | null
  /** Every command is matched by an allow rule, and nothing stricter matched. */
  allAllowed: boolean
}

const SEVERITY: Record<RuleDecision, number> = { allow: 0, prompt: 1, forbidden: 2 }

export function checkCommands(rules: readonly PrefixRule[], commands: readonly string[][]): PolicyCheck {
  const matches = commands.map((command) => rules.filter((rule) => ruleMatches(rule, command)))
  const mostSpecific = (decision: RuleDecision): RuleHit | null => {
    let best: RuleHit | null = null
    commands.forEach((command, i) => {
      for (const rule of matches[i] ?? []) {
        if (rule.decision === decision && (!best || rule.pattern.length > best.rule.pattern.length)) {
          best = { rule, command: [...command] }
        }
      }
    })
    return best
  }
  const forbidden = mostSpecific('forbidden')
  const prompt = mostSpecific('prompt')
  const allAllowed =
    commands.length > 0 &&
    !forbidden &&
    !prompt &&
    matches.every((list) => list.some((rule) => rule.decision === 'allow'))
  return { matches, forbidden, prompt, allAllowed }
}

/** The strictest decision among a command's rules, or null when no rule matched it. */
export function decisionOf(rules: readonly PrefixRule[]): RuleDecision | null {
  let best: RuleDecision | null = null
  for (const rule of rules)
    if (best === null || SEVERITY[rule.decision] > SEVERITY[best]) best = rule.decision
  return best
}

/** codex's texts for a command a rule forbids or wants confirmed. */
export function forbiddenReason(command: string, hit: RuleHit): string {
  if (hit.rule.justification) return `\`${command}\` rejected: ${hit.rule.justification}`
  const prefix = shellJoin(hit.command.slice(0, hit.rule.pattern.length))
  return `\`${command}\` rejected: policy forbids commands starting with \`${prefix}\``
}

export function promptReason(command: string, hit: RuleHit): string {
  return hit.rule.justification
    ? `\`${command}\` requires approval: ${hit.rule.justification}`
    : `\`${command}\` requires approval by policy`
}

/**
 * codex's proposed amendment for a prompt: none when a prompting rule matched (allowing a prefix
 * would not skip it); otherwise the first command no rule matched that itself needs asking about.
 */
export function proposeAmendment(
  check: PolicyCheck,
  commands: readonly string[][],
  needsAsking: (command: string[]) => boolean,
): string[] | null {
  if (check.prompt || check.forbidden) return null
  for (const [i, command] of commands.entries()) {
    if ((check.matches[i]?.length ?? 0) === 0 && needsAsking(command)) return [...command]
  }
  return null
}

/** For a rerun outside the sandbox: the first command, unless any rule matched at all. */
export function proposeRetryAmendment(check: PolicyCheck, commands: readonly string[][]): string[] | null {
  if (check.matches.some((list) => list.length > 0)) return null
  const first = commands[0]
  return first ? [...first] : null
}

// ---------------------------------------------------------------------------------------------
// The store: one per home, re-read whenever a rules file changes.

const LOCK_FILE = '.rules.lock'
const LOCK_WAIT_MS = 10_000
const LOCK_STALE_MS = 30_000

export class ExecPolicyStore {
  private cache: { key: string; loaded: LoadedRules } | null = null
  private reported = ''

  constructor(
    readonly home: string,
    private readonly log?: Logger,
  ) {}

  get dir(): string {
    return join(this.home, RULES_DIR)
  }

  get defaultFile(): string {
    return join(this.dir, DEFAULT_RULES_FILE)
  }

  /** The rules now on disk (cached until a file's identity, size or time changes). */
  async load(): Promise<LoadedRules> {
    const files = await this.ruleFiles()
    const key = files.map((f) => `${f.name}:${f.ino}:${f.size}:${f.mtimeMs}`).join('|')
    if (this.cache?.key === key) return this.cache.loaded
    const loaded: LoadedRules = { rules: [], problems: [] }
    for (const file of files) {
      let text: string
      try {
        text = await readFile(join(this.dir, file.name), 'utf8')
      } catch (error) {
        loaded.problems.push({
          file: file.name,
          line: 0,
          message: `cannot read: ${(error as Error).message}`,
        })
        continue
      }
      const parsed = parseRules(text, file.name)
      loaded.rules.push(...parsed.rules)
      loaded.problems.push(...parsed.problems)
    }
    this.cache = { key, loaded }
    const report = JSON.stringify(loaded.problems)
    if (loaded.problems.length > 0 && report !== this.reported) {
      for (const problem of loaded.problems) {
        this.log?.warn(
          { file: join(this.dir, problem.file), line: problem.line },
          `rules file problem (line ignored): ${problem.message}`,
        )
      }
    }
    this.reported = report
    return loaded
  }

  /** Appends an allow rule for `prefix` to default.rules unless the same line is there already. */
  async allow(prefix: readonly string[]): Promise<'added' | 'present'> {
    if (prefix.length === 0) throw new Error('an allow rule needs at least one word')
    const line = allowRuleLine(prefix)
    return this.withLock(async () => {
      const current = await readFile(this.defaultFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return ''
        throw error
      })
      if (current.split('\n').some((existing) => existing.trim() === line)) return 'present'
      const separator = current.length > 0 && !current.endsWith('\n') ? '\n' : ''
      await writeFileAtomic(this.defaultFile, `${current}${separator}${line}\n`, { mode: 0o600 })
      this.cache = null
      return 'added'
    })
  }

  /**
   * Removes the rules `select` picks from a fresh read (under the lock, so the numbering it sees is
   * the one on disk); returns them.
   */
  async remove(select: (loaded: LoadedRules) => PrefixRule[]): Promise<PrefixRule[]> {
    return this.withLock(async () => {
      this.cache = null
      const chosen = select(await this.load())
      const byFile = new Map<string, PrefixRule[]>()
      for (const rule of chosen) byFile.set(rule.file, [...(byFile.get(rule.file) ?? []), rule])
      for (const [file, rules] of byFile) {
        const path = join(this.dir, file)
        let text = await readFile(path, 'utf8')
        for (const rule of [...rules].sort((a, b) => b.start - a.start)) {
          let { start, end } = rule
          // Take the whole line(s) when the rule is alone on them.
          const lineStart = text.lastIndexOf('\n', start - 1) + 1
          const nextNewline = text.indexOf('\n', end)
          const lineEnd = nextNewline < 0 ? text.length : nextNewline + 1
          if (
            text.slice(lineStart, start).trim() === '' &&
            stripComment(text.slice(end, lineEnd)).trim() === ''
          ) {
            start = lineStart
            end = lineEnd
          }
          text = text.slice(0, start) + text.slice(end)
        }
        await writeFileAtomic(path, text, { mode: 0o600 })
      }
      this.cache = null
      return chosen
    })
  }

  private async ruleFiles(): Promise<{ name: string; ino: number; size: number; mtimeMs: number }[]> {
    let names: string[]
    try {
      names = (await readdir(this.dir)).filter((name) => name.endsWith('.rules')).sort()
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw error
    }
    const files = []
    for (const name of names) {
      const s = await stat(join(this.dir, name)).catch(() => null)
      if (s?.isFile()) files.push({ name, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs })
    }
    return files
  }

  /** One writer at a time across processes: an exclusive lock file holding our pid. */
  private async withLock<T>(body: () => Promise<T>): Promise<T> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const lock = join(this.dir, LOCK_FILE)
    const deadline = Date.now() + LOCK_WAIT_MS
    for (;;) {
      try {
        const handle = await open(lock, 'wx', 0o600)
        await handle.writeFile(`${process.pid}\n`)
        await handle.close()
        break
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
        if (await lockIsStale(lock)) {
          await unlink(lock).catch(() => undefined)
          continue
        }
        if (Date.now() > deadline) {
          throw new Error(`timed out waiting for the rules lock ${lock}`, { cause: error })
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    try {
      return await body()
    } finally {
      await unlink(lock).catch(() => undefined)
    }
  }
}

function stripComment(text: string): string {
  const hash = text.indexOf('#')
  return hash < 0 ? text : text.slice(0, hash)
}

async function lockIsStale(lock: string): Promise<boolean> {
  try {
    const [text, info] = await Promise.all([readFile(lock, 'utf8'), stat(lock)])
    const pid = Number.parseInt(text.trim(), 10)
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true
      }
    }
    // A lock without a pid yet is being written; only an old one is abandoned.
    return Date.now() - info.mtimeMs > LOCK_STALE_MS
  } catch {
    return false
  }
}

const stores = new Map<string, ExecPolicyStore>()

/** The process's store for a home (so every thread shares one cache). */
export function execPolicyFor(home: string, log?: Logger): ExecPolicyStore {
  let store = stores.get(home)
  if (!store) {
    store = new ExecPolicyStore(home, log)
    stores.set(home, store)
  }
  return store
}
