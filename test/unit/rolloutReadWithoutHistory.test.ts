/**
 * A rollout read without its model history (threads/rolloutLines.ts `withoutModelHistory`, what a
 * whole-thread read of a stored thread uses) replays to the same thread and turns as a full read.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { replay } from '../../src/worker/threads/rollout'
import {
  decodeLines,
  encodeLine,
  type RolloutPayloads,
  type RolloutType,
} from '../../src/worker/threads/rolloutLines'
import { readRolloutFile } from '../../src/worker/threads/rolloutRead'
import { makeTempDir } from '../support/appServerProcess'

const removals: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const remove of removals.splice(0)) await remove()
})

const THREAD = '01a244d7-4ee9-7000-9367-9f5570bdad51'
const TURN = 'turn-1'
let ordinal = 0
const line = <T extends RolloutType>(type: T, payload: RolloutPayloads[T], atMs: number) =>
  encodeLine(ordinal++, type, payload, atMs)

function rollout(): string[] {
  ordinal = 0
  const user = { type: 'userMessage', id: 'u1', content: [{ type: 'text', text: 'hi', text_elements: [] }] }
  const answer = { type: 'agentMessage', id: 'a1', text: 'done "x"', phase: null, memoryCitation: null }
  return [
    line(
      'session_meta',
      {
        id: THREAD,
        createdAt: 1,
        cwd: '/w',
        originator: null,
        cliVersion: '1',
        source: 'cli',
        modelProvider: 'mock',
        model: 'm',
        reasoningEffort: null,
        forkedFromId: null,
        parentThreadId: null,
        ephemeral: false,
        historyMode: 'paginated',
      },
      1_000,
    ),
    line('turn_started', { turnId: TURN, startedAt: 2 }, 2_000),
    line('item_completed', { turnId: TURN, item: user as never }, 2_100),
    line(
      'response_item',
      { turnId: TURN, item: { type: 'message', role: 'user', content: 'hi'.repeat(1000) } },
      2_200,
    ),
    line('item_completed', { turnId: TURN, item: answer as never }, 3_000),
    line(
      'compacted',
      { turnId: TURN, replacementHistory: [{ turnId: null, item: { big: 'y'.repeat(1000) } }] },
      3_100,
    ),
    line(
      'turn_completed',
      { turnId: TURN, status: 'completed', error: null, completedAt: 4, durationMs: 2000 },
      4_000,
    ),
    // The last line: a model-history line written later than everything else.
    line(
      'response_item',
      { turnId: null, item: { type: 'message', role: 'assistant', content: 'z' } },
      9_000,
    ),
  ]
}

async function read(text: string) {
  const dir = await makeTempDir('codex-desk-rollout-light-')
  removals.push(dir.remove)
  const path = join(dir.path, 'rollout.jsonl')
  await writeFile(path, text)
  const light = await readRolloutFile(path, { withoutModelHistory: true })
  const full = decodeLines(text)
  return { light, full, path }
}

describe('reading a rollout without its model history', () => {
  it('replays to the same thread and turns, and keeps every line time and ordinal', async () => {
    const { light, full, path } = await read(rollout().join(''))
    const a = replay(light.lines, { path })
    const b = replay(full.lines, { path })
    expect(a.thread).toEqual(b.thread)
    expect(a.lastOrdinal).toBe(b.lastOrdinal)
    expect(a.thread.updatedAt).toBe(9)
    expect(light.problems).toEqual(full.problems)
    expect(a.modelHistory.every((entry) => entry.item === null)).toBe(true)
  })

  it('reports a torn or corrupt model-history line as a full read does', async () => {
    const lines = rollout()
    const torn = (lines.at(-1) as string).slice(0, 60)
    const corrupt = (lines[3] as string).replace('"item":{', '"item":{{')
    const text = [...lines.slice(0, 3), corrupt, ...lines.slice(4, -1), torn].join('')
    const { light, full, path } = await read(text)
    expect(light.problems).toEqual(full.problems)
    expect(light.problems.map((p) => p.kind)).toEqual(['corrupt', 'torn'])
    expect(replay(light.lines, { path }).thread).toEqual(replay(full.lines, { path }).thread)
  })
})
