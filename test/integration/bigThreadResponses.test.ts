import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { encodeResponse } from '../../src/worker/protocol/jsonrpc'
import type { Thread } from '../../src/worker/protocol/items'
import { decodeLines, replay } from '../../src/worker/threads/rollout'
import { readStateOfThread } from '../../src/worker/threads/threadState'
import { LineSplitter } from '../../src/worker/transport/lineSplitter'
import { connectWebSocket } from '../support/channels'
import { expectCodexShape } from '../support/codexSchema'
import { reasoning, text, usage } from '../support/modelServer'
import type { TestClient } from '../support/testClient'
import { harnessesPerTest, runTurn, startThread, type Harness } from '../support/threadHarness'

const { restartable } = harnessesPerTest()

/** An answer larger than one piece (256 KiB), with everything JSON escapes. */
const BIG_ANSWER = `<big> "quoted" back\\slash\ttab é 😀 \u0001 ${'x'.repeat(300 * 1024)} end`

/** A client of the harness's core and every raw frame it receives, as the wire carried it. */
async function rawClient(h: Harness): Promise<{ client: TestClient; frames: string[] }> {
  const frames: string[] = []
  if (h.transport === 'ws') {
    const { client, ws } = await connectWebSocket(h.proc.url as string)
    ws.on('message', (data, isBinary) => !isBinary && frames.push(data.toString()))
    await client.initialize()
    return { client, frames }
  }
  const splitter = new LineSplitter(
    1 << 30,
    (line) => frames.push(line),
    () => {},
  )
  h.proc.child.stdout.on('data', (chunk: Buffer) => splitter.push(chunk))
  return { client: await h.connect(), frames }
}

function frameOf(frames: string[], id: number): string {
  const frame = frames.find((f) => f.startsWith(`{"id":${id},`))
  if (!frame) throw new Error(`no response ${id}`)
  return frame
}

/** What thread/read answered before responses were written in pieces: a full replay of the rollout. */
function wholeReplayRead(home: string, path: string): { thread: Thread; readState: unknown } {
  const lines = decodeLines(readFileSync(path, 'utf8')).lines
  const replayed = replay(lines, { path, openTurn: 'interrupted' })
  const thread: Thread = { ...replayed.thread, status: { type: 'notLoaded' }, turns: replayed.turns }
  return { thread, readState: readStateOfThread(home, thread) }
}

describe.each(['stdio', 'ws'] as const)('a whole thread over %s', (transport) => {
  it('reads, resumes and reads again exactly as one serialized response would say it', async () => {
    const { home, first, restart } = await restartable(transport)
    const writer = await first.connect()
    const { thread } = await startThread(writer)
    for (let turn = 0; turn < 3; turn++) {
      first.model.enqueue([
        reasoning(`Turn ${turn}: thinking.`),
        text(turn === 1 ? BIG_ANSWER : `Answer ${turn} "short".`, { chunks: 5 }),
        text(`Turn ${turn}, second message.`),
        usage({ input: 10, output: 10 }),
      ])
      await runTurn(writer, thread.id, `Question ${turn}`)
    }

    // A new process: the thread is stored, not loaded.
    const h = await restart()
    const { client, frames } = await rawClient(h)
    await client.call('thread/read', { threadId: thread.id, includeTurns: true }, 7)
    const stored = frameOf(frames, 7)
    const expected = wholeReplayRead(home, thread.path as string)
    expect(expected.thread.turns).toHaveLength(3)
    expect(stored).toBe(encodeResponse(7, expected))
    const read = JSON.parse(stored) as { result: { thread: Thread } }
    expectCodexShape('ThreadReadResponse', read.result)
    const answer = read.result.thread.turns[1]?.items.find(
      (item) => item.type === 'agentMessage' && item.text === BIG_ANSWER,
    )
    expect(answer).toBeDefined()

    // Resumed (loaded from the rollout): the same turns, in a response that is valid JSON as sent.
    await client.call('thread/resume', { threadId: thread.id }, 8)
    const resumed = frameOf(frames, 8)
    const resume = JSON.parse(resumed) as { result: { thread: Thread } }
    expect(resumed).toBe(JSON.stringify(resume))
    expectCodexShape('ThreadResumeResponse', resume.result)
    expect(resume.result.thread.turns).toEqual(expected.thread.turns)

    // Read again, now from memory.
    await client.call('thread/read', { threadId: thread.id, includeTurns: true }, 9)
    const loaded = frameOf(frames, 9)
    const again = JSON.parse(loaded) as { result: { thread: Thread } }
    expect(loaded).toBe(JSON.stringify(again))
    expect(again.result.thread.turns).toEqual(expected.thread.turns)
    expect(again.result.thread.status).toEqual({ type: 'idle' })

    // Nothing else on the connection was cut or garbled: a request after them answers as usual.
    const list = await client.request('thread/loaded/list', {})
    expect(list.data).toContain(thread.id)
    expect(client.violations).toEqual([])
  })
})
