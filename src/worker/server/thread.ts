/** Thread-area request handlers: thin adapters over the ThreadManager (threads/threadManager.ts). */
import type { LoadedThreads } from '../threads/loadedThreads'
import type { ThreadManager } from '../threads/threadManager'
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
  threads: ThreadManager,
  loaded: LoadedThreads,
): { [M in ThreadMethods]: Handler<M> } {
  return {
    'thread/start': (params, ctx) => threads.start(params, ctx),
    'thread/resume': (params, ctx) => threads.resume(params, ctx),
    'thread/fork': (params, ctx) => threads.fork(params, ctx),
    'thread/read': (params) => threads.readThread(params),
    'thread/list': (params) => threads.list(params),
    'thread/loaded/list': (params) => loaded.page(params.cursor, params.limit),
    'thread/unsubscribe': (params, ctx) => threads.unsubscribe(params.threadId, ctx.connection.id),
    'thread/archive': async (params) => {
      await threads.archive(params.threadId)
      return {}
    },
    'thread/unarchive': (params) => threads.unarchive(params.threadId),
    'thread/name/set': async (params) => {
      await threads.setName(params.threadId, params.name)
      return {}
    },
  }
}
