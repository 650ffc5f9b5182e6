/** Thread-area request handlers: thin adapters over the ThreadManager (threads/threadManager.ts). */
import { pageOfThreadIds } from '../threads/loadedThreads'
import type { ThreadSystem } from '../threads/threadSystem'
import type { Handler } from './context'

type ThreadMethods =
  | 'thread/start'
  | 'thread/resume'
  | 'thread/fork'
  | 'thread/read'
  | 'thread/list'
  | 'thread/loaded/list'
  | 'thread/unsubscribe'
  | 'thread/archive'
  | 'thread/unarchive'
  | 'thread/name/set'

export function threadHandlers(
  system: () => Promise<ThreadSystem>,
  /** The loaded thread ids, without loading the threads subsystem (none before it loads). */
  loadedIds: () => Iterable<string>,
): { [M in ThreadMethods]: Handler<M> } {
  const manager = async () => (await system()).manager
  return {
    'thread/start': async (params, ctx) => (await manager()).start(params, ctx),
    'thread/resume': async (params, ctx) => (await manager()).resume(params, ctx),
    'thread/fork': async (params, ctx) => (await manager()).fork(params, ctx),
    'thread/read': async (params) => (await manager()).readThread(params),
    'thread/list': async (params) => (await manager()).list(params),
    'thread/loaded/list': (params) => pageOfThreadIds(loadedIds(), params.cursor, params.limit),
    'thread/unsubscribe': async (params, ctx) =>
      (await manager()).unsubscribe(params.threadId, ctx.connection.id),
    'thread/archive': async (params) => {
      await (await manager()).archive(params.threadId)
      return {}
    },
    'thread/unarchive': async (params) => (await manager()).unarchive(params.threadId),
    'thread/name/set': async (params) => {
      await (await manager()).setName(params.threadId, params.name)
      return {}
    },
  }
}
