/**
 * The OAuth settings of the main process's ChatGPT sign-in: which issuer, which client id, which
 * scopes, and where the loopback redirect listens. Runtime-free (zod only), so the settings UI and
 * the token owner validate the same way.
 *
 * It must never hard-code a client id that belongs to another product: the default is empty, and a
 * sign-in with an empty client id fails with a message telling the user to set one.
 */
import * as z from 'zod/mini'

export const DEFAULT_ISSUER = 'https://auth.openai.com'
export const DEFAULT_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'offline_access']
export const DEFAULT_REDIRECT_PATH = '/auth/callback'

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** https, or plain http to a loopback host (a local issuer in development and tests). */
function isAcceptableIssuer(value: string): boolean {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return false
  }
  if (url.search || url.hash || url.username || url.password) return false
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))
}

export const OAuthSettingsSchema = z.object({
  issuer: z._default(
    z
      .string({ error: 'must be a URL string' })
      .check(
        z.refine(isAcceptableIssuer, 'must be an https URL (plain http only for 127.0.0.1 or localhost)'),
      ),
    DEFAULT_ISSUER,
  ),
  clientId: z._default(z.string({ error: 'must be a string' }).check(z.trim()), ''),
  scopes: z._default(
    z.array(
      z
        .string({ error: 'must be a list of strings' })
        .check(z.regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'must be a scope token without spaces')),
      { error: 'must be a list of strings' },
    ),
    () => [...DEFAULT_SCOPES],
  ),
  redirectPort: z._default(
    z
      .int({ error: 'must be a whole number' })
      .check(z.minimum(0, 'must be between 0 and 65535'), z.maximum(65535, 'must be between 0 and 65535')),
    0,
  ),
  redirectPath: z._default(
    z
      .string({ error: 'must be a string' })
      .check(z.regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$/, 'must be a URL path starting with /')),
    DEFAULT_REDIRECT_PATH,
  ),
})

export type OAuthSettings = z.output<typeof OAuthSettingsSchema>

export const DEFAULT_OAUTH_SETTINGS: OAuthSettings = Object.freeze({
  issuer: DEFAULT_ISSUER,
  clientId: '',
  scopes: [...DEFAULT_SCOPES],
  redirectPort: 0,
  redirectPath: DEFAULT_REDIRECT_PATH,
})

/**
 * Settings from storage or the settings UI, defaults filled in. Missing (`undefined`/`null`) means
 * all defaults. Throws an Error naming the first bad field, e.g. `OAuth setting "redirectPort" ...`.
 */
export function parseOAuthSettings(raw: unknown): OAuthSettings {
  const result = OAuthSettingsSchema.safeParse(raw ?? {})
  if (result.success) return { ...result.data, issuer: result.data.issuer.replace(/\/+$/, '') }
  const issue = result.error.issues[0]
  const field = issue?.path.map(String).join('.') ?? ''
  if (!field) throw new Error('OAuth settings must be an object')
  throw new Error(`OAuth setting "${field}" is invalid: ${issue?.message ?? 'unexpected value'}`)
}
