import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import {
  ModelClient,
  backoffDelayMs,
  defaultSleep,
  type ModelAuth,
  type ModelEvent,
  type ModelRequest,
  type Sleep,
} from '../../src/worker/agent/modelClient'
import { parseRetryAfter, parseTryAgainIn } from '../../src/worker/agent/modelErrors'
import { ModelAbortedError, ModelError } from '../../src/worker/agent/modelErrors'
import { resolveProvider, type ResolvedProvider } from '../../src/worker/agent/providers'
import { resolveConfig, type ConfigToml, type ModelProviderToml } from '../../src/worker/config/schema'
import { createLoggerFactory, silentLogs, type Logger } from '../../src/worker/util/log'
import {
  disconnectAfter,
  endEarly,
  event,
  failed,
  functionCall,
  httpError,
  reasoning,
  stall,
  startModelServer,
  text,
  unauthorized,
  usage,
  type ModelServer,
} from '../support/modelServer'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

async function modelServer(): Promise<ModelServer> {
  const server = await startModelServer()
  cleanups.push(() => server.close())
  return server
}

const API_KEY = 'test-key-0123456789abcdef'

function providerFor(
  baseUrl: string,
  toml: Partial<ModelProviderToml> = {},
  env: NodeJS.ProcessEnv = { MOCK_API_KEY: API_KEY },
): ResolvedProvider {
  const config = resolveConfig({
    model_provider: 'mock',
    model_providers: { mock: { name: 'Mock', base_url: baseUrl, env_key: 'MOCK_API_KEY', ...toml } },
  })
  return resolveProvider(config, env)
}

const log: Logger = silentLogs.get('model')

/** Records every backoff the client asks for, but waits at most a few ms so tests stay fast. */
function recordingSleep(): { sleep: Sleep; delays: number[] } {
  const delays: number[] = []
  return { delays, sleep: (ms, signal) => (delays.push(ms), defaultSleep(Math.min(ms, 5), signal)) }
}

function client(provider: ResolvedProvider, options: { auth?: ModelAuth; sleep?: Sleep; log?: Logger } = {}) {
  return new ModelClient(provider, {
    log: options.log ?? log,
    random: () => 0.5,
    sleep: recordingSleep().sleep,
    ...options,
  })
}

const basicRequest: ModelRequest = {
  model: 'gpt-test',
  input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
}

async function run(
  modelClient: ModelClient,
  request: ModelRequest = basicRequest,
  signal: AbortSignal = new AbortController().signal,
  onEvent: (event: ModelEvent) => void = () => {},
): Promise<{ events: ModelEvent[]; error: unknown }> {
  const events: ModelEvent[] = []
  try {
    for await (const event of modelClient.stream(request, signal)) {
      events.push(event)
      onEvent(event)
    }
    return { events, error: undefined }
  } catch (error) {
    return { events, error }
  }
}

