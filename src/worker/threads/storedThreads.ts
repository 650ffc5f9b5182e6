/**
 * Thread operations on what is stored, whether or not the thread is loaded here: thread/read,
 * thread/archive, thread/unarchive and thread/name/set. A loaded thread is read from, or written
 * through, its live state; any other goes through the rollout store and the index.
 *
 * It keeps no state of its own and never loads a thread: the ThreadManager gives it what it needs
 * (`StoredThreadHost`), and archiving a loaded thread unloads it first.
 */
import { invalidRequest } from '../protocol/errors'
import type { Thread, ThreadStatus } from '../protocol/items'
import type { ParamsOf, ResultOf } from '../protocol/registry'
import type { OutboundRouter } from '../transport/outboundRouter'
import type { LiveThread } from './liveThread'
import { noRolloutFound, type RolloutStore } from './rolloutStore'
import { uuidProblem } from './settingsUpdate'
import type { ThreadEvents } from './threadEvents'
import { threadFromSummary, type ThreadIndex } from './threadIndex'

/** What the stored-thread operations use of the thread manager. */
export interface StoredThreadHost {
  open(): Promise<{ store: RolloutStore; index: ThreadIndex }>
  /** The thread if it is loaded here (never loads it). */
  live(threadId: string): LiveThread | undefined
  /** Unloads a loaded thread at once and waits until its rollout is closed. */
  unloadNow(threadId: string): Promise<void>
  /** A stored thread replayed from its rollout (`notLoaded`, with or without its turns). */
  readStored(threadId: string, withTurns: boolean): Promise<Thread>
  router: OutboundRouter
  events: ThreadEvents
}

const NOT_LOADED: ThreadStatus = { type: 'notLoaded' }

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A client's thread id: codex parses it as a UUID, so anything else is `invalid thread id: <why>`. */
export function assertThreadId(threadId: string): void {
  if (!UUID.test(threadId)) throw invalidRequest(`invalid thread id: ${uuidProblem(threadId) ?? threadId}`)
}

/** thread/read: a loaded thread's own snapshot, else the index's summary or the replayed rollout. */
export async function readThread(
  host: StoredThreadHost,
  params: ParamsOf<'thread/read'>,
): Promise<ResultOf<'thread/read'>> {
  const live = host.live(params.threadId)
  if (live) return { thread: live.snapshot(params.includeTurns ?? false) }
  assertThreadId(params.threadId)
  if (!params.includeTurns) {
    const { index, store } = await host.open()
    const summary = index.get(params.threadId)
    if (summary && (await store.locate(params.threadId)))
      return { thread: threadFromSummary(summary, NOT_LOADED) }
  }
  return { thread: await host.readStored(params.threadId, params.includeTurns ?? false) }
}

/** thread/archive: a loaded thread's turn is interrupted and the thread unloaded first. */
export async function archiveThread(host: StoredThreadHost, threadId: string): Promise<void> {
  assertThreadId(threadId)
  const { store } = await host.open()
  const live = host.live(threadId)
  if (live?.ephemeral) throw noRolloutFound(threadId)
  if (!live && !(await store.locate(threadId))) throw noRolloutFound(threadId)
  if (live) {
    live.running?.interrupt()
    await live.running?.done
    await host.unloadNow(threadId)
  }
  await store.archive(threadId)
  host.router.notify('all', 'thread/archived', { threadId })
}

export async function unarchiveThread(
  host: StoredThreadHost,
  threadId: string,
): Promise<ResultOf<'thread/unarchive'>> {
  assertThreadId(threadId)
  const { store, index } = await host.open()
  await store.unarchive(threadId)
  const summary = index.get(threadId)
  const thread = summary ? threadFromSummary(summary, NOT_LOADED) : await host.readStored(threadId, false)
  host.router.notify('all', 'thread/unarchived', { threadId })
  return { thread }
}

/** thread/name/set: through the loaded thread's rollout writer, or a writer opened for it. */
export async function setThreadName(host: StoredThreadHost, threadId: string, name: string): Promise<void> {
  assertThreadId(threadId)
  const threadName = name.trim() === '' ? null : name
  const live = host.live(threadId)
  if (live) {
    await live.sink.append('thread_settings', { name: threadName })
    live.base.name = threadName
  } else {
    const { store } = await host.open()
    const writer = await store.open(threadId)
    try {
      await writer.append('thread_settings', { name: threadName })
    } finally {
      await writer.close()
    }
  }
  host.events.toAll(threadId, 'thread/name/updated', { threadId, threadName })
}
