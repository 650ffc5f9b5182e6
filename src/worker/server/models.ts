/** Model catalog handlers (model/list, modelProvider/capabilities/read). */
import type { modelRequests } from '../protocol/models'
import type { AppServer } from './appServer'
import type { Handler } from './context'

export function modelHandlers(_core: AppServer): { [M in keyof typeof modelRequests]: Handler<M> } {
  return {}
}
