/**
 * codex's `parse_command` heuristics: what a shell script does, as `commandActions` for a
 * `commandExecution` item (read a file, list files, search, or unknown), so a client can show
 * "Read README.md" instead of the raw script.
 *
 * This is a display summary and never a security decision: it may be lossy, and it must never throw
 * or return an empty list. Anything it cannot read as plain words collapses to one `unknown`.
 */
import { parseWordOnlyScript, shellJoin } from './shell'
import { isValidSedRange } from './safeCommands'

/** The four shapes of the protocol's `CommandAction` (codex's `ParsedCommand`). */
export type CommandAction =
  | { type: 'read'; command: string; name: string; path: string }
  | { type: 'listFiles'; command: string; path: string | null }
  | { type: 'search'; command: string; query: string | null; path: string | null }
  | { type: 'unknown'; command: string }

/**
 * One action per meaningful command of the script, in order. `cd x` is folded into the paths of the
 * reads after it, formatting helpers in pipelines (`| head -n 40`, `| wc -l`) are dropped, and, as in
 * codex, a single unknown part makes the whole script one `unknown` (a half-understood script shown
 * as "Read x" would mislead).
 */
export function parseCommandActions(script: string): CommandAction[] {
  const unknown: CommandAction[] = [{ type: 'unknown', command: script }]
  const parsed = parseWordOnlyScript(script)
  if (!parsed || parsed.commands.length === 0) return unknown

  const hadConnectors = parsed.operators.length > 0
  const hasPipe = parsed.operators.includes('|')
  const filtered = parsed.commands.filter((words) => !isSmallFormattingCommand(words))
  if (filtered.length === 0) return unknown

  let actions: CommandAction[] = []
  let cwd: string | null = null
  for (const words of filtered) {
    if (words[0] === 'cd') {
      const target = cdTarget(words.slice(1))
      if (target !== null) cwd = cwd === null ? target : joinPaths(cwd, target)
      continue
    }
    const action = summarize(words)
    if (action.type === 'read' && cwd !== null) action.path = joinPaths(cwd, action.path)
    actions.push(action)
  }
  if (actions.length === 0) return unknown

  if (actions.length > 1) {
    actions = actions.filter((action) => !(action.type === 'unknown' && action.command === 'true'))
    for (let next = simplifyOnce(actions); next; next = simplifyOnce(actions)) actions = next
  }
  if (actions.length === 1 && !hadConnectors) {
    // With nothing else in the script, the whole (requoted) script is the command shown.
    const only = actions[0] as CommandAction
    actions = [{ ...only, command: shellJoin(parsed.commands[0] as string[]) }]
  } else if (actions.length === 1 && hasPipe && actions[0]?.type === 'read') {
    // `nl -ba f | sed -n '1,80p'`: the sed range is part of what was read, so keep the pipeline.
    const sawSedN = parsed.commands.some((words) => words[0] === 'sed' && words[1] === '-n')
    if (sawSedN) actions = [{ ...actions[0], command: script }]
  }

  const deduped: CommandAction[] = []
  for (const action of actions) {
    const previous = deduped[deduped.length - 1]
    if (previous && JSON.stringify(previous) === JSON.stringify(action)) continue
    deduped.push(action)
  }
  if (deduped.length === 0 || deduped.some((action) => action.type === 'unknown')) return unknown
  return deduped
}

/** Drops leading `echo`, `true` and flag-only `nl` once; null when nothing changed. */
function simplifyOnce(actions: CommandAction[]): CommandAction[] | null {
  if (actions.length <= 1) return null
  const first = actions[0] as CommandAction
  if (first.type === 'unknown' && firstWord(first.command) === 'echo') return actions.slice(1)
  const dropAt = actions.findIndex(
    (action) =>
      action.type === 'unknown' &&
      (action.command === 'true' ||
        (firstWord(action.command) === 'nl' &&
          (parseWordOnlyScript(action.command)?.commands[0] ?? []).slice(1).every((w) => w.startsWith('-')))),
  )
  if (dropAt < 0) return null
  return [...actions.slice(0, dropAt), ...actions.slice(dropAt + 1)]
}

function firstWord(command: string): string | undefined {
  return parseWordOnlyScript(command)?.commands[0]?.[0]
}

