/**
 * OAuth 2.0 for the main process's ChatGPT sign-in: endpoint discovery, the authorization code grant
 * with PKCE (RFC 7636, S256) through the system browser and a loopback redirect (RFC 8252), the
 * refresh-token grant and best-effort revocation (RFC 7009). Plain Node (node:http, node:crypto,
 * fetch); no electron import, so it runs under vitest.
 *
 * It must never put a token, an authorization code or a PKCE verifier in an error message, a log
 * line or the browser page; text that comes back from the issuer is scrubbed of the secrets of the
 * request that produced it before anyone sees it.
 *
 * The redirect URI is `http://127.0.0.1:<port><path>`, not `localhost`: the listener binds to the
 * IPv4 loopback only, and a browser may resolve `localhost` to ::1 first and miss it; RFC 8252
 * §8.3 recommends the IP literal for the same reason. An issuer that registered `localhost` for the
 * client id needs the client's registration updated (or a redirect port the issuer accepts).
 */
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as z from 'zod/mini'
import type { OAuthSettings } from './settings'

export const FETCH_TIMEOUT_MS = 15_000
export const DEFAULT_LOGIN_TIMEOUT_MS = 10 * 60_000

/** What the issuer (or the way to it) answered instead of tokens. Its message names no secret. */
export class OAuthError extends Error {
  constructor(
    /** The OAuth error code (`invalid_grant`, `access_denied`, ...) or one of ours: `network_error`, `timeout`, `invalid_response`, `state_mismatch`, `aborted`. */
    readonly error: string,
    /** The issuer's `error_description`, scrubbed; null when it gave none. */
    readonly description: string | null,
    /** The HTTP status of the issuer's answer; null when there was none. */
    readonly status: number | null = null,
    message?: string,
  ) {
    super(message ?? (description ? `${error}: ${description}` : error))
    this.name = 'OAuthError'
  }

  /** Worth trying again later: the issuer was unreachable, slow or failing, not refusing. */
  get transient(): boolean {
    return (
      this.error === 'network_error' ||
      this.error === 'timeout' ||
      this.error === 'temporarily_unavailable' ||
      (this.status !== null && this.status >= 500)
    )
  }
}

/** Replaces every occurrence of each secret (and its URL-encoded form) with `[redacted]`. */
export function redact(text: string, secrets: readonly (string | null | undefined)[]): string {
  let out = text
  for (const secret of secrets) {
    if (!secret || secret.length < 8) continue
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('[redacted]')
  }
  return out
}

const base64url = (bytes: Buffer): string => bytes.toString('base64url')

export interface Pkce {
  /** 43 characters of base64url from 32 random bytes (RFC 7636 §4.1 allows 43-128). */
  verifier: string
  challenge: string
  method: 'S256'
}

export function createPkce(): Pkce {
  const verifier = base64url(randomBytes(32))
  return { verifier, challenge: pkceChallenge(verifier), method: 'S256' }
}

export function pkceChallenge(verifier: string): string {
  return base64url(createHash('sha256').update(verifier, 'ascii').digest())
}

export function randomState(): string {
  return base64url(randomBytes(32))
}

export interface OAuthEndpoints {
  authorizationEndpoint: string
  tokenEndpoint: string
  revocationEndpoint: string | null
}

const DiscoveryDocument = z.looseObject({
  authorization_endpoint: z.string(),
  token_endpoint: z.string(),
  revocation_endpoint: z.optional(z.string()),
})

function isHttpUrl(value: string, issuer: URL): boolean {
  try {
    const url = new URL(value)
    // An https issuer must not send us to plain http; a loopback http issuer (development) may.
    return url.protocol === 'https:' || (url.protocol === 'http:' && issuer.protocol === 'http:')
  } catch {
    return false
  }
}

/** `what` names the far end, e.g. "the issuer at https://auth.openai.com". */
function describeFetchFailure(error: unknown, what: string): OAuthError {
  if (error instanceof OAuthError) return error
  const name = error instanceof Error ? error.name : ''
  if (name === 'TimeoutError') return new OAuthError('timeout', null, null, `Timed out waiting for ${what}.`)
  if (name === 'AbortError') return new OAuthError('aborted', null, null, 'The sign-in was cancelled.')
  // undici's causes ("connect ECONNREFUSED 127.0.0.1:1234") name the address, never a secret.
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : ''
  return new OAuthError('network_error', null, null, `Could not reach ${what}${cause ? ` (${cause})` : ''}.`)
}

function timeoutSignal(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms)
  return signal ? AbortSignal.any([signal, timeout]) : timeout
}

/**
 * `{issuer}/.well-known/openid-configuration`; on 404 the OpenAI issuer layout
 * (`{issuer}/oauth/authorize`, `{issuer}/oauth/token`). Any other failure throws an OAuthError.
 */
