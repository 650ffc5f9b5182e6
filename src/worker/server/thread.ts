/** Thread-area request handlers. Today: `thread/loaded/list`; the threads work adds the rest here. */
import type { LoadedThreads } from '../threads/loadedThreads'
import type { Handler } from './context'

export function threadHandlers(threads: LoadedThreads): {
  'thread/loaded/list': Handler<'thread/loaded/list'>
} {
  return {
    'thread/loaded/list': (params) => threads.page(params.cursor, params.limit),
  }
}
