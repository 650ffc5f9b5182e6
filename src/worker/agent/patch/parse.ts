/**
 * Parser for codex's apply_patch envelope (`*** Begin Patch` … `*** End Patch`). It turns the
 * model's text into hunks and reports malformed input with codex's own messages, because those
 * messages go back to the model, which was trained on them. Parsing is lenient in the same places
 * codex is (heredoc wrapper, padded markers, blank lines). This module must never touch the file
 * system or decide whether a hunk applies: that is the planner's job, with the file in hand.
 */

export interface UpdateChunk {
  changeContext: string | null
  oldLines: string[]
  newLines: string[]
  isEndOfFile: boolean
}

export type PatchHunk =
  | { type: 'add'; path: string; contents: string }
  | { type: 'delete'; path: string }
  | { type: 'update'; path: string; movePath: string | null; chunks: UpdateChunk[] }

export class PatchParseError extends Error {
  override name = 'PatchParseError'
}

const BEGIN_PATCH = '*** Begin Patch'
const END_PATCH = '*** End Patch'
const ADD_FILE = '*** Add File: '
const DELETE_FILE = '*** Delete File: '
const UPDATE_FILE = '*** Update File: '
const MOVE_TO = '*** Move to: '
const END_OF_FILE = '*** End of File'
const CONTEXT = '@@ '
const EMPTY_CONTEXT = '@@'

// Models sometimes send the shell form verbatim (`apply_patch <<'EOF'`), not just the heredoc.
const HEREDOC_OPEN = /^(?:(?:apply_patch|applypatch)\s+)?<<\s*(['"]?)EOF\1$/

const invalidPatch = (message: string): PatchParseError => new PatchParseError(`invalid patch: ${message}`)
const invalidHunk = (lineNumber: number, message: string): PatchParseError =>
  new PatchParseError(`invalid hunk at line ${lineNumber}, ${message}`)

/** Rust's `str::lines`: split on \n and drop one trailing \r per line, so CRLF patches parse too. */
function splitLines(text: string): string[] {
  if (text === '') return []
  return text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line))
}

function hasBoundaries(lines: string[]): boolean {
  return lines.length >= 2 && lines[0]!.trim() === BEGIN_PATCH && lines.at(-1)!.trim() === END_PATCH
}

function boundaryError(lines: string[]): PatchParseError {
  if (lines.length === 0 || lines[0]!.trim() !== BEGIN_PATCH) {
    return invalidPatch(`The first line of the patch must be '${BEGIN_PATCH}'`)
  }
  return invalidPatch(`The last line of the patch must be '${END_PATCH}'`)
}

function stripHeredoc(lines: string[]): string[] | null {
  if (lines.length < 4) return null
  if (!HEREDOC_OPEN.test(lines[0]!.trim()) || !lines.at(-1)!.endsWith('EOF')) return null
  return lines.slice(1, -1)
}

/** The patch's lines between (and including) the envelope markers, or the error codex would give. */
function envelope(text: string): string[] {
  const lines = splitLines(text.trim())
  if (hasBoundaries(lines)) return lines
  const inner = stripHeredoc(lines)
  if (inner && hasBoundaries(inner)) return inner
  // Report against the inner text when the wrapper was recognised: that is what the model meant.
  throw boundaryError(inner ?? lines)
}

export function looksLikePatch(text: string): boolean {
  const lines = splitLines(text.trim())
  const first = lines[0]?.trim()
  if (first === BEGIN_PATCH) return true
  return first !== undefined && HEREDOC_OPEN.test(first) && lines[1]?.trim() === BEGIN_PATCH
}

export function parsePatch(text: string): PatchHunk[] {
  const lines = envelope(text)
  const body = lines.slice(1, -1)
  const hunks: PatchHunk[] = []
  let index = 0
  while (index < body.length) {
    // Line numbers are 1-based and count the Begin Patch line, as codex's do.
    const { hunk, consumed } = parseHunk(body, index, index + 2)
    hunks.push(hunk)
    index += consumed
  }
  return hunks
}