const types = (events: ModelEvent[]) => events.map((e) => e.type)

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('model client streaming', () => {
  it('delivers reasoning and text deltas and the usage as typed events in order', async () => {
    const model = await modelServer()
    model.enqueue([
      reasoning('Thinking it over', { chunks: ['Thinking', ' it over'] }),
      text('Hello world', { chunks: ['Hel', 'lo', ' world'] }),
      usage({ input: 120, cached: 100, output: 30, reasoning: 12 }),
    ])
    const { events, error } = await run(client(providerFor(model.url)))
    expect(error).toBeUndefined()
    expect(types(events)).toEqual([
      'created',
      'outputItemAdded',
      'reasoningSummaryDelta',
      'reasoningSummaryDelta',
      'outputItemDone',
      'outputItemAdded',
      'textDelta',
      'textDelta',
      'textDelta',
      'outputItemDone',
      'completed',
    ])
    const responseId = (events[0] as Extract<ModelEvent, { type: 'created' }>).responseId
    expect(responseId).toMatch(/^resp_/)
    expect(events[2]).toEqual({
      type: 'reasoningSummaryDelta',
      itemId: expect.stringMatching(/^rs_/),
      outputIndex: 0,
      summaryIndex: 0,
      delta: 'Thinking',
    })
    const deltas = events.filter((e) => e.type === 'textDelta')
    expect(deltas.map((d) => d.delta).join('')).toBe('Hello world')
    expect(deltas[0]).toMatchObject({
      itemId: expect.stringMatching(/^msg_/),
      outputIndex: 1,
      contentIndex: 0,
    })
    const reasoningDone = events[4] as Extract<ModelEvent, { type: 'outputItemDone' }>
    expect(reasoningDone.item).toMatchObject({
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Thinking it over' }],
    })
    const messageDone = events[9] as Extract<ModelEvent, { type: 'outputItemDone' }>
    expect(messageDone.item).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'output_text', text: 'Hello world' }],
    })
    expect(events.at(-1)).toEqual({
      type: 'completed',
      responseId,
      usage: {
        inputTokens: 120,
        cachedInputTokens: 100,
        cacheWriteInputTokens: 0,
        outputTokens: 30,
        reasoningOutputTokens: 12,
        totalTokens: 150,
      },
    })
  })

  it('delivers a function call item complete, with its call id and full arguments', async () => {
    const model = await modelServer()
    model.enqueue(
      functionCall({ name: 'shell', arguments: { command: ['ls', '-la'] }, callId: 'call_42', chunks: 3 }),
    )
    const { events, error } = await run(client(providerFor(model.url)))
    expect(error).toBeUndefined()
    const done = events.find((e) => e.type === 'outputItemDone')
    expect(done).toEqual({
      type: 'outputItemDone',
      outputIndex: 0,
      item: {
        id: expect.stringMatching(/^fc_/),
        type: 'function_call',
        status: 'completed',
        name: 'shell',
        call_id: 'call_42',
        arguments: '{"command":["ls","-la"]}',
      },
    })
    expect(types(events)).toEqual(['created', 'outputItemAdded', 'outputItemDone', 'completed'])
  })

  it('keys items the server did not number, so each delta reaches its own item', async () => {
    const model = await modelServer()
    model.enqueue([
      // codex's fixture shapes: no output_index anywhere, deltas without item_id.
      event('response.output_item.added', { item: { type: 'reasoning', id: 'rs_a', summary: [] } }),
      event('response.reasoning_text.delta', { delta: 'raw thought', content_index: 0 }),
      event('response.output_item.added', {
        item: { type: 'message', role: 'assistant', id: 'msg_a', content: [] },
      }),
      event('response.output_text.delta', { delta: 'one' }),
      event('response.reasoning_summary_text.delta', { delta: 'summed', summary_index: 0 }),
      // A server that numbers its deltas but not its items: the index names no item, the kind decides.
      event('response.output_text.delta', { delta: ' two', output_index: 7 }),
      event('response.output_item.done', { item: { type: 'reasoning', id: 'rs_a', summary: [] } }),
      event('response.output_item.done', {
        item: { type: 'message', role: 'assistant', id: 'msg_a', content: [] },
      }),
      // Finished-only items (no added): each gets a key of its own.
      event('response.output_item.done', {
        item: { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
      }),
      event('response.output_item.done', {
        item: { type: 'function_call', call_id: 'c2', name: 'g', arguments: '{}' },
      }),
      // A delta with no open item of its kind is dropped rather than guessed.
      event('response.output_text.delta', { delta: 'orphan' }),
    ])
    const { events, error } = await run(client(providerFor(model.url)))
    expect(error).toBeUndefined()
    const keyed = events
      .filter((e) => e.type !== 'created' && e.type !== 'completed')
      .map((e) => [e.type, 'outputIndex' in e ? e.outputIndex : null, 'delta' in e ? e.delta : null])
    expect(keyed).toEqual([
      ['outputItemAdded', -1, null],
      ['reasoningTextDelta', -1, 'raw thought'],
      ['outputItemAdded', -2, null],
      ['textDelta', -2, 'one'],
      ['reasoningSummaryDelta', -1, 'summed'],
      ['textDelta', -2, ' two'],
      ['outputItemDone', -1, null],
      ['outputItemDone', -2, null],
      ['outputItemDone', -3, null],
      ['outputItemDone', -4, null],
    ])
    expect(events.find((e) => e.type === 'textDelta')).toMatchObject({ itemId: 'msg_a', contentIndex: 0 })
    expect(events.find((e) => e.type === 'reasoningTextDelta')).toMatchObject({ itemId: 'rs_a' })
  })

  it('prefers item_id over output_index, and output_index over the kind, when matching deltas', async () => {
    const model = await modelServer()
    model.enqueue([
      event('response.output_item.added', {
        output_index: 0,
        item: { type: 'message', role: 'assistant', id: 'msg_0', content: [] },
      }),
      event('response.output_item.added', {
        output_index: 1,
        item: { type: 'message', role: 'assistant', id: 'msg_1', content: [] },
      }),
      event('response.output_text.delta', { item_id: 'msg_0', output_index: 1, delta: 'by id' }),
      event('response.output_text.delta', { output_index: 0, delta: 'by index' }),
      event('response.output_text.delta', { delta: 'latest open' }),
      event('response.output_item.done', {
        item: { type: 'message', role: 'assistant', id: 'msg_0', content: [] },
      }),
      event('response.output_item.done', {
        output_index: 1,
        item: { type: 'message', role: 'assistant', id: 'msg_1', content: [] },
      }),
    ])
    const { events, error } = await run(client(providerFor(model.url)))
    expect(error).toBeUndefined()
    const deltas = events.filter((e) => e.type === 'textDelta')
    expect(deltas.map((d) => [d.delta, d.itemId, d.outputIndex])).toEqual([
      ['by id', 'msg_0', 0],
      ['by index', 'msg_0', 0],
      ['latest open', 'msg_1', 1],
    ])
    const done = events.filter((e) => e.type === 'outputItemDone')
    expect(done.map((d) => d.outputIndex)).toEqual([0, 1])
  })

  it('delivers a multi-megabyte answer of multi-byte characters intact, whatever the network chunking', async () => {
    const model = await modelServer()
    // 3-byte and 4-byte characters in 2 MiB deltas: TCP chunks are bound to split some of them.
    const content = 'é€😀 '.repeat(600_000)
    model.enqueue([text(content, { chunks: 3 }), usage({ input: 1, output: 2 })])
    const { events, error } = await run(client(providerFor(model.url)))
    expect(error).toBeUndefined()
    const deltas = events.flatMap((e) => (e.type === 'textDelta' ? [e.delta] : []))
    expect(deltas).toHaveLength(3)
    expect(deltas.join('') === content).toBe(true)
    const done = events.find((e) => e.type === 'outputItemDone')
    const item = done?.type === 'outputItemDone' ? done.item : undefined
    const doneText =
      item?.type === 'message' && item.content[0]?.type === 'output_text' ? item.content[0].text : ''
    expect(doneText === content).toBe(true)
    expect(events.at(-1)).toMatchObject({ type: 'completed', usage: { inputTokens: 1, outputTokens: 2 } })
  })

  it('sends the request fields in the body and the provider headers and query params on the wire', async () => {
    const model = await modelServer()
    const provider = providerFor(
      model.url,
      {
        http_headers: { 'X-Static': 'static-value' },
        env_http_headers: { 'X-From-Env': 'MOCK_HEADER_VALUE', 'X-Unset': 'MOCK_NOT_SET' },
        query_params: { 'api-version': '2025-04-01' },
      },
      { MOCK_API_KEY: API_KEY, MOCK_HEADER_VALUE: 'from-env' },
    )
    const tools = [
      { type: 'function', name: 'shell', parameters: { type: 'object', properties: {} }, strict: false },
    ]
    const request: ModelRequest = {
      ...basicRequest,
      instructions: 'Be brief.',
      tools,
      reasoning: { effort: 'low', summary: 'auto' },
      parallelToolCalls: false,
      extraBody: { prompt_cache_key: 'thread-1' },
    }
    const { error } = await run(client(provider), request)
    expect(error).toBeUndefined()
    const [sent] = await model.waitForRequests(1)
    expect(sent?.method).toBe('POST')
    expect(sent?.path).toBe('/v1/responses')
    expect(sent?.query).toEqual({ 'api-version': '2025-04-01' })
    expect(sent?.body).toEqual({
      model: 'gpt-test',
      instructions: 'Be brief.',
      input: basicRequest.input,
      stream: true,
      store: false,
      tools,
      tool_choice: 'auto',
      parallel_tool_calls: false,
      reasoning: { effort: 'low', summary: 'auto' },
      include: ['reasoning.encrypted_content'],
      prompt_cache_key: 'thread-1',
    })
    expect(sent?.headers.authorization).toBe(`Bearer ${API_KEY}`)
    expect(sent?.headers['x-static']).toBe('static-value')
    expect(sent?.headers['x-from-env']).toBe('from-env')
    expect(sent?.headers).not.toHaveProperty('x-unset')
  })

  it('sends no Authorization header for a provider without a key, unless http_headers sets one', async () => {
    const model = await modelServer()
    expect((await run(client(providerFor(model.url, { env_key: undefined }, {})))).error).toBeUndefined()
    const withHeader = providerFor(
      model.url,
      { env_key: undefined, http_headers: { Authorization: 'Basic b64' } },
      {},
    )
    expect((await run(client(withHeader))).error).toBeUndefined()
    expect(model.requests.map((r) => r.headers.authorization)).toEqual([undefined, 'Basic b64'])
  })
})