/**
 * Pipeline helpers that only shape another command's output. The `head`/`tail`/`sed`/`awk` forms
 * that name a file are reads, not helpers, so they stay.
 */
function isSmallFormattingCommand(words: string[]): boolean {
  const [head, ...tail] = words
  switch (head) {
    case undefined:
      return false
    case 'wc':
    case 'tr':
    case 'cut':
    case 'sort':
    case 'uniq':
    case 'tee':
    case 'column':
    case 'yes':
    case 'printf':
      return true
    case 'xargs':
      return !isMutatingXargs(tail)
    case 'awk':
      return awkDataFile(tail) === null
    case 'head':
      return isCountOnly(tail, ['-n', '-c'], false)
    case 'tail':
      return isCountOnly(tail, ['-n', '-c'], true)
    case 'sed':
      return sedReadPath(tail) === null
    default:
      return false
  }
}

/** `head`, `head -n50`, `head -n 40`: a count and no file operand. */
function isCountOnly(args: string[], flags: string[], allowPlus: boolean): boolean {
  if (args.length === 0) return true
  if (args.length === 1) return (args[0] as string).startsWith('-')
  if (args.length === 2) {
    const [flag, count] = args as [string, string]
    const digits = allowPlus && count.startsWith('+') ? count.slice(1) : count
    return flags.includes(flag) && /^\d+$/.test(digits)
  }
  return false
}

/** `xargs sed -i`, `xargs perl -pi`, `xargs rg --replace` edit files; such a pipeline is not a search. */
function isMutatingXargs(args: string[]): boolean {
  let i = 0
  let sub: string[] | null = null
  while (i < args.length) {
    const token = args[i] as string
    if (token === '--') {
      sub = args.slice(i + 1)
      break
    }
    if (!token.startsWith('-')) {
      sub = args.slice(i)
      break
    }
    i += ['-E', '-e', '-I', '-L', '-n', '-P', '-s'].includes(token) ? 2 : 1
  }
  if (!sub || sub.length === 0) return false
  const [program, ...rest] = sub as [string, ...string[]]
  const inPlace = rest.some((token) => token.startsWith('-i') || token.startsWith('-pi'))
  if (program === 'perl' || program === 'ruby') return inPlace
  if (program === 'sed') return inPlace || rest.includes('--in-place')
  if (program === 'rg') return rest.includes('--replace')
  return false
}

function summarize(words: string[]): CommandAction {
  const [head, ...tail] = words as [string, ...string[]]
  const command = shellJoin(words)
  const read = (path: string | null): CommandAction =>
    path === null
      ? { type: 'unknown', command }
      : { type: 'read', command, name: shortDisplayPath(path), path }
  const list = (path: string | null): CommandAction => ({
    type: 'listFiles',
    command,
    path: path === null ? null : shortDisplayPath(path),
  })
  const search = (query: string | null, path: string | null): CommandAction => ({
    type: 'search',
    command,
    query,
    path: path === null ? null : shortDisplayPath(path),
  })

  switch (head) {
    case 'ls':
      return list(firstOperand(tail, LS_VALUE_FLAGS))
    case 'eza':
    case 'exa':
      return list(firstOperand(tail, ['-I', '--ignore-glob', '--color', '--sort', '--time-style', '--time']))
    case 'tree':
      return list(firstOperand(tail, ['-L', '-P', '-I', '--charset', '--filelimit', '--sort']))
    case 'du':
      return list(
        firstOperand(tail, ['-d', '--max-depth', '-B', '--block-size', '--exclude', '--time-style']),
      )
    case 'rg':
    case 'rga':
    case 'ripgrep-all': {
      const operands = skipFlagValues(tail, RG_VALUE_FLAGS).filter((arg) => !arg.startsWith('-'))
      if (tail.includes('--files')) return list(operands[0] ?? null)
      return search(operands[0] ?? null, operands[1] ?? null)
    }
    case 'git': {
      const [sub, ...subTail] = tail
      if (sub === 'grep') return grepLike(command, subTail)
      if (sub === 'ls-files') {
        return list(firstOperand(subTail, ['--exclude', '--exclude-from', '--pathspec-from-file']))
      }
      return { type: 'unknown', command }
    }
    case 'fd': {
      const operands = skipFlagValues(tail, FD_VALUE_FLAGS).filter((arg) => !arg.startsWith('-'))
      if (operands.length === 1) {
        const only = operands[0] as string
        return isPathish(only) ? list(only) : search(only, null)
      }
      if (operands.length >= 2) return search(operands[0] as string, operands[1] as string)
      return list(null)
    }
    case 'find': {
      const path =
        tail.find((arg) => !arg.startsWith('-') && arg !== '!' && arg !== '(' && arg !== ')') ?? null
      const at = tail.findIndex((arg) => ['-name', '-iname', '-path', '-regex'].includes(arg))
      const query = at >= 0 ? (tail[at + 1] ?? null) : null
      return query !== null ? search(query, path) : list(path)
    }
    case 'grep':
    case 'egrep':
    case 'fgrep':
      return grepLike(command, tail)
    case 'ag':
    case 'ack':
    case 'pt': {
      const operands = skipFlagValues(tail, AG_VALUE_FLAGS).filter((arg) => !arg.startsWith('-'))
      return search(operands[0] ?? null, operands[1] ?? null)
    }
    case 'cat':
    case 'more':
      return read(singleOperand(tail, []))
    case 'bat':
    case 'batcat':
      return read(singleOperand(tail, BAT_VALUE_FLAGS))
    case 'less':
      return read(singleOperand(tail, LESS_VALUE_FLAGS))
    case 'head':
    case 'tail':
      return read(headTailFile(tail, head === 'tail'))
    case 'awk':
      return read(awkDataFile(tail))
    case 'nl':
      return read(
        skipFlagValues(tail, ['-s', '-w', '-v', '-i', '-b']).find((arg) => !arg.startsWith('-')) ?? null,
      )
    case 'sed':
      return read(sedReadPath(tail))
    default:
      if (/^python([23](\.\d+)?)?$/.test(head) && pythonWalksFiles(tail)) return list(null)
      return { type: 'unknown', command }
  }
}

