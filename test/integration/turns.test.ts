import { afterEach, describe, expect, it } from 'vitest'
import { reasoning, text, usage } from '../support/modelServer'
import {
  methodsFor,
  runTurn,
  startHarness,
  startThread,
  type Harness,
  type TransportKind,
} from '../support/threadHarness'

const harnesses: Harness[] = []
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.dispose()
})

async function harness(transport: TransportKind, options = {}): Promise<Harness> {
  const h = await startHarness(transport, options)
  harnesses.push(h)
  return h
}

describe.each<TransportKind>(['stdio', 'ws'])('a text turn over %s', (transport) => {
  it('streams items in codex order and persists them', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    h.model.enqueue([
      reasoning('thinking hard'),
      text('Hello there, friend.'),
      usage({ input: 12, output: 7 }),
    ])
    const started = await startThread(client, { cwd: h.proc.home })
    const threadId = started.thread.id
    expect(started.thread.status).toEqual({ type: 'idle' })
    expect(started.thread.path).toMatch(/sessions\/\d{4}\/\d{2}\/\d{2}\/rollout-.*\.jsonl$/)
    const { completed } = await runTurn(client, threadId, 'hi')
    const turn = (
      completed.params as {
        turn: { status: string; items: { type: string; text?: string }[]; itemsView: string }
      }
    ).turn
    expect(turn.status).toBe('completed')
    expect(turn.itemsView).toBe('summary')
    expect(turn.items).toEqual([
      expect.objectContaining({ type: 'agentMessage', text: 'Hello there, friend.' }),
    ])
    const methods = methodsFor(client, threadId)
    const collapsed = methods.filter((m, i) => !(/delta$/i.test(m) && methods[i - 1] === m))
    expect(methods.filter((m) => m === 'item/agentMessage/delta')).toHaveLength(3)
    expect(collapsed).toEqual([
      'thread/started',
      'thread/status/changed',
      'turn/started',
      'item/started',
      'item/completed',
      'item/started',
      'item/reasoning/summaryPartAdded',
      'item/reasoning/summaryTextDelta',
      'item/completed',
      'item/started',
      'item/agentMessage/delta',
      'item/completed',
      'thread/tokenUsage/updated',
      'thread/status/changed',
      'turn/completed',
    ])
    const read = await client.request('thread/read', { threadId, includeTurns: true })
    expect(read.thread.turns[0]?.items.map((i) => i.type)).toEqual([
      'userMessage',
      'reasoning',
      'agentMessage',
    ])
    const request = h.model.requests[0]?.body as { model: string; input: unknown[] }
    expect(request.model).toBe('test-model')
    expect(request.input).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
    ])
  })
})
