/**
 * A model stream that breaks (dropped connection, or silent past the idle timeout) is retried. What
 * the broken attempt completed is already in the turn, so the retry carries it, as codex 0.169.0's
 * retry does (it rebuilds the request from its history): the model is never asked again for an
 * answer the user already sees. A function call it completed is run before the retry, which carries
 * the call and its output (codex does the same). A partial answer is not carried, and, as in codex,
 * it is dropped: clients saw it start and stream, never complete, and no read, resume or history page
 * shows it. And a silent stream ends at the idle timeout even after a garbage collection (Node 20's
 * fetch then no longer forwarded the abort to the response body, and the turn waited forever).
 */
import { describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { conversationOf } from '../support/agentContext'
import { expectCodexShape } from '../support/codexSchema'
import { disconnectAfter, functionCall, stall, text, usage } from '../support/modelServer'
import {
  harnessesPerTest,
  runTurn,
  startThread,
  type Harness,
  type TransportKind,
} from '../support/threadHarness'
import { WAIT_MS, type TestClient } from '../support/testClient'

const perTest = harnessesPerTest()
const { restartable } = perTest

function harness(transport: TransportKind, env?: Record<string, string>): Promise<Harness> {
  return perTest.harness(transport, env ? { env } : {})
}

/** An item as the tests compare them: `type:text` (text only for messages). */
function shownItem(item: { type: string }): string {
  const text = (item as { text?: string }).text
  return item.type === 'agentMessage' ? `${item.type}:${text}` : item.type
}

/** The first turn's items as `thread/read` gives them. */
async function readItems(client: TestClient, threadId: string): Promise<string[]> {
  const read = await client.request('thread/read', { threadId, includeTurns: true })
  expectCodexShape('ThreadReadResponse', read)
  return (read.thread.turns[0]?.items ?? []).map(shownItem)
}

/** The first turn's items as a history page (`thread/turns/list`, full items) gives them. */
async function listedItems(client: TestClient, threadId: string): Promise<string[]> {
  const page = await client.request('thread/turns/list', { threadId, itemsView: 'full' })
  expectCodexShape('ThreadTurnsListResponse', page)
  return (page.data.at(-1)?.items ?? []).map(shownItem)
}

function retryNotices(client: TestClient): unknown[] {
  return client.received.filter((m) => m.method === 'error').map((m) => m.params)
}

/** Runs full garbage collections in the core through its inspector (started with --inspect). */
async function collectGarbage(h: Harness): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  let match: RegExpExecArray | null
  while (!(match = /Debugger listening on (ws:\/\/\S+)/.exec(h.proc.stderr()))) {
    if (Date.now() > deadline) throw new Error(`no inspector URL in: ${h.proc.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const ws = new WebSocket(match[1] as string)
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
  try {
    for (let id = 1; id <= 3; id++) {
      const done = new Promise<void>((resolve) =>
        ws.on('message', (data) => {
          if ((JSON.parse(String(data)) as { id?: number }).id === id) resolve()
        }),
      )
      ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }))
      await done
    }
  } finally {
    ws.terminate()
  }
}

const said = (h: Harness, index: number) =>
  conversationOf(h.model.requests[index]).map((i) => `${i.role}:${i.content?.[0]?.text}`)

describe.each<TransportKind>(['stdio', 'ws'])('a broken model stream over %s', (transport) => {
  it('is retried with the answer it completed, and the turn shows both answers once', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    // created, in_progress, item added, part added, 2 deltas, text done, part done, item done: 9
    // events, then the connection drops before response.completed.
    h.model.enqueue([text('first answer', { chunks: 2 }), disconnectAfter(9)], text('second answer'))
    const { completed } = await runTurn(client, thread.id, 'hi')
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    expect(h.model.requests).toHaveLength(2)
    expect(h.model.requests[0]?.disconnectedByClient).toBe(true)
    expect(said(h, 0)).toEqual(['user:hi'])
    expect(said(h, 1)).toEqual(['user:hi', 'assistant:first answer'])
    // Carried as the thread's history is sent (store: false): no output id or status.
    const input = (h.model.requests[1]?.body as { input: unknown[] }).input
    expect(input.at(-1)).toEqual({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'output_text', annotations: [], logprobs: [], text: 'first answer' }],
    })
    const notices = retryNotices(client)
    expect(notices).toHaveLength(1)
    expectCodexShape('ErrorNotification', notices[0])
    expect(notices[0]).toMatchObject({ willRetry: true, error: { message: 'Reconnecting... 1/1' } })
    expect(await readItems(client, thread.id)).toEqual([
      'userMessage',
      'agentMessage:first answer',
      'agentMessage:second answer',
    ])
    // The next turn's request holds the conversation in order, each answer once.
    h.model.enqueue(text('third answer'))
    await runTurn(client, thread.id, 'again')
    expect(said(h, 2)).toEqual(['user:hi', 'assistant:first answer', 'assistant:second answer', 'user:again'])
  })

  it('is retried with the same input when it broke mid-answer', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    // created, in_progress, item added, part added, one delta: the answer is cut.
    h.model.enqueue([text('a partial answer', { chunks: 3 }), disconnectAfter(5)], text('whole answer'))
    await runTurn(client, thread.id, 'hi')
    expect(h.model.requests).toHaveLength(2)
    expect(said(h, 1)).toEqual(said(h, 0))
    expect(said(h, 1)).toEqual(['user:hi'])
    expect(retryNotices(client)).toHaveLength(1)
  })

  it('drops the answer it cut, as codex does: clients never hear it complete and no read shows it', async () => {
    const { first, restart } = await restartable(transport)
    const client = await first.connect()
    const { thread } = await startThread(client)
    // created, in_progress, item added, part added, two deltas: the answer is cut.
    first.model.enqueue([text('a partial answer', { chunks: 3 }), disconnectAfter(6)], text('whole answer'))
    await runTurn(client, thread.id, 'hi')
    const items = (method: string) =>
      client.received
        .filter((m) => m.method === method)
        .map((m) => (m.params as { item: { id: string; type: string; text?: string } }).item)
        .filter((item) => item.type === 'agentMessage')
    const started = items('item/started').map((item) => item.id)
    expect(started).toHaveLength(2)
    const [cut, whole] = started as [string, string]
    const deltas = client.received
      .filter((m) => m.method === 'item/agentMessage/delta')
      .map((m) => m.params as { itemId: string; delta: string })
    expect(
      deltas
        .filter((d) => d.itemId === cut)
        .map((d) => d.delta)
        .join(''),
    ).not.toBe('')
    // The cut answer started and streamed, then nothing: only the retry's answer completes.
    const completed = items('item/completed')
    expect(completed.map((item) => [item.id, item.text])).toEqual([[whole, 'whole answer']])
    const shown = ['userMessage', 'agentMessage:whole answer']
    expect(await readItems(client, thread.id)).toEqual(shown)
    expect(await listedItems(client, thread.id)).toEqual(shown)
    // From disk, in a new process: read, resume and history pages agree.
    const second = await restart()
    const again = await second.connect()
    expect(await readItems(again, thread.id)).toEqual(shown)
    expect(await listedItems(again, thread.id)).toEqual(shown)
    const resumed = await again.request('thread/resume', { threadId: thread.id })
    expectCodexShape('ThreadResumeResponse', resumed)
    expect(resumed.thread.turns[0]?.items.map(shownItem)).toEqual(shown)
    // The next turn's request holds the retry's answer alone.
    second.model.enqueue(text('third answer'))
    await runTurn(again, thread.id, 'again')
    expect(said(second, 0)).toEqual(['user:hi', 'assistant:whole answer', 'user:again'])
  })

  it('runs a call it completed before breaking, as codex does, and the retry carries the call and its output', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    const plan = { plan: [{ step: 'probe the retry', status: 'pending' }] }
    const call = functionCall({ name: 'update_plan', arguments: plan, callId: 'call_before_break' })
    // created, in_progress, item added, one arguments delta, arguments done, item done: 6 events.
    h.model.enqueue([call, disconnectAfter(6)], text('done after the plan'), text('third answer'))
    const { completed } = await runTurn(client, thread.id, 'hi')
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    // The call ran before the retry; the retry's answer ends the turn (no extra request).
    expect(h.model.requests).toHaveLength(2)
    const input = (h.model.requests[1]?.body as { input: unknown[] }).input
    expect(input.slice(-3)).toEqual([
      expect.objectContaining({ type: 'message', role: 'user' }),
      {
        type: 'function_call',
        name: 'update_plan',
        arguments: JSON.stringify(plan),
        call_id: 'call_before_break',
      },
      { type: 'function_call_output', call_id: 'call_before_break', output: 'Plan updated' },
    ])
    const methods = client.received.map((m) => m.method)
    const planned = methods.indexOf('turn/plan/updated')
    expect(planned).toBeGreaterThan(methods.indexOf('error'))
    expect(planned).toBeLessThan(methods.indexOf('item/agentMessage/delta'))
    expect(await readItems(client, thread.id)).toEqual(['userMessage', 'agentMessage:done after the plan'])
    // The next turn's request holds the call and its output once, in order.
    await runTurn(client, thread.id, 'again')
    expect(
      conversationOf(h.model.requests[2]).map((i) => (i.role ? `${i.role}:${i.content?.[0]?.text}` : i.type)),
    ).toEqual([
      'user:hi',
      'function_call',
      'function_call_output',
      'assistant:done after the plan',
      'user:again',
    ])
  })

  it('is retried with the answer it completed when it went silent past the idle timeout', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    // The harness's idle timeout (10 s) ends the silent stream; the retry answers.
    h.model.enqueue([text('said before the silence'), stall(), usage({ input: 1, output: 1 })], text('after'))
    const { completed } = await runTurn(client, thread.id, 'hi')
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    expect(h.model.requests).toHaveLength(2)
    expect(said(h, 1)).toEqual(['user:hi', 'assistant:said before the silence'])
    const notices = retryNotices(client) as { error: { additionalDetails: string } }[]
    expect(notices).toHaveLength(1)
    expect(notices[0]?.error.additionalDetails).toMatch(/idle timeout/)
    expect(await readItems(client, thread.id)).toEqual([
      'userMessage',
      'agentMessage:said before the silence',
      'agentMessage:after',
    ])
  })

  it('ends a silent stream at the idle timeout even after a garbage collection, and retries', async () => {
    const h = await harness(transport, { NODE_OPTIONS: '--inspect=127.0.0.1:0' })
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue([text('said before the silence'), stall(), usage({ input: 1, output: 1 })], text('after'))
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'hi' }],
    })
    await h.model.waitForStall(1, WAIT_MS)
    // The answer is in: the core now waits on the silent stream alone.
    await client.waitForNotification(
      'item/completed',
      (p) => (p as { item: { type: string } }).item.type === 'agentMessage',
    )
    await collectGarbage(h)
    const completed = await client.waitForNotification(
      'turn/completed',
      (p) => (p as { turn: { id: string } }).turn.id === turn.id,
    )
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    expect(h.model.requests).toHaveLength(2)
    expect(h.model.requests[0]?.disconnectedByClient).toBe(true)
    expect(said(h, 1)).toEqual(['user:hi', 'assistant:said before the silence'])
  })
})