export async function discoverEndpoints(
  issuer: string,
  options: { fetch?: typeof fetch; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<OAuthEndpoints> {
  const doFetch = options.fetch ?? fetch
  const base = issuer.replace(/\/+$/, '')
  const issuerUrl = new URL(base)
  let response: Response
  try {
    response = await doFetch(`${base}/.well-known/openid-configuration`, {
      headers: { accept: 'application/json' },
      signal: timeoutSignal(options.signal, options.timeoutMs ?? FETCH_TIMEOUT_MS),
    })
  } catch (error) {
    throw describeFetchFailure(error, `the issuer at ${base}`)
  }
  if (response.status === 404) {
    await response.body?.cancel()
    return {
      authorizationEndpoint: `${base}/oauth/authorize`,
      tokenEndpoint: `${base}/oauth/token`,
      revocationEndpoint: null,
    }
  }
  if (!response.ok) {
    await response.body?.cancel()
    throw new OAuthError(
      response.status >= 500 ? 'temporarily_unavailable' : 'invalid_response',
      null,
      response.status,
      `The issuer at ${base} answered HTTP ${response.status} to discovery.`,
    )
  }
  let document: z.output<typeof DiscoveryDocument>
  try {
    document = DiscoveryDocument.parse(await response.json())
  } catch {
    throw new OAuthError(
      'invalid_response',
      null,
      response.status,
      `The issuer at ${base} sent a discovery document that is not valid.`,
    )
  }
  const endpoints = {
    authorizationEndpoint: document.authorization_endpoint,
    tokenEndpoint: document.token_endpoint,
    revocationEndpoint: document.revocation_endpoint ?? null,
  }
  for (const value of Object.values(endpoints)) {
    if (value !== null && !isHttpUrl(value, issuerUrl)) {
      throw new OAuthError(
        'invalid_response',
        null,
        response.status,
        `The issuer at ${base} lists an endpoint that is not a usable URL.`,
      )
    }
  }
  return endpoints
}

export interface TokenResponse {
  accessToken: string
  refreshToken: string | null
  idToken: string | null
  expiresIn: number | null
}

const TokenBody = z.looseObject({
  access_token: z.string().check(z.minLength(1)),
  refresh_token: z.nullish(z.string()),
  id_token: z.nullish(z.string()),
  expires_in: z.nullish(z.number()),
})

const ErrorBody = z.looseObject({
  error: z.string(),
  error_description: z.nullish(z.string()),
})

/** At most this much of an issuer's description reaches a message (it is shown to the user). */
const MAX_DESCRIPTION = 300

function cleanDescription(text: string | null | undefined, secrets: readonly string[]): string | null {
  if (!text) return null
  const flat = redact(text, secrets).replace(/\s+/g, ' ').trim()
  return flat.length > MAX_DESCRIPTION ? `${flat.slice(0, MAX_DESCRIPTION)}…` : flat || null
}

/** A form-encoded POST to the token endpoint; `secrets` are the values to keep out of any error. */
async function tokenRequest(
  tokenEndpoint: string,
  form: Record<string, string>,
  secrets: readonly string[],
  options: { fetch?: typeof fetch; signal?: AbortSignal; timeoutMs?: number },
): Promise<TokenResponse> {
  const doFetch = options.fetch ?? fetch
  const grant = form.grant_type === 'refresh_token' ? 'token refresh' : 'sign-in'
  let response: Response
  let text: string
  try {
    response = await doFetch(tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form).toString(),
      signal: timeoutSignal(options.signal, options.timeoutMs ?? FETCH_TIMEOUT_MS),
    })
    text = await response.text()
  } catch (error) {
    throw describeFetchFailure(error, "the issuer's token endpoint")
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined // never quote the body: it may hold tokens
  }
  if (!response.ok) {
    const parsed = ErrorBody.safeParse(json)
    if (parsed.success) {
      const description = cleanDescription(parsed.data.error_description, secrets)
      const error = cleanDescription(parsed.data.error, secrets) ?? 'invalid_response'
      const detail = description ? ` (${description})` : ''
      throw new OAuthError(
        error,
        description,
        response.status,
        `The issuer refused the ${grant}: ${error}${detail}.`,
      )
    }
    throw new OAuthError(
      response.status >= 500 ? 'temporarily_unavailable' : 'invalid_response',
      null,
      response.status,
      `The issuer's token endpoint answered HTTP ${response.status} to the ${grant}.`,
    )
  }
  const parsed = TokenBody.safeParse(json)
  if (!parsed.success) {
    throw new OAuthError(
      'invalid_response',
      null,
      response.status,
      `The issuer's token endpoint returned no usable tokens for the ${grant}.`,
    )
  }
  return {
    accessToken: parsed.data.access_token,
    refreshToken: parsed.data.refresh_token || null,
    idToken: parsed.data.id_token || null,
    expiresIn: parsed.data.expires_in ?? null,
  }
}

