/**
 * The user's editor command (Settings → Editor command), e.g. `code --goto {path}:{line}:{column}`:
 * split into words the way a shell splits them (whitespace separates, '…' and "…" group) but with
 * no expansion of any kind, the placeholders filled in per word, and the program spawned directly.
 *
 * It must never run a shell: a file path is one argument whatever characters it holds, and nothing
 * in the template or the path is interpreted. There are no backslash escapes, so Windows paths
 * (`"C:\Program Files\Editor\editor.exe"`) work as written; a word cannot contain a quote of the kind
 * that delimits it. No electron import: tested under Node with real child processes.
 */
import { spawn } from 'node:child_process'

export const EDITOR_PLACEHOLDERS = ['{path}', '{line}', '{column}'] as const

export interface EditorLocation {
  path: string
  line: number
  column: number
}

export interface EditorArgv {
  command: string
  args: string[]
}

/** A template that cannot be used; the message is a sentence for the settings dialog. */
export class EditorCommandError extends Error {
  override readonly name = 'EditorCommandError'
}

/** Shell-style words: whitespace separates, quotes group (and are removed), nothing is expanded. */
export function splitEditorCommand(template: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let quote: '"' | "'" | null = null
  for (const char of template) {
    if (quote) {
      if (char === quote) quote = null
      else word += char
      continue
    }
    if (char === '"' || char === "'") {
      quote = char
      inWord = true
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else {
      word += char
      inWord = true
    }
  }
  if (quote) throw new EditorCommandError(`has an unclosed ${quote} quote`)
  if (inWord) words.push(word)
  return words
}

/**
 * Why a template cannot be used (a phrase that follows "Editor command …"), or null when it can.
 * The empty template is valid: it means the OS default app.
 */
export function editorCommandProblem(template: string): string | null {
  if (template.trim() === '') return null
  let words: string[]
  try {
    words = splitEditorCommand(template)
  } catch (error) {
    return (error as Error).message
  }
  const [command, ...args] = words
  if (!command) return 'must name a program'
  if (/\{[^{}]*\}/.test(command)) {
    return 'must start with the editor program, not a placeholder'
  }
  for (const word of args) {
    for (const match of word.matchAll(/\{[^{}]*\}/g)) {
      if (!(EDITOR_PLACEHOLDERS as readonly string[]).includes(match[0])) {
        return `has an unknown placeholder ${match[0]} (use {path}, {line} and {column})`
      }
    }
  }
  if (!args.some((word) => word.includes('{path}'))) {
    return 'must contain {path} where the file goes, e.g. code --goto {path}:{line}:{column}'
  }
  return null
}

/** The program and its arguments for one file location; throws EditorCommandError for a bad template. */
export function editorArgv(template: string, location: EditorLocation): EditorArgv {
  const problem = editorCommandProblem(template)
  if (problem) throw new EditorCommandError(`The editor command ${problem}.`)
  const [command, ...args] = splitEditorCommand(template)
  if (!command) throw new EditorCommandError('The editor command is empty.')
  const values: Record<string, string> = {
    '{path}': location.path,
    '{line}': String(location.line),
    '{column}': String(location.column),
  }
  // One pass per word, so a path that itself contains `{line}` is never substituted again.
  return { command, args: args.map((word) => word.replace(/\{(?:path|line|column)\}/g, (p) => values[p]!)) }
}

/**
 * Starts the editor detached (it may outlive the app) with no shell and no stdio. Resolves once the
 * process has spawned; rejects with a sentence for the user when it cannot be started (not found,
 * not executable). The editor's own exit status is not awaited: many editors hand off and exit.
 */
export function launchEditor(argv: EditorArgv, options: { cwd?: string } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(argv.command, argv.args, {
        detached: true,
        stdio: 'ignore',
        shell: false,
        windowsHide: false,
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      })
    } catch (error) {
      reject(new EditorCommandError(describeSpawnError(argv.command, error as NodeJS.ErrnoException)))
      return
    }
    child.once('spawn', () => {
      child.unref()
      resolve()
    })
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(new EditorCommandError(describeSpawnError(argv.command, error)))
    })
  })
}

function describeSpawnError(command: string, error: NodeJS.ErrnoException): string {
  const fix = 'Check Editor command in Settings.'
  switch (error.code) {
    case 'ENOENT':
      return `Cannot start the editor: ${command} was not found. ${fix}`
    case 'EACCES':
      return `Cannot start the editor: ${command} is not executable. ${fix}`
    case 'EINVAL':
      // Node refuses .cmd/.bat files without a shell (CVE-2024-27980); a shell is never used here.
      return `Cannot start the editor: ${command} cannot be run directly (on Windows, name the editor's .exe). ${fix}`
    default:
      return `Cannot start the editor ${command}: ${error.message}. ${fix}`
  }
}
