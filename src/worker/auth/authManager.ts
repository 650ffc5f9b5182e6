/**
 * The core's account state and the credentials of every model request (protocol.md §8).
 *
 * Two ways to be signed in: an API key saved in `auth.json` (0600), or ChatGPT tokens handed over
 * by a client (`chatgptAuthTokens`), held in this process's memory only. While such external
 * tokens are active, requests to a provider with `requires_openai_auth` go to the ChatGPT Codex
 * backend (`{chatgpt_base_url}/codex`) with the bearer token and the `chatgpt-account-id` header.
 *
 * A 401 asks a client for fresh tokens (`account/chatgptAuthTokens/refresh`). The rule for who is
 * asked: the connection that supplied the current tokens; if it has gone, the most recent other
 * open connection that logged in with `chatgptAuthTokens` (a token owner, such as the desktop
 * app's main process); if none is left, every initialized connection, first answer wins (codex's
 * broadcast). Concurrent 401s share one refresh, and a request that failed with tokens that have
 * since been replaced retries with the new ones without asking again.
 *
 * It must never log a token or a key, and never write ChatGPT tokens anywhere.
 */
import type { ModelAuth } from '../agent/modelClient'
import type { ResolvedProvider } from '../agent/providers'
import type { EffectiveConfig, LoginMethod } from '../config/schema'
import type { RequirementsIdentity } from '../config/requirementsCache'
import type { Account, AuthMode } from '../protocol/account'
import { ErrorCode, invalidRequest, RpcError } from '../protocol/errors'
import type { ServerRequestResponse } from '../protocol/registry'
import {
  ServerRequestCancelledError,
  ServerRequestError,
  ServerRequestTimeoutError,
  type ServerRequestSender,
} from '../transport/serverRequestApi'
import type { ConnectionId } from '../transport/connection'
import type { OutboundRouter } from '../transport/outboundRouter'
import { Emitter, type Event } from '../util/event'
import type { Logger } from '../util/log'
import { AuthFile } from './authFile'
import { parseChatgptClaims } from './claims'

export interface ExternalTokens {
  accessToken: string
  accountId: string
  planType: string
  email: string | null
  userId: string | null
}

export interface AccountState {
  authMode: AuthMode | null
  planType: string | null
}

export interface AuthManagerOptions {
  home: string
  env: NodeJS.ProcessEnv
  router: OutboundRouter
  broker: ServerRequestSender
  /** The effective config as it is now (forced login method and workspace, timeouts, base URLs). */
  config: () => EffectiveConfig
  /** The administrator's `allowed_login_methods` (null when unrestricted). */
  allowedLoginMethods?: () => readonly LoginMethod[] | null
  log: Logger
}

const EXTERNAL_AUTH_ACTIVE_MESSAGE =
  'External auth is active. Use account/login/start (chatgptAuthTokens) to update it or account/logout to clear it.'

/** Rust's `{:?}` of a `Vec<String>`: `["a", "b"]`. */
const debugList = (values: readonly string[]) => `[${values.map((v) => JSON.stringify(v)).join(', ')}]`

/** `forced_chatgpt_workspace_id` as a list (codex accepts one id or several). */
function forcedWorkspaces(config: EffectiveConfig): string[] | null {
  const value = config.forced_chatgpt_workspace_id
  if (value === undefined) return null
  const list = (Array.isArray(value) ? value : [value]).map((v) => v.trim()).filter(Boolean)
  return list.length ? list : null
}

export class AuthManager {
  private external: ExternalTokens | null = null
  /** The saved key, read from auth.json once; `undefined` until then. */
  private storedKey: string | null | undefined
  private loading: Promise<string | null> | null = null
  /** Connections that logged in with chatgptAuthTokens, oldest first; the supplier is last. */
  private owners: ConnectionId[] = []
  private refreshing: Promise<void> | null = null
  /** The refresh request in flight and the connections it was sent to. */
  private asking: { id: number; targets: Set<ConnectionId> } | null = null
  private readonly file: AuthFile
  private readonly changed = new Emitter<AccountState>()
  /** Fires after every login and logout, with what `account/updated` says. */
  readonly onDidChange: Event<AccountState> = this.changed.event

  constructor(private readonly options: AuthManagerOptions) {
    this.file = new AuthFile(options.home, options.log)
  }

  /** The signed-in ChatGPT account, for remote requirements. */
  identity(): RequirementsIdentity | undefined {
    const ext = this.external
    if (!ext) return undefined
    return { userId: ext.userId ?? ext.accountId, accountId: ext.accountId, accessToken: ext.accessToken }
  }

  /** The saved API key (auth.json is read on first use). */
  async apiKey(): Promise<string | null> {
    if (this.storedKey !== undefined) return this.storedKey
    this.loading ??= this.file.readApiKey().then((key) => {
      // A login or logout while reading wins over what the file said.
      if (this.storedKey === undefined) this.storedKey = key
      return this.storedKey
    })
    return this.loading
  }

