/**
 * "Open the file at this line": what a config diagnostic's link does in the app. The file goes to
 * the user's editor command (editorCommand.ts) when one is set, else to the OS default app
 * (Electron's `shell.openPath`, injected).
 *
 * It must only ever open what a diagnostic can point at: an absolute path to an existing regular
 * `.toml` file (config.toml, managed_config.toml, requirements.toml, a project's .codex/config.toml).
 * The extension matters because the renderer is the caller: handing an arbitrary path to the OS
 * default app would run an executable or a script on some systems. No electron import.
 */
import { stat } from 'node:fs/promises'
import { extname, isAbsolute } from 'node:path'
import type { FileLocation, OpenFileResult } from '../renderer/bridge'
import { editorArgv, EditorCommandError, launchEditor, type EditorArgv } from './editorCommand'

export interface OpenFileDeps {
  /** The current template; '' means the OS default app. */
  editorCommand(): string
  /** Electron's `shell.openPath`: resolves with '' on success, else the error text. */
  openPath(path: string): Promise<string>
  launch?: (argv: EditorArgv) => Promise<void>
}

/** Why `path` may not be opened (a sentence for the user), or null when it may. */
export async function openableFileProblem(path: string): Promise<string | null> {
  if (!isAbsolute(path)) return `Only absolute file paths can be opened, not ${path}.`
  if (extname(path).toLowerCase() !== '.toml') {
    return `Only configuration files (.toml) can be opened from a diagnostic, not ${path}.`
  }
  try {
    const info = await stat(path)
    if (!info.isFile()) return `${path} is not a regular file.`
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return `${path} does not exist.`
    return `${path} cannot be read (${code ?? (error as Error).message}).`
  }
  return null
}

export async function openFileAt(location: FileLocation, deps: OpenFileDeps): Promise<OpenFileResult> {
  const problem = await openableFileProblem(location.path)
  if (problem) return { ok: false, message: problem }
  const template = deps.editorCommand()
  if (template.trim() === '') {
    const error = await deps.openPath(location.path)
    return error
      ? { ok: false, message: `The system could not open ${location.path}: ${error}` }
      : { ok: true }
  }
  try {
    await (deps.launch ?? launchEditor)(editorArgv(template, location))
    return { ok: true }
  } catch (error) {
    if (error instanceof EditorCommandError) return { ok: false, message: error.message }
    return { ok: false, message: `Cannot start the editor: ${(error as Error).message}` }
  }
}
