/**
 * The user's AGENTS.md instructions, found and joined as codex 0.169 does:
 * - `$CODEX_DESK_HOME/AGENTS.override.md`, else `$CODEX_DESK_HOME/AGENTS.md` (trimmed; an empty file
 *   counts as absent);
 * - then, from the repository root (the nearest folder above the working folder holding `.git`, a
 *   folder or a file) down to the working folder, the first of `AGENTS.override.md`, `AGENTS.md` and
 *   `project_doc_fallback_filenames` found in each folder; without a repository, the working folder
 *   only. These share `project_doc_max_bytes` (default 32 KiB; 0 turns them off): the file that
 *   crosses the budget is cut there, later ones are left out, blank ones are skipped.
 * The home text and the project text are joined with codex's `--- project-doc ---` separator and sent
 * in codex's wrapper (`# AGENTS.md instructions for <cwd>` + `<INSTRUCTIONS>`).
 *
 * Reads are synchronous (a handful of small files, once per thread and per change of folder) so
 * thread/start can name the files in `instructionSources`. It sits in threads/ for that answer
 * (threads/threadResponses.ts); the agent's turn context (agent/turnContext.ts) sends the text.
 * It must never write anything, and never import agent/ or server/.
 */
import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { EffectiveConfig } from '../config/schema'

export const DEFAULT_PROJECT_DOC_MAX_BYTES = 32 * 1024
const OVERRIDE_NAME = 'AGENTS.override.md'
const DEFAULT_NAME = 'AGENTS.md'
const PROJECT_DOC_SEPARATOR = '\n\n--- project-doc ---\n\n'
const REPLACES_NOTE = 'These AGENTS.md instructions replace all previously provided AGENTS.md instructions.'

export interface ProjectInstructions {
  /** The joined text, or null when no file had any. */
  text: string | null
  /** The files that contributed, in order (thread/start's `instructionSources`). */
  sources: string[]
}

/** The keys this reads; codex's names, passed through config.toml untyped (config/codexKeys.ts). */
function docOptions(config: EffectiveConfig): { maxBytes: number; fallbacks: string[] } {
  const loose = config as Record<string, unknown>
  const max = loose.project_doc_max_bytes
  const fallbacks = loose.project_doc_fallback_filenames
  return {
    maxBytes:
      typeof max === 'number' && Number.isInteger(max) && max >= 0 ? max : DEFAULT_PROJECT_DOC_MAX_BYTES,
    fallbacks: Array.isArray(fallbacks) ? fallbacks.filter((f): f is string => typeof f === 'string') : [],
  }
}

const exists = (path: string): boolean => {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

/** The home file: the override first; a file with nothing but whitespace counts as absent. */
function homeDoc(home: string): { path: string; text: string } | null {
  for (const name of [OVERRIDE_NAME, DEFAULT_NAME]) {
    const path = join(home, name)
    const text = readText(path)?.trim()
    if (text) return { path, text }
  }
  return null
}

/** The folders searched, repository root first; just the working folder outside a repository. */
function searchFolders(cwd: string): string[] {
  let dir = cwd
  try {
    dir = realpathSync(cwd)
  } catch {
    // A folder that does not exist (yet) has no docs above it worth guessing at.
  }
  const chain = [dir]
  for (let cursor = dir; ;) {
    if (exists(join(cursor, '.git'))) return chain.reverse()
    const parent = dirname(cursor)
    if (parent === cursor) return [dir]
    chain.push(parent)
    cursor = parent
  }
}

function projectDocPaths(cwd: string, fallbacks: readonly string[]): string[] {
  const names = [OVERRIDE_NAME, DEFAULT_NAME]
  for (const name of fallbacks) if (name && !names.includes(name)) names.push(name)
  const found: string[] = []
  for (const dir of searchFolders(cwd)) {
    const hit = names.map((name) => join(dir, name)).find(isFileOrLink)
    if (hit) found.push(hit)
  }
  return found
}

function isFileOrLink(path: string): boolean {
  try {
    const stats = lstatSync(path)
    return stats.isFile() || stats.isSymbolicLink()
  } catch {
    return false
  }
}

/** The instructions for a working folder, and the files they came from. */
export function readProjectInstructions(
  cwd: string,
  config: EffectiveConfig,
  home: string,
): ProjectInstructions {
  const { maxBytes, fallbacks } = docOptions(config)
  const sources: string[] = []
  const homeText = homeDoc(home)
  if (homeText) sources.push(homeText.path)
  const parts: string[] = []
  let remaining = maxBytes
  for (const path of maxBytes > 0 ? projectDocPaths(cwd, fallbacks) : []) {
    if (remaining <= 0) break
    let data: Buffer
    try {
      if (!statSync(path).isFile()) continue
      data = readFileSync(path)
    } catch {
      continue // a dangling link or a file that went away
    }
    const used = data.subarray(0, remaining)
    const text = used.toString('utf8')
    if (text.trim() === '') continue
    parts.push(text)
    sources.push(path)
    remaining -= used.length
  }
  const project = parts.length > 0 ? parts.join('\n\n') : null
  const text =
    homeText && project ? homeText.text + PROJECT_DOC_SEPARATOR + project : (homeText?.text ?? project)
  return { text, sources }
}

/**
 * The user message carrying the instructions. `replacing` is for a later message in the same thread
 * (the folder changed): it says the earlier instructions no longer apply.
 */
export function agentsMessageText(cwd: string, text: string, replacing: boolean): string {
  const body = replacing ? `${REPLACES_NOTE}\n\n${text}` : text
  return `# AGENTS.md instructions for ${cwd}\n\n<INSTRUCTIONS>\n${body}\n</INSTRUCTIONS>`
}
