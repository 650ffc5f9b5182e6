/**
 * `initialize`: per-connection handshake (protocol.md §3). Validates the client name as an HTTP
 * header value, fixes the process-wide originator on first use, records capabilities, and, right
 * after the response, sends this connection one `configWarning` per startup problem. The user agent
 * it answers carries the codex protocol version codex-desk speaks (see originator.ts for why).
 */
import { ALREADY_INITIALIZED_MESSAGE, invalidRequest } from '../protocol/errors'
import { CODEX_PROTOCOL_VERSION } from '../protocol/initialize'
import type { ConfigWarningNotification } from '../protocol/notifications'
import type { OutboundRouter } from '../transport/outboundRouter'
import type { Handler } from './context'
import { isValidHeaderValue, type Originator, platformFamily, platformOs, userAgent } from './originator'

export interface InitializeDeps {
  originator: Originator
  version: string
  codexHome: string
  router: OutboundRouter
  /** Problems found at startup (config diagnostics); each connection hears them after initialize. */
  startupWarnings: () => readonly ConfigWarningNotification[]
}

export function initializeHandler(deps: InitializeDeps): Handler<'initialize'> {
  return (params, ctx) => {
    const connection = ctx.connection
    if (connection.initialized) throw invalidRequest(ALREADY_INITIALIZED_MESSAGE)
    const { name, version } = params.clientInfo
    if (!isValidHeaderValue(name)) {
      throw invalidRequest(`Invalid clientInfo.name: '${name}'. Must be a valid HTTP header value.`)
    }
    connection.experimentalApi = params.capabilities?.experimentalApi === true
    connection.optOut = new Set(params.capabilities?.optOutNotificationMethods ?? [])
    const originator = deps.originator.claim(name)
    connection.initialized = true
    ctx.log.info(
      {
        connectionId: connection.id,
        client: name,
        clientVersion: version,
        experimentalApi: connection.experimentalApi,
      },
      'client initialized',
    )
    ctx.afterResponse(() => {
      for (const warning of deps.startupWarnings())
        deps.router.notify(connection.id, 'configWarning', warning)
    })
    deps.originator.recordClient(name, version)
    return {
      userAgent: userAgent({
        originator,
        protocolVersion: CODEX_PROTOCOL_VERSION,
        version: deps.version,
        clientName: name,
        clientVersion: version,
      }),
      codexHome: deps.codexHome,
      platformFamily: platformFamily(),
      platformOs: platformOs(),
    }
  }
}
