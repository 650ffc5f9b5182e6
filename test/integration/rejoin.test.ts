/**
 * Rejoining a running turn: the resume response shows the running turn with every item so far
 * (the streaming agentMessage with its text so far), and the rest arrives after it with no gap and
 * no duplicate. Cut points are random; each run checks snapshot text + later deltas = final text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Turn } from '../../src/worker/protocol/items'
import { delayMs, stall, text } from '../support/modelServer'
import { WAIT_MS, type ServerMessage, type TestClient } from '../support/testClient'
import { startHarness, startThread, type Harness } from '../support/threadHarness'

let h: Harness
beforeAll(async () => {
  h = await startHarness('ws')
})
afterAll(async () => {
  await h.dispose()
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** What a rejoining client knows about one agentMessage: from the snapshot, then from events after it. */
function reconstruct(client: TestClient, responseId: string, threadId: string) {
  const at = client.received.findIndex((m) => m.id === responseId && m.method === undefined)
  expect(at).toBeGreaterThanOrEqual(0)
  const before = client.received.slice(0, at)
  expect(
    before.filter(
      (m) => (m.params as { threadId?: string })?.threadId === threadId && m.method?.startsWith('item/'),
    ),
  ).toEqual([])
  const response = client.received[at] as ServerMessage
  const turns = (response.result as { thread: { turns: Turn[] } }).thread.turns
  const texts = new Map<string, string>()
  for (const item of turns.at(-1)?.items ?? [])
    if (item.type === 'agentMessage') texts.set(item.id, item.text)
  const completed = new Map<string, string>()
  const started = new Set<string>()
  for (const m of client.received.slice(at + 1)) {
    const p = m.params as {
      threadId?: string
      itemId?: string
      delta?: string
      item?: { id: string; type: string; text?: string }
    }
    if (p?.threadId !== threadId) continue
    if (m.method === 'item/started' && p.item?.type === 'agentMessage') {
      expect(texts.has(p.item.id)).toBe(false)
      started.add(p.item.id)
      texts.set(p.item.id, p.item.text ?? '')
    }
    if (m.method === 'item/agentMessage/delta') {
      expect(texts.has(p.itemId as string)).toBe(true)
      texts.set(p.itemId as string, (texts.get(p.itemId as string) ?? '') + p.delta)
    }
    if (m.method === 'item/completed' && p.item?.type === 'agentMessage')
      completed.set(p.item.id, p.item.text ?? '')
  }
  return { texts, completed, turns }
}

describe('rejoin a running turn', () => {
  it('snapshot text plus the deltas that follow equals the final text, at 20 random cut points', async () => {
    const a = await h.connect('a')
    const words = Array.from({ length: 150 }, (_, i) => `w${i}`).join(' ')
    let joinedMidTurn = 0
    for (let run = 0; run < 20; run++) {
      const { thread } = await startThread(a)
      h.model.enqueue([delayMs(2), text(words, { chunks: 150 })])
      const { turn } = await a.request('turn/start', {
        threadId: thread.id,
        input: [{ type: 'text', text: `run ${run}` }],
      })
      await sleep(Math.floor(Math.random() * 250))
      const b = await h.connect(`b${run}`)
      const id = `resume-${run}`
      const response = await b.call('thread/resume', { threadId: thread.id }, id)
      expect(response.error).toBeUndefined()
      const last = (response.result as { thread: { turns: Turn[] } }).thread.turns.at(-1)
      if (last?.status === 'inProgress') {
        joinedMidTurn++
        await b.waitForNotification(
          'turn/completed',
          (p) => (p as { turn: { id: string } }).turn.id === turn.id,
        )
      }
      await a.waitForNotification(
        'turn/completed',
        (p) => (p as { turn: { id: string } }).turn.id === turn.id,
      )
      const { texts, completed } = reconstruct(b, id, thread.id)
      expect(texts.size).toBe(1)
      for (const [itemId, value] of texts) {
        expect(value).toBe(words)
        if (completed.has(itemId)) expect(completed.get(itemId)).toBe(words)
      }
      b.close()
    }
    // Most cuts land inside the stream (it lasts longer than the longest wait).
    expect(joinedMidTurn).toBeGreaterThanOrEqual(10)
  })

  it('shows the streaming item and the live status in the resume response', async () => {
    const a = await h.connect('a2')
    const { thread } = await startThread(a)
    h.model.enqueue([text('partial answer', { chunks: ['partial ', 'answer'] }), stall()])
    // The stall holds the response open after the text is done: the turn is still running.
    await a.request('turn/start', { threadId: thread.id, input: [{ type: 'text', text: 'go' }] })
    await h.model.waitForStall(1, WAIT_MS)
    await a.waitForNotification(
      'item/completed',
      (p) => (p as { item: { type: string } }).item.type === 'agentMessage',
    )
    const b = await h.connect('b-live')
    const resumed = await b.request('thread/resume', { threadId: thread.id })
    expect(resumed.thread.status).toEqual({ type: 'active', activeFlags: [] })
    const last = resumed.thread.turns.at(-1) as Turn
    expect(last.status).toBe('inProgress')
    expect(last.items.map((i) => i.type)).toEqual(['userMessage', 'agentMessage'])
    h.model.release()
    await b.waitForNotification('turn/completed')
    await a.waitForNotification('turn/completed')
  })
})
