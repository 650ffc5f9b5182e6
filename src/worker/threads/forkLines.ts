/**
 * The rollout lines of a fork: the source's turns up to a cut, each closed (a turn still running in
 * the source is copied as interrupted: the fork's interruption marker), and the model history of
 * the kept turns. Pure: the manager writes the lines, and replays them for the in-memory thread.
 */
import { invalidRequest } from '../protocol/errors'
import type { ThreadItem, Turn } from '../protocol/items'
import { closeItem, type ModelHistoryEntry, type RolloutPayloads, type RolloutType } from './rollout'

export type PendingLine = { [T in RolloutType]: { type: T; payload: RolloutPayloads[T] } }[RolloutType]

export interface ForkSource {
  turns: readonly Turn[]
  history: readonly ModelHistoryEntry[]
}

/** Keeps turns up to and including `lastTurnId` (all when omitted). */
export function forkLines(source: ForkSource, lastTurnId: string | null | undefined): PendingLine[] {
  let turns = source.turns
  if (lastTurnId) {
    const at = turns.findIndex((turn) => turn.id === lastTurnId)
    if (at < 0) throw invalidRequest(`turn not found: ${lastTurnId}`)
    turns = turns.slice(0, at + 1)
  }
  const kept = new Set(turns.map((turn) => turn.id))
  const byTurn = new Map<string | null, ModelHistoryEntry[]>()
  for (const entry of source.history) {
    if (entry.turnId !== null && !kept.has(entry.turnId)) continue
    const list = byTurn.get(entry.turnId) ?? []
    list.push(entry)
    byTurn.set(entry.turnId, list)
  }
  const lines: PendingLine[] = []
  for (const entry of byTurn.get(null) ?? []) {
    lines.push({ type: 'response_item', payload: { turnId: null, item: entry.item } })
  }
  const nowMs = Date.now()
  for (const turn of turns) {
    lines.push({
      type: 'turn_started',
      payload: {
        turnId: turn.id,
        startedAt: turn.startedAt ?? Math.floor(nowMs / 1000),
        rootTurnId: turn.rootTurnId,
      },
    })
    const running = turn.status === 'inProgress'
    for (const item of turn.items) {
      const copy: ThreadItem = running ? closeItem(item, nowMs) : item
      lines.push({ type: 'item_completed', payload: { turnId: turn.id, item: copy } })
    }
    for (const entry of byTurn.get(turn.id) ?? []) {
      lines.push({ type: 'response_item', payload: { turnId: turn.id, item: entry.item } })
    }
    lines.push({
      type: 'turn_completed',
      payload: running
        ? {
            turnId: turn.id,
            status: 'interrupted',
            error: null,
            completedAt: Math.floor(nowMs / 1000),
            durationMs: turn.startedAt === null ? null : nowMs - turn.startedAt * 1000,
          }
        : {
            turnId: turn.id,
            status: turn.status as Exclude<Turn['status'], 'inProgress'>,
            error: turn.error,
            completedAt: turn.completedAt,
            durationMs: turn.durationMs,
          },
    })
  }
  return lines
}
