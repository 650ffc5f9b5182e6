/**
 * A failed turn's error in words a user reads: one sentence saying what went wrong (could not reach
 * the model server, the credentials were refused, ...), and the core's full message kept as the
 * secondary details. Pure (no DOM); it must never drop information: whatever the sentence leaves
 * out is in `details`.
 */
import type { TurnError } from '../../worker/protocol/items'

export interface ReadableTurnError {
  /** One sentence, ending with a period. */
  summary: string
  /** The core's message and details, when they say more than the summary; null when not. */
  details: string | null
}

type Info = TurnError['codexErrorInfo']

const PLAIN: Partial<Record<Extract<Info, string>, string>> = {
  contextWindowExceeded: "The conversation no longer fits in the model's context window.",
  usageLimitExceeded: 'The usage limit of the account is reached.',
  rateLimitExceeded: 'The model server is limiting requests; try again in a moment.',
  serverOverloaded: 'The model server is overloaded; try again in a moment.',
  modelNotFound: 'The model server does not know this model.',
  internalServerError: 'The model server had an internal error.',
  unauthorized: 'The model server refused the credentials (not signed in, or a wrong API key).',
}

function sentence(text: string): string {
  const trimmed = text.trim().replace(/\s+/g, ' ')
  if (!trimmed) return ''
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1)
  return /[.!?]$/.test(capital) ? capital : `${capital}.`
}

/** What a network failure in the message says, as a sentence; null when it names none. */
function networkSentence(message: string): string | null {
  const refused = /ECONNREFUSED\s+(\[?[0-9a-fA-F.:]+\]?:\d+)/.exec(message)
  if (refused) return `Could not reach the model server (${refused[1]} refused the connection).`
  if (/ECONNREFUSED/.test(message)) return 'Could not reach the model server (the connection was refused).'
  const notFound = /(?:ENOTFOUND|EAI_AGAIN)\s+(\S+)/.exec(message)
  if (notFound) return `Could not reach the model server (the name ${notFound[1]} was not found).`
  if (/ETIMEDOUT|request timed out|timed out/i.test(message))
    return 'The model server did not answer in time.'
  if (/ECONNRESET|socket hang up|other side closed/i.test(message)) {
    return 'The connection to the model server broke off.'
  }
  if (/fetch failed|Connection (?:failed|error)/i.test(message)) return 'Could not reach the model server.'
  return null
}

function infoKind(info: Info): string | null {
  if (info === null) return null
  return typeof info === 'string' ? info : (Object.keys(info)[0] ?? null)
}

export function readableTurnError(error: TurnError | null | undefined): ReadableTurnError {
  if (!error) return { summary: 'The turn failed for an unknown reason.', details: null }
  const message = error.message.trim()
  const extra = error.additionalDetails?.trim()
  const full = extra && !message.includes(extra) ? `${message}\n${extra}` : message
  const kind = infoKind(error.codexErrorInfo)
  // The core's own sign-in guidance is already written for the user, with the fixes: keep it.
  const signIn = /Not signed in:[^\n]*/.exec(message)?.[0]
  let summary = signIn ? sentence(signIn) : networkSentence(full)
  if (!summary && kind && kind in PLAIN) summary = PLAIN[kind as keyof typeof PLAIN] ?? null
  if (!summary && kind === 'badRequest') {
    const said = error.additionalDetails?.trim() || message
    summary = sentence(`The model server rejected the request: ${said}`)
  }
  if (!summary && (kind === 'responseStreamDisconnected' || kind === 'responseStreamConnectionFailed')) {
    summary = 'The connection to the model server broke off.'
  }
  summary ??= sentence(message) || 'The turn failed for an unknown reason.'
  return { summary, details: full && full !== summary ? full : null }
}
