/**
 * The token owner: the main process keeps the user's ChatGPT sign-in, and the core (which holds
 * tokens in memory only) gets them from here. It signs the user in (PKCE in the system browser) or
 * imports a codex `auth.json`, keeps the tokens encrypted at rest (TokenStore), logs every attached
 * core in with `account/login/start {type:'chatgptAuthTokens'}` (at attach, so restarts are covered,
 * and after each sign-in), and answers the core's `account/chatgptAuthTokens/refresh` by running
 * the refresh-token grant. Plain TypeScript with injected browser opener, store, fetch and log: no
 * electron import, so it runs under Node in tests.
 *
 * It must never put a token (access, refresh, id) or an authorization code in a log line, a summary,
 * a change event or an error message: summaries carry account id, plan, email and a problem
 * sentence only; logs carry account id and plan; text from the issuer or the core is redacted.
 *
 * Concurrent sign-ins: a newer `signIn` (or `importSignIn`, or `signOut`) cancels the one in
 * progress, whose promise rejects with "The sign-in was cancelled." A user who closed the browser
 * tab and clicks "Sign in" again gets a fresh tab at once instead of waiting for the old attempt's
 * 10-minute timeout; the old loopback listener is closed before the new one opens (a fixed redirect
 * port needs that).
 *
 * Importing shares the refresh token with the codex CLI that wrote the file. With rotation, whichever
 * refreshes first invalidates the other's copy, and refreshing needs the client id the tokens were
 * issued to (settings.clientId).
 */
import { readFile, stat } from 'node:fs/promises'
import * as z from 'zod/mini'
import { parseChatgptClaims, type ChatgptClaims } from '../../worker/auth/claims'
import {
  RequestHandlerError,
  RpcError,
  type AppServerClient,
  type Disposable,
} from '../../worker/protocol/client'
import type { ServerRequestResponse } from '../../worker/protocol/registry'
import { Emitter } from '../../worker/util/event'
import {
  authorizeWithPkce,
  discoverEndpoints,
  OAuthError,
  redact,
  refreshTokenGrant,
  revokeToken,
  type OAuthEndpoints,
  type TokenResponse,
} from './oauth'
import type { OAuthSettings } from './settings'
import { EncryptionUnavailableError, type StoredTokens, type TokenStore } from './tokenStore'

export interface AccountSummary {
  signedIn: boolean
  email: string | null
  planType: string | null
  accountId: string | null
  /** a sentence for the UI when something needs the user's attention */
  problem: string | null
}

export interface TokenOwnerLog {
  info(obj: object, msg: string): void
  warn(obj: object, msg: string): void
  error(obj: object, msg: string): void
}

export interface TokenOwnerOptions {
  settings: OAuthSettings
  store: TokenStore
  openExternal(url: string): Promise<void>
  log: TokenOwnerLog
  fetch?: typeof fetch
  now?: () => number
  loginTimeoutMs?: number
}

export const EXPIRED_PROBLEM = 'Your ChatGPT sign-in has expired. Sign in again.'
export const NO_CLIENT_ID_MESSAGE =
  'Sign-in needs an OAuth client id: set the client id in Settings → Account before signing in.'

const NO_CLIENT_ID_REFRESH_PROBLEM =
  'Your ChatGPT sign-in cannot be refreshed without an OAuth client id: set the client id in Settings → Account.'

/** The JSON-RPC error code of every refresh failure we answer the core with (server-defined range). */
export const REFRESH_FAILED_CODE = -32000

const CORE_REQUEST_TIMEOUT_MS = 15_000
const MAX_AUTH_FILE_BYTES = 1024 * 1024

/**
 * Problems by kind; the summary shows the most urgent. `core` problems live per connection (one
 * core refusing must not be hidden by another accepting).
 */
type ProblemKind = 'expired' | 'refresh' | 'storage'
const PROBLEM_ORDER: readonly ProblemKind[] = ['expired', 'refresh', 'storage']

interface AttachedClient {
  disposables: Disposable[]
  /** Why this core refused the sign-in, if it did. */
  problem: string | null
}

/** codex's auth.json: `{OPENAI_API_KEY?, tokens: {id_token, access_token, refresh_token, account_id?}, last_refresh?}`. */
const CodexAuthFile = z.looseObject({
  tokens: z.looseObject({
    id_token: z.nullish(z.string()),
    access_token: z.string().check(z.minLength(1)),
    refresh_token: z.string().check(z.minLength(1)),
    account_id: z.nullish(z.string()),
  }),
})

