/**
 * Compaction: thread/compact/start runs a turn holding one contextCompaction item, in which the model
 * (offered no tools) writes a checkpoint summary; the next request carries the user messages and
 * the summary, not what the assistant said, also after a restart. A thread also compacts on its own
 * before a turn once the last request's input passed `model_auto_compact_token_limit`, and when the
 * model answers "context length exceeded" (then the request is retried once).
 */
import { describe, expect, it } from 'vitest'
import { expectCodexShape } from '../support/codexSchema'
import { failed, text, usage, type RecordedRequest } from '../support/modelServer'
import {
  methodsFor,
  runTurn,
  harnessesPerTest,
  startThread,
  type TransportKind,
} from '../support/threadHarness'
import type { ServerMessage, TestClient } from '../support/testClient'

const { harness, restartable } = harnessesPerTest()

interface Message {
  type?: string
  role?: string
  content?: { type: string; text?: string }[]
}

const inputOf = (request: RecordedRequest) => (request.body as { input: Message[] }).input
const textOf = (item: Message) => (item.content ?? []).map((part) => part.text ?? '').join('')
const userTexts = (request: RecordedRequest) =>
  inputOf(request)
    .filter((item) => item.type === 'message' && item.role === 'user')
    .map(textOf)
const assistantTexts = (request: RecordedRequest) =>
  inputOf(request)
    .filter((item) => item.type === 'message' && item.role === 'assistant')
    .map(textOf)

/** Compacts and waits for the compaction turn's turn/completed; returns the thread's messages since. */
async function compact(client: TestClient, threadId: string): Promise<ServerMessage[]> {
  const from = client.received.length
  const result = await client.request('thread/compact/start', { threadId })
  expectCodexShape('ThreadCompactStartResponse', result)
  expect(result).toEqual({})
  await client.waitForNotification('turn/completed', (p) => (p as { threadId: string }).threadId === threadId)
  return client.received.slice(from).filter((m) => m.method !== undefined && m.id === undefined)
}

describe.each<TransportKind>(['stdio', 'ws'])('compaction over %s', (transport) => {
  it('summarizes the thread and continues from the user messages and the summary, also after a restart', async () => {
    const { first, restart } = await restartable(transport)
    const client = await first.connect()
    const { thread } = await startThread(client)
    first.model.enqueue(text('first answer'), text('second answer'))
    await runTurn(client, thread.id, 'first question')
    await runTurn(client, thread.id, 'second question')

    first.model.enqueue(text('SUMMARY: two questions answered'))
    const before = methodsFor(client, thread.id).length
    const messages = await compact(client, thread.id)
    const requests = await first.model.waitForRequests(3)
    const summarization = requests[2] as RecordedRequest

    // The notifications codex sends: a turn holding one contextCompaction item, no thread/compacted.
    const methods = methodsFor(client, thread.id).slice(before)
    expect(methods.filter((m) => m !== 'thread/status/changed')).toEqual([
      'turn/started',
      'item/started',
      'item/completed',
      'turn/completed',
    ])
    for (const m of messages) expectCodexShape('ServerNotification', { method: m.method, params: m.params })
    const started = messages.find((m) => m.method === 'item/started')?.params as {
      item: { type: string; id: string }
    }
    const completed = messages.find((m) => m.method === 'item/completed')?.params as {
      item: { type: string; id: string }
    }
    expect(started.item.type).toBe('contextCompaction')
    expect(completed.item).toMatchObject({ type: 'contextCompaction', id: started.item.id })
    const turnDone = messages.find((m) => m.method === 'turn/completed')?.params as {
      turn: { status: string; items: unknown[] }
    }
    expect(turnDone.turn).toMatchObject({ status: 'completed', items: [] })

    // The summarization request: no tools, the history, then the checkpoint prompt last.
    const body = summarization.body as { tools: unknown[] }
    expect(body.tools).toEqual([])
    const input = inputOf(summarization)
    const last = input[input.length - 1] as Message
    expect(last.role).toBe('user')
    expect(textOf(last)).toMatch(/checkpoint/i)
    expect(assistantTexts(summarization)).toEqual(['first answer', 'second answer'])

    // The next turn: the kept user messages and the summary, and no earlier assistant text.
    first.model.enqueue(text('third answer'))
    await runTurn(client, thread.id, 'third question')
    const next = (await first.model.waitForRequests(4))[3] as RecordedRequest
    expect(assistantTexts(next)).toEqual([])
    const users = userTexts(next)
    expect(users.filter((t) => t.endsWith('question'))).toEqual([
      'first question',
      'second question',
      'third question',
    ])
    const summaryAt = users.findIndex((t) => t.includes('SUMMARY: two questions answered'))
    expect(summaryAt).toBeGreaterThan(users.indexOf('second question'))
    expect(summaryAt).toBeLessThan(users.indexOf('third question'))
    // The agent's context is told again, since the compacted history lost it.
    expect(users.some((t) => t.includes('<environment_context>'))).toBe(true)

    // After a restart the thread continues from the same compacted history.
    const second = await restart()
    const again = await second.connect()
    await again.request('thread/resume', { threadId: thread.id })
    second.model.enqueue(text('fourth answer'))
    await runTurn(again, thread.id, 'fourth question')
    const resumed = (await second.model.waitForRequests(1))[0] as RecordedRequest
    expect(assistantTexts(resumed)).toEqual(['third answer'])
    expect(userTexts(resumed).filter((t) => t.endsWith('question'))).toEqual([
      'first question',
      'second question',
      'third question',
      'fourth question',
    ])
    expect(userTexts(resumed).some((t) => t.includes('SUMMARY: two questions answered'))).toBe(true)
  })
})