describe('model client retries', () => {
  it('waits for Retry-After: 1 after a 429 before retrying, and says so in the retrying event', async () => {
    const model = await modelServer()
    model.enqueue(httpError(429, undefined, { 'retry-after': '1' }))
    const modelClient = new ModelClient(providerFor(model.url), { log })
    const { events, error } = await run(modelClient)
    expect(error).toBeUndefined()
    const [first, second] = await model.waitForRequests(2)
    const waited = (second?.receivedAt ?? 0) - (first?.receivedAt ?? 0)
    expect(waited).toBeGreaterThanOrEqual(950)
    expect(waited).toBeLessThan(1600)
    expect(events[0]).toMatchObject({
      type: 'retrying',
      phase: 'request',
      attempt: 1,
      maxAttempts: 4,
      delayMs: 1000,
      reason: expect.stringContaining('unexpected status 429 Too Many Requests'),
    })
    expect((events[0] as Extract<ModelEvent, { type: 'retrying' }>).error.codexErrorInfo).toBe(
      'rateLimitExceeded',
    )
    expect(events.at(-1)?.type).toBe('completed')
  })

  it('retries two 503s with exponential backoff and then succeeds', async () => {
    const model = await modelServer()
    model.enqueue(httpError(503), httpError(503))
    const { sleep, delays } = recordingSleep()
    const { events, error } = await run(client(providerFor(model.url), { sleep }))
    expect(error).toBeUndefined()
    expect(model.requests).toHaveLength(3)
    expect(delays).toEqual([200, 400])
    const retries = events.filter((e) => e.type === 'retrying')
    expect(retries.map((r) => [r.phase, r.attempt, r.maxAttempts, r.delayMs])).toEqual([
      ['request', 1, 4, 200],
      ['request', 2, 4, 400],
    ])
    expect(events.at(-1)?.type).toBe('completed')
  })

  it('does not retry a 400 and reports badRequest with the server message in additionalDetails', async () => {
    const model = await modelServer()
    model.enqueue(
      httpError(400, {
        error: { message: "  Invalid value for 'input'.  ", type: 'invalid_request_error', code: null },
      }),
    )
    const { events, error } = await run(client(providerFor(model.url)))
    expect(events).toEqual([])
    expect(model.requests).toHaveLength(1)
    expect(error).toBeInstanceOf(ModelError)
    const modelError = error as ModelError
    expect(modelError.message).toBe("unexpected status 400 Bad Request: Invalid value for 'input'.")
    expect(modelError.codexErrorInfo).toBe('badRequest')
    expect(modelError.httpStatusCode).toBe(400)
    expect(modelError.additionalDetails).toBe("Invalid value for 'input'.")
    expect(modelError.retryable).toBe(false)
  })

  it('gives up after request_max_retries with responseTooManyFailedAttempts and the last status', async () => {
    const model = await modelServer()
    model.enqueue(httpError(503), httpError(503), httpError(503))
    const { events, error } = await run(client(providerFor(model.url, { request_max_retries: 2 })))
    expect(model.requests).toHaveLength(3)
    expect(events.filter((e) => e.type === 'retrying')).toHaveLength(2)
    expect((error as ModelError).message).toBe('exceeded retry limit, last status: 503 Service Unavailable')
    expect((error as ModelError).codexErrorInfo).toEqual({
      responseTooManyFailedAttempts: { httpStatusCode: 503 },
    })
    expect((error as ModelError).toTurnError()).toEqual({
      message: 'exceeded retry limit, last status: 503 Service Unavailable',
      codexErrorInfo: { responseTooManyFailedAttempts: { httpStatusCode: 503 } },
      additionalDetails: 'scripted status 503',
    })
  })

  it('retries a refused connection and then fails with httpConnectionFailed', async () => {
    const port = await closedPort()
    const { sleep, delays } = recordingSleep()
    const provider = providerFor(`http://127.0.0.1:${port}/v1`, { request_max_retries: 2 })
    const { events, error } = await run(client(provider, { sleep }))
    expect(delays).toEqual([200, 400])
    expect(events.map((e) => e.type === 'retrying' && e.error.codexErrorInfo)).toEqual([
      { httpConnectionFailed: { httpStatusCode: null } },
      { httpConnectionFailed: { httpStatusCode: null } },
    ])
    expect(error).toBeInstanceOf(ModelError)
    expect((error as ModelError).codexErrorInfo).toEqual({ httpConnectionFailed: { httpStatusCode: null } })
    expect((error as ModelError).message).toMatch(/^Connection failed: .*ECONNREFUSED/)
  })

  it('announces a retry after a mid-stream disconnect and re-sends the same request', async () => {
    const model = await modelServer()
    model.enqueue([text('Hello world'), disconnectAfter(4)])
    const { events, error } = await run(client(providerFor(model.url)))
    expect(error).toBeUndefined()
    expect(types(events)).toEqual([
      'created',
      'outputItemAdded',
      'retrying',
      'created',
      'outputItemAdded',
      'textDelta',
      'outputItemDone',
      'completed',
    ])
    const retry = events[2] as Extract<ModelEvent, { type: 'retrying' }>
    expect(retry).toMatchObject({ phase: 'stream', attempt: 1, maxAttempts: 5 })
    expect(retry.error.codexErrorInfo).toEqual({ responseStreamDisconnected: { httpStatusCode: null } })
    expect(retry.reason).toMatch(/^stream disconnected before completion: /)
    expect(model.requests).toHaveLength(2)
    expect(model.requests[1]?.body).toEqual(model.requests[0]?.body)
  })

  it('reconnects when the stream stays idle longer than stream_idle_timeout_ms', async () => {
    const model = await modelServer()
    model.enqueue([text('partial'), stall()])
    const started = performance.now()
    const { events, error } = await run(client(providerFor(model.url, { stream_idle_timeout_ms: 300 })))
    expect(error).toBeUndefined()
    const retry = events.find((e) => e.type === 'retrying')
    expect(retry?.reason).toBe(
      'stream disconnected before completion: idle timeout waiting for SSE (no event for 300 ms)',
    )
    const [first, second] = await model.waitForRequests(2)
    expect((second?.receivedAt ?? 0) - (first?.receivedAt ?? 0)).toBeGreaterThanOrEqual(290)
    expect(performance.now() - started).toBeLessThan(2000)
    expect(first?.disconnectedByClient).toBe(true)
    expect(events.at(-1)?.type).toBe('completed')
  })

  it('fails with responseStreamDisconnected when every reconnect ends early', async () => {
    const model = await modelServer()
    model.enqueue([text('a'), endEarly()], [text('b'), endEarly()])
    const { events, error } = await run(client(providerFor(model.url, { stream_max_retries: 1 })))
    expect(model.requests).toHaveLength(2)
    expect(events.filter((e) => e.type === 'retrying')).toHaveLength(1)
    expect((error as ModelError).codexErrorInfo).toEqual({
      responseStreamDisconnected: { httpStatusCode: null },
    })
    expect((error as ModelError).message).toBe(
      'stream disconnected before completion: stream closed before response.completed',
    )
  })

  it('calls onUnauthorized after a 401 and retries once with the fresh headers', async () => {
    const model = await modelServer()
    model.enqueue(unauthorized())
    let token = 1
    let refreshes = 0
    const auth: ModelAuth = {
      headers: async () => ({ Authorization: `Bearer chatgpt-token-${token}` }),
      onUnauthorized: async () => {
        refreshes += 1
        token += 1
        return true
      },
    }
    // ChatGPT sign-in: the provider has no key of its own, the auth hook supplies the bearer token.
    const { events, error } = await run(client(providerFor(model.url, { env_key: undefined }, {}), { auth }))
    expect(error).toBeUndefined()
    expect(refreshes).toBe(1)
    expect(model.requests.map((r) => r.headers.authorization)).toEqual([
      'Bearer chatgpt-token-1',
      'Bearer chatgpt-token-2',
    ])
    expect(events.at(-1)?.type).toBe('completed')
  })

  it('fails with httpConnectionFailed 401 when the refreshed request is unauthorized again', async () => {
    const model = await modelServer()
    model.enqueue(unauthorized(), unauthorized())
    let refreshes = 0
    const auth: ModelAuth = { onUnauthorized: async () => (refreshes++, true) }
    const { error } = await run(client(providerFor(model.url), { auth }))
    expect(refreshes).toBe(1)
    expect(model.requests).toHaveLength(2)
    expect((error as ModelError).codexErrorInfo).toEqual({ httpConnectionFailed: { httpStatusCode: 401 } })
    expect((error as ModelError).message).toBe(
      'unexpected status 401 Unauthorized: Incorrect API key provided.',
    )
  })

  it('reports a token refresh that fails as unauthorized, with the refresh error as the message', async () => {
    const model = await modelServer()
    model.enqueue(unauthorized())
    const auth: ModelAuth = {
      onUnauthorized: () => Promise.reject(new Error('auth refresh request timed out after 10s')),
    }
    const { error } = await run(client(providerFor(model.url), { auth }))
    expect(model.requests).toHaveLength(1)
    expect((error as ModelError).toTurnError()).toEqual({
      message: 'auth refresh request timed out after 10s',
      codexErrorInfo: 'unauthorized',
      additionalDetails: null,
    })
  })

  it('does not retry a 429 whose body says the quota is exhausted', async () => {
    const model = await modelServer()
    const body = {
      error: { message: 'You exceeded your current quota.', type: 'insufficient_quota', code: null },
    }
    model.enqueue(httpError(429, body))
    const { error } = await run(client(providerFor(model.url)))
    expect(model.requests).toHaveLength(1)
    expect((error as ModelError).toTurnError()).toEqual({
      message: 'Quota exceeded. Check your plan and billing details.',
      codexErrorInfo: 'usageLimitExceeded',
      additionalDetails: 'You exceeded your current quota.',
    })
  })

  it('fails a 401 at once when there is no auth hook', async () => {
    const model = await modelServer()
    model.enqueue(unauthorized())
    const { error } = await run(client(providerFor(model.url)))
    expect(model.requests).toHaveLength(1)
    expect((error as ModelError).codexErrorInfo).toEqual({ httpConnectionFailed: { httpStatusCode: 401 } })
  })

  it('maps response.failed context_length_exceeded to contextWindowExceeded without retrying', async () => {
    const model = await modelServer()
    model.enqueue([
      text('partial'),
      failed({
        code: 'context_length_exceeded',
        message: 'Your input exceeds the context window of this model.',
      }),
    ])
    const { events, error } = await run(client(providerFor(model.url)))
    expect(model.requests).toHaveLength(1)
    expect(events.some((e) => e.type === 'retrying' || e.type === 'completed')).toBe(false)
    expect(error).toBeInstanceOf(ModelError)
    expect((error as ModelError).toTurnError()).toEqual({
      message:
        "Codex ran out of room in the model's context window. Start a new conversation or clear earlier history before retrying.",
      codexErrorInfo: 'contextWindowExceeded',
      additionalDetails: 'Your input exceeds the context window of this model.',
    })
  })

  it('fails the stream with the code and message of an event whose data carries an error object', async () => {
    const model = await modelServer()
    model.enqueue([
      text('partial'),
      event('response.in_progress', {
        error: { code: 'context_length_exceeded', message: 'Your input exceeds the context window.' },
      }),
    ])
    const { events, error } = await run(client(providerFor(model.url)))
    expect(model.requests).toHaveLength(1)
    expect(events.some((e) => e.type === 'retrying' || e.type === 'completed')).toBe(false)
    expect((error as ModelError).toTurnError()).toMatchObject({
      codexErrorInfo: 'contextWindowExceeded',
      additionalDetails: 'Your input exceeds the context window.',
    })
  })

  it('retries a response.failed rate limit after the wait the message asks for', async () => {
    const model = await modelServer()
    model.enqueue(
      failed({ code: 'rate_limit_exceeded', message: 'Rate limit reached. Please try again in 1.5s.' }),
    )
    const { sleep, delays } = recordingSleep()
    const { events, error } = await run(client(providerFor(model.url), { sleep }))
    expect(error).toBeUndefined()
    expect(delays).toEqual([1500])
    const retry = events.find((e) => e.type === 'retrying')
    expect(retry).toMatchObject({ phase: 'stream', delayMs: 1500 })
    expect(retry?.type === 'retrying' && retry.error.codexErrorInfo).toBe('rateLimitExceeded')
  })
})