/** A failure of ours: its message is a sentence for the user and names no secret, so logs may carry it. */
export class AccountError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'AccountError'
  }
}

const errorName = (error: unknown): string => (error instanceof Error ? error.name : typeof error)

export class TokenOwner {
  private settings: OAuthSettings
  private readonly store: TokenStore
  private readonly log: TokenOwnerLog
  private readonly now: () => number
  private tokens: StoredTokens | null = null
  private readonly problems = new Map<ProblemKind, string>()
  private readonly changed = new Emitter<AccountSummary>((error) =>
    this.log.error({ error: errorName(error) }, 'an account change listener threw'),
  )
  private readonly clients = new Map<AppServerClient, AttachedClient>()
  private signInFlight: { controller: AbortController; done: Promise<unknown> } | null = null
  private refreshFlight: Promise<StoredTokens> | null = null
  private endpointsPromise: Promise<OAuthEndpoints> | null = null
  /** Bumped whenever the sign-in is replaced or dropped, so late results of the old one are ignored. */
  private generation = 0
  private readonly background = new Set<Promise<void>>()
  private disposed = false

  constructor(private readonly options: TokenOwnerOptions) {
    this.settings = options.settings
    this.store = options.store
    this.log = options.log
    this.now = options.now ?? Date.now
    try {
      this.tokens = this.store.load()
    } catch (error) {
      if (!(error instanceof EncryptionUnavailableError)) throw error
      this.problems.set(
        'storage',
        'Your saved ChatGPT sign-in cannot be read because the system keychain is not available. Unlock it and restart codex-desk, or sign in again.',
      )
      this.log.warn({ reason: 'encryption unavailable' }, 'could not read the saved ChatGPT sign-in')
    }
    if (this.tokens) {
      this.log.info(
        { accountId: this.tokens.accountId, planType: this.tokens.planType },
        'loaded the saved ChatGPT sign-in',
      )
    }
  }

  /**
   * New OAuth settings (the user set a client id): used from the next sign-in or refresh on. A
   * changed issuer drops the discovered endpoints.
   */
  updateSettings(settings: OAuthSettings): void {
    if (settings.issuer !== this.settings.issuer) this.endpointsPromise = null
    this.settings = settings
  }

  /** What the renderer may see: never a token. */
  summary(): AccountSummary {
    const tokens = this.tokens
    return {
      signedIn: tokens !== null,
      email: tokens?.email ?? null,
      planType: tokens?.planType ?? null,
      accountId: tokens?.accountId ?? null,
      problem: this.currentProblem(),
    }
  }

  onDidChange(listener: (summary: AccountSummary) => void): Disposable {
    return this.changed.event(listener)
  }

  /**
   * PKCE in the system browser. A newer call cancels this one (see the header). Rejects with an
   * Error whose message is a sentence for the user (denied consent, wrong state, timeout, ...).
   */
  async signIn(signal?: AbortSignal): Promise<AccountSummary> {
    this.assertUsable()
    if (!this.settings.clientId) throw new AccountError(NO_CLIENT_ID_MESSAGE)
    // No await before this point: `exclusive` must claim the flight synchronously.
    return this.exclusive(signal, 'sign-in', async (innerSignal) => {
      const endpoints = await this.endpoints()
      if (innerSignal.aborted) throw new OAuthError('aborted', null, null, 'The sign-in was cancelled.')
      this.log.info({ issuer: this.settings.issuer }, 'sign-in: opening the system browser')
      const response = await authorizeWithPkce({
        settings: this.settings,
        endpoints,
        openExternal: (url) => this.options.openExternal(url),
        signal: innerSignal,
        ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
        ...(this.options.loginTimeoutMs !== undefined ? { timeoutMs: this.options.loginTimeoutMs } : {}),
      })
      const tokens = this.tokensFrom(response, null, null)
      if (innerSignal.aborted) throw new OAuthError('aborted', null, null, 'The sign-in was cancelled.')
      this.log.info({ accountId: tokens.accountId, planType: tokens.planType }, 'signed in to ChatGPT')
      await this.adopt(tokens)
      return this.summary()
    })
  }

