/** Thread history and per-thread state handlers (turns/items pages, read state, goals, background terminals). */
import type { historyRequests } from '../protocol/threadHistory'
import type { AppServer } from './appServer'
import type { Handler } from './context'

export function historyHandlers(_core: AppServer): { [M in keyof typeof historyRequests]: Handler<M> } {
  return {}
}