describe('compaction', () => {
  it('is refused while a turn runs', async () => {
    const h = await harness('ws')
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue([{ kind: 'stall' }])
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'go' }],
    })
    await h.model.waitForStall()
    await expect(client.request('thread/compact/start', { threadId: thread.id })).rejects.toMatchObject({
      error: { code: -32600 },
    })
    await client.request('turn/interrupt', { threadId: thread.id, turnId: turn.id })
    h.model.release()
  })

  it('happens on its own before a turn once the last request passed the configured limit', async () => {
    const h = await harness('ws', { config: 'model_auto_compact_token_limit = 1000' })
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue([text('big answer'), usage({ input: 5000, output: 10 })])
    await runTurn(client, thread.id, 'fill the context')
    h.model.enqueue(text('SUMMARY: context filled'), text('after compaction'))
    const { completed } = await runTurn(client, thread.id, 'next question')
    const requests = await h.model.waitForRequests(3)
    expect((requests[1]?.body as { tools: unknown[] }).tools).toEqual([])
    const next = requests[2] as RecordedRequest
    expect(assistantTexts(next)).toEqual([])
    expect(userTexts(next).some((t) => t.includes('SUMMARY: context filled'))).toBe(true)
    expect(userTexts(next).filter((t) => t.endsWith('question') || t.endsWith('context'))).toEqual([
      'fill the context',
      'next question',
    ])
    const turnId = (completed.params as { turn: { id: string } }).turn.id
    const items = client.received
      .filter((m) => m.method === 'item/completed')
      .map((m) => m.params as { turnId: string; item: { type: string } })
      .filter((p) => p.turnId === turnId)
      .map((p) => p.item.type)
    expect(items).toEqual(['contextCompaction', 'userMessage', 'agentMessage'])
  })

  it('compacts and retries once when the model says the context is too long', async () => {
    const h = await harness('ws')
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue(text('first answer'))
    await runTurn(client, thread.id, 'first question')
    h.model.enqueue(
      failed({ code: 'context_length_exceeded', message: 'Your input exceeds the context window.' }),
      text('SUMMARY: first question answered'),
      text('answer after retry'),
    )
    const { completed } = await runTurn(client, thread.id, 'second question')
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    const requests = await h.model.waitForRequests(4)
    expect((requests[2]?.body as { tools: unknown[] }).tools).toEqual([])
    const retry = requests[3] as RecordedRequest
    expect(assistantTexts(retry)).toEqual([])
    expect(userTexts(retry).some((t) => t.includes('SUMMARY: first question answered'))).toBe(true)
    expect(userTexts(retry).filter((t) => t.endsWith('question'))).toEqual([
      'first question',
      'second question',
    ])
  })
})
