/**
 * `thread/read` with its turns of a thread this process has not loaded: the rollout is replayed
 * without the model history (threads/rolloutLines.ts `withoutModelHistory`), which a read never
 * shows and which is most of a rollout's weight, so reading a 100 MB thread holds its turns and
 * little else. The answer is the one RolloutStore.read and ThreadManager.readThread give.
 *
 * It must never write anything, and never answer differently from a full replay of the rollout.
 */
import type { Thread } from '../protocol/items'
import type { Logger } from '../util/log'
import { replay } from './rollout'
import { readRolloutFile } from './rolloutRead'
import { noRolloutFound } from './rolloutStore'
import type { ThreadManager } from './threadManager'
import { hasLiveWriter } from './writerLock'

/** The stored thread with every turn, read where it lies (status `notLoaded`). */
export async function readStoredThreadWithTurns(
  manager: ThreadManager,
  home: string,
  threadId: string,
  log: Logger,
): Promise<Thread> {
  // Finds the rollout (and answers `thread not loaded` for an unknown id) as a read without turns does.
  const { thread: stored } = await manager.readThread({ threadId, includeTurns: false })
  const path = stored.path
  if (!path) return (await manager.readThread({ threadId, includeTurns: true })).thread
  let decoded
  try {
    decoded = await readRolloutFile(path, { withoutModelHistory: true })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw noRolloutFound(threadId)
    throw error
  }
  const { lines, problems } = decoded
  const id = (lines[0]?.type === 'session_meta' ? lines[0].payload.id : null) ?? threadId
  if (problems.length > 0) log.warn({ path, problems }, 'skipped unreadable rollout lines')
  const openTurn = (await hasLiveWriter(home, id)) ? 'inProgress' : 'interrupted'
  const replayed = replay(lines, { path, openTurn, threadId: id })
  return { ...replayed.thread, status: { type: 'notLoaded' }, turns: replayed.turns }
}
