/** Extension and capability handlers (skills, hooks, plugins, apps, MCP status, collaboration modes, features, permission profiles, external agent config, rate limits). */
import type { extensionRequests } from '../protocol/extensions'
import type { AppServer } from './appServer'
import type { Handler } from './context'

export function extensionHandlers(_core: AppServer): { [M in keyof typeof extensionRequests]: Handler<M> } {
  return {}
}
