/**
 * Text a client saw survives a crash: a websocket client accumulates a long streamed answer from its
 * deltas, the core is SIGKILLed at a random point of the stream, and after a restart `thread/read`
 * shows that text or more (a prefix extension), never less. Ten kills, each at its own random point.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ThreadItem, Turn } from '../../src/worker/protocol/items'
import { decodeLines } from '../../src/worker/threads/rollout'
import { text } from '../support/modelServer'
import type { TestClient } from '../support/testClient'
import { startHarness, startThread, type Harness } from '../support/threadHarness'

const KILLS = 10
/** Deltas in the scripted answer: long enough that every kill point lands inside the stream. */
const DELTAS = 20_000

const homes: string[] = []
const harnesses: Harness[] = []
afterAll(async () => {
  for (const h of harnesses.splice(0)) await h.dispose().catch(() => undefined)
  for (const home of homes) await rm(home, { recursive: true, force: true })
})

/** 20-character deltas made of counters, so a lost, doubled or reordered piece changes the text. */
function answerChunks(): string[] {
  return Array.from(
    { length: DELTAS },
    (_, i) => `<${i.toString(36).padStart(6, '0')}:é"\\\n${'x'.repeat(7)}>`,
  )
}

/** The agentMessage text the client accumulated from deltas for one thread. */
function seenText(client: TestClient, threadId: string): string {
  let seen = ''
  for (const m of client.received) {
    const p = m.params as { threadId?: string; delta?: string } | undefined
    if (m.method === 'item/agentMessage/delta' && p?.threadId === threadId) seen += p.delta
  }
  return seen
}

function agentText(turn: Turn | undefined): string | null {
  const item = turn?.items.find(
    (i): i is Extract<ThreadItem, { type: 'agentMessage' }> => i.type === 'agentMessage',
  )
  return item ? item.text : null
}

describe('text a client saw after a crash', () => {
  it(`thread/read shows at least the streamed text a client saw, for ${KILLS} SIGKILLs at random points`, async () => {
    const home = await mkdtemp(join(tmpdir(), 'codex-desk-crash-text-'))
    homes.push(home)
    const chunks = answerChunks()
    const full = chunks.join('')
    const results: { killAfter: number; seen: number; read: number }[] = []
    let previous: { threadId: string; seen: string; killAfter: number } | null = null
    for (let run = 0; run <= KILLS; run++) {
      const h = await startHarness('ws', { home })
      harnesses.push(h)
      const client = await h.connect(`run-${run}`)
      if (previous) {
        // The restarted core reads the killed turn from disk.
        const { thread } = await client.request('thread/read', {
          threadId: previous.threadId,
          includeTurns: true,
        })
        const turn = thread.turns.at(-1)
        expect(turn?.status).toBe('interrupted')
        const read = agentText(turn) ?? ''
        results.push({ killAfter: previous.killAfter, seen: previous.seen.length, read: read.length })
        expect(previous.seen.length).toBeGreaterThan(0)
        expect(read.length).toBeGreaterThanOrEqual(previous.seen.length)
        expect(read.startsWith(previous.seen)).toBe(true)
        expect(full.startsWith(read)).toBe(true)
      }
      if (run === KILLS) break

      const { thread } = await startThread(client)
      h.model.enqueue(text(full, { chunks }))
      const killAfter = 1 + Math.floor(Math.random() * (DELTAS * 0.6))
      let count = 0
      await client.request('turn/start', {
        threadId: thread.id,
        input: [{ type: 'text', text: `run ${run}` }],
      })
      await client.waitForNotification('item/agentMessage/delta', () => ++count >= killAfter)
      h.proc.child.kill('SIGKILL')
      await h.proc.exited
      // Frames the core sent before it died still arrive; the socket then closes.
      await client.waitForClose()
      const seen = seenText(client, thread.id)
      // The kill landed inside the stream: the client had not seen the whole answer.
      expect(seen.length).toBeLessThan(full.length)
      expect(full.startsWith(seen)).toBe(true)
      previous = { threadId: thread.id, seen, killAfter }
      harnesses.splice(harnesses.indexOf(h), 1)
      await h.model.close()
    }
    expect(results).toHaveLength(KILLS)
  }, 300_000)

  it('a rollout holding a long streamed answer is about twice the text, and reads back whole', async () => {
    const h = await startHarness('ws')
    harnesses.push(h)
    const client = await h.connect()
    const { thread } = await startThread(client)
    const chunks = answerChunks()
    const full = chunks.join('')
    h.model.enqueue(text(full, { chunks }))
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'long' }],
    })
    await client.waitForNotification(
      'turn/completed',
      (p) => (p as { turn: { id: string } }).turn.id === turn.id,
    )
    expect(seenText(client, thread.id)).toBe(full)
    const path = thread.path as string
    const bytes = (await readFile(path)).length
    const textBytes = Buffer.byteLength(full)
    // The text is in the deltas and in the model's raw output item; not once more per checkpoint.
    expect(bytes).toBeLessThan(textBytes * 2.5)
    const { lines, problems } = decodeLines(await readFile(path, 'utf8'))
    expect(problems).toEqual([])
    expect(lines.filter((l) => l.type === 'item_checkpoint')).toEqual([])
    const { thread: read } = await client.request('thread/read', { threadId: thread.id, includeTurns: true })
    expect(agentText(read.turns.at(-1))).toBe(full)
    // A fresh process reads the same text from disk.
    const again = await startHarness('ws', { home: h.proc.home })
    harnesses.push(again)
    const other = await again.connect()
    const { thread: fresh } = await other.request('thread/read', { threadId: thread.id, includeTurns: true })
    expect(agentText(fresh.turns.at(-1))).toBe(full)
    const { data } = await other.request('thread/turns/list', { threadId: thread.id })
    expect(agentText(data.at(-1))).toBe(full)
  }, 120_000)
})
