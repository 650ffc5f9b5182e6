/**
 * Reads the claims of a ChatGPT JWT (access or id token) the way codex does: email from `email` or
 * the profile claim, plan, user and account from the `https://api.openai.com/auth` claim. The
 * signature is not checked: the token comes from the user's own sign-in and the backend checks it.
 * Runtime-free (the main process's token owner uses it too). It must never log or echo the token.
 */

export interface ChatgptClaims {
  email: string | null
  planType: string | null
  userId: string | null
  accountId: string | null
  /** Seconds since the epoch, when the token says. */
  expiresAt: number | null
}

/** codex's message for a token that is not a JWT (three base64url parts around a JSON payload). */
export const INVALID_TOKEN_FORMAT = 'invalid ID token format'

const AUTH_CLAIM = 'https://api.openai.com/auth'
const PROFILE_CLAIM = 'https://api.openai.com/profile'

function base64UrlDecode(part: string): string {
  if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new Error(INVALID_TOKEN_FORMAT)
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (part.length % 4)) % 4)
  const binary = atob(base64)
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0))
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
}

const str = (value: unknown): string | null => (typeof value === 'string' && value ? value : null)
const obj = (value: unknown): Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {}

/** Throws Error(INVALID_TOKEN_FORMAT) unless `token` is `header.payload.signature` with a JSON payload. */
export function parseChatgptClaims(token: string): ChatgptClaims {
  const parts = token.split('.')
  if (parts.length !== 3 || !parts[0] || !parts[1] || !parts[2]) throw new Error(INVALID_TOKEN_FORMAT)
  let payload: Record<string, unknown>
  try {
    const parsed: unknown = JSON.parse(base64UrlDecode(parts[1]))
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error()
    payload = parsed as Record<string, unknown>
  } catch {
    throw new Error(INVALID_TOKEN_FORMAT)
  }
  const auth = obj(payload[AUTH_CLAIM])
  const profile = obj(payload[PROFILE_CLAIM])
  return {
    email: str(payload.email) ?? str(profile.email),
    planType: str(auth.chatgpt_plan_type),
    userId: str(auth.chatgpt_user_id) ?? str(auth.user_id),
    accountId: str(auth.chatgpt_account_id),
    expiresAt: typeof payload.exp === 'number' ? payload.exp : null,
  }
}