export interface GrantOptions {
  fetch?: typeof fetch
  signal?: AbortSignal
  timeoutMs?: number
}

export function exchangeAuthorizationCode(
  tokenEndpoint: string,
  params: { code: string; redirectUri: string; clientId: string; codeVerifier: string },
  options: GrantOptions = {},
): Promise<TokenResponse> {
  return tokenRequest(
    tokenEndpoint,
    {
      grant_type: 'authorization_code',
      code: params.code,
      redirect_uri: params.redirectUri,
      client_id: params.clientId,
      code_verifier: params.codeVerifier,
    },
    [params.code, params.codeVerifier],
    options,
  )
}

export function refreshTokenGrant(
  tokenEndpoint: string,
  params: { refreshToken: string; clientId: string; scopes: readonly string[] },
  options: GrantOptions = {},
): Promise<TokenResponse> {
  return tokenRequest(
    tokenEndpoint,
    {
      grant_type: 'refresh_token',
      refresh_token: params.refreshToken,
      client_id: params.clientId,
      scope: params.scopes.join(' '),
    },
    [params.refreshToken],
    options,
  )
}

/** RFC 7009. Throws an OAuthError when the issuer refuses; callers treat it as best effort. */
export async function revokeToken(
  revocationEndpoint: string,
  params: { token: string; tokenTypeHint: 'refresh_token' | 'access_token'; clientId: string },
  options: GrantOptions = {},
): Promise<void> {
  const doFetch = options.fetch ?? fetch
  let response: Response
  try {
    response = await doFetch(revocationEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        token: params.token,
        token_type_hint: params.tokenTypeHint,
        client_id: params.clientId,
      }).toString(),
      signal: timeoutSignal(options.signal, options.timeoutMs ?? FETCH_TIMEOUT_MS),
    })
    await response.body?.cancel()
  } catch (error) {
    throw describeFetchFailure(error, "the issuer's revocation endpoint")
  }
  if (!response.ok) {
    throw new OAuthError(
      'revocation_failed',
      null,
      response.status,
      `The issuer's revocation endpoint answered HTTP ${response.status}.`,
    )
  }
}

export function buildAuthorizeUrl(
  authorizationEndpoint: string,
  params: {
    clientId: string
    redirectUri: string
    scopes: readonly string[]
    state: string
    challenge: string
  },
): string {
  const url = new URL(authorizationEndpoint)
  url.searchParams.set('response_type', 'code')
  url.searchParams.set('client_id', params.clientId)
  url.searchParams.set('redirect_uri', params.redirectUri)
  url.searchParams.set('scope', params.scopes.join(' '))
  url.searchParams.set('state', params.state)
  url.searchParams.set('code_challenge', params.challenge)
  url.searchParams.set('code_challenge_method', 'S256')
  return url.toString()
}

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  )

function page(title: string, body: string): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>codex-desk</title>',
    '<style>body{font-family:system-ui,sans-serif;margin:4rem auto;max-width:32rem;line-height:1.5}</style>',
    `</head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(body)}</p></body></html>`,
  ].join('')
}

export const SUCCESS_PAGE_TITLE = 'Signed in to codex-desk, you can close this tab'
const FAILURE_PAGE_TITLE = 'codex-desk could not sign you in'

export interface LoopbackReceiver {
  /** `http://127.0.0.1:<port><path>` */
  readonly redirectUri: string
  /** The authorization code, once the browser comes back with the right `state`. */
  readonly code: Promise<string>
  /** Stops listening and drops every connection (idempotent); resolves once the port is free. */
  close(): Promise<void>
}

/**
 * Listens on 127.0.0.1 for the one redirect of this sign-in. Any request to the redirect path
 * settles it: the right `state` with a `code` resolves, an `error` from the issuer or a wrong
 * `state` rejects (a forged redirect must not be retried into success). Other paths (favicon) get
 * 404 and change nothing. The server closes itself once settled, on timeout and on abort.
 */
