/**
 * What the model reads back from a shell command, in codex's format: exit code, wall time and the
 * output, cut in the middle (head and tail kept, codex's "[... omitted N of M lines ...]" marker
 * between) so one noisy command cannot flood the context window.
 *
 * Only the model's copy is cut: clients get the full stream. The cut must never split a UTF-8
 * character, and the result must never exceed the byte budget, marker included.
 */
import type { ExecResult } from './run'

/** codex's model-formatting limits. */
export const MODEL_FORMAT_MAX_BYTES = 10 * 1024
export const MODEL_FORMAT_MAX_LINES = 256

/** codex's conventional exit code for a command it killed on timeout. */
export const TIMEOUT_EXIT_CODE = 124

export interface TruncateOptions {
  maxBytes?: number
  maxLines?: number
}

/** Lines as Rust's `str::lines` counts them: a final newline does not start another line. */
export function countLines(text: string): number {
  if (text === '') return 0
  let count = 1
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) count++
  return text.endsWith('\n') ? count - 1 : count
}

function isContinuationByte(byte: number | undefined): boolean {
  return byte !== undefined && (byte & 0xc0) === 0x80
}

/** The largest cut at or before `at` that falls on a UTF-8 character boundary. */
function floorBoundary(bytes: Buffer, at: number): number {
  let cut = Math.max(0, Math.min(at, bytes.length))
  while (cut > 0 && cut < bytes.length && isContinuationByte(bytes[cut])) cut--
  return cut
}

/** The smallest cut at or after `at` that falls on a UTF-8 character boundary. */
function ceilBoundary(bytes: Buffer, at: number): number {
  let cut = Math.max(0, Math.min(at, bytes.length))
  while (cut < bytes.length && isContinuationByte(bytes[cut])) cut++
  return cut
}

/** Byte offsets at which each line (newline included) starts. */
function lineStarts(bytes: Buffer): number[] {
  const starts = [0]
  for (let i = bytes.indexOf(10); i >= 0 && i + 1 < bytes.length; i = bytes.indexOf(10, i + 1))
    starts.push(i + 1)
  return starts
}

/** How many lines have at least one byte in [from, to). */
function linesTouched(starts: number[], total: number, from: number, to: number): number {
  if (to <= from) return 0
  let count = 0
  for (let line = 0; line < total; line++) {
    const start = starts[line] as number
    const end = line + 1 < starts.length ? (starts[line + 1] as number) : Number.POSITIVE_INFINITY
    if (start < to && end > from) count++
  }
  return count
}

/**
 * Head and tail kept with codex's marker in the middle when text exceeds maxBytes (default 10 KiB) or
 * maxLines (default 256): half the lines (and half the bytes) from the head, the rest from the tail.
 * Never splits a UTF-8 character.
 */
export function truncateMiddle(text: string, options: TruncateOptions = {}): string {
  const maxBytes = options.maxBytes ?? MODEL_FORMAT_MAX_BYTES
  const maxLines = options.maxLines ?? MODEL_FORMAT_MAX_LINES
  const bytes = Buffer.from(text, 'utf8')
  const totalLines = countLines(text)
  if (bytes.length <= maxBytes && totalLines <= maxLines) return text

  const starts = lineStarts(bytes)
  const headLines = Math.min(Math.floor(maxLines / 2), totalLines)
  const tailLines = Math.min(maxLines - Math.floor(maxLines / 2), totalLines - headLines)
  const headLineEnd = headLines < starts.length ? (starts[headLines] as number) : bytes.length
  // With too few lines to fill the tail window (one long line), the tail still comes from the end.
  const tailLineStart = tailLines > 0 ? (starts[totalLines - tailLines] as number) : 0

  const lineMarker = (omitted: number): string => `\n[... omitted ${omitted} of ${totalLines} lines ...]\n\n`
  // When every line is at least partly shown (one very long line), a line count would say nothing.
  const byteMarker = (omitted: number): string => `\n[... omitted ${omitted} bytes ...]\n\n`

  // Budget for the widest marker this text can get; the one finally written is never longer.
  const widest = Math.max(
    Buffer.byteLength(lineMarker(totalLines)),
    Buffer.byteLength(byteMarker(bytes.length)),
  )
  if (widest >= maxBytes) {
    // A budget smaller than the marker itself: codex sends the clipped marker alone.
    const only = Buffer.from(lineMarker(totalLines), 'utf8')
    return only.subarray(0, floorBoundary(only, maxBytes)).toString('utf8')
  }
  let headBudget = Math.floor(maxBytes / 2)
  if (maxBytes - headBudget < widest) headBudget = Math.max(0, maxBytes - widest)
  const headEnd = floorBoundary(bytes, Math.min(headLineEnd, headBudget))
  const tailBudget = Math.max(0, maxBytes - headEnd - widest)
  const tailFrom = Math.max(tailLineStart, headEnd, bytes.length - tailBudget)
  const tailStart = ceilBoundary(bytes, tailFrom)

  const shownLines =
    linesTouched(starts, totalLines, 0, headEnd) + linesTouched(starts, totalLines, tailStart, bytes.length)
  const omittedLines = Math.max(0, totalLines - shownLines)
  const head = bytes.subarray(0, headEnd).toString('utf8')
  const tail = bytes.subarray(tailStart).toString('utf8')
  const marker = omittedLines > 0 ? lineMarker(omittedLines) : byteMarker(tailStart - headEnd)
  return `${head}${marker}${tail}`
}

/** The number a shell would report: 124 for codex's timeout, 128 + n for a signal, -1 when unknown. */
export function modelExitCode(result: ExecResult): number {
  if (result.timedOut) return TIMEOUT_EXIT_CODE
  if (result.exitCode !== null) return result.exitCode
  if (result.signal !== null) {
    const number = SIGNAL_NUMBERS[result.signal]
    if (number !== undefined) return 128 + number
  }
  return -1
}

const SIGNAL_NUMBERS: Partial<Record<NodeJS.Signals, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
}

/**
 * What the model gets back from shell_command, codex's freeform format:
 *
 *     Exit code: 0
 *     Wall time: 0.3 seconds
 *     Total output lines: 900        (only when the output was cut)
 *     Output:
 *     <output>
 *
 * A timed-out command's output starts with codex's "command timed out after N milliseconds" line,
 * where N is the elapsed time (codex's choice) unless `timeoutMs` is given; a command that never
 * started is "execution error: <message>".
 */
export function formatExecOutput(
  result: ExecResult,
  options: { timeoutMs?: number } & TruncateOptions = {},
): string {
  if (result.spawnError !== null) return `execution error: ${result.spawnError}`
  const content = result.timedOut
    ? `command timed out after ${Math.round(options.timeoutMs ?? result.durationMs)} milliseconds\n${result.output}`
    : result.output
  const body = truncateMiddle(content, options)
  // Rounded to a tenth, printed without trailing zeros like Rust's f32 Display ("1", "0.3").
  const seconds = Math.round(result.durationMs / 100) / 10
  const sections = [`Exit code: ${modelExitCode(result)}`, `Wall time: ${seconds} seconds`]
  const totalLines = countLines(content)
  if (totalLines !== countLines(body)) sections.push(`Total output lines: ${totalLines}`)
  sections.push('Output:', body)
  return sections.join('\n')
}
