/**
 * The scripted OAuth issuer: a real node:http server on 127.0.0.1 that plays auth.openai.com for the
 * token owner's tests. Discovery, `GET /oauth/authorize` (checks client id, response type, loopback
 * redirect, S256 challenge, state; 302s back with a code or a scripted `error`), `POST /oauth/token`
 * (single-use codes checked against the PKCE challenge and redirect URI; refresh tokens that rotate,
 * a used one answering `invalid_grant`), and `POST /oauth/revoke`. Tokens are HS256 JWTs signed with
 * jose, shaped like ChatGPT's (`email`, `exp`, `https://api.openai.com/auth`); every one is distinct.
 *
 *   const issuer = await startOAuthIssuer({ account: { email: 'ada@example.com' } })
 *   issuer.failNextToken({ status: 400, error: 'invalid_grant' })
 *
 * Its request log holds methods, paths, grant types and form field names, never a secret value;
 * `secrets()` lists every token and code it handed out, so tests can assert none of them leaked.
 * `close()` ends every socket and pending delay; nothing it does can keep the test process alive.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { SignJWT } from 'jose'

export interface IssuerAccount {
  email: string
  /** null: the tokens carry no `chatgpt_account_id` (a sign-in codex-desk must refuse). */
  accountId: string | null
  planType: string
  userId: string
}

export interface OAuthIssuerOptions {
  /** The only client id it accepts (default `codex-desk-test`). */
  clientId?: string
  account?: Partial<IssuerAccount>
  /** Serve the discovery document (default true); false answers 404 like a bare OpenAI layout. */
  discovery?: boolean
  /** Advertise and serve `/oauth/revoke` (default true). */
  revocation?: boolean
  /** Each refresh returns a new refresh token and invalidates the used one (default true). */
  rotateRefreshTokens?: boolean
  accessTokenTtlSeconds?: number
}

export interface IssuerRequest {
  method: string
  path: string
  /** `grant_type` of a token call. */
  grantType: string | null
  /** Names of the form fields (token and revoke calls) or query parameters (authorize); never values. */
  fields: string[]
  status: number
}

/** What the issuer checked when it redeemed an authorization code. */
export interface CodeExchange {
  verifierLength: number
  challengeMethod: string
  /** sha256(code_verifier) in base64url equals the code_challenge from the authorize request. */
  verifierMatched: boolean
  redirectUriMatched: boolean
}

export interface IssuedTokens {
  accessToken: string
  refreshToken: string
  idToken: string
}

export interface TokenFailure {
  status: number
  error?: string
  description?: string
  /** Quote the presented code or refresh token in the description, as a careless issuer might. */
  echoSecret?: boolean
}

export interface ScriptedIssuer {
  /** `http://127.0.0.1:PORT`, the issuer URL for the settings. */
  readonly url: string
  readonly clientId: string
  readonly requests: IssuerRequest[]
  readonly codeExchanges: CodeExchange[]
  /** Every token call of this grant type, including failed ones. */
  grants(grantType: 'authorization_code' | 'refresh_token'): IssuerRequest[]
  /** The most recently issued token set. */
  lastIssued(): IssuedTokens | null
  /** Every token and authorization code it ever handed out. */
  secrets(): string[]
  /** Whether this refresh token would be accepted now. */
  isRefreshTokenValid(token: string): boolean
  wasRevoked(token: string): boolean
  /** A token set issued outside the browser flow (what a codex auth.json would hold). */
  mint(): Promise<IssuedTokens>
  /** The next authorize request redirects back with this error instead of a code. */
  denyNextAuthorization(error?: string, description?: string): void
  /** The next token call (any grant) fails like this. */
  failNextToken(failure: TokenFailure): void
  /** The next token call waits this long before it is handled. */
  delayNextToken(ms: number): void
  /** Every refresh token issued so far stops working (answers invalid_grant). */
  expireRefreshTokens(): void
  close(): Promise<void>
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])
const AUTH_CLAIM = 'https://api.openai.com/auth'
const PROFILE_CLAIM = 'https://api.openai.com/profile'

interface PendingCode {
  clientId: string
  redirectUri: string
  challenge: string
  challengeMethod: string
  used: boolean
  expiresAt: number
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return null
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body))
}

