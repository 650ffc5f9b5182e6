/**
 * codex's `is_known_safe_command` for a script the agent runs through `bash -lc`: true only when
 * every command in a plain `&&` / `||` / `;` / `|` sequence is on codex's read-only list, so the
 * approval policy may run it without asking.
 *
 * It must never say true for something that can write, delete, execute another program or reach a
 * pager: when in doubt (anything the word-only parser rejects, any unknown flag shape) the answer is
 * false, which only costs a prompt.
 */
import { parseWordOnlyScript } from './shell'

/** codex's `is_known_safe_command`, applied to a script as it would run under `bash -lc`. */
export function isKnownSafeCommand(script: string): boolean {
  const parsed = parseWordOnlyScript(script)
  if (!parsed || parsed.commands.length === 0) return false
  return parsed.commands.every(isSafeToCallWithExec)
}

const ALWAYS_SAFE = new Set([
  'cat',
  'cd',
  'cut',
  'echo',
  'expr',
  'false',
  'grep',
  'head',
  'id',
  'ls',
  'nl',
  'paste',
  'pwd',
  'rev',
  'seq',
  'stat',
  'tail',
  'tr',
  'true',
  'uname',
  'uniq',
  'wc',
  'which',
  'whoami',
])

/** GNU-only tools codex allows on Linux alone. */
const LINUX_ONLY_SAFE = new Set(['numfmt', 'tac'])

function basename(program: string): string {
  const slash = program.lastIndexOf('/')
  return slash < 0 ? program : program.slice(slash + 1)
}

function isSafeToCallWithExec(words: string[]): boolean {
  const program = words[0]
  if (program === undefined) return false
  const name = basename(program)
  const args = words.slice(1)
  if (process.platform === 'linux' && LINUX_ONLY_SAFE.has(name)) return true
  if (ALWAYS_SAFE.has(name)) return true
  switch (name) {
    case 'base64':
      // Writing the result to a file is a write.
      return !args.some(
        (arg) =>
          arg === '-o' ||
          arg === '--output' ||
          arg.startsWith('--output=') ||
          (arg.startsWith('-o') && arg !== '-o'),
      )
    case 'find':
      return !args.some((arg) => UNSAFE_FIND_OPTIONS.has(arg))
    case 'rg':
      return !args.some(
        (arg) =>
          UNSAFE_RG_FLAGS.has(arg) ||
          UNSAFE_RG_OPTIONS_WITH_VALUES.some((option) => arg === option || arg.startsWith(`${option}=`)),
      )
    case 'git':
      return isSafeGit(words)
    case 'sed':
      // Only `sed -n <N>p` / `sed -n <M>,<N>p` with at most one file: anything else may be `w` or `e`.
      return words.length <= 4 && words[1] === '-n' && isValidSedRange(words[2])
    default:
      return false
  }
}

const UNSAFE_FIND_OPTIONS = new Set([
  // Run arbitrary commands.
  '-exec',
  '-execdir',
  '-ok',
  '-okdir',
  // Deletes what matched.
  '-delete',
  // Write path names to a file.
  '-fls',
  '-fprint',
  '-fprint0',
  '-fprintf',
])

/** `--pre` runs a program per file and `--hostname-bin` runs one for the hostname. */
const UNSAFE_RG_OPTIONS_WITH_VALUES = ['--pre', '--hostname-bin']
/** Searching compressed files shells out to decompressors. */
const UNSAFE_RG_FLAGS = new Set(['--search-zip', '-z'])

const SAFE_GIT_SUBCOMMANDS = new Set(['status', 'log', 'diff', 'show', 'branch'])
/** Flags that write files or run external tools even on a read-only subcommand. */
const UNSAFE_GIT_FLAGS = new Set(['--output', '--ext-diff', '--textconv', '--exec', '--paginate'])
const GIT_GLOBAL_OPTIONS_WITH_VALUE = new Set([
  '-C',
  '-c',
  '--config-env',
  '--exec-path',
  '--git-dir',
  '--namespace',
  '--super-prefix',
  '--work-tree',
])
const GIT_GLOBAL_OPTIONS_INLINE = [
  '--config-env=',
  '--exec-path=',
  '--git-dir=',
  '--namespace=',
  '--super-prefix=',
  '--work-tree=',
]

function isSafeGit(words: string[]): boolean {
  // `-c core.pager=...` and friends can make any git subcommand run an arbitrary program.
  const overridesConfig = words.some(
    (arg) =>
      arg === '-c' ||
      arg === '--config-env' ||
      (arg.startsWith('-c') && arg.length > 2) ||
      arg.startsWith('--config-env='),
  )
  if (overridesConfig) return false
  const found = findGitSubcommand(words)
  if (!found) return false
  const rest = words.slice(found.index + 1)
  const readOnlyArgs = !rest.some(
    (arg) => UNSAFE_GIT_FLAGS.has(arg) || arg.startsWith('--output=') || arg.startsWith('--exec='),
  )
  if (!readOnlyArgs) return false
  return found.subcommand === 'branch' ? gitBranchIsReadOnly(rest) : true
}

/**
 * The first positional word after git's global options is the subcommand; a later positional (a
 * branch called `status`) must not count, so the scan stops at the first one.
 */
function findGitSubcommand(words: string[]): { index: number; subcommand: string } | null {
  if (basename(words[0] ?? '') !== 'git') return null
  for (let index = 1; index < words.length; index++) {
    const arg = words[index] as string
    const inline =
      GIT_GLOBAL_OPTIONS_INLINE.some((prefix) => arg.startsWith(prefix)) ||
      ((arg.startsWith('-C') || arg.startsWith('-c')) && arg.length > 2)
    if (inline) continue
    if (GIT_GLOBAL_OPTIONS_WITH_VALUE.has(arg)) {
      index++
      continue
    }
    if (arg === '--' || arg.startsWith('-')) continue
    return SAFE_GIT_SUBCOMMANDS.has(arg) ? { index, subcommand: arg } : null
  }
  return null
}

/** `git branch` lists only with no arguments or with listing flags; anything else may create, rename or delete. */
function gitBranchIsReadOnly(args: string[]): boolean {
  if (args.length === 0) return true
  let sawListingFlag = false
  for (const arg of args) {
    if (GIT_BRANCH_LISTING_FLAGS.has(arg) || arg.startsWith('--format=')) sawListingFlag = true
    else return false
  }
  return sawListingFlag
}

const GIT_BRANCH_LISTING_FLAGS = new Set([
  '--list',
  '-l',
  '--show-current',
  '-a',
  '--all',
  '-r',
  '--remotes',
  '-v',
  '-vv',
  '--verbose',
])

/** Matches `<N>p` or `<M>,<N>p`. */
export function isValidSedRange(arg: string | undefined): boolean {
  return arg !== undefined && /^\d+(,\d+)?p$/.test(arg)
}
