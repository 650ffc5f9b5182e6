/**
 * What a running turn hands out: the services its tools get (ToolServices: items, streamed text,
 * server requests, turn-scoped state) and the context a turn job gets (TurnJobContext: review/start,
 * thread/shellCommand). Both publish streamed output before anything that follows it (an item's
 * start or end, a prompt), so a client never sees a command end before its output.
 *
 * It only builds these views over the turn it is given (ServedTurn): it never holds state of its
 * own, never samples the model itself, and never persists or publishes but through that turn.
 */
import type { ThreadItem } from '../protocol/items'
import type { ResolvedThreadSettings } from '../threads/threadSettings'
import type { ToolServices } from './tools'
import type { SideConversation, TurnHost, TurnJobContext } from './turnHost'
import type { ItemTurn } from './turnModelEvents'

/** What the services and the job context need from the running turn. */
export interface ServedTurn extends ItemTurn {
  readonly host: TurnHost
  readonly signal: AbortSignal
  /** What tools keep for the length of the turn (the patch tool's diff tracker). */
  readonly scoped: Map<object, unknown>
  interrupt(): void
  /** Samples the model on a side conversation until it stops calling tools. */
  converse(side: SideConversation): Promise<void>
}

/** What a turn job (review/start, thread/shellCommand) may do inside the turn. */
export function jobContext(turn: ServedTurn): TurnJobContext {
  const { host } = turn
  return {
    threadId: turn.threadId,
    turnId: turn.turnId,
    thread: host.thread,
    signal: turn.signal,
    log: host.log,
    settings: () => host.settings(),
    startItem: (item) => startAfterDeltas(turn, item),
    completeItem: (item) => completeAfterDeltas(turn, item),
    remember: async (item) => {
      await turn.persist('response_item', { turnId: turn.turnId, item })
      host.thread.history.push({ turnId: turn.turnId, item })
    },
    converse: (side) => turn.converse(side),
    services: () => toolServices(turn, host.settings()),
  }
}

/** Streamed output is published before anything that follows it (the item's end, a prompt). */
async function startAfterDeltas(turn: ServedTurn, item: ThreadItem): Promise<void> {
  await turn.deltas.drain()
  await turn.startItem(item)
}

async function completeAfterDeltas(turn: ServedTurn, item: ThreadItem): Promise<void> {
  await turn.deltas.drain()
  await turn.completeItem(item)
}

/** What a tool call of the turn gets, with the settings the turn samples with. */
export function toolServices(turn: ServedTurn, settings: ResolvedThreadSettings): ToolServices {
  const { host } = turn
  return {
    thread: host.thread,
    threadId: turn.threadId,
    turnId: turn.turnId,
    signal: turn.signal,
    log: host.log,
    settings,
    startItem: (item) => startAfterDeltas(turn, item),
    completeItem: (item) => completeAfterDeltas(turn, item),
    publish: (method, params) => turn.publish(method, params),
    streamText: (itemId, offset, text, publish) =>
      turn.deltas.push(host.thread.sink.appendText({ turnId: turn.turnId, itemId, offset, text }), publish),
    markWaitingOnApproval: () => host.markWaitingOnApproval(),
    request: async (method, params, options = {}) => {
      await turn.deltas.drain()
      return host.request(method, params, { ...options, signal: turn.signal })
    },
    cancelTurn: () => turn.interrupt(),
    turnScoped: <T>(key: object, create: () => T): T => {
      if (!turn.scoped.has(key)) turn.scoped.set(key, create())
      return turn.scoped.get(key) as T
    },
  }
}
