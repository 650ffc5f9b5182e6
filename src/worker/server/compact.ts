/**
 * `thread/compact/start`: a thin adapter over the TurnController (agent/turns.ts), which runs the
 * summarization as a turn of its own. It must never compact a thread whose turn is running.
 */
import type { compactRequests } from '../protocol/compact'
import type { ThreadSystem } from '../agent/threadSystem'
import type { Handler } from './context'

type CompactHandlers = { [M in keyof typeof compactRequests]: Handler<M> }

export function compactHandlers(system: () => Promise<ThreadSystem>): CompactHandlers {
  return {
    'thread/compact/start': async (params, ctx) => (await system()).turns.compact(params, ctx),
  }
}