  /**
   * Imports a codex-style auth.json the user pointed at. Reads it only: never modifies or deletes
   * it. Error messages name the file and what is wrong with it, never its contents.
   */
  async importSignIn(path: string): Promise<AccountSummary> {
    this.assertUsable()
    return this.exclusive(undefined, 'import', async (innerSignal) => {
      const text = await this.readAuthFile(path)
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        // JSON.parse's message quotes the text around the error, which may be a token.
        throw new AccountError(`${path} is not a codex sign-in file: it is not valid JSON.`)
      }
      const parsed = CodexAuthFile.safeParse(json)
      if (!parsed.success) {
        throw new AccountError(
          `${path} has no ChatGPT sign-in: it needs "tokens" with "access_token" and "refresh_token" (as codex writes after a ChatGPT login).`,
        )
      }
      const file = parsed.data.tokens
      const tokens = this.tokensFrom(
        {
          accessToken: file.access_token,
          refreshToken: file.refresh_token,
          idToken: file.id_token || null,
          expiresIn: null,
        },
        null,
        file.account_id || null,
      )
      if (innerSignal.aborted) throw new OAuthError('aborted', null, null, 'The import was cancelled.')
      this.log.info({ accountId: tokens.accountId, planType: tokens.planType }, 'imported a ChatGPT sign-in')
      await this.adopt(tokens)
      return this.summary()
    })
  }

  /**
   * Clears the store, logs every attached core out, and revokes the refresh token when the issuer
   * has a revocation endpoint (best effort: a failure is logged, the local sign-out stands).
   */
  async signOut(): Promise<void> {
    this.assertUsable()
    await this.cancelSignIn()
    const previous = this.tokens
    this.dropSignIn()
    this.emit()
    this.log.info({ accountId: previous?.accountId ?? null }, 'signed out of ChatGPT')
    await Promise.all([this.logoutAll(), previous ? this.revoke(previous) : Promise.resolve()])
  }

  /**
   * An initialized connection to a (new or restarted) core: answers its token refreshes and logs it
   * in when signed in. A refusal from the core shows up in `summary().problem`, not as a rejection.
   * The client is forgotten when it closes.
   */
  async attach(client: AppServerClient): Promise<void> {
    this.assertUsable()
    if (!this.clients.has(client)) {
      const entry: AttachedClient = { disposables: [], problem: null }
      this.clients.set(client, entry)
      entry.disposables.push(
        client.handleRequest('account/chatgptAuthTokens/refresh', (params) =>
          this.answerRefresh(params.previousAccountId ?? null),
        ),
      )
      // onClose runs at once for a client that is already closed, which forgets it right here.
      entry.disposables.push(client.onClose(() => this.forget(client)))
    }
    const tokens = this.tokens
    if (tokens && this.clients.has(client)) await this.loginCore(client, tokens)
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    this.signInFlight?.controller.abort()
    for (const client of [...this.clients.keys()]) this.forget(client, false)
    this.changed.dispose()
  }

  /** Resolves once the deferred work (logging cores out after an expiry) is done; for tests and shutdown. */
  async settled(): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background])
  }

  // --- sign-in plumbing ---

  /** Runs `work` as the only sign-in: cancels (and waits out) the one in progress first. */
  private exclusive<T>(
    signal: AbortSignal | undefined,
    what: 'sign-in' | 'import',
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const previous = this.signInFlight
    previous?.controller.abort()
    const controller = new AbortController()
    const onAbort = () => controller.abort()
    if (signal?.aborted) controller.abort()
    else signal?.addEventListener('abort', onAbort, { once: true })
    const done = (async () => {
      await previous?.done.catch(() => {})
      if (controller.signal.aborted) throw new OAuthError('aborted', null, null, 'The sign-in was cancelled.')
      return await work(controller.signal)
    })().catch((error: unknown) => {
      this.log.warn(this.errorFields(error), `${what} failed`)
      throw error
    })
    const flight = { controller, done }
    this.signInFlight = flight
    return done.finally(() => {
      signal?.removeEventListener('abort', onAbort)
      if (this.signInFlight === flight) this.signInFlight = null
    })
  }

  private async cancelSignIn(): Promise<void> {
    const flight = this.signInFlight
    if (!flight) return
    flight.controller.abort()
    await flight.done.catch(() => {})
  }

  private async readAuthFile(path: string): Promise<string> {
    try {
      const info = await stat(path)
      if (!info.isFile()) throw new AccountError(`${path} is not a file.`)
      if (info.size > MAX_AUTH_FILE_BYTES)
        throw new AccountError(`${path} is too large to be a codex sign-in file.`)
      return await readFile(path, 'utf8')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (!code) throw error
      throw new AccountError(`codex-desk could not read ${path} (${code}).`, { cause: error })
    }
  }

  /** Builds the stored sign-in from a token response; throws a user-readable Error when unusable. */
  private tokensFrom(
    response: TokenResponse,
    previous: StoredTokens | null,
    fileAccountId: string | null,
  ): StoredTokens {
    const accessClaims = this.claimsOf(response.accessToken, 'access token')
    const idClaims = response.idToken ? this.claimsOf(response.idToken, 'ID token') : null
    const accountId =
      idClaims?.accountId ?? accessClaims.accountId ?? fileAccountId ?? previous?.accountId ?? null
    if (!accountId) {
      throw new AccountError(
        'The sign-in has no ChatGPT account id, so codex-desk cannot use it. Sign in with a ChatGPT account (workspace).',
      )
    }
    const refreshToken = response.refreshToken ?? previous?.refreshToken ?? null
    if (!refreshToken) {
      throw new AccountError(
        'The issuer did not return a refresh token, so the sign-in could not be kept. Make sure the client may use the "offline_access" scope.',
      )
    }
    const pick = <K extends 'email' | 'planType' | 'userId'>(key: K): string | null =>
      idClaims?.[key] ?? accessClaims[key] ?? previous?.[key] ?? null
    return {
      accessToken: response.accessToken,
      refreshToken,
      idToken: response.idToken ?? previous?.idToken ?? null,
      accountId,
      planType: pick('planType'),
      email: pick('email'),
      userId: pick('userId'),
      savedAt: this.now(),
    }
  }

  private claimsOf(token: string, what: string): ChatgptClaims {
    try {
      return parseChatgptClaims(token)
    } catch {
      throw new AccountError(`The sign-in's ${what} is not a JWT, so codex-desk cannot use it.`)
    }
  }

  /** Makes `tokens` the sign-in: saves them, tells listeners, logs every attached core in. */
  private async adopt(tokens: StoredTokens): Promise<void> {
    this.generation += 1
    this.tokens = tokens
    this.problems.clear()
    this.persist(tokens)
    for (const entry of this.clients.values()) entry.problem = null
    this.emit()
    await Promise.all([...this.clients.keys()].map((client) => this.loginCore(client, tokens)))
  }

  /** Saves to the store; when it cannot, the sign-in lives in memory for this session and says so. */
  private persist(tokens: StoredTokens): void {
    try {
      this.store.save(tokens)
      this.problems.delete('storage')
    } catch (error) {
      const message =
        error instanceof EncryptionUnavailableError
          ? `${error.message.replace(/\.$/, '')}. You stay signed in until codex-desk quits.`
          : 'Your ChatGPT sign-in could not be saved. You stay signed in until codex-desk quits.'
      this.problems.set('storage', message)
      this.log.warn(
        { accountId: tokens.accountId, error: errorName(error) },
        'kept the ChatGPT sign-in in memory only: it could not be saved',
      )
    }
  }

  /** Forgets the sign-in locally (memory and store), keeping the attached cores. */
  private dropSignIn(): void {
    this.generation += 1
    this.tokens = null
    this.problems.clear()
    for (const entry of this.clients.values()) entry.problem = null
    try {
      this.store.clear()
    } catch (error) {
      this.log.error({ error: errorName(error) }, 'could not clear the saved ChatGPT sign-in')
    }
  }

  private endpoints(): Promise<OAuthEndpoints> {
    if (!this.endpointsPromise) {
      const pending = discoverEndpoints(this.settings.issuer, {
        ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
      })
      // A failed discovery is not cached: the next attempt may find the issuer reachable again.
      pending.catch(() => {
        if (this.endpointsPromise === pending) this.endpointsPromise = null
      })
      this.endpointsPromise = pending
    }
    return this.endpointsPromise
  }

  // --- cores ---

  private async loginCore(client: AppServerClient, tokens: StoredTokens): Promise<void> {
    const generation = this.generation
    try {
      await client.request(
        'account/login/start',
        {
          type: 'chatgptAuthTokens',
          accessToken: tokens.accessToken,
          chatgptAccountId: tokens.accountId,
          chatgptPlanType: tokens.planType,
        },
        { timeoutMs: CORE_REQUEST_TIMEOUT_MS },
      )
      const entry = this.clients.get(client)
      this.log.info({ accountId: tokens.accountId, planType: tokens.planType }, 'logged the app server in')
      if (entry?.problem && generation === this.generation) {
        entry.problem = null
        this.emit()
      }
    } catch (error) {
      const entry = this.clients.get(client)
      if (!entry || client.closedWith || generation !== this.generation) return // gone or superseded
      const reason =
        error instanceof RpcError
          ? redact(error.message, [tokens.accessToken, tokens.refreshToken, tokens.idToken])
          : 'it did not answer'
      entry.problem = `The app server refused your ChatGPT sign-in: ${reason.replace(/\.$/, '')}.`
      this.log.warn(
        {
          accountId: tokens.accountId,
          code: error instanceof RpcError ? error.code : null,
          reason,
        },
        'the app server refused the ChatGPT sign-in',
      )
      this.emit()
    }
  }

  private async logoutAll(): Promise<void> {
    await Promise.all(
      [...this.clients.keys()].map(async (client) => {
        try {
          await client.request('account/logout', undefined, { timeoutMs: CORE_REQUEST_TIMEOUT_MS })
        } catch (error) {
          if (client.closedWith) return
          this.log.warn({ error: errorName(error) }, 'could not log the app server out')
        }
      }),
    )
  }

  private forget(client: AppServerClient, notify = true): void {
    const entry = this.clients.get(client)
    if (!entry) return
    this.clients.delete(client)
    for (const disposable of entry.disposables) disposable.dispose()
    if (entry.problem && notify) this.emit()
  }

  // --- refresh ---

  private async answerRefresh(
    previousAccountId: string | null,
  ): Promise<ServerRequestResponse<'account/chatgptAuthTokens/refresh'>> {
    this.log.info({ previousAccountId }, 'the app server asked for fresh ChatGPT tokens')
    const tokens = await this.refresh()
    return {
      accessToken: tokens.accessToken,
      chatgptAccountId: tokens.accountId,
      chatgptPlanType: tokens.planType,
    }
  }

  /** Single flight: concurrent refresh requests (from one or several cores) share one grant. */
  private refresh(): Promise<StoredTokens> {
    if (!this.refreshFlight) {
      const flight = this.runRefresh().finally(() => {
        if (this.refreshFlight === flight) this.refreshFlight = null
      })
      this.refreshFlight = flight
    }
    return this.refreshFlight
  }

  private async runRefresh(): Promise<StoredTokens> {
    const current = this.tokens
    if (!current) throw this.notSignedInError()
    if (!this.settings.clientId) {
      this.setProblem('refresh', NO_CLIENT_ID_REFRESH_PROBLEM)
      throw new RequestHandlerError(
        REFRESH_FAILED_CODE,
        'codex-desk cannot refresh the ChatGPT sign-in: no OAuth client id is set.',
      )
    }
    const generation = this.generation
    let response: TokenResponse
    try {
      const endpoints = await this.endpoints()
      response = await refreshTokenGrant(
        endpoints.tokenEndpoint,
        {
          refreshToken: current.refreshToken,
          clientId: this.settings.clientId,
          scopes: this.settings.scopes,
        },
        this.options.fetch ? { fetch: this.options.fetch } : {},
      )
    } catch (error) {
      if (generation !== this.generation) return this.currentOrNotSignedIn()
      throw this.refreshFailed(error, current)
    }
    if (generation !== this.generation) return this.currentOrNotSignedIn()
    let tokens: StoredTokens
    try {
      tokens = this.tokensFrom(response, current, null)
    } catch (error) {
      this.log.warn(
        { accountId: current.accountId, error: errorName(error) },
        'the refreshed tokens are unusable',
      )
      throw new RequestHandlerError(
        REFRESH_FAILED_CODE,
        `codex-desk could not refresh the ChatGPT sign-in: ${error instanceof Error ? error.message : 'unusable tokens'}`,
      )
    }
    this.tokens = tokens
    this.problems.delete('refresh')
    this.persist(tokens)
    this.log.info(
      { accountId: tokens.accountId, planType: tokens.planType, rotated: response.refreshToken !== null },
      'refreshed the ChatGPT tokens',
    )
    this.emit()
    return tokens
  }

  private refreshFailed(error: unknown, current: StoredTokens): RequestHandlerError {
    const fields = { accountId: current.accountId, ...this.errorFields(error) }
    if (error instanceof OAuthError && error.error === 'invalid_grant') {
      this.log.warn(fields, 'the ChatGPT refresh token was refused; signing out')
      this.expire()
      return new RequestHandlerError(
        REFRESH_FAILED_CODE,
        'The ChatGPT sign-in has expired: the user must sign in again in codex-desk.',
      )
    }
    const detail = error instanceof OAuthError ? error.message : 'an unexpected error'
    if (error instanceof OAuthError && error.transient) {
      this.log.warn(fields, 'could not refresh the ChatGPT tokens; keeping the sign-in')
      return new RequestHandlerError(
        REFRESH_FAILED_CODE,
        `codex-desk could not refresh the ChatGPT sign-in right now: ${detail} Try again.`,
      )
    }
    this.log.error(fields, 'refreshing the ChatGPT tokens failed')
    this.setProblem(
      'refresh',
      `Refreshing your ChatGPT sign-in failed: ${detail} Sign in again if this persists.`,
    )
    return new RequestHandlerError(
      REFRESH_FAILED_CODE,
      `codex-desk could not refresh the ChatGPT sign-in: ${detail}`,
    )
  }

  /**
   * The issuer refused the refresh token: sign out locally with the expiry problem. The cores are
   * logged out afterwards (deferred), so the error answer to their refresh request goes out first.
   */
  private expire(): void {
    this.dropSignIn()
    this.problems.set('expired', EXPIRED_PROBLEM)
    this.emit()
    const generation = this.generation
    const work = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      if (generation === this.generation && !this.disposed) await this.logoutAll()
    })
    this.background.add(work)
    void work.finally(() => this.background.delete(work))
  }

  private async revoke(tokens: StoredTokens): Promise<void> {
    if (!this.settings.clientId) return
    try {
      const endpoints = await this.endpoints()
      if (!endpoints.revocationEndpoint) return
      await revokeToken(
        endpoints.revocationEndpoint,
        { token: tokens.refreshToken, tokenTypeHint: 'refresh_token', clientId: this.settings.clientId },
        this.options.fetch ? { fetch: this.options.fetch } : {},
      )
      this.log.info({ accountId: tokens.accountId }, 'revoked the ChatGPT refresh token')
    } catch (error) {
      this.log.warn(
        { accountId: tokens.accountId, ...this.errorFields(error) },
        'could not revoke the refresh token',
      )
    }
  }

  private currentOrNotSignedIn(): StoredTokens {
    if (this.tokens) return this.tokens
    throw this.notSignedInError()
  }

  private notSignedInError(): RequestHandlerError {
    return new RequestHandlerError(
      REFRESH_FAILED_CODE,
      this.problems.has('expired')
        ? 'The ChatGPT sign-in has expired: the user must sign in again in codex-desk.'
        : 'codex-desk is not signed in to ChatGPT.',
    )
  }

  // --- state ---

  private currentProblem(): string | null {
    const expired = this.problems.get('expired')
    if (expired) return expired
    for (const entry of this.clients.values()) if (entry.problem) return entry.problem
    for (const kind of PROBLEM_ORDER) {
      const message = this.problems.get(kind)
      if (message) return message
    }
    return null
  }

  private setProblem(kind: ProblemKind, message: string): void {
    if (this.problems.get(kind) === message) return
    this.problems.set(kind, message)
    this.emit()
  }

  private emit(): void {
    if (this.disposed) return
    this.changed.fire(this.summary())
  }

  /** Fields for a log line about a failure: the OAuth error code and status, never a secret. */
  private errorFields(error: unknown): object {
    if (error instanceof OAuthError) {
      return { error: error.error, status: error.status, description: error.description }
    }
    if (error instanceof AccountError) return { error: error.name, message: error.message }
    return { error: errorName(error) }
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error('the token owner is disposed')
  }
}
