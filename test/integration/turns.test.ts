import { existsSync, readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { conversationOf } from '../support/agentContext'
import { event, httpError, reasoning, stall, text, usage } from '../support/modelServer'
import {
  methodsFor,
  runTurn,
  startHarness,
  startThread,
  type Harness,
  type TransportKind,
} from '../support/threadHarness'
import { WAIT_MS } from '../support/testClient'

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
      'thread/readState/changed',
      'thread/status/changed',
      'turn/completed',
    ])
    const read = await client.request('thread/read', { threadId, includeTurns: true })
    expect(read.thread.turns[0]?.items.map((i) => i.type)).toEqual([
      'userMessage',
      'reasoning',
      'agentMessage',
    ])
    const request = h.model.requests[0]?.body as { model: string }
    expect(request.model).toBe('test-model')
    expect(conversationOf(h.model.requests[0])).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] },
    ])
  })
})

type TurnParams = {
  turn: { id: string; status: string; error: { message: string; codexErrorInfo: unknown } | null }
}
const turnOf = (m: { params?: unknown }) => (m.params as TurnParams).turn
const itemOf = (m: { params?: unknown }) =>
  (m.params as { item: { id: string; type: string; text?: string } }).item

describe.each<TransportKind>(['stdio', 'ws'])('turn control over %s', (transport) => {
  it('interrupts a streaming turn: {} first, the open item completes, then idle and turn/completed interrupted', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue([
      event('response.output_item.added', {
        output_index: 0,
        item: { id: 'msg_open', type: 'message', role: 'assistant', status: 'in_progress', content: [] },
      }),
      event('response.output_text.delta', {
        item_id: 'msg_open',
        output_index: 0,
        content_index: 0,
        delta: 'half ',
      }),
      stall(),
    ])
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'go' }],
    })
    await client.waitForNotification('item/agentMessage/delta')
    await expect(
      client.call('turn/interrupt', { threadId: thread.id, turnId: 'nope' }),
    ).resolves.toMatchObject({
      error: { code: -32600, message: `expected active turn id nope but found ${turn.id}` },
    })
    await expect(client.request('turn/interrupt', { threadId: thread.id, turnId: turn.id })).resolves.toEqual(
      {},
    )
    const completed = await client.waitForNotification('turn/completed')
    expect(turnOf(completed).status).toBe('interrupted')
    const tail = methodsFor(client, thread.id).slice(-4)
    expect(tail).toEqual([
      'item/completed',
      'thread/readState/changed',
      'thread/status/changed',
      'turn/completed',
    ])
    const closed = client.received.find((m) => m.method === 'item/completed' && itemOf(m).id === 'msg_open')
    expect(itemOf(closed as never).text).toBe('half ')
    await h.model.waitForDisconnect(0, WAIT_MS)
    await expect(
      client.call('turn/interrupt', { threadId: thread.id, turnId: turn.id }),
    ).resolves.toMatchObject({
      error: { message: 'no active turn to interrupt' },
    })
    // The model hears what it had said when the next turn runs.
    h.model.enqueue(text('again'))
    await runTurn(client, thread.id, 'next')
    const input = conversationOf(h.model.requests[1])
    expect(input).toEqual([
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'go' }] },
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'half ' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'next' }] },
    ])
  })

  it('fails a turn with systemError, error, turn/completed failed; the next turn runs normally', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue(
      httpError(400, { error: { message: 'bad input here', type: 'invalid_request_error', code: null } }),
    )
    const { completed } = await runTurn(client, thread.id, 'hi')
    expect(turnOf(completed)).toMatchObject({ status: 'failed', error: { codexErrorInfo: 'badRequest' } })
    expect(methodsFor(client, thread.id).slice(-3)).toEqual([
      'thread/status/changed',
      'error',
      'turn/completed',
    ])
    const statuses = client.received
      .filter((m) => m.method === 'thread/status/changed')
      .map((m) => (m.params as { status: unknown }).status)
    expect(statuses.at(-1)).toEqual({ type: 'systemError' })
    const error = client.received.find((m) => m.method === 'error')?.params as {
      willRetry: boolean
      error: { message: string }
    }
    expect(error.willRetry).toBe(false)
    expect((await client.request('thread/read', { threadId: thread.id })).thread.status).toEqual({
      type: 'systemError',
    })
    h.model.enqueue(text('fine now'))
    const next = await runTurn(client, thread.id, 'again')
    expect(turnOf(next.completed).status).toBe('completed')
    const after = client.received
      .filter((m) => m.method === 'thread/status/changed')
      .map((m) => (m.params as { status: unknown }).status)
    expect(after.slice(-2)).toEqual([{ type: 'active', activeFlags: [] }, { type: 'idle' }])
    // The failed turn's input stays in the history; the failure itself is not sent to the model.
    const input = conversationOf(h.model.requests[1])
    expect(input.map((i) => i.role)).toEqual(['user', 'user'])
  })

  it('retries a 429 after its Retry-After, telling clients it will retry', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue(
      httpError(
        429,
        { error: { message: 'slow down', type: 'rate_limit', code: null } },
        { 'retry-after': '1' },
      ),
      text('made it'),
    )
    const { completed } = await runTurn(client, thread.id, 'hi')
    expect(turnOf(completed).status).toBe('completed')
    const [first, second] = h.model.requests
    expect((second?.receivedAt ?? 0) - (first?.receivedAt ?? 0)).toBeGreaterThanOrEqual(950)
    const retry = client.received.find((m) => m.method === 'error')?.params as {
      willRetry: boolean
      error: { message: string }
    }
    expect(retry).toMatchObject({ willRetry: true, error: { message: 'Reconnecting... 1/2' } })
  })

  it('steers input into the running turn: same turn id, one turn/started, the model sees it next', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue([text('first answer'), stall()], text('steered answer'))
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'one' }],
    })
    await h.model.waitForStall(1, WAIT_MS)
    const steered = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'two' }],
    })
    expect(steered.turn.id).toBe(turn.id)
    await expect(
      client.call('turn/steer', {
        threadId: thread.id,
        expectedTurnId: 'other',
        input: [{ type: 'text', text: 'x' }],
      }),
    ).resolves.toMatchObject({
      error: { message: `expected active turn id \`other\` but found \`${turn.id}\`` },
    })
    await expect(
      client.request('turn/steer', {
        threadId: thread.id,
        expectedTurnId: turn.id,
        input: [{ type: 'text', text: 'three' }],
      }),
    ).resolves.toEqual({ turnId: turn.id })
    h.model.release()
    const completed = await client.waitForNotification('turn/completed')
    expect(turnOf(completed).status).toBe('completed')
    expect(methodsFor(client, thread.id).filter((m) => m === 'turn/started')).toHaveLength(1)
    const input = conversationOf(h.model.requests[1])
    expect(input.map((i) => `${i.role}:${i.content?.[0]?.text}`)).toEqual([
      'user:one',
      'assistant:first answer',
      'user:two',
      'user:three',
    ])
    const read = await client.request('thread/read', { threadId: thread.id, includeTurns: true })
    expect(read.thread.turns[0]?.items.map((i) => i.type)).toEqual([
      'userMessage',
      'agentMessage',
      'userMessage',
      'userMessage',
      'agentMessage',
    ])
    await expect(
      client.call('turn/steer', {
        threadId: thread.id,
        expectedTurnId: turn.id,
        input: [{ type: 'text', text: 'late' }],
      }),
    ).resolves.toMatchObject({ error: { message: 'no active turn to steer' } })
  })
})

