/**
 * `thread/read` with its turns of a thread this process has not loaded, read turn by turn while the
 * response is written, so a 100 MB thread never sits in memory whole:
 *
 * 1. A first pass over the rollout keeps only what the thread's own fields come from (the session
 *    meta, settings, turn starts and ends, user messages, every line's time and ordinal) and checks
 *    that each turn's lines come together: a turn starts, its lines follow, it completes before the
 *    next starts (what every rollout this app writes looks like).
 * 2. The turns are then replayed one at a time from a second read of the same bytes, each as its
 *    own lines make it, as the response's pieces are written (transport/jsonPieces.ts lazyArray).
 *
 * A rollout whose turns interleave (a crash, a rollout from elsewhere) is read whole instead, without
 * its model history (rolloutLines.ts `withoutModelHistory`), which a read never shows.
 *
 * It must never write anything, and never answer differently from a full replay of the rollout
 * (RolloutStore.read and ThreadManager.readThread give the same thread).
 */
import type { Thread, Turn } from '../protocol/items'
import { lazyArray } from '../transport/jsonPieces'
import type { Logger } from '../util/log'
import { replay, type ReplayOptions, type RolloutLine } from './rollout'
import { isModelHistoryLine, LineDecoder, type LineProblem } from './rolloutLines'
import { readRolloutFile, rolloutLineBatches } from './rolloutRead'
import { noRolloutFound } from './rolloutStore'
import type { ThreadManager } from './threadManager'
import { hasLiveWriter } from './writerLock'

/** Lines that change a turn (the rest only feed the model history or the token count). */
const TURN_LINES = new Set([
  'turn_started',
  'item_started',
  'item_checkpoint',
  'item_text_delta',
  'item_completed',
  'turn_completed',
])

/** What the first pass learns: the thread's fields and whether its turns can be read one by one. */
class Outline {
  /** Lines with everything a Thread's fields need, the rest reduced to their time and ordinal. */
  readonly skeleton: RolloutLine[] = []
  turns = 0
  separable = true
  private current: string | null = null
  private completed = true
  private readonly seen = new Set<string>()

  keep = (line: RolloutLine): null => {
    this.skeleton.push(skeletonOf(line))
    if (!TURN_LINES.has(line.type)) return null
    const turnId = (line.payload as { turnId: string }).turnId
    if (line.type === 'turn_started') {
      // A turn starting before the last one completed, or a turn started twice: replay closes or
      // skips across turns there, so only a whole replay says what happens.
      if (!this.completed || this.seen.has(turnId)) this.separable = false
      this.seen.add(turnId)
      this.current = turnId
      this.completed = false
      this.turns++
    } else if (turnId !== this.current || this.completed) {
      this.separable = false
    } else if (line.type === 'turn_completed') {
      this.completed = true
    }
    return null
  }
}

/** The line as far as the Thread's own fields go: only its time and ordinal, unless they need more. */
function skeletonOf(line: RolloutLine): RolloutLine {
  switch (line.type) {
    case 'session_meta':
    case 'thread_settings':
    case 'turn_started':
    case 'turn_completed':
      return line
    case 'item_started':
    case 'item_completed':
      // The preview is the first user message's text.
      if (line.payload.item.type === 'userMessage') return line
  }
  return {
    timestamp: line.timestamp,
    ordinal: line.ordinal,
    type: 'response_item',
    payload: { turnId: null, item: null },
  }
}

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
  try {
    return await readThread(path, home, threadId, log)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw noRolloutFound(threadId)
    throw error
  }
}

async function readThread(path: string, home: string, threadId: string, log: Logger): Promise<Thread> {
  const outline = new Outline()
  const decoder = new LineDecoder({ keep: outline.keep })
  const bytes = { value: 0 }
  for await (const batch of rolloutLineBatches(path, decoder, Infinity, bytes)) void batch
  const lines = outline.skeleton
  const id = (lines[0]?.type === 'session_meta' ? lines[0].payload.id : null) ?? threadId
  warnAbout(decoder.problems, path, log)
  const options: ReplayOptions = {
    path,
    openTurn: (await hasLiveWriter(home, id)) ? 'inProgress' : 'interrupted',
    threadId: id,
  }
  if (!outline.separable) {
    const whole = await readRolloutFile(path, { withoutModelHistory: true, maxBytes: bytes.value })
    const replayed = replay(whole.lines, options)
    return { ...replayed.thread, status: { type: 'notLoaded' }, turns: replayed.turns }
  }
  const { thread } = replay(lines, options)
  const turns = lazyArray(outline.turns, () => turnsOf(path, bytes.value, options))
  return { ...thread, status: { type: 'notLoaded' }, turns }
}

/** The turns, each replayed from its own lines as the second read reaches its end. */
async function* turnsOf(path: string, maxBytes: number, options: ReplayOptions): AsyncGenerator<Turn> {
  let group: RolloutLine[] = []
  const decoder = new LineDecoder({
    skip: isModelHistoryLine,
    keep: (line) => (TURN_LINES.has(line.type) ? line : null),
  })
  const finish = (lines: RolloutLine[]) => replay(lines, options).turns[0]
  for await (const batch of rolloutLineBatches(path, decoder, maxBytes)) {
    for (const line of batch) {
      if (line.type === 'turn_started' && group.length > 0) {
        const turn = finish(group)
        group = []
        if (turn) yield turn
      }
      group.push(line)
    }
  }
  const last = group.length > 0 ? finish(group) : undefined
  if (last) yield last
}

function warnAbout(problems: LineProblem[], path: string, log: Logger): void {
  if (problems.length > 0) log.warn({ path, problems }, 'skipped unreadable rollout lines')
}
