/**
 * The user's shell, seen from both ends: `shellArgv` builds the argv that runs a model-written script,
 * and `parseWordOnlyScript` reads a script back into plain commands the way codex's tree-sitter pass
 * does, so command classification and the known-safe check look at the same words.
 *
 * The parser must never guess: anything it cannot prove to be plain words joined by `&&`, `||`, `;`
 * or `|` (redirections, substitutions, expansions, subshells, assignments, control flow, comments)
 * makes it return null, and callers treat null as "unknown" and "not known safe".
 */

/** argv for running a script in the user's shell: [$SHELL or /bin/bash, login ? '-lc' : '-c', script]; on Windows powershell. */
export function shellArgv(
  script: string,
  options: { login?: boolean; env?: NodeJS.ProcessEnv } = {},
): string[] {
  // codex's shell_command runs as a login shell unless the model opts out, so PATH additions from the
  // user's profile (nvm, pyenv, cargo) are there.
  const login = options.login ?? true
  const env = options.env ?? process.env
  if (process.platform === 'win32') {
    return ['powershell.exe', ...(login ? [] : ['-NoProfile']), '-Command', script]
  }
  // A relative or empty $SHELL would be looked up on whatever PATH the command's env has, which the
  // environment policy may have emptied.
  const configured = env.SHELL
  const shell = configured && configured.startsWith('/') ? configured : '/bin/bash'
  return [shell, login ? '-lc' : '-c', script]
}

/** Words that start control flow or change how the next command runs; none is a plain command. */
const RESERVED_WORDS = new Set([
  'if',
  'then',
  'else',
  'elif',
  'fi',
  'for',
  'while',
  'until',
  'do',
  'done',
  'case',
  'esac',
  'in',
  'function',
  'select',
  'time',
  'coproc',
  '!',
  '[[',
  ']]',
])

const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*\+?=/

export interface ParsedScript {
  /** One word list per simple command, in source order. */
  commands: string[][]
  /** The operators between them, in order (`;` also stands for a newline). */
  operators: string[]
}

/**
 * Splits a script into plain commands, or null when it is anything more than words (quoted or not)
 * joined by `&&`, `||`, `;`, `|` and newlines. Globs and `~` stay literal words: they are allowed
 * the way codex allows them.
 */
export function parseWordOnlyScript(script: string): ParsedScript | null {
  const commands: string[][] = []
  const operators: string[] = []
  let current: string[] = []
  // Widened on purpose: the helpers below change it, which narrowing cannot see.
  let word = null as string | null
  let rawStart = 0
  // The operator just seen still needs a command after it (newlines may come in between).
  let pendingOperator: string | null = null
  const firstRaw: string[] = []

  const endWord = (end: number): void => {
    if (word === null) return
    if (current.length === 0) firstRaw.push(script.slice(rawStart, end))
    current.push(word)
    word = null
  }
  const startWord = (at: number): void => {
    if (word !== null) return
    word = ''
    rawStart = at
  }
  const endCommand = (): void => {
    commands.push(current)
    current = []
    pendingOperator = null
  }

  let i = 0
  while (i < script.length) {
    const c = script[i] as string
    if (c === ' ' || c === '\t' || c === '\r') {
      endWord(i)
      i++
      continue
    }
    if (c === '\n') {
      endWord(i)
      if (current.length > 0) {
        endCommand()
        operators.push(';')
      }
      i++
      continue
    }
    if (c === '\\') {
      const next = script[i + 1]
      if (next === undefined) return null
      if (next === '\n') {
        // A line continuation joins lines; it is not a character of any word.
        i += 2
        continue
      }
      startWord(i)
      word += next
      i += 2
      continue
    }
    if (c === "'") {
      const close = script.indexOf("'", i + 1)
      if (close < 0) return null
      startWord(i)
      word += script.slice(i + 1, close)
      i = close + 1
      continue
    }
    if (c === '"') {
      startWord(i)
      let j = i + 1
      let closed = false
      while (j < script.length) {
        const d = script[j] as string
        if (d === '"') {
          closed = true
          break
        }
        // Inside double quotes these still expand: the text the program sees is not the text written.
        if (d === '$' || d === '`') return null
        if (d === '\\') {
          const e = script[j + 1]
          if (e === undefined) return null
          if (e === '$' || e === '`' || e === '"' || e === '\\') word += e
          else if (e !== '\n') word += d + e
          j += 2
          continue
        }
        word += d
        j++
      }
      if (!closed) return null
      i = j + 1
      continue
    }
    if (c === '&' || c === '|' || c === ';') {
      const two = script.slice(i, i + 2)
      let op: string
      if (two === '&&' || two === '||') op = two
      else if (c === '|' && two !== '|&') op = '|'
      else if (c === ';' && two !== ';;') op = ';'
      // A lone `&` backgrounds, `|&` redirects stderr, `;;` belongs to case: none is a plain sequence.
      else return null
      endWord(i)
      if (current.length === 0) return null
      endCommand()
      operators.push(op)
      pendingOperator = op
      i += op.length
      continue
    }
    // Expansions, substitutions, redirections, subshells and groups all change what runs.
    if ('$`<>(){}'.includes(c)) return null
    if (c === '#' && word === null) return null
    startWord(i)
    word += c
    i++
  }
  endWord(script.length)
  if (current.length > 0) endCommand()
  else if (pendingOperator !== null && pendingOperator !== ';') return null
  // Every operator follows a command, so one per command means the script ended on `;` or a
  // newline, which bash accepts.
  if (operators.length > 0 && operators.length === commands.length) operators.pop()
  for (const [index, words] of commands.entries()) {
    const head = words[0] as string
    if (RESERVED_WORDS.has(head)) return null
    if (ASSIGNMENT.test(firstRaw[index] ?? '')) return null
  }
  return { commands, operators }
}

/** Quotes one word for a POSIX shell only when it needs it, as shlex's join does. */
export function shellQuote(word: string): string {
  if (word === '') return "''"
  if (/^[A-Za-z0-9,._+:@%/-]+$/.test(word)) return word
  return `'${word.replace(/'/g, `'"'"'`)}'`
}

/** Joins words back into one command line that a shell splits into the same words. */
export function shellJoin(words: readonly string[]): string {
  return words.map(shellQuote).join(' ')
}