const LS_VALUE_FLAGS = ['-I', '-w', '--block-size', '--format', '--time-style', '--color', '--quoting-style']
const RG_VALUE_FLAGS = [
  '-g',
  '--glob',
  '--iglob',
  '-t',
  '--type',
  '--type-add',
  '--type-not',
  '-m',
  '--max-count',
  '-A',
  '-B',
  '-C',
  '--context',
  '--max-depth',
]
const FD_VALUE_FLAGS = ['-t', '--type', '-e', '--extension', '-E', '--exclude', '--search-path']
const AG_VALUE_FLAGS = [
  '-G',
  '-g',
  '--file-search-regex',
  '--ignore-dir',
  '--ignore-file',
  '--path-to-ignore',
]
const BAT_VALUE_FLAGS = [
  '--theme',
  '--language',
  '--style',
  '--terminal-width',
  '--tabs',
  '--line-range',
  '--map-syntax',
]
const LESS_VALUE_FLAGS = [
  '-p',
  '-P',
  '-x',
  '-y',
  '-z',
  '-j',
  '--pattern',
  '--prompt',
  '--tabs',
  '--shift',
  '--jump-target',
]

function grepLike(command: string, args: string[]): CommandAction {
  const operands: string[] = []
  let pattern: string | null = null
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--') {
      operands.push(...args.slice(i + 1))
      break
    }
    if (arg === '-e' || arg === '--regexp' || arg === '-f' || arg === '--file') {
      const value = args[++i]
      if (value !== undefined && pattern === null) pattern = value
      continue
    }
    if (
      ['-m', '--max-count', '-C', '--context', '-A', '--after-context', '-B', '--before-context'].includes(
        arg,
      )
    ) {
      i++
      continue
    }
    if (!arg.startsWith('-')) operands.push(arg)
  }
  // A pattern may hold slashes; only the path is shortened for display.
  const query = pattern ?? operands[0] ?? null
  const path = operands[pattern !== null ? 0 : 1]
  return { type: 'search', command, query, path: path === undefined ? null : shortDisplayPath(path) }
}

/** `head -n 50 f`, `head -n50 f`, `tail -n +10 f`, `head f`: the file, or null. */
function headTailFile(args: string[], allowPlus: boolean): string | null {
  const isCount = (value: string): boolean =>
    /^\d+$/.test(allowPlus && value.startsWith('+') ? value.slice(1) : value)
  const [first, second] = args
  let validN = false
  if (first === '-n') validN = second !== undefined && isCount(second)
  else if (first !== undefined && first.startsWith('-n')) validN = isCount(first.slice(2))
  if (validN) {
    const rest = first === '-n' ? args.slice(2) : args.slice(1)
    const file = rest.find((arg) => !arg.startsWith('-'))
    if (file !== undefined) return file
  }
  if (args.length === 1 && !(first as string).startsWith('-')) return first as string
  return null
}

