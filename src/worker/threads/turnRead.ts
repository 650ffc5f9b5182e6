/**
 * One turn of a stored thread read back for a history page (threads/historyPages.ts): the byte
 * range the outline found for it (threads/rolloutOutline.ts) is read, its model-history lines are
 * recognized by their head and skipped without being parsed (a page never shows them, and they
 * are half a rollout's weight), and the turn's own lines are replayed.
 *
 * It must never write, and must answer as RolloutOutline.readTurn does.
 */
import type { Turn } from '../protocol/items'
import { replay, type RolloutLine } from './rollout'
import { isModelHistoryLine, LineDecoder } from './rolloutLines'
import { readTurnText, type OutlineTurn } from './rolloutOutline'

export async function readOutlineTurn(
  path: string,
  turn: OutlineTurn,
  threadId: string,
): Promise<Turn | null> {
  const text = await readTurnText(path, turn)
  const decoder = new LineDecoder({ skip: isModelHistoryLine })
  const unterminated = !text.endsWith('\n')
  let start = 0
  for (let n = 1; start < text.length; n++) {
    const nl = text.indexOf('\n', start)
    const end = nl === -1 ? text.length : nl
    decoder.push(text.slice(start, end), n, unterminated && nl === -1)
    start = end + 1
  }
  const lines = decoder.lines.filter(
    (line): line is RolloutLine =>
      line.type !== 'response_item' &&
      'turnId' in line.payload &&
      (line.payload as { turnId: unknown }).turnId === turn.id,
  )
  return replay(lines, { threadId, openTurn: 'interrupted' }).turns.find((t) => t.id === turn.id) ?? null
}
