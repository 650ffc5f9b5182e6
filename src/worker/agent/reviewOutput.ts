/**
 * The reviewer's answer: codex's `ReviewOutputEvent` JSON read leniently (the whole text, else the
 * outermost `{...}` in it, else the text as the explanation, as codex does) and rendered as the plain
 * text codex puts in `exitedReviewMode.review` and in the closing agent message:
 *
 *   <overall explanation>
 *
 *   Review comment:            ("Full review comments:" for more than one)
 *
 *   - <title> — <path>:<start>-<end>
 *     <body lines, indented two spaces>
 *
 * Pure; it must never throw on what a model wrote.
 */

export interface ReviewFinding {
  title: string
  body: string
  confidence_score: number
  priority: number | null
  code_location: { absolute_file_path: string; line_range: { start: number; end: number } }
}

export interface ReviewOutput {
  findings: ReviewFinding[]
  overall_correctness: string
  overall_explanation: string
  overall_confidence_score: number
}

export const REVIEW_FALLBACK_MESSAGE = 'Reviewer failed to output a response.'

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
const str = (value: unknown): string => (typeof value === 'string' ? value : '')
const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0)

function finding(value: unknown): ReviewFinding | null {
  if (!isRecord(value) || typeof value.title !== 'string') return null
  const location = isRecord(value.code_location) ? value.code_location : {}
  const range = isRecord(location.line_range) ? location.line_range : {}
  return {
    title: value.title,
    body: str(value.body),
    confidence_score: num(value.confidence_score),
    priority: typeof value.priority === 'number' ? value.priority : null,
    code_location: {
      absolute_file_path: str(location.absolute_file_path),
      line_range: { start: num(range.start), end: num(range.end) },
    },
  }
}

function fromJson(text: string): ReviewOutput | null {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (!isRecord(value)) return null
  const findings = Array.isArray(value.findings) ? value.findings.map(finding) : []
  return {
    findings: findings.filter((item): item is ReviewFinding => item !== null),
    overall_correctness: str(value.overall_correctness),
    overall_explanation: str(value.overall_explanation),
    overall_confidence_score: num(value.overall_confidence_score),
  }
}

export function parseReviewOutput(text: string): ReviewOutput {
  const whole = fromJson(text)
  if (whole) return whole
  const start = text.indexOf('{')
  const end = text.lastIndexOf('}')
  const slice = start >= 0 && end > start ? fromJson(text.slice(start, end + 1)) : null
  if (slice) return slice
  return { findings: [], overall_correctness: '', overall_explanation: text, overall_confidence_score: 0 }
}

export function renderFindings(findings: readonly ReviewFinding[]): string {
  const lines = [findings.length > 1 ? 'Full review comments:' : 'Review comment:']
  for (const item of findings) {
    const { absolute_file_path: path, line_range: range } = item.code_location
    lines.push('', `- ${item.title} — ${path}:${range.start}-${range.end}`)
    for (const line of item.body.split(/\r?\n/)) lines.push(`  ${line}`)
  }
  return lines.join('\n')
}

export function renderReviewOutput(output: ReviewOutput): string {
  const sections: string[] = []
  const explanation = output.overall_explanation.trim()
  if (explanation) sections.push(explanation)
  if (output.findings.length > 0) sections.push(renderFindings(output.findings))
  return sections.length > 0 ? sections.join('\n\n') : REVIEW_FALLBACK_MESSAGE
}
