/**
 * A stored thread read whole (threads/storedThreadRead.ts) answers exactly what a full replay of its
 * rollout answers, whether its turns are replayed one by one as the response is written (turns that
 * follow each other) or the rollout is read whole (turns that interleave, as after a crash).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeResponse } from '../../src/worker/protocol/jsonrpc'
import type { Thread } from '../../src/worker/protocol/items'
import { threadResponsePieces } from '../../src/worker/threads/responsePieces'
import { decodeLines, replay } from '../../src/worker/threads/rollout'
import { encodeLine, type RolloutPayloads, type RolloutType } from '../../src/worker/threads/rolloutLines'
import { readStoredThreadWithTurns } from '../../src/worker/threads/storedThreadRead'
import type { ThreadManager } from '../../src/worker/threads/threadManager'
import { silentLogs } from '../../src/worker/util/log'
import { makeTempDir } from '../support/appServerProcess'

const removals: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const remove of removals.splice(0)) await remove()
})

const THREAD = '01a244d7-4ee9-7000-9367-9f5570bdad51'
let ordinal = 0
let clock = 1_000
const line = <T extends RolloutType>(type: T, payload: RolloutPayloads[T]) =>
  encodeLine(ordinal++, type, payload, (clock += 1_000))

const user = (id: string, text: string) =>
  ({ type: 'userMessage', id, content: [{ type: 'text', text, text_elements: [] }] }) as never
const agent = (id: string, text: string) =>
  ({ type: 'agentMessage', id, text, phase: null, memoryCitation: null }) as never

function meta(): string {
  ordinal = 0
  clock = 1_000
  return line('session_meta', {
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
  })
}

function turn(id: string, complete = true): string[] {
  return [
    line('turn_started', { turnId: id, startedAt: clock / 1000 }),
    line('item_completed', { turnId: id, item: user(`${id}-u`, `question ${id} "é"`) }),
    line('response_item', { turnId: id, item: { type: 'message', role: 'user', content: 'x'.repeat(500) } }),
    line('item_started', { turnId: id, item: agent(`${id}-a`, '') }),
    line('item_text_delta', { turnId: id, itemId: `${id}-a`, offset: 0, text: `answer ${id} ` }),
    line('item_text_delta', { turnId: id, itemId: `${id}-a`, offset: 10 + id.length, text: 'y'.repeat(300) }),
    line('item_completed', {
      turnId: id,
      item: agent(`${id}-a`, ''),
      textFromDeltas: 10 + id.length + 300,
    }),
    ...(complete
      ? [
          line('turn_completed', {
            turnId: id,
            status: 'completed',
            error: null,
            completedAt: null,
            durationMs: 5,
          }),
        ]
      : []),
  ]
}

async function readBoth(text: string) {
  const dir = await makeTempDir('codex-desk-stored-read-')
  removals.push(dir.remove)
  const path = join(dir.path, `rollout-2026-01-01T00-00-00-${THREAD}.jsonl`)
  await writeFile(path, text)
  const manager = {
    readThread: async () => ({ thread: { path } }),
  } as unknown as ThreadManager
  const thread = await readStoredThreadWithTurns(manager, dir.path, THREAD, silentLogs.get('test'))
  const pieces = threadResponsePieces(5, { thread, readState: null })
  let sent = ''
  if (pieces) for await (const piece of pieces) sent += piece
  else sent = encodeResponse(5, { thread, readState: null })
  const replayed = replay(decodeLines(text).lines, { path, openTurn: 'interrupted' })
  const expected: Thread = { ...replayed.thread, status: { type: 'notLoaded' }, turns: replayed.turns }
  // A lazy turns array is empty until written: how the two ways of reading tell apart.
  return {
    sent,
    expected: encodeResponse(5, { thread: expected, readState: null }),
    held: thread.turns.length,
  }
}

describe('a stored thread read whole', () => {
  it('is replayed turn by turn to what a full replay says', async () => {
    const text = [
      meta(),
      ...turn('t1'),
      line('thread_settings', { name: 'named' }),
      ...turn('t2'),
      ...turn('t3', false),
    ]
    const { sent, expected, held } = await readBoth(text.join(''))
    expect(sent).toBe(expected)
    expect(held).toBe(0)
    expect((JSON.parse(sent) as { result: { thread: Thread } }).result.thread.turns).toHaveLength(3)
  })

  it('reads interleaved turns whole, to the same answer', async () => {
    // A crash left t1 open; t2 ran; the next load closed t1 at the end of the file.
    const t1 = turn('t1', false)
    const text = [
      meta(),
      ...t1,
      ...turn('t2'),
      line('item_completed', { turnId: 't1', item: agent('t1-a', 'late') }),
      line('turn_completed', {
        turnId: 't1',
        status: 'interrupted',
        error: null,
        completedAt: 3,
        durationMs: 1,
      }),
    ]
    const { sent, expected, held } = await readBoth(text.join(''))
    expect(sent).toBe(expected)
    expect(held).toBe(2)
  })

  it('keeps a torn last line out, as a full replay does', async () => {
    const text = [meta(), ...turn('t1'), ...turn('t2')].join('') + '{"timestamp":"2026'
    const { sent, expected } = await readBoth(text)
    expect(sent).toBe(expected)
  })
})