export async function startLoopbackReceiver(options: {
  port: number
  path: string
  state: string
  timeoutMs: number
  signal?: AbortSignal
}): Promise<LoopbackReceiver> {
  let settle!: { resolve(code: string): void; reject(error: Error): void }
  let settled = false
  const code = new Promise<string>((resolve, reject) => (settle = { resolve, reject }))
  code.catch(() => {}) // the caller awaits it; this keeps an early rejection from being "unhandled"

  const server = createServer((req, res) => handle(req, res))
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    return closing
  }

  const finish = (outcome: { code: string } | { error: Error }) => {
    if (settled) return
    settled = true
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', onAbort)
    if ('code' in outcome) settle.resolve(outcome.code)
    else settle.reject(outcome.error)
  }

  function answer(res: ServerResponse, status: number, html: string, after: () => void) {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'close',
    })
    // Settle and close only after the page reached the socket, so the browser shows it.
    res.end(html, () => {
      after()
      void close()
    })
  }

  function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    if (req.method !== 'GET' || url.pathname !== options.path || settled) {
      res
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' })
        .end('Not found')
      return
    }
    const params = url.searchParams
    if (params.get('state') !== options.state) {
      const error = new OAuthError(
        'state_mismatch',
        null,
        null,
        'The sign-in was refused: the browser came back with a state that does not match this sign-in. Try signing in again.',
      )
      answer(
        res,
        400,
        page(FAILURE_PAGE_TITLE, 'The sign-in response did not match. Please try again from codex-desk.'),
        () => finish({ error }),
      )
      return
    }
    const issuerError = params.get('error')
    if (issuerError !== null) {
      const description = cleanDescription(params.get('error_description'), [])
      const short = cleanDescription(issuerError, []) ?? 'error'
      const error = new OAuthError(
        short,
        description,
        null,
        `The sign-in was not completed: the issuer answered ${short}${description ? ` (${description})` : ''}.`,
      )
      answer(res, 400, page(FAILURE_PAGE_TITLE, `The issuer answered: ${description ?? short}`), () =>
        finish({ error }),
      )
      return
    }
    const received = params.get('code')
    if (!received) {
      const error = new OAuthError(
        'invalid_response',
        null,
        null,
        'The sign-in was not completed: the issuer sent no authorization code.',
      )
      answer(res, 400, page(FAILURE_PAGE_TITLE, 'The sign-in response had no authorization code.'), () =>
        finish({ error }),
      )
      return
    }
    answer(res, 200, page(SUCCESS_PAGE_TITLE, 'You can return to codex-desk now.'), () =>
      finish({ code: received }),
    )
  }

  const onAbort = () => {
    finish({ error: new OAuthError('aborted', null, null, 'The sign-in was cancelled.') })
    void close()
  }
  const timer = setTimeout(() => {
    const minutes = Math.round(options.timeoutMs / 60_000)
    const span = minutes >= 1 ? `${minutes} minute${minutes === 1 ? '' : 's'}` : `${options.timeoutMs} ms`
    finish({
      error: new OAuthError(
        'timeout',
        null,
        null,
        `The sign-in timed out: the browser did not come back within ${span}.`,
      ),
    })
    void close()
  }, options.timeoutMs)
  timer.unref()

  if (options.signal?.aborted) {
    clearTimeout(timer)
    throw new OAuthError('aborted', null, null, 'The sign-in was cancelled.')
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  }).catch((error: unknown) => {
    clearTimeout(timer)
    const detail = (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? ' is in use' : ' is not available'
    throw new OAuthError(
      'loopback_unavailable',
      null,
      null,
      `The sign-in could not start: port ${options.port} on 127.0.0.1${detail}. Close the other program or change the redirect port in settings.`,
    )
  })
  options.signal?.addEventListener('abort', onAbort, { once: true })
  const { port } = server.address() as AddressInfo
  return {
    redirectUri: `http://127.0.0.1:${port}${options.path}`,
    code,
    close: () => {
      finish({ error: new OAuthError('aborted', null, null, 'The sign-in was cancelled.') })
      return close()
    },
  }
}

export interface AuthorizeOptions {
  settings: OAuthSettings
  endpoints: OAuthEndpoints
  openExternal(url: string): Promise<void>
  fetch?: typeof fetch
  signal?: AbortSignal
  timeoutMs?: number
}

/**
 * The whole authorization code + PKCE round trip: loopback listener, browser, code, token exchange.
 * The listener is closed on every path out.
 */
export async function authorizeWithPkce(options: AuthorizeOptions): Promise<TokenResponse> {
  const { settings } = options
  const pkce = createPkce()
  const state = randomState()
  const receiver = await startLoopbackReceiver({
    port: settings.redirectPort,
    path: settings.redirectPath,
    state,
    timeoutMs: options.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS,
    ...(options.signal ? { signal: options.signal } : {}),
  })
  try {
    const url = buildAuthorizeUrl(options.endpoints.authorizationEndpoint, {
      clientId: settings.clientId,
      redirectUri: receiver.redirectUri,
      scopes: settings.scopes,
      state,
      challenge: pkce.challenge,
    })
    try {
      await options.openExternal(url)
    } catch {
      throw new OAuthError(
        'browser_unavailable',
        null,
        null,
        'The sign-in could not open the system browser.',
      )
    }
    const code = await receiver.code
    return await exchangeAuthorizationCode(
      options.endpoints.tokenEndpoint,
      { code, redirectUri: receiver.redirectUri, clientId: settings.clientId, codeVerifier: pkce.verifier },
      {
        ...(options.fetch ? { fetch: options.fetch } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    )
  } finally {
    await receiver.close()
  }
}
