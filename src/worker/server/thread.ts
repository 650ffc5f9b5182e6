/**
 * Thread-area request handlers: thin adapters over the ThreadManager (threads/threadManager.ts)
 * and the settings update (threads/settingsUpdate.ts), plus the request checks codex makes before
 * any work: experimental booleans (gated only when `true`), `permissions` vs `sandbox`, a model
 * provider that exists, and the once-per-field debug note of params accepted but not acted on.
 */
import { BUILTIN_PROVIDERS } from '../agent/providers'
import type { ConfigService } from '../config/service'
import { THREAD_FORK_EXPERIMENTAL_FLAGS, THREAD_START_EXPERIMENTAL_FLAGS } from '../protocol/constants'
import { logIgnoredParams } from '../threads/ignoredParams'
import { pageOfThreadIds } from '../threads/loadedThreads'
import { assertPermissionsExclusive, updateThreadSettings } from '../threads/settingsUpdate'
import { assertKnownProvider } from '../threads/threadSettings'
import type { ThreadIndex } from '../threads/threadIndex'
import type { ThreadSystem } from '../agent/threadSystem'
import { readStateOfThread } from '../threads/threadState'
import { requireExperimental, type Handler, type RequestContext } from './context'

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
  | 'thread/settings/update'

/** codex gates a plain experimental boolean only when it is `true` (`false` is the default). */
function gateFlags(ctx: RequestContext, method: string, params: object, flags: readonly string[]): void {
  for (const flag of flags) {
    if ((params as Record<string, unknown>)[flag] === true)
      requireExperimental(ctx.connection, `${method}.${flag}`)
  }
}

export function threadHandlers(
  system: () => Promise<ThreadSystem>,
  /** The threads subsystem if it has loaded, without loading it. */
  loaded: () => ThreadSystem | null,
  /** The thread index alone (the subsystem shares it): what a new core's first listing reads. */
  index: () => Promise<ThreadIndex>,
  /** The codex home, where `thread_state.jsonl` (read states) lives. */
  home: string,
  /** The config, to refuse an unknown `modelProvider` before a thread exists. */
  config: Pick<ConfigService, 'current'>,
): { [M in ThreadMethods]: Handler<M> } {
  const manager = async () => (await system()).manager
  return {
    'thread/start': async (params, ctx) => {
      gateFlags(ctx, 'thread/start', params, THREAD_START_EXPERIMENTAL_FLAGS)
      assertPermissionsExclusive(params.permissions, params.sandbox, 'sandbox')
      const { merged, effective } = config.current
      assertKnownProvider(merged, effective, params, BUILTIN_PROVIDERS)
      logIgnoredParams(ctx.log, 'thread/start', params)
      return (await manager()).start(params, ctx)
    },
    'thread/resume': async (params, ctx) => {
      assertPermissionsExclusive(params.permissions, params.sandbox, 'sandbox')
      logIgnoredParams(ctx.log, 'thread/resume', params)
      return (await manager()).resume(params, ctx)
    },
    'thread/fork': async (params, ctx) => {
      gateFlags(ctx, 'thread/fork', params, THREAD_FORK_EXPERIMENTAL_FLAGS)
      assertPermissionsExclusive(params.permissions, params.sandbox, 'sandbox')
      logIgnoredParams(ctx.log, 'thread/fork', params)
      return (await manager()).fork(params, ctx)
    },
    'thread/read': async (params) => {
      const threads = await manager()
      // A stored thread's turns are read without its model history (threads/storedThreadRead.ts).
      const thread =
        params.includeTurns && !threads.get(params.threadId)
          ? await (
              await import('../threads/storedThreadRead')
            ).readStoredThreadWithTurns(threads, home, params.threadId, threads.log)
          : (await threads.readThread(params)).thread
      return { thread, readState: readStateOfThread(home, thread) }
    },
    'thread/list': async (params, ctx) => {
      // Before the subsystem loads no thread is loaded here, so every status is `notLoaded`: the
      // index answers alone, and a client's first listing does not wait for the agent's code. The
      // subsystem loads once the answer is out (it puts back a patch a crashed core left half
      // done, as it always did at the first thread request).
      const running = loaded()
      if (running) return running.manager.list(params)
      ctx.afterResponse(() => void system().catch(() => undefined))
      return (await index()).list(params)
    },
    'thread/loaded/list': (params) =>
      pageOfThreadIds(loaded()?.manager.loadedIds() ?? [], params.cursor, params.limit),
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
    'thread/settings/update': async (params, ctx) => {
      await updateThreadSettings(await manager(), params, (fn) => ctx.afterResponse(fn))
      return {}
    },
  }
}
