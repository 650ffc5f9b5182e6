/**
 * Plans parsed apply_patch hunks and reports them. `planPatch` reads the files and computes every
 * new content in memory, matching chunks the way codex's `seek_sequence` does, so a patch whose
 * last hunk fails has not touched the first file; `commitPatch` (commit.ts) then writes all of it
 * or none of it. Error messages follow codex's because they go back to the model verbatim. This
 * module must never write anything.
 */
import { promises as fs } from 'node:fs'
import nodePath from 'node:path'
import { structuredPatch } from 'diff'
import type { PatchHunk, UpdateChunk } from './parse'

export type FileChangeKind =
  { type: 'add' } | { type: 'delete' } | { type: 'update'; move_path: string | null }

export interface PlannedChange {
  path: string
  kind: FileChangeKind
  oldContent: string | null
  newContent: string | null
  diff: string
}

export class PatchApplyError extends Error {
  override name = 'PatchApplyError'
}

const DIFF_CONTEXT = 3

/** The `@@` hunks of a unified diff with no file header lines: what codex puts in fileChange diffs. */
export function unifiedHunks(oldText: string, newText: string, context = DIFF_CONTEXT): string {
  const { hunks } = structuredPatch('a', 'b', oldText, newText, undefined, undefined, { context })
  let out = ''
  for (const hunk of hunks) {
    // Unified-diff convention: an empty range names the line before it.
    const oldStart = hunk.oldLines === 0 ? hunk.oldStart - 1 : hunk.oldStart
    const newStart = hunk.newLines === 0 ? hunk.newStart - 1 : hunk.newStart
    out += `@@ -${oldStart},${hunk.oldLines} +${newStart},${hunk.newLines} @@\n`
    for (const line of hunk.lines) out += `${line}\n`
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// Matching (codex's seek_sequence)

const PUNCTUATION: Record<string, string> = {}
for (const c of '\u2010\u2011\u2012\u2013\u2014\u2015\u2212') PUNCTUATION[c] = '-'
for (const c of '\u2018\u2019\u201A\u201B') PUNCTUATION[c] = "'"
for (const c of '\u201C\u201D\u201E\u201F') PUNCTUATION[c] = '"'
for (const c of '\u00A0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u202F\u205F\u3000') {
  PUNCTUATION[c] = ' '
}
const PUNCTUATION_RE = new RegExp(`[${Object.keys(PUNCTUATION).join('')}]`, 'g')
const normalise = (s: string): string => s.trim().replace(PUNCTUATION_RE, (c) => PUNCTUATION[c] ?? c)

const COMPARATORS: ((a: string, b: string) => boolean)[] = [
  (a, b) => a === b,
  (a, b) => a.trimEnd() === b.trimEnd(),
  (a, b) => a.trim() === b.trim(),
  // Models write ASCII; source files often hold typographic dashes and quotes.
  (a, b) => normalise(a) === normalise(b),
]

/**
 * Where `pattern` occurs in `lines` at or after `start`, trying ever looser comparisons so that a
 * strict match anywhere wins over a loose match earlier. With `eof` only the last possible
 * position is tried: the chunk said it ends the file.
 */
export function seekSequence(lines: string[], pattern: string[], start: number, eof: boolean): number | null {
  if (pattern.length === 0) return start
  if (pattern.length > lines.length) return null
  const last = lines.length - pattern.length
  const from = eof ? last : start
  for (const same of COMPARATORS) {
    for (let i = from; i <= last; i++) {
      let ok = true
      for (let j = 0; j < pattern.length; j++) {
        if (!same(lines[i + j]!, pattern[j]!)) {
          ok = false
          break
        }
      }
      if (ok) return i
    }
  }
  return null
}

type Replacement = { start: number; oldLength: number; lines: string[] }

/** The file's content after `chunks`; throws PatchApplyError with codex's wording when one misses. */
export function applyChunks(filePath: string, original: string, chunks: UpdateChunk[]): string {
  const lines = original.split('\n')
  // The final newline is not a line; keeping it would make every count off by one.
  if (lines.at(-1) === '') lines.pop()

  const replacements: Replacement[] = []
  let cursor = 0
  for (const chunk of chunks) {
    if (chunk.changeContext !== null) {
      const at = seekSequence(lines, [chunk.changeContext], cursor, false)
      if (at === null) {
        throw new PatchApplyError(`Failed to find context '${chunk.changeContext}' in ${filePath}`)
      }
      cursor = at + 1
    }

    if (chunk.oldLines.length === 0) {
      // Nothing to match: the lines go right after the @@ context, or at the end without one.
      const at = chunk.changeContext !== null && !chunk.isEndOfFile ? cursor : lines.length
      replacements.push({ start: at, oldLength: 0, lines: chunk.newLines })
      continue
    }

    let pattern = chunk.oldLines
    let replacement = chunk.newLines
    let found = seekSequence(lines, pattern, cursor, chunk.isEndOfFile)
    if (found === null && pattern.at(-1) === '') {
      // A trailing empty old line usually stands for the file's final newline, which we dropped.
      pattern = pattern.slice(0, -1)
      if (replacement.at(-1) === '') replacement = replacement.slice(0, -1)
      found = seekSequence(lines, pattern, cursor, chunk.isEndOfFile)
    }
    if (found === null) {
      throw new PatchApplyError(`Failed to find expected lines in ${filePath}:\n${chunk.oldLines.join('\n')}`)
    }
    replacements.push({ start: found, oldLength: pattern.length, lines: replacement })
    cursor = found + pattern.length
  }

  // Stable sort, applied back to front: earlier splices must not shift later ones, and an
  // insertion sharing a start with a replacement stays in front of it.
  replacements.sort((a, b) => a.start - b.start)
  for (let i = replacements.length - 1; i >= 0; i--) {
    const r = replacements[i]!
    lines.splice(r.start, r.oldLength, ...r.lines)
  }
  if (lines.at(-1) !== '') lines.push('')
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Planning

/** Rust's io::Error wording for the common cases, so the model sees what codex would show. */
export function osReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code
  switch (code) {
    case 'ENOENT':
      return 'No such file or directory (os error 2)'
    case 'EACCES':
      return 'Permission denied (os error 13)'
    case 'EISDIR':
      return 'Is a directory (os error 21)'
    case 'ENOTDIR':
      return 'Not a directory (os error 20)'
    case 'EEXIST':
      return 'File exists (os error 17)'
    case 'ENOTEMPTY':
      return 'Directory not empty (os error 39)'
    default:
      return err instanceof Error ? err.message : String(err)
  }
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === 'ENOENT'

// Keep a BOM as content: dropping it silently would rewrite the file's first bytes.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const lenientUtf8 = new TextDecoder('utf-8', { ignoreBOM: true })

async function readText(filePath: string, strict: boolean): Promise<string> {
  const bytes = await fs.readFile(filePath)
  try {
    return (strict ? strictUtf8 : lenientUtf8).decode(bytes)
  } catch {
    // Rewriting a file we could not decode would corrupt it.
    throw new Error('stream did not contain valid UTF-8')
  }
}

/**
 * Reads the files and computes every change; throws PatchApplyError (nothing written) if any hunk
 * does not apply. Hunks see the effect of earlier hunks in the same patch, as codex's do.
 */
export async function planPatch(hunks: PatchHunk[], cwd: string): Promise<PlannedChange[]> {
  if (hunks.length === 0) throw new PatchApplyError('No files were modified.')
  // What each path holds once the earlier hunks are applied: text, or null for absent.
  const virtual = new Map<string, string | null>()

  const contentForUpdate = async (abs: string): Promise<string> => {
    if (virtual.has(abs)) {
      const content = virtual.get(abs)
      if (content == null) {
        throw new PatchApplyError(`Failed to read file to update ${abs}: ${osReason({ code: 'ENOENT' })}`)
      }
      return content
    }
    try {
      const content = await readText(abs, true)
      virtual.set(abs, content)
      return content
    } catch (err) {
      throw new PatchApplyError(`Failed to read file to update ${abs}: ${osReason(err)}`)
    }
  }

  const contentForDelete = async (abs: string): Promise<string> => {
    if (virtual.has(abs)) {
      const content = virtual.get(abs)
      if (content == null) throw new PatchApplyError(`Failed to delete file ${abs}`)
      return content
    }
    try {
      const stat = await fs.stat(abs)
      if (!stat.isFile()) throw new Error('not a file')
      const content = await readText(abs, false)
      virtual.set(abs, content)
      return content
    } catch {
      throw new PatchApplyError(`Failed to delete file ${abs}`)
    }
  }

  const checkWritable = async (abs: string): Promise<void> => {
    if (virtual.has(abs)) return
    try {
      const stat = await fs.stat(abs)
      if (!stat.isFile()) throw new PatchApplyError(`Failed to write file ${abs}`)
    } catch (err) {
      if (err instanceof PatchApplyError) throw err
      if (!isMissing(err)) throw new PatchApplyError(`Failed to write file ${abs}: ${osReason(err)}`)
    }
  }

  const changes: PlannedChange[] = []
  for (const hunk of hunks) {
    const abs = nodePath.resolve(cwd, hunk.path)
    switch (hunk.type) {
      case 'add': {
        await checkWritable(abs)
        virtual.set(abs, hunk.contents)
        changes.push({
          path: abs,
          kind: { type: 'add' },
          oldContent: null,
          newContent: hunk.contents,
          diff: hunk.contents,
        })
        break
      }
      case 'delete': {
        const old = await contentForDelete(abs)
        virtual.set(abs, null)
        changes.push({ path: abs, kind: { type: 'delete' }, oldContent: old, newContent: null, diff: old })
        break
      }
      case 'update': {
        const old = await contentForUpdate(abs)
        const next = applyChunks(abs, old, hunk.chunks)
        const dest = hunk.movePath === null ? null : nodePath.resolve(cwd, hunk.movePath)
        if (dest !== null && dest !== abs) {
          await checkWritable(dest)
          virtual.set(abs, null)
          virtual.set(dest, next)
        } else {
          virtual.set(abs, next)
        }
        changes.push({
          path: abs,
          kind: { type: 'update', move_path: dest },
          oldContent: old,
          newContent: next,
          diff: unifiedHunks(old, next),
        })
        break
      }
    }
  }
  return changes
}

// ---------------------------------------------------------------------------------------------
// Reporting

/** `abs` relative to `cwd` when it lies inside it, else `abs` unchanged. */
export function displayPath(abs: string, cwd: string): string {
  const rel = nodePath.relative(cwd, abs)
  const outside =
    rel === '' || rel === '..' || rel.startsWith(`..${nodePath.sep}`) || nodePath.isAbsolute(rel)
  return outside ? abs : rel
}

/** codex's success text for the model: added, then modified, then deleted paths. */
export function summarizeApplied(changes: PlannedChange[], cwd: string): string {
  const added: string[] = []
  const modified: string[] = []
  const deleted: string[] = []
  const push = (list: string[], abs: string): void => {
    const shown = displayPath(abs, cwd)
    if (!list.includes(shown)) list.push(shown)
  }
  for (const change of changes) {
    if (change.kind.type === 'add') push(added, change.path)
    else if (change.kind.type === 'delete') push(deleted, change.path)
    else push(modified, change.kind.move_path ?? change.path)
  }
  let text = 'Success. Updated the following files:\n'
  for (const p of added) text += `A ${p}\n`
  for (const p of modified) text += `M ${p}\n`
  for (const p of deleted) text += `D ${p}\n`
  return text
}
