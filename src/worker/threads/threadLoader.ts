/**
 * From disk (or nothing) to a LiveThread: create a new thread's rollout and its first lines, load
 * a stored one (closing, on disk, a turn the last process left running), and the session meta a
 * thread's fields amount to (what a fork starts from).
 *
 * It must never leave a writer open when it fails: the lock would block the thread until restart.
 */
import type { Thread } from '../protocol/items'
import type { PendingLine } from './forkLines'
import { LiveThread } from './liveThread'
import { replay, type RolloutLine, type SessionMeta } from './rollout'
import type { RolloutStore } from './rolloutStore'
import { EphemeralSink } from './rolloutWriter'

/** Loads a stored thread for appending. Turns the last process left running are closed on disk. */
export async function loadLiveThread(store: RolloutStore, threadId: string): Promise<LiveThread> {
  const writer = await store.open(threadId)
  try {
    const replayed = await store.read(writer.path, { openTurn: 'interrupted' })
    // A turn the last process left running is over: say so on disk, so every later read agrees.
    for (const turnId of replayed.interruptedOnReplay) {
      const turn = replayed.turns.find((t) => t.id === turnId)
      if (!turn) continue
      const open = new Set(replayed.openItems.filter((o) => o.turnId === turnId).map((o) => o.itemId))
      const closing = turn.items
        .filter((item) => open.has(item.id))
        .map((item) => writer.append('item_completed', { turnId, item }))
      await Promise.all(closing)
      await writer.append('turn_completed', {
        turnId,
        status: 'interrupted',
        error: null,
        completedAt: turn.completedAt,
        durationMs: turn.durationMs,
      })
    }
    return new LiveThread(replayed, writer)
  } catch (error) {
    await writer.close().catch(() => undefined)
    throw error
  }
}

/**
 * Creates a thread from its session meta and first lines: written to a new rollout, or, with no
 * store (ephemeral), held in memory only. The in-memory thread is the replay of those same lines.
 */
export async function createLiveThread(
  store: RolloutStore | null,
  meta: SessionMeta,
  lines: PendingLine[],
): Promise<LiveThread> {
  let path: string | null = null
  let sink: LiveThread['sink']
  if (!store) {
    sink = new EphemeralSink(meta.id)
  } else {
    const created = await store.create(meta)
    sink = created.writer
    path = created.path
    try {
      await Promise.all(lines.map((line) => created.writer.append(line.type, line.payload as never)))
    } catch (error) {
      await created.writer.close().catch(() => undefined)
      throw error
    }
  }
  const at = new Date(meta.createdAt * 1000).toISOString()
  const all = [{ type: 'session_meta', payload: meta } as PendingLine, ...lines].map(
    (line, ordinal) => ({ ...line, timestamp: at, ordinal }) as RolloutLine,
  )
  const replayed = replay(all, { path, openTurn: 'interrupted' })
  replayed.thread.ephemeral = store === null
  replayed.thread.updatedAt = replayed.thread.createdAt
  return new LiveThread(replayed, sink)
}

/** The session meta of a thread as it is now (a fork starts from it). */
export function metaOfThread(thread: Thread): SessionMeta {
  return {
    id: thread.id,
    createdAt: thread.createdAt,
    cwd: thread.cwd,
    originator: thread.originator,
    cliVersion: thread.cliVersion,
    source: thread.source,
    threadSource: thread.threadSource,
    modelProvider: thread.modelProvider,
    model: thread.model,
    reasoningEffort: thread.reasoningEffort,
    forkedFromId: thread.forkedFromId,
    parentThreadId: thread.parentThreadId,
    ephemeral: false,
    historyMode: thread.historyMode,
    agentNickname: thread.agentNickname,
    agentRole: thread.agentRole,
    gitInfo: thread.gitInfo,
    projectId: thread.projectId,
    name: thread.name,
  }
}