describe('crash recovery', () => {
  it('after SIGKILL mid-turn, read shows every completed item and the checkpointed text; the turn is interrupted', async () => {
    const first = await harness('stdio')
    const client = await first.connect()
    const { thread } = await startThread(client)
    first.model.enqueue([
      text('done before the crash'),
      event('response.output_item.added', {
        output_index: 1,
        item: { id: 'msg_streaming', type: 'message', role: 'assistant', status: 'in_progress', content: [] },
      }),
      event('response.output_text.delta', {
        item_id: 'msg_streaming',
        output_index: 1,
        content_index: 0,
        delta: 'still typ',
      }),
      stall(),
    ])
    await client.request('turn/start', { threadId: thread.id, input: [{ type: 'text', text: 'crash me' }] })
    await client.waitForNotification(
      'item/agentMessage/delta',
      (p) => (p as { itemId: string }).itemId === 'msg_streaming',
    )
    // Kill only once the streamed text is on disk (a checkpoint), however slow the machine is.
    const rollout = thread.path as string
    await expect
      .poll(() => (existsSync(rollout) ? readFileSync(rollout, 'utf8') : ''), {
        timeout: WAIT_MS,
        interval: 50,
      })
      .toContain('still typ')
    first.proc.child.kill('SIGKILL')
    await first.proc.exited

    const second = await startHarness('stdio', { home: first.proc.home })
    harnesses.unshift(second)
    const again = await second.connect()
    const read = await again.request('thread/read', { threadId: thread.id, includeTurns: true })
    expect(read.thread.status).toEqual({ type: 'notLoaded' })
    const turn = read.thread.turns[0]
    expect(turn?.status).toBe('interrupted')
    expect(turn?.items.map((i) => [i.type, (i as { text?: string }).text])).toEqual([
      ['userMessage', undefined],
      ['agentMessage', 'done before the crash'],
      ['agentMessage', 'still typ'],
    ])
    // The dead process's writer lock does not block a resume, and the thread runs again.
    const resumed = await again.request('thread/resume', { threadId: thread.id })
    expect(resumed.thread.turns[0]?.status).toBe('interrupted')
    second.model.enqueue(text('back'))
    const { completed } = await runTurn(again, thread.id, 'hello again')
    expect(turnOf(completed).status).toBe('completed')
  })
})

describe('a broken config', () => {
  it('still starts threads; a turn then fails saying what to set', async () => {
    const h = await harness('stdio', {
      files: { 'config.toml': 'model = [unclosed\n' },
      env: { OPENAI_API_KEY: '' },
    })
    const client = await h.connect()
    const started = await startThread(client)
    expect(started.modelProvider).toBe('openai')
    const { completed } = await runTurn(client, started.thread.id, 'hi')
    const turn = (completed.params as TurnParams).turn
    expect(turn.status).toBe('failed')
    expect(turn.error?.message).toMatch(/OPENAI_API_KEY/)
    expect(h.model.requests).toHaveLength(0)
  })
})