describe('model client cancellation and logging', () => {
  it('stops promptly when aborted mid-stream, and the server sees the connection close', async () => {
    const model = await modelServer()
    model.enqueue([text('Hello'), stall()])
    const controller = new AbortController()
    let sawDelta = () => {}
    const deltaSeen = new Promise<void>((resolve) => (sawDelta = resolve))
    const onEvent = (event: ModelEvent) => event.type === 'textDelta' && sawDelta()
    const result = run(client(providerFor(model.url)), basicRequest, controller.signal, onEvent)
    await model.waitForStall()
    // The client is now waiting on the network: the server has stalled after the delta it read.
    await Promise.race([deltaSeen, result])
    const abortedAt = performance.now()
    controller.abort('interrupted')
    const { events, error } = await result
    expect(performance.now() - abortedAt).toBeLessThan(200)
    expect(error).toBeInstanceOf(ModelAbortedError)
    expect((error as ModelAbortedError).reason).toBe('interrupted')
    expect(events.filter((e) => e.type === 'textDelta').map((e) => e.delta)).toEqual(['Hello'])
    await model.waitForDisconnect(0, 2000)
    expect(model.requests).toHaveLength(1)
  })

  it('stops promptly when aborted during a retry wait', async () => {
    const model = await modelServer()
    model.enqueue(httpError(503, undefined, { 'retry-after': '30' }))
    const controller = new AbortController()
    const modelClient = new ModelClient(providerFor(model.url), { log })
    const events: ModelEvent[] = []
    const result = (async () => {
      for await (const event of modelClient.stream(basicRequest, controller.signal)) {
        events.push(event)
        if (event.type === 'retrying') setTimeout(() => controller.abort(), 20)
      }
    })()
    const started = performance.now()
    await expect(result).rejects.toBeInstanceOf(ModelAbortedError)
    expect(performance.now() - started).toBeLessThan(1000)
    expect(events.map((e) => e.type === 'retrying' && e.delayMs)).toEqual([30_000])
    expect(model.requests).toHaveLength(1)
  })

  it('closes the connection when the consumer stops iterating early', async () => {
    const model = await modelServer()
    model.enqueue([text('Hello'), stall()])
    for await (const event of client(providerFor(model.url)).stream(
      basicRequest,
      new AbortController().signal,
    )) {
      if (event.type === 'textDelta') break
    }
    await model.waitForDisconnect(0, 2000)
  })

  it('logs each attempt at debug with its status, and never the key or header values', async () => {
    const model = await modelServer()
    model.enqueue(httpError(503))
    const lines: string[] = []
    const factory = createLoggerFactory({
      format: 'json',
      levels: { defaultLevel: 'trace', targets: new Map() },
      destination: { write: (line) => lines.push(line) },
    })
    const provider = providerFor(model.url, { http_headers: { 'X-Custom-Secret': 'header-value-9876' } })
    const { error } = await run(client(provider, { log: factory.get('model') }))
    expect(error).toBeUndefined()
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
    const attempts = records.filter((r) => r.level === 'debug' && 'attempt' in r)
    expect(attempts.map((r) => [r.provider, r.model, r.attempt, r.status])).toEqual([
      ['mock', 'gpt-test', 1, 503],
      ['mock', 'gpt-test', 2, 200],
    ])
    const all = lines.join('')
    expect(all).not.toContain(API_KEY)
    expect(all).not.toContain('header-value-9876')
  })
})

