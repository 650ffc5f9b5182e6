/**
 * Account-area request handlers: `account/read`, `account/login/start`, `account/login/cancel` and
 * `account/logout`, with codex's shapes, messages and notification order (response first, then
 * `account/login/completed`, then `account/updated`, to every initialized connection). The
 * AuthManager (auth/authManager.ts) holds the state; this file maps it to the wire.
 */
import type { AuthManager } from '../auth/authManager'
import type { ConfigService } from '../config/service'
import { invalidRequest } from '../protocol/errors'
import type { OutboundRouter } from '../transport/outboundRouter'
import type { Handler } from './context'

type AccountMethods = 'account/read' | 'account/login/start' | 'account/login/cancel' | 'account/logout'

export interface AccountHandlerDeps {
  /** Loaded on the first account request (it is not needed to start serving). */
  auth: () => Promise<AuthManager>
  config: ConfigService
  router: OutboundRouter
  env: NodeJS.ProcessEnv
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function accountHandlers(deps: AccountHandlerDeps): { [M in AccountMethods]: Handler<M> } {
  const { config, router, env } = deps

  const notifyUpdated = (auth: AuthManager) => () => router.notify('all', 'account/updated', auth.state())
  const notifyLoggedIn = (auth: AuthManager) => () => {
    router.notify('all', 'account/login/completed', { loginId: null, success: true, error: null })
    notifyUpdated(auth)()
  }

  return {
    'account/read': async () => {
      const [auth, { resolveProvider }] = await Promise.all([deps.auth(), import('../agent/providers')])
      const effective = config.current.effective
      let provider
      try {
        provider = resolveProvider(effective, env, { accountMayAuthenticate: true })
      } catch (error) {
        throw invalidRequest((error as Error).message)
      }
      const { account, userId } = await auth.account(provider)
      return {
        account,
        requiresOpenaiAuth: provider.requiresOpenaiAuth,
        ...(userId ? { userId } : {}),
      }
    },

    'account/login/start': async (params, ctx) => {
      const auth = await deps.auth()
      switch (params.type) {
        case 'apiKey':
          await auth.loginApiKey(params.apiKey)
          ctx.afterResponse(notifyLoggedIn(auth))
          return { type: 'apiKey' }
        case 'chatgptAuthTokens':
          auth.loginExternal(params, ctx.connection.id)
          ctx.afterResponse(notifyLoggedIn(auth))
          return { type: 'chatgptAuthTokens' }
        case 'chatgpt':
        case 'chatgptDeviceCode':
          return auth.refuseManagedLogin()
      }
    },

    'account/login/cancel': (params) => {
      if (!UUID.test(params.loginId)) throw invalidRequest(`invalid login id: ${params.loginId}`)
      // The core runs no browser or device-code login of its own, so there is never one to cancel.
      return { status: 'notFound' }
    },

    'account/logout': async (_params, ctx) => {
      const auth = await deps.auth()
      await auth.logout()
      ctx.afterResponse(notifyUpdated(auth))
      return {}
    },
  }
}
