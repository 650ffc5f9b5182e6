/**
 * Dynamic tools end to end: declared on thread/start behind experimentalApi, offered to the model,
 * called on the client with `item/tool/call`, and the answer shaped back to the model.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { functionCall, functionOutput, text } from '../support/modelServer'
import { startHarness, startThread, type Harness, type TransportKind } from '../support/threadHarness'
import { RpcResponseError, type ServerMessage, type TestClient } from '../support/testClient'

const harnesses: Harness[] = []
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.dispose()
})

async function harness(transport: TransportKind, options: Parameters<typeof startHarness>[1] = {}) {
  const h = await startHarness(transport, options)
  harnesses.push(h)
  return h
}

const lookup = {
  type: 'function',
  name: 'lookup_ticket',
  description: 'Looks up a ticket',
  inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
}

async function runCall(
  h: Harness,
  client: TestClient,
  threadId: string,
  callId: string,
  respond: (request: ServerMessage) => void,
): Promise<{ completedItem: Record<string, unknown>; turnStatus: string }> {
  h.model.enqueue(
    functionCall({ name: 'lookup_ticket', arguments: { id: 'ABC-123' }, callId }),
    text('thanks'),
  )
  const { turn } = await client.request('turn/start', { threadId, input: [{ type: 'text', text: 'look' }] })
  respond(await client.waitForServerRequest('item/tool/call'))
  const completed = await client.waitForNotification(
    'turn/completed',
    (p) => (p as { turn: { id: string } }).turn.id === turn.id,
  )
  const item = await client.waitForNotification(
    'item/completed',
    (p) => (p as { item: { id: string } }).item.id === callId,
  )
  return {
    completedItem: (item.params as { item: Record<string, unknown> }).item,
    turnStatus: (completed.params as { turn: { status: string } }).turn.status,
  }
}

describe.each<TransportKind>(['stdio', 'ws'])('dynamic tools over %s', (transport) => {
  it('calls the client and gives one text item to the model as a plain string', async () => {
    const h = await harness(transport)
    const client = await h.connect('tools_client', { experimentalApi: true })
    const { thread } = await startThread(client, { dynamicTools: [lookup] })
    let request: ServerMessage | undefined
    const { completedItem, turnStatus } = await runCall(h, client, thread.id, 'call_ok', (r) => {
      request = r
      client.send({
        id: r.id,
        result: { contentItems: [{ type: 'inputText', text: 'Ticket ABC-123 is open' }], success: true },
      })
    })
    expect(request?.params).toMatchObject({
      threadId: thread.id,
      callId: 'call_ok',
      namespace: null,
      tool: 'lookup_ticket',
      arguments: { id: 'ABC-123' },
    })
    expect(turnStatus).toBe('completed')
    expect(completedItem).toMatchObject({
      type: 'dynamicToolCall',
      status: 'completed',
      success: true,
      contentItems: [{ type: 'inputText', text: 'Ticket ABC-123 is open' }],
    })
    expect(functionOutput(h.model.requests, 'call_ok')).toBe('Ticket ABC-123 is open')
    const tools = (h.model.requests[0]?.body as { tools: unknown[] }).tools
    expect(tools).toContainEqual({
      type: 'function',
      name: 'lookup_ticket',
      description: 'Looks up a ticket',
      strict: false,
      parameters: lookup.inputSchema,
    })
  })
})

describe('dynamic tools', () => {
  it('turns a JSON-RPC error into "dynamic tool request failed" and the turn still completes', async () => {
    const h = await harness('stdio')
    const client = await h.connect('tools_client', { experimentalApi: true })
    const { thread } = await startThread(client, { dynamicTools: [lookup] })
    const { completedItem, turnStatus } = await runCall(h, client, thread.id, 'call_err', (r) =>
      client.send({ id: r.id, error: { code: -32000, message: 'backend down' } }),
    )
    expect(turnStatus).toBe('completed')
    expect(completedItem).toMatchObject({ status: 'failed', success: false })
    expect(functionOutput(h.model.requests, 'call_err')).toBe('dynamic tool request failed')
  })

  it('turns an invalid result into "dynamic tool response was invalid"', async () => {
    const h = await harness('stdio')
    const client = await h.connect('tools_client', { experimentalApi: true })
    const { thread } = await startThread(client, { dynamicTools: [lookup] })
    const { completedItem } = await runCall(h, client, thread.id, 'call_bad', (r) =>
      client.send({ id: r.id, result: { contentItems: 'nope' } }),
    )
    expect(completedItem).toMatchObject({ status: 'failed', success: false })
    expect(functionOutput(h.model.requests, 'call_bad')).toBe('dynamic tool response was invalid')
  })

  it('passes several items as input parts and does not tell the model about success', async () => {
    const h = await harness('stdio')
    const client = await h.connect('tools_client', { experimentalApi: true })
    const { thread } = await startThread(client, { dynamicTools: [lookup] })
    const { completedItem } = await runCall(h, client, thread.id, 'call_many', (r) =>
      client.send({
        id: r.id,
        result: {
          contentItems: [
            { type: 'inputText', text: 'see picture' },
            { type: 'inputImage', imageUrl: 'https://example.com/a.png' },
            { type: 'inputImage', imageUrl: 'data:image/png;base64,%%%' },
          ],
          success: false,
        },
      }),
    )
    expect(completedItem).toMatchObject({ status: 'failed', success: false })
    expect(functionOutput(h.model.requests, 'call_many')).toEqual([
      { type: 'input_text', text: 'see picture' },
      { type: 'input_image', image_url: 'https://example.com/a.png' },
      { type: 'input_text', text: 'image content omitted because it could not be processed' },
    ])
  })

  it('fails a call the client never answers after dynamic_tool_timeout_secs, without hanging the turn', async () => {
    const h = await harness('stdio', { config: 'dynamic_tool_timeout_secs = 1' })
    const client = await h.connect('tools_client', { experimentalApi: true })
    const { thread } = await startThread(client, { dynamicTools: [lookup] })
    const started = Date.now()
    const { completedItem, turnStatus } = await runCall(h, client, thread.id, 'call_slow', () => undefined)
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    expect(turnStatus).toBe('completed')
    expect(completedItem).toMatchObject({ status: 'failed', success: false })
    expect(functionOutput(h.model.requests, 'call_slow')).toBe('dynamic tool request timed out after 1s')
    const resolved = await client.waitForNotification('serverRequest/resolved')
    expect((resolved.params as { threadId: string }).threadId).toBe(thread.id)
  })

  it('needs experimentalApi to declare dynamic tools', async () => {
    const h = await harness('stdio')
    const client = await h.connect()
    const error = await startThread(client, { dynamicTools: [lookup] }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RpcResponseError)
    expect((error as RpcResponseError).error.message).toBe(
      'thread/start.dynamicTools requires experimentalApi capability',
    )
  })

  it('rejects invalid specs with codex messages', async () => {
    const h = await harness('stdio')
    const client = await h.connect('tools_client', { experimentalApi: true })
    const cases: [unknown[], string][] = [
      [[{ ...lookup, name: '' }], 'dynamic tool name must not be empty'],
      [[{ ...lookup, name: ' padded' }], 'dynamic tool name has leading/trailing whitespace:  padded'],
      [
        [{ ...lookup, name: 'has space' }],
        'dynamic tool name must match ^[a-zA-Z0-9_-]+$ to match Responses API: has space',
      ],
      [
        [{ ...lookup, name: 'a'.repeat(129) }],
        `dynamic tool name must be at most 128 characters to match Responses API: ${'a'.repeat(129)}`,
      ],
      [[{ ...lookup, name: 'mcp__server' }], 'dynamic tool name is reserved: mcp__server'],
      [[lookup, lookup], 'duplicate dynamic tool name: lookup_ticket'],
      [[{ ...lookup, deferLoading: true }], 'deferred dynamic tool must include a namespace: lookup_ticket'],
      [
        [{ ...lookup, inputSchema: [1] }],
        'dynamic tool input schema is not supported for lookup_ticket: invalid type: sequence, expected a JSON schema object',
      ],
    ]
    for (const [dynamicTools, message] of cases) {
      const error = (await startThread(client, { dynamicTools }).catch((e: unknown) => e)) as RpcResponseError
      expect(error, message).toBeInstanceOf(RpcResponseError)
      expect(error.error).toMatchObject({ code: -32600, message })
    }
    // Accepted: a built-in's name, a non-object schema type, the legacy flat shape, a deferred namespaced tool.
    await startThread(client, {
      dynamicTools: [
        { name: 'exec_command', description: 'x', inputSchema: { type: 'string' } },
        {
          type: 'namespace',
          name: 'tickets',
          description: 'ticket tools',
          tools: [
            { type: 'function', name: 'close_ticket', description: 'c', inputSchema: {}, deferLoading: true },
          ],
        },
      ],
    })
  })

  it('keeps a thread’s tools across a restart and resume', async () => {
    const h = await harness('stdio')
    const client = await h.connect('tools_client', { experimentalApi: true })
    const { thread } = await startThread(client, { dynamicTools: [lookup] })
    h.proc.child.kill('SIGTERM')
    await h.proc.exited

    // Disposed before the first harness, which owns (and removes) the home.
    const again = await startHarness('stdio', { home: h.proc.home })
    harnesses.unshift(again)
    const next = await again.connect('tools_client', { experimentalApi: true })
    await next.request('thread/resume', { threadId: thread.id })
    const { completedItem } = await runCall(again, next, thread.id, 'call_after', (r) =>
      next.send({
        id: r.id,
        result: { contentItems: [{ type: 'inputText', text: 'still here' }], success: true },
      }),
    )
    expect(completedItem).toMatchObject({ status: 'completed', tool: 'lookup_ticket' })
    expect(functionOutput(again.model.requests, 'call_after')).toBe('still here')
  })
})