export async function startOAuthIssuer(options: OAuthIssuerOptions = {}): Promise<ScriptedIssuer> {
  const clientId = options.clientId ?? 'codex-desk-test'
  const account: IssuerAccount = {
    email: 'ada@example.com',
    accountId: 'acct-test-1',
    planType: 'plus',
    userId: 'user-test-1',
    ...options.account,
  }
  const discovery = options.discovery ?? true
  const revocation = options.revocation ?? true
  const rotate = options.rotateRefreshTokens ?? true
  const ttl = options.accessTokenTtlSeconds ?? 3600
  const key = randomBytes(32)

  const requests: IssuerRequest[] = []
  const codeExchanges: CodeExchange[] = []
  const codes = new Map<string, PendingCode>()
  const validRefresh = new Set<string>()
  const usedRefresh = new Set<string>()
  const revoked = new Set<string>()
  const secrets: string[] = []
  let last: IssuedTokens | null = null
  let nextDenial: { error: string; description: string } | null = null
  const failures: TokenFailure[] = []
  const delays: number[] = []
  const sleepers = new Set<() => void>()
  let closing = false
  let url = ''

  const jwt = (payload: Record<string, unknown>, audience: string) =>
    new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(url)
      .setAudience(audience)
      .setSubject(account.userId)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
      .setJti(randomUUID()) // makes every token distinct, even two issued in the same second
      .sign(key)

  async function issue(): Promise<IssuedTokens> {
    const auth: Record<string, unknown> = {
      chatgpt_plan_type: account.planType,
      chatgpt_user_id: account.userId,
      user_id: account.userId,
    }
    if (account.accountId !== null) auth.chatgpt_account_id = account.accountId
    const tokens: IssuedTokens = {
      // Like OpenAI's: the access token carries the email in the profile claim, not at the top level.
      accessToken: await jwt(
        {
          [AUTH_CLAIM]: auth,
          [PROFILE_CLAIM]: { email: account.email, email_verified: true },
          scp: ['openid', 'profile', 'email', 'offline_access'],
        },
        'https://api.openai.com/v1',
      ),
      idToken: await jwt({ email: account.email, email_verified: true, [AUTH_CLAIM]: auth }, clientId),
      refreshToken: `rt_${randomBytes(24).toString('base64url')}`,
    }
    validRefresh.add(tokens.refreshToken)
    secrets.push(tokens.accessToken, tokens.idToken, tokens.refreshToken)
    last = tokens
    return tokens
  }

  const tokenBody = (tokens: IssuedTokens, includeRefresh: boolean) => ({
    access_token: tokens.accessToken,
    id_token: tokens.idToken,
    ...(includeRefresh ? { refresh_token: tokens.refreshToken } : {}),
    token_type: 'Bearer',
    expires_in: ttl,
  })

  function sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        sleepers.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref()
      sleepers.add(done)
    })
  }

  function authorize(query: URLSearchParams, res: ServerResponse): number {
    const redirectUri = query.get('redirect_uri') ?? ''
    let redirect: URL
    try {
      redirect = new URL(redirectUri)
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_request: redirect_uri')
      return 400
    }
    // Never redirect to an unchecked URI (RFC 6749 §4.1.2.1): answer the browser directly.
    if (redirect.protocol !== 'http:' || !LOOPBACK_HOSTS.has(redirect.hostname) || !redirect.port) {
      res
        .writeHead(400, { 'content-type': 'text/plain' })
        .end('invalid_request: redirect_uri must be a loopback URL')
      return 400
    }
    const problems: string[] = []
    if (query.get('client_id') !== clientId) problems.push('client_id')
    if (query.get('response_type') !== 'code') problems.push('response_type')
    if (query.get('code_challenge_method') !== 'S256') problems.push('code_challenge_method')
    if (!/^[A-Za-z0-9_-]{43}$/.test(query.get('code_challenge') ?? '')) problems.push('code_challenge')
    const state = query.get('state')
    if (!state) problems.push('state')
    if (problems.length > 0) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(`invalid_request: ${problems.join(', ')}`)
      return 400
    }
    const back = new URL(redirect)
    if (nextDenial) {
      back.searchParams.set('error', nextDenial.error)
      back.searchParams.set('error_description', nextDenial.description)
      nextDenial = null
    } else {
      const code = `ac_${randomBytes(24).toString('base64url')}`
      secrets.push(code)
      codes.set(code, {
        clientId,
        redirectUri,
        challenge: query.get('code_challenge') as string,
        challengeMethod: 'S256',
        used: false,
        expiresAt: Date.now() + 60_000,
      })
      back.searchParams.set('code', code)
    }
    back.searchParams.set('state', state as string)
    res.writeHead(302, { location: back.toString() }).end()
    return 302
  }

  async function token(form: URLSearchParams, res: ServerResponse): Promise<number> {
    const delay = delays.shift()
    if (delay !== undefined) await sleep(delay)
    const failure = failures.shift()
    if (failure) {
      const error = failure.error ?? (failure.status >= 500 ? 'temporarily_unavailable' : 'invalid_request')
      let description = failure.description ?? `scripted ${error}`
      if (failure.echoSecret) description += ` for ${form.get('code') ?? form.get('refresh_token') ?? ''}`
      json(res, failure.status, { error, error_description: description })
      return failure.status
    }
    const fail = (status: number, error: string, description: string) => {
      json(res, status, { error, error_description: description })
      return status
    }
    if (form.get('client_id') !== clientId) return fail(401, 'invalid_client', 'unknown client')
    switch (form.get('grant_type')) {
      case 'authorization_code': {
        const code = form.get('code') ?? ''
        const pending = codes.get(code)
        if (!pending) return fail(400, 'invalid_grant', 'unknown authorization code')
        if (pending.used) return fail(400, 'invalid_grant', 'authorization code already used')
        pending.used = true
        if (Date.now() > pending.expiresAt) return fail(400, 'invalid_grant', 'authorization code expired')
        const verifier = form.get('code_verifier') ?? ''
        const exchange: CodeExchange = {
          verifierLength: verifier.length,
          challengeMethod: pending.challengeMethod,
          verifierMatched:
            /^[A-Za-z0-9._~-]{43,128}$/.test(verifier) &&
            createHash('sha256').update(verifier, 'ascii').digest('base64url') === pending.challenge,
          redirectUriMatched: form.get('redirect_uri') === pending.redirectUri,
        }
        codeExchanges.push(exchange)
        if (!exchange.verifierMatched) return fail(400, 'invalid_grant', 'code_verifier does not match')
        if (!exchange.redirectUriMatched) return fail(400, 'invalid_grant', 'redirect_uri does not match')
        json(res, 200, tokenBody(await issue(), true))
        return 200
      }
      case 'refresh_token': {
        const presented = form.get('refresh_token') ?? ''
        if (usedRefresh.has(presented)) return fail(400, 'invalid_grant', 'refresh token already used')
        if (!validRefresh.has(presented))
          return fail(400, 'invalid_grant', 'refresh token expired or revoked')
        if (rotate) {
          validRefresh.delete(presented)
          usedRefresh.add(presented)
        }
        const tokens = await issue()
        if (!rotate) {
          validRefresh.delete(tokens.refreshToken)
          last = { ...tokens, refreshToken: presented }
        }
        json(res, 200, tokenBody(tokens, rotate))
        return 200
      }
      default:
        return fail(400, 'unsupported_grant_type', 'unsupported grant_type')
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestUrl = new URL(req.url ?? '/', 'http://127.0.0.1')
    const record: IssuerRequest = {
      method: req.method ?? 'GET',
      path: requestUrl.pathname,
      grantType: null,
      fields: [],
      status: 0,
    }
    requests.push(record)
    const route = `${record.method} ${record.path}`
    if (route === 'GET /.well-known/openid-configuration' && discovery) {
      json(res, 200, {
        issuer: url,
        authorization_endpoint: `${url}/oauth/authorize`,
        token_endpoint: `${url}/oauth/token`,
        ...(revocation ? { revocation_endpoint: `${url}/oauth/revoke` } : {}),
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
      })
      record.status = 200
      return
    }
    if (route === 'GET /oauth/authorize') {
      record.fields = [...requestUrl.searchParams.keys()]
      record.status = authorize(requestUrl.searchParams, res)
      return
    }
    if (route === 'POST /oauth/token' || (route === 'POST /oauth/revoke' && revocation)) {
      const form = await readForm(req)
      if (!form) {
        json(res, 400, { error: 'invalid_request', error_description: 'the body must be form-encoded' })
        record.status = 400
        return
      }
      record.fields = [...form.keys()]
      if (record.path === '/oauth/revoke') {
        const presented = form.get('token') ?? ''
        if (validRefresh.delete(presented)) revoked.add(presented)
        res.writeHead(200).end()
        record.status = 200
        return
      }
      record.grantType = form.get('grant_type')
      record.status = await token(form, res)
      return
    }
    json(res, 404, { error: 'not_found' })
    record.status = 404
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end('scripted issuer error')
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

  return {
    url,
    clientId,
    requests,
    codeExchanges,
    grants: (grantType) => requests.filter((r) => r.grantType === grantType),
    lastIssued: () => last,
    secrets: () => [...secrets],
    isRefreshTokenValid: (t) => validRefresh.has(t),
    wasRevoked: (t) => revoked.has(t),
    mint: issue,
    denyNextAuthorization: (error = 'access_denied', description = 'The user denied access.') =>
      void (nextDenial = { error, description }),
    failNextToken: (failure) => void failures.push(failure),
    delayNextToken: (ms) => void delays.push(ms),
    expireRefreshTokens: () => validRefresh.clear(),
    close: async () => {
      if (closing) return
      closing = true
      for (const wake of [...sleepers]) wake()
      const done = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      await done
    },
  }
}
