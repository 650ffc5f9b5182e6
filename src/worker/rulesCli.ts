/**
 * `codex-desk rules list | remove <n|words...>`: shows and removes the exec-policy rules kept under
 * `$CODEX_DESK_HOME/rules/` (the "don't ask again for commands that start with ..." answers). A
 * problem in a rules file is printed as a warning with its file and line; it never stops the command.
 *
 * It must never change a rules file except through the store (locked, atomic, 0600), and never
 * remove a rule the user did not name.
 */
import { resolveCodexDeskHome } from './home'
import { ExecPolicyStore } from './agent/execPolicy'
import { describePattern, type LoadedRules, type PrefixRule } from './agent/execPolicyRules'
import { parseWordOnlyScript } from './agent/exec/shell'

const HELP = `Usage:
  codex-desk rules list                 number and show the rules, and any problem in the files
  codex-desk rules remove N             remove rule number N (as \`rules list\` numbers them)
  codex-desk rules remove WORD...       remove the rules whose pattern is exactly these words,
                                        e.g. \`codex-desk rules remove touch made.txt\`

Rules live in $CODEX_DESK_HOME/rules/*.rules, one prefix_rule(...) per line, e.g.
  prefix_rule(pattern=["touch", "made.txt"], decision="allow")
A command whose every part starts with an allowed pattern runs without asking, outside the sandbox.
The files are plain text: edit them by hand if you like; a line that cannot be read is reported and
skipped. Every running core sees a change on its next command.
`

export interface RulesCliIo {
  out: (text: string) => void
  err: (text: string) => void
}

const defaultIo: RulesCliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}

/** Runs `codex-desk rules ...`; returns the exit code (2 for a usage mistake). */
export async function runRulesCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  io: RulesCliIo = defaultIo,
): Promise<number> {
  const store = new ExecPolicyStore(resolveCodexDeskHome(env))
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(HELP)
    return command === undefined ? 2 : 0
  }
  if (command === 'list') {
    if (rest.length > 0) return usage(io, '`rules list` takes no arguments')
    const loaded = await store.load()
    reportProblems(io, store, loaded)
    if (loaded.rules.length === 0) {
      io.out(`No rules in ${store.dir}\n`)
      return 0
    }
    io.out(`Rules in ${store.dir}:\n`)
    loaded.rules.forEach((rule, i) => io.out(describeRule(rule, i + 1)))
    return 0
  }
  if (command === 'remove') {
    if (rest.length === 0) return usage(io, '`rules remove` needs a rule number or the words of a pattern')
    const selector = selectorOf(rest)
    if (typeof selector === 'string') return usage(io, selector)
    let missing = ''
    const removed = await store.remove((loaded) => {
      reportProblems(io, store, loaded)
      if (selector.kind === 'index') {
        const rule = loaded.rules[selector.index - 1]
        if (!rule) missing = `there is no rule ${selector.index} (there are ${loaded.rules.length})`
        return rule ? [rule] : []
      }
      const chosen = loaded.rules.filter(
        (rule) =>
          rule.pattern.length === selector.words.length &&
          rule.pattern.every(
            (alternatives, i) => alternatives.length === 1 && alternatives[0] === selector.words[i],
          ),
      )
      if (chosen.length === 0) missing = `no rule has the pattern \`${selector.words.join(' ')}\``
      return chosen
    })
    if (removed.length === 0) {
      io.err(`error: ${missing}\n\nRun \`codex-desk rules list\` to see them.\n`)
      return 1
    }
    for (const rule of removed) io.out(`Removed ${describeRule(rule, null).trimStart()}`)
    return 0
  }
  return usage(io, `unknown rules command \`${command}\`: expected \`list\` or \`remove\``)
}

function usage(io: RulesCliIo, message: string): number {
  io.err(`error: ${message}\n\n${HELP}`)
  return 2
}

type Selector = { kind: 'index'; index: number } | { kind: 'words'; words: string[] }

/** A number, the words as separate arguments, or one quoted argument holding them. */
function selectorOf(args: readonly string[]): Selector | string {
  const [first] = args
  if (args.length === 1 && first !== undefined && /^\d+$/.test(first)) {
    const index = Number.parseInt(first, 10)
    return index >= 1 ? { kind: 'index', index } : 'rule numbers start at 1'
  }
  if (args.length === 1 && first !== undefined && /\s/.test(first)) {
    const parsed = parseWordOnlyScript(first)
    const words = parsed?.commands.length === 1 ? parsed.commands[0] : undefined
    return words ? { kind: 'words', words } : `cannot read \`${first}\` as the words of one command`
  }
  return { kind: 'words', words: [...args] }
}

function describeRule(rule: PrefixRule, index: number | null): string {
  const number = index === null ? '' : `${String(index).padStart(3)}. `
  const because = rule.justification ? ` (${rule.justification})` : ''
  return `${number}${rule.decision.padEnd(9)} ${describePattern(rule)}${because}    ${rule.file}:${rule.line}\n`
}

function reportProblems(io: RulesCliIo, store: ExecPolicyStore, loaded: LoadedRules): void {
  for (const problem of loaded.problems) {
    io.err(`warning: ${store.dir}/${problem.file}:${problem.line}: ${problem.message} (skipped)\n`)
  }
}