  state(): AccountState {
    if (this.external) return { authMode: 'chatgptAuthTokens', planType: this.external.planType }
    if (this.storedKey) return { authMode: 'apikey', planType: null }
    return { authMode: null, planType: null }
  }

  /** `account/read`: the account (external tokens, saved key, or the provider's key variable). */
  async account(provider: ResolvedProvider): Promise<{ account: Account | null; userId: string | null }> {
    const ext = this.external
    if (ext) {
      return {
        account: { type: 'chatgpt', email: ext.email, planType: ext.planType },
        userId: ext.userId,
      }
    }
    if ((await this.apiKey()) || (provider.requiresOpenaiAuth && provider.apiKey)) {
      return { account: { type: 'apiKey' }, userId: null }
    }
    return { account: null, userId: null }
  }

  async loginApiKey(apiKey: string): Promise<void> {
    if (this.external) throw invalidRequest(EXTERNAL_AUTH_ACTIVE_MESSAGE)
    if (!this.allows('api')) throw invalidRequest('API key login is disabled. Use ChatGPT login instead.')
    const key = apiKey.trim()
    if (!key) throw invalidRequest('apiKey must not be empty')
    try {
      await this.file.saveApiKey(key)
    } catch (error) {
      throw new RpcError(ErrorCode.Internal, `failed to save api key: ${(error as Error).message}`)
    }
    this.storedKey = key
    this.options.log.info({ authMode: 'apikey' }, 'logged in with an API key')
    this.changed.fire(this.state())
  }

  /** Browser and device-code logins need an OAuth client of the core's own; the desktop app has one. */
  refuseManagedLogin(): never {
    if (this.external) throw invalidRequest(EXTERNAL_AUTH_ACTIVE_MESSAGE)
    if (!this.allows('chatgpt')) throw invalidRequest('ChatGPT login is disabled. Use API key login instead.')
    throw invalidRequest(
      'ChatGPT sign-in in the browser is not available from the codex-desk app server. Sign in from the ' +
        'codex-desk app (it hands the core its tokens with chatgptAuthTokens), or log in with an API key.',
    )
  }

  loginExternal(
    params: { accessToken: string; chatgptAccountId: string; chatgptPlanType?: string | null | undefined },
    connectionId: ConnectionId,
  ): void {
    const config = this.options.config()
    if (!this.allows('chatgpt')) {
      throw invalidRequest('External ChatGPT auth is disabled. Use API key login instead.')
    }
    const workspaces = forcedWorkspaces(config)
    if (workspaces && !workspaces.includes(params.chatgptAccountId)) {
      throw invalidRequest(
        `External auth must use one of workspace(s) ${debugList(workspaces)}, but received ${JSON.stringify(params.chatgptAccountId)}.`,
      )
    }
    let tokens: ExternalTokens
    try {
      tokens = externalTokens(params)
    } catch (error) {
      throw new RpcError(ErrorCode.Internal, `failed to set external auth: ${(error as Error).message}`)
    }
    this.external = tokens
    this.owners = [...this.owners.filter((id) => id !== connectionId), connectionId]
    this.options.log.info(
      { authMode: 'chatgptAuthTokens', accountId: tokens.accountId, planType: tokens.planType, connectionId },
      'logged in with ChatGPT tokens',
    )
    this.changed.fire(this.state())
  }

  /** Clears the external tokens and the saved key (codex's logout removes auth.json too). */
  async logout(): Promise<void> {
    this.external = null
    this.owners = []
    try {
      await this.file.remove()
    } catch (error) {
      throw new RpcError(ErrorCode.Internal, `logout failed: ${(error as Error).message}`)
    }
    this.storedKey = null
    this.options.log.info({}, 'logged out')
    this.changed.fire(this.state())
  }

  /** `forced_login_method` and the administrator's `allowed_login_methods` both have to allow it. */
  private allows(method: LoginMethod): boolean {
    const forced = this.options.config().forced_login_method
    if (forced !== undefined && forced !== method) return false
    const allowed = this.options.allowedLoginMethods?.()
    return !allowed || allowed.includes(method)
  }

  /**
   * Forgets a token owner that left. If every connection a refresh is waiting on has gone, the
   * request goes on to the next one by the usual rule, with its id, instead of waiting out the timeout.
   */
  connectionClosed(connectionId: ConnectionId): void {
    this.owners = this.owners.filter((id) => id !== connectionId)
    const asking = this.asking
    if (!asking?.targets.delete(connectionId) || asking.targets.size > 0) return
    for (const target of this.refreshTargets()) {
      if (this.options.broker.replay(asking.id, target)) asking.targets.add(target)
    }
    this.options.log.info(
      { targets: [...asking.targets] },
      'the token owner left during a refresh; asking the next one',
    )
  }