function parseHunk(
  lines: string[],
  start: number,
  lineNumber: number,
): { hunk: PatchHunk; consumed: number } {
  const header = lines[start]!.trim()

  if (header.startsWith(ADD_FILE)) {
    let contents = ''
    let consumed = 1
    for (let i = start + 1; i < lines.length && lines[i]!.startsWith('+'); i++) {
      contents += `${lines[i]!.slice(1)}\n`
      consumed++
    }
    return { hunk: { type: 'add', path: header.slice(ADD_FILE.length), contents }, consumed }
  }

  if (header.startsWith(DELETE_FILE)) {
    return { hunk: { type: 'delete', path: header.slice(DELETE_FILE.length) }, consumed: 1 }
  }

  if (header.startsWith(UPDATE_FILE)) {
    const path = header.slice(UPDATE_FILE.length)
    let consumed = 1
    let movePath: string | null = null
    const maybeMove = lines[start + 1]?.trim()
    if (maybeMove?.startsWith(MOVE_TO)) {
      movePath = maybeMove.slice(MOVE_TO.length)
      consumed++
    }
    const chunks: UpdateChunk[] = []
    while (start + consumed < lines.length) {
      const line = lines[start + consumed]!
      // Blank lines between chunks are separators, not content.
      if (line.trim() === '') {
        consumed++
        continue
      }
      if (line.startsWith('*')) break
      const parsed = parseChunk(lines, start + consumed, lineNumber + consumed, chunks.length === 0)
      chunks.push(parsed.chunk)
      consumed += parsed.consumed
    }
    if (chunks.length === 0) {
      throw invalidHunk(lineNumber, `Update file hunk for path '${path}' is empty`)
    }
    return { hunk: { type: 'update', path, movePath, chunks }, consumed }
  }

  throw invalidHunk(
    lineNumber,
    `'${header}' is not a valid hunk header. Valid hunk headers: '*** Add File: {path}', '*** Delete File: {path}', '*** Update File: {path}'`,
  )
}

function parseChunk(
  lines: string[],
  start: number,
  lineNumber: number,
  allowMissingContext: boolean,
): { chunk: UpdateChunk; consumed: number } {
  const first = lines[start]!
  let changeContext: string | null = null
  let headerLines = 0
  if (first === EMPTY_CONTEXT) {
    headerLines = 1
  } else if (first.startsWith(CONTEXT)) {
    changeContext = first.slice(CONTEXT.length)
    headerLines = 1
  } else if (!allowMissingContext) {
    throw invalidHunk(lineNumber, `Expected update hunk to start with a @@ context marker, got: '${first}'`)
  }
  if (start + headerLines >= lines.length) {
    throw invalidHunk(lineNumber + 1, 'Update hunk does not contain any lines')
  }

  const chunk: UpdateChunk = { changeContext, oldLines: [], newLines: [], isEndOfFile: false }
  let bodyLines = 0
  for (let i = start + headerLines; i < lines.length; i++) {
    const line = lines[i]!
    const here = lineNumber + headerLines + bodyLines
    if (line.trim() === END_OF_FILE) {
      if (bodyLines === 0) throw invalidHunk(here, 'Update hunk does not contain any lines')
      chunk.isEndOfFile = true
      bodyLines++
      break
    }
    const marker = line[0]
    if (marker === undefined) {
      // Editors and models drop the lone space of an empty context line; codex reads it back.
      chunk.oldLines.push('')
      chunk.newLines.push('')
    } else if (marker === ' ') {
      chunk.oldLines.push(line.slice(1))
      chunk.newLines.push(line.slice(1))
    } else if (marker === '+') {
      chunk.newLines.push(line.slice(1))
    } else if (marker === '-') {
      chunk.oldLines.push(line.slice(1))
    } else {
      if (bodyLines === 0) {
        throw invalidHunk(
          here,
          `Unexpected line found in update hunk: '${line}'. Every line should start with ' ' (context line), '+' (added line), or '-' (removed line)`,
        )
      }
      // Anything else starts the next chunk or hunk.
      break
    }
    bodyLines++
  }
  return { chunk, consumed: headerLines + bodyLines }
}