describe('provider resolution', () => {
  const config = (toml: ConfigToml = {}) => resolveConfig(toml)

  it('resolves the built-in openai provider with codex defaults and the key from OPENAI_API_KEY', () => {
    expect(resolveProvider(config(), { OPENAI_API_KEY: 'sk-abc' })).toEqual({
      id: 'openai',
      name: 'OpenAI',
      baseUrl: 'https://api.openai.com/v1',
      apiKey: 'sk-abc',
      envKey: 'OPENAI_API_KEY',
      headers: {},
      queryParams: {},
      requestMaxRetries: 4,
      streamMaxRetries: 5,
      streamIdleTimeoutMs: 300_000,
      requiresOpenaiAuth: true,
    })
  })

  it('resolves ollama and lmstudio to their local URLs without a key', () => {
    const ollama = resolveProvider(config({ model_provider: 'ollama' }), {})
    expect([ollama.baseUrl, ollama.apiKey, ollama.requiresOpenaiAuth]).toEqual([
      'http://localhost:11434/v1',
      undefined,
      false,
    ])
    expect(resolveProvider(config({ model_provider: 'lmstudio' }), {}).baseUrl).toBe(
      'http://localhost:1234/v1',
    )
  })

  it('lets a [model_providers.openai] table override single fields of the built-in', () => {
    const provider = resolveProvider(
      config({
        model_providers: { openai: { base_url: 'https://proxy.example.com/v1/', request_max_retries: 1 } },
      }),
      { OPENAI_API_KEY: 'sk-abc' },
    )
    expect(provider).toMatchObject({
      name: 'OpenAI',
      baseUrl: 'https://proxy.example.com/v1',
      apiKey: 'sk-abc',
      requestMaxRetries: 1,
      streamMaxRetries: 5,
      requiresOpenaiAuth: true,
    })
  })

  it('names the variable to set and repeats env_key_instructions when the key is missing or blank', () => {
    const custom = config({
      model_provider: 'acme',
      model_providers: {
        acme: {
          base_url: 'https://acme.example/v1',
          env_key: 'ACME_KEY',
          env_key_instructions: 'Create one at https://acme.example/keys.',
        },
      },
    })
    for (const env of [{}, { ACME_KEY: '   ' }]) {
      expect(() => resolveProvider(custom, env)).toThrow(
        'Missing environment variable: `ACME_KEY`. Set it to the API key for model provider `acme`. ' +
          'Create one at https://acme.example/keys.',
      )
    }
    expect(() => resolveProvider(config(), {})).toThrow(/`OPENAI_API_KEY`/)
    // The signed-in account covers providers with requires_openai_auth only.
    expect(resolveProvider(config(), {}, { accountMayAuthenticate: true }).apiKey).toBeUndefined()
    expect(() => resolveProvider(custom, {}, { accountMayAuthenticate: true })).toThrow(/`ACME_KEY`/)
  })

  it('rejects an unknown provider id, listing the known ones', () => {
    const error = (() => {
      try {
        resolveProvider(config({ model_provider: 'nope' }), {})
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(ModelError)
    expect((error as ModelError).message).toBe(
      'Model provider `nope` not found. Define it under [model_providers.nope] in config.toml, ' +
        'or use one of: openai, ollama, lmstudio.',
    )
  })
})

describe('retry timing helpers', () => {
  const headers = (values: Record<string, string>) => new Headers(values)

  it('reads Retry-After as seconds, as an HTTP date, or from retry-after-ms, capped at 60 s', () => {
    const now = Date.parse('2025-01-01T00:00:00Z')
    expect(parseRetryAfter(headers({ 'retry-after': '1' }), now)).toBe(1000)
    expect(parseRetryAfter(headers({ 'retry-after': '2.5' }), now)).toBe(2500)
    expect(parseRetryAfter(headers({ 'retry-after': 'Wed, 01 Jan 2025 00:00:03 GMT' }), now)).toBe(3000)
    expect(parseRetryAfter(headers({ 'retry-after': 'Tue, 31 Dec 2024 23:59:00 GMT' }), now)).toBe(0)
    expect(parseRetryAfter(headers({ 'retry-after-ms': '250', 'retry-after': '5' }), now)).toBe(250)
    expect(parseRetryAfter(headers({ 'retry-after': '3600' }), now)).toBe(60_000)
    expect(parseRetryAfter(headers({ 'retry-after': 'soon' }), now)).toBeUndefined()
    expect(parseRetryAfter(headers({ 'retry-after': '-1' }), now)).toBeUndefined()
    expect(parseRetryAfter(headers({}), now)).toBeUndefined()
  })

  it('reads the wait from "try again in" messages', () => {
    expect(parseTryAgainIn('Rate limit reached for gpt-5. Please try again in 1.5s. Visit ...')).toBe(1500)
    expect(parseTryAgainIn('Please try again in 250ms.')).toBe(250)
    expect(parseTryAgainIn('Please try again later.')).toBeUndefined()
  })

  it('backs off exponentially from 200 ms with ±10% jitter and a 20 s cap', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelayMs(n, () => 0.5))).toEqual([200, 400, 800, 1600])
    expect(backoffDelayMs(1, () => 0)).toBe(180)
    expect(backoffDelayMs(1, () => 0.999999)).toBe(220)
    expect(backoffDelayMs(20, () => 0.999999)).toBe(20_000)
  })
})