  /**
   * The provider and credentials for one model request. Only providers with `requires_openai_auth`
   * use the account; others keep their own key (or none).
   */
  forModelRequest(provider: ResolvedProvider): { provider: ResolvedProvider; auth?: ModelAuth } {
    if (!provider.requiresOpenaiAuth) return { provider }
    if (this.external) {
      const base = this.options.config().chatgpt_base_url.replace(/\/+$/, '')
      let used: string | undefined
      return {
        provider: { ...provider, baseUrl: `${base}/codex`, apiKey: undefined },
        auth: {
          headers: async () => {
            const ext = this.external
            if (!ext) throw new Error('signed out of ChatGPT while the turn was running')
            used = ext.accessToken
            return { Authorization: `Bearer ${ext.accessToken}`, 'chatgpt-account-id': ext.accountId }
          },
          onUnauthorized: async () => {
            // Another turn may have refreshed already: try its tokens before asking again.
            if (this.external && used !== undefined && this.external.accessToken !== used) return true
            await this.refresh()
            return true
          },
        },
      }
    }
    return {
      provider,
      auth: {
        headers: async (): Promise<Record<string, string>> => {
          const key = await this.apiKey()
          if (key) return { Authorization: `Bearer ${key}` }
          if (provider.apiKey) return {}
          throw missingCredentials(provider)
        },
      },
    }
  }

  /** Asks a token owner for fresh tokens; concurrent callers share one request. */
  refresh(): Promise<void> {
    this.refreshing ??= this.runRefresh().finally(() => {
      this.refreshing = null
    })
    return this.refreshing
  }

  private async runRefresh(): Promise<void> {
    const previous = this.external
    if (!previous) throw new Error('external auth is not configured')
    const config = this.options.config()
    const timeoutSecs = config.auth_refresh_timeout_secs
    const targets = this.refreshTargets()
    this.options.log.info(
      { accountId: previous.accountId, targets, timeoutSecs },
      'asking the token owner for fresh ChatGPT tokens',
    )
    let response: ServerRequestResponse<'account/chatgptAuthTokens/refresh'>
    const sent = this.options.broker.send(
      targets,
      'account/chatgptAuthTokens/refresh',
      { reason: 'unauthorized', previousAccountId: previous.accountId },
      { timeoutMs: timeoutSecs * 1000 },
    )
    this.asking = { id: sent.id, targets: new Set(targets) }
    try {
      response = await sent.response
    } catch (error) {
      throw refreshError(error, timeoutSecs)
    } finally {
      this.asking = null
    }
    // The config may have changed since login: the same rules apply to every refresh.
    const now = this.options.config()
    if (!this.allows('chatgpt')) {
      throw new Error('External ChatGPT auth is disabled. Use API key login instead.')
    }
    const workspaces = forcedWorkspaces(now)
    if (workspaces && !workspaces.includes(response.chatgptAccountId)) {
      throw new Error(
        `external auth refresh returned workspace ${JSON.stringify(response.chatgptAccountId)}, expected one of ${debugList(workspaces)}`,
      )
    }
    const tokens = externalTokens(response)
    // A logout while waiting wins: the answer is dropped.
    if (this.external !== previous) throw new Error('the ChatGPT sign-in changed during the refresh')
    this.external = tokens
    this.options.log.info(
      { accountId: tokens.accountId, planType: tokens.planType },
      'installed refreshed ChatGPT tokens',
    )
    if (tokens.planType !== previous.planType || tokens.accountId !== previous.accountId) {
      this.changed.fire(this.state())
    }
  }

  private refreshTargets(): ConnectionId[] {
    const open = (id: ConnectionId) => {
      const connection = this.options.router.get(id)
      return connection !== undefined && !connection.closed && connection.initialized
    }
    const owner = [...this.owners].reverse().find(open)
    if (owner !== undefined) return [owner]
    return [...this.options.router.all()].filter((c) => !c.closed && c.initialized).map((c) => c.id)
  }

  dispose(): void {
    this.changed.dispose()
  }
}

function externalTokens(params: {
  accessToken: string
  chatgptAccountId: string
  chatgptPlanType?: string | null | undefined
}): ExternalTokens {
  const claims = parseChatgptClaims(params.accessToken)
  return {
    accessToken: params.accessToken,
    accountId: params.chatgptAccountId,
    planType: params.chatgptPlanType || claims.planType || 'unknown',
    email: claims.email,
    userId: claims.userId,
  }
}

/** codex's texts for a refresh that did not produce tokens. */
function refreshError(error: unknown, timeoutSecs: number): Error {
  if (error instanceof ServerRequestTimeoutError) {
    return new Error(`auth refresh request timed out after ${timeoutSecs}s`)
  }
  if (error instanceof ServerRequestError) {
    return new Error(`auth refresh request failed: code=${error.code} message=${error.message}`)
  }
  if (error instanceof ServerRequestCancelledError) {
    return new Error('auth refresh request canceled: the app server is shutting down')
  }
  return error instanceof Error ? error : new Error(String(error))
}

function missingCredentials(provider: ResolvedProvider): Error {
  // Read by people (the desktop UI shows it as the turn's error): the fixes, never a method name.
  const variable = provider.envKey ? `, set the \`${provider.envKey}\` environment variable` : ''
  return new Error(
    `Not signed in: the model provider \`${provider.id}\` needs an OpenAI account. ` +
      `Sign in (with ChatGPT or an API key)${variable}, or choose a model from another provider.`,
  )
}