/** The file `sed -n '<range>p' file` prints from, or null when the sed is anything else. */
function sedReadPath(args: string[]): string | null {
  if (!args.includes('-n')) return null
  let hasRange = false
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '-e' || arg === '--expression') {
      if (isValidSedRange(args[i + 1])) hasRange = true
      i++
    } else if (arg === '-f' || arg === '--file') {
      i++
    }
  }
  if (!hasRange) hasRange = args.some((arg) => !arg.startsWith('-') && isValidSedRange(arg))
  if (!hasRange) return null
  const operands = skipFlagValues(args, ['-e', '-f', '--expression', '--file']).filter(
    (arg) => !arg.startsWith('-'),
  )
  const [first, second] = operands
  if (first === undefined) return null
  return isValidSedRange(first) ? (second ?? null) : first
}

/** The data file of `awk 'prog' file` or `awk -f prog.awk file`, or null when awk only filters a pipe. */
function awkDataFile(args: string[]): string | null {
  if (args.length === 0) return null
  const hasScriptFile = args.includes('-f') || args.includes('--file')
  const operands = skipFlagValues(args, ['-F', '-v', '-f', '--field-separator', '--assign', '--file']).filter(
    (arg) => !arg.startsWith('-'),
  )
  if (hasScriptFile) return operands[0] ?? null
  return operands[1] ?? null
}

function pythonWalksFiles(args: string[]): boolean {
  const at = args.indexOf('-c')
  const code = at >= 0 ? args[at + 1] : undefined
  if (code === undefined) return false
  return ['os.walk', 'os.listdir', 'os.scandir', 'glob.glob', 'glob.iglob', 'pathlib.Path', '.rglob('].some(
    (needle) => code.includes(needle),
  )
}

/** Where `cd` goes: the last operand, or the word after `--`. */
function cdTarget(args: string[]): string | null {
  let target: string | null = null
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--') return args[i + 1] ?? null
    if (!arg.startsWith('-')) target = arg
  }
  return target
}

function joinPaths(base: string, path: string): string {
  if (path.startsWith('/') || base === '') return path
  return `${base.replace(/\/+$/, '')}/${path}`
}

function isPathish(value: string): boolean {
  return value === '.' || value === '..' || value.includes('/') || value.includes('\\')
}

/**
 * The last useful component of a path for display: `webview/src` shows as `webview`, because
 * `build`, `dist`, `node_modules` and `src` say little on their own.
 */
function shortDisplayPath(path: string): string {
  const trimmed = path.replace(/\\/g, '/').replace(/\/+$/, '')
  const parts = trimmed
    .split('/')
    .reverse()
    .filter((part) => part !== '' && !['build', 'dist', 'node_modules', 'src'].includes(part))
  return parts[0] ?? trimmed
}

/** Drops the values of flags that take one (and `--flag=value` words); everything after `--` stays. */
function skipFlagValues(args: string[], flagsWithValues: string[]): string[] {
  return walkArgs(args, flagsWithValues, true)
}

/** The operands: no flags, no flag values; everything after `--` counts. */
function positionalOperands(args: string[], flagsWithValues: string[]): string[] {
  return walkArgs(args, flagsWithValues, false)
}

function walkArgs(args: string[], flagsWithValues: string[], keepFlags: boolean): string[] {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    if (arg === '--') {
      out.push(...args.slice(i + 1))
      break
    }
    if (arg.startsWith('--') && arg.includes('=')) continue
    if (flagsWithValues.includes(arg)) {
      i++
      continue
    }
    if (keepFlags || !arg.startsWith('-')) out.push(arg)
  }
  return out
}

function firstOperand(args: string[], flagsWithValues: string[]): string | null {
  return positionalOperands(args, flagsWithValues)[0] ?? null
}

function singleOperand(args: string[], flagsWithValues: string[]): string | null {
  const operands = positionalOperands(args, flagsWithValues)
  return operands.length === 1 ? (operands[0] as string) : null
}
