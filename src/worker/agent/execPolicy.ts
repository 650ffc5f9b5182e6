/**
 * Exec-policy rules: the prefix rules behind "Yes, and don't ask again for commands that start with
 * ...". They live as codex keeps them, `prefix_rule(pattern=[...], decision="allow")` lines in
 * `<home>/rules/*.rules` (new rules go to `default.rules`), so a user can read and edit them, and
 * every core on the same home sees a change on its next command. This module matches commands
 * against the rules, proposes codex's amendment, and keeps the store (reading the files, re-reading
 * them when they change, locked atomic writes); agent/execPolicyRules has the file format.
 *
 * It must never let a script of several commands through unless every command is covered, and
 * never leave a half-written rules file: writes take a lock, go to a temp file and are renamed into
 * place (0600).
 */
import { mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../util/atomicWrite'
import type { Logger } from '../util/log'
import { parseWordOnlyScript, shellJoin } from './exec/shell'
import {
  parseRules,
  withAllowRule,
  withoutRules,
  type LoadedRules,
  type PrefixRule,
  type RuleDecision,
} from './execPolicyRules'

export const RULES_DIR = 'rules'
export const DEFAULT_RULES_FILE = 'default.rules'

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
    return this.withLock(async () => {
      const current = await readFile(this.defaultFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return ''
        throw error
      })
      const next = withAllowRule(current, prefix)
      if (next === null) return 'present'
      await writeFileAtomic(this.defaultFile, next, { mode: 0o600 })
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
        await writeFileAtomic(path, withoutRules(await readFile(path, 'utf8'), rules), { mode: 0o600 })
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
