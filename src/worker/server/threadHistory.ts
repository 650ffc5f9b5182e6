/**
 * Thread history and per-thread state handlers: pages of turns and items (threads/historyPages.ts),
 * read state and goals (threads/threadState.ts), and background terminals (codex-desk has none: every
 * command runs to completion inside its turn).
 *
 * It must never load a thread to answer: a stored thread is read where it lies, a loaded one from
 * memory. Changes are announced to the thread's subscribers, as codex announces them.
 */
import { invalidRequest, RpcError } from '../protocol/errors'
import type { Thread } from '../protocol/items'
import type { historyRequests } from '../protocol/threadHistory'
import { sharedHistoryPages, type HistorySource } from '../threads/historyPages'
import type { ThreadManager } from '../threads/threadManager'
import { historySourceOf } from '../threads/threadResponses'
import type { ThreadSystem } from '../agent/threadSystem'
import { changedGoal, readStateEligible, ThreadStateStore, turnNeedsAttention } from '../threads/threadState'
import type { AppServer } from './appServer'
import type { Handler } from './context'

type HistoryHandlers = { [M in keyof typeof historyRequests]: Handler<M> }

/** A loaded thread, or a stored one read from the index (no turns). Unknown: `thread not loaded`. */
async function findThread(
  manager: ThreadManager,
  threadId: string,
): Promise<{ thread: Thread; source: HistorySource }> {
  const live = manager.get(threadId)
  if (live) return { thread: live.snapshot(false), source: historySourceOf(live) }
  const { thread } = await manager.readThread({ threadId, includeTurns: false })
  return { thread, source: { threadId, path: thread.path, ephemeral: false, liveTurns: null } }
}

/** codex says `thread not found` where the state, not the history, is asked for. */
async function findStoredThread(manager: ThreadManager, threadId: string): Promise<Thread> {
  try {
    return (await findThread(manager, threadId)).thread
  } catch (error) {
    if (error instanceof RpcError && error.message === `thread not loaded: ${threadId}`)
      throw invalidRequest(`thread not found: ${threadId}`)
    throw error
  }
}

export function historyHandlers(core: AppServer): HistoryHandlers {
  const pages = sharedHistoryPages
  const state = () => ThreadStateStore.forHome(core.options.codexHome)
  /** Finished turns that ask for attention mark the thread unread (codex's terminal attention). */
  const watch = (system: ThreadSystem): void => {
    system.turns.onTurnEnding(({ thread, turn }) => {
      if (!readStateEligible(thread.base)) return
      if (!turnNeedsAttention(turn, state().goal(thread.id))) return
      try {
        const readState = state().attention(thread.id, turn.id)
        // Before the turn's idle and turn/completed, as codex orders them.
        if (readState)
          system.manager.events.toSubscribers(thread.id, 'thread/readState/changed', {
            threadId: thread.id,
            readState,
          })
      } catch (error) {
        core.options.logs.get('threads').warn({ error }, 'read state not saved')
      }
    })
  }
  // Watch turns from the moment the threads subsystem loads, whichever request loads it.
  core.onThreadSystem(watch)
  const manager = async () => (await core.threadSystem()).manager

  return {
    'thread/turns/list': async (params) => {
      const { source } = await findThread(await manager(), params.threadId)
      return pages.turns(source, params)
    },
    'thread/items/list': async (params) => {
      const { source } = await findThread(await manager(), params.threadId)
      return pages.items(source, params)
    },
    'thread/items/read': async (params) => {
      const { source } = await findThread(await manager(), params.threadId)
      return { data: await pages.read(source, params.turnId, params.itemIds) }
    },

    'thread/readState/update': async (params) => {
      const threads = await manager()
      const { thread } = await findThread(threads, params.threadId)
      if (!readStateEligible(thread)) throw invalidRequest('thread read state unavailable')
      const outcome = await state().update(params.threadId, params.operation.type, params.expectedRevision)
      if (outcome.kind === 'unavailable') throw invalidRequest('thread read state unavailable')
      if (outcome.kind === 'conflict')
        throw invalidRequest('read state changed', {
          reason: 'readStateConflict',
          readState: outcome.readState,
        })
      threads.events.toSubscribers(params.threadId, 'thread/readState/changed', {
        threadId: params.threadId,
        readState: outcome.readState,
      })
      return { readState: outcome.readState }
    },

    'thread/goal/get': async (params) => {
      const thread = await findStoredThread(await manager(), params.threadId)
      return { goal: thread.ephemeral ? null : state().goal(params.threadId) }
    },
    'thread/goal/set': async (params) => {
      const threads = await manager()
      const thread = await findStoredThread(threads, params.threadId)
      if (thread.ephemeral)
        throw invalidRequest(`ephemeral thread does not support goals: ${params.threadId}`)
      const goal = await state().setGoal(params.threadId, (current) =>
        changedGoal(params.threadId, current, params),
      )
      threads.events.toSubscribers(params.threadId, 'thread/goal/updated', {
        threadId: params.threadId,
        turnId: null,
        goal,
      })
      return { goal }
    },
    'thread/goal/clear': async (params) => {
      const threads = await manager()
      const thread = await findStoredThread(threads, params.threadId)
      if (thread.ephemeral)
        throw invalidRequest(`ephemeral thread does not support goals: ${params.threadId}`)
      const cleared = await state().clearGoal(params.threadId)
      if (cleared)
        threads.events.toSubscribers(params.threadId, 'thread/goal/cleared', { threadId: params.threadId })
      return { cleared }
    },

    // Commands run to completion inside their turn, so no thread ever has a background terminal.
    'thread/backgroundTerminals/list': async (params) => {
      await findStoredThread(await manager(), params.threadId)
      return { data: [], nextCursor: null }
    },
  }
}
