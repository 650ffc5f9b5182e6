import { afterEach, describe, expect, it } from 'vitest'
import { spawnAppServer, type AppServerProcess } from '../support/appServerProcess'
import { connectWebSocket } from '../support/channels'
import { expectCodexShape } from '../support/codexSchema'
import { startModelServer, text, usage, type ModelServer } from '../support/modelServer'
import type { TestClient } from '../support/testClient'
import { runTurn, startThread, type TransportKind } from '../support/threadHarness'

interface Core {
  model: ModelServer
  proc: AppServerProcess
  client: TestClient
}

const cores: Core[] = []
afterEach(async () => {
  for (const core of cores.splice(0)) {
    core.client.close()
    await core.proc.dispose()
    await core.model.close()
  }
})

/** A provider section pointing at the scripted server; `extra` lines go inside it. */
const provider = (url: string, extra: string[] = []) =>
  [
    '[model_providers.mock]',
    'name = "Mock"',
    `base_url = "${url}"`,
    'request_max_retries = 0',
    ...extra,
  ].join('\n')

async function startCore(
  transport: TransportKind,
  options: { config: (modelUrl: string) => string; models?: string[]; env?: NodeJS.ProcessEnv },
): Promise<Core> {
  const model = await startModelServer({
    defaultScript: [text('Hello.'), usage({ input: 1000, output: 12 })],
    ...(options.models ? { models: options.models } : {}),
  })
  let proc: AppServerProcess
  try {
    proc = await spawnAppServer(transport === 'ws' ? ['--listen', 'ws://127.0.0.1:0'] : [], {
      waitForUrl: transport === 'ws',
      env: { CODEX_DESK_LOG: 'warn', ...options.env },
      files: { 'config.toml': options.config(model.url) },
    })
  } catch (error) {
    await model.close()
    throw error
  }
  const client =
    transport === 'stdio' ? proc.stdioClient() : (await connectWebSocket(proc.url as string)).client
  const core = { model, proc, client }
  cores.push(core)
  await client.initialize('models_test')
  return core
}

async function list(client: TestClient, params: Record<string, unknown>) {
  const result = await client.request('model/list', params as never)
  expectCodexShape('ModelListResponse', result)
  return result
}

async function eventually(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** codex 0.169.0's listing, in its order (model/list in an empty CODEX_HOME). */
const CODEX_VISIBLE = [
  'gpt-6.1-sol',
  'gpt-6-astra',
  'gpt-6-sol',
  'gpt-6-luna',
  'gpt-5.6-sol',
  'gpt-6.1-terra',
  'gpt-5.6-terra',
  'gpt-5.6-luna',
  'gpt-5.5',
]
const CODEX_ALL = [
  ...CODEX_VISIBLE.slice(0, 8),
  'gpt-daybreak-blue-latest',
  'gpt-daybreak-red-latest',
  'gpt-5.5',
  'codex-auto-review',
]

/** One entry exactly as real codex 0.169.0 answered it. */
const CODEX_GPT_5_6_LUNA = {
  id: 'gpt-5.6-luna',
  model: 'gpt-5.6-luna',
  upgrade: 'gpt-6-luna',
  upgradeInfo: {
    model: 'gpt-6-luna',
    upgradeCopy: null,
    modelLink: null,
    migrationMarkdown:
      "Meet GPT-6 Luna\n\nOur latest Luna is significantly more efficient, so your usage limits go even further. Reach for it for any job that doesn't require frontier intelligence.\n",
    retirementAt: null,
  },
  availabilityNux: null,
  displayName: 'GPT-5.6-Luna',
  description: 'Older fast and efficient model.',
  modelSpecialty: null,
  hidden: false,
  supportedReasoningEfforts: [
    { reasoningEffort: 'low', description: 'Fast responses with lighter reasoning' },
    { reasoningEffort: 'medium', description: 'Balances speed and reasoning depth for everyday tasks' },
    { reasoningEffort: 'high', description: 'Greater reasoning depth for complex problems' },
    { reasoningEffort: 'xhigh', description: 'Extra high reasoning depth for complex problems' },
    { reasoningEffort: 'max', description: 'Maximum reasoning depth for the hardest problems' },
  ],
  defaultReasoningEffort: 'medium',
  inputModalities: ['text', 'image'],
  supportsPersonality: false,
  multiAgentVersion: 'v1',
  additionalSpeedTiers: ['fast'],
  serviceTiers: [{ id: 'priority', name: 'Fast', description: '1.5x speed, increased usage' }],
  defaultServiceTier: null,
  availableAccessPrograms: null,
  isDefault: false,
}

describe.each<TransportKind>(['stdio', 'ws'])('the model catalog over %s', (transport) => {
  it('lists the models codex knows, the configured one after them, and hidden ones only when asked', async () => {
    const { client } = await startCore(transport, {
      config: (url) => ['model = "my-local-model"', 'model_provider = "mock"', provider(url)].join('\n'),
    })
    const visible = await list(client, {})
    expect(visible.nextCursor).toBeNull()
    expect(visible.data.map((m) => m.id)).toEqual([...CODEX_VISIBLE, 'my-local-model'])
    expect(visible.data.find((m) => m.id === 'gpt-5.6-luna')).toEqual(CODEX_GPT_5_6_LUNA)
    // The configured model is the default one; codex's own default is not, here.
    expect(visible.data.filter((m) => m.isDefault).map((m) => m.id)).toEqual(['my-local-model'])
    expect(visible.data.at(-1)).toMatchObject({
      model: 'my-local-model',
      displayName: 'my-local-model',
      hidden: false,
      supportedReasoningEfforts: [],
    })

    const all = await list(client, { includeHidden: true, cursor: null, limit: null, modelProvider: null })
    expect(all.data.map((m) => m.id)).toEqual([...CODEX_ALL, 'my-local-model'])
    expect(all.data.filter((m) => m.hidden).map((m) => m.id)).toEqual([
      'gpt-daybreak-blue-latest',
      'gpt-daybreak-red-latest',
      'codex-auto-review',
    ])
  })

  it('pages with opaque cursors and answers a bad cursor with a clear error', async () => {
    const { client } = await startCore(transport, {
      config: (url) => ['model = "gpt-6-astra"', 'model_provider = "mock"', provider(url)].join('\n'),
    })
    const pages: string[][] = []
    let cursor: string | null = null
    do {
      const page = await list(client, { limit: 4, cursor })
      pages.push(page.data.map((m) => m.id))
      cursor = page.nextCursor
      if (cursor !== null) expect(typeof cursor).toBe('string')
    } while (cursor !== null)
    // A configured model that is in the catalog is listed once, in its place, as the default.
    expect(pages).toEqual([CODEX_VISIBLE.slice(0, 4), CODEX_VISIBLE.slice(4, 8), CODEX_VISIBLE.slice(8)])
    const whole = await list(client, {})
    expect(whole.data.filter((m) => m.isDefault).map((m) => m.id)).toEqual(['gpt-6-astra'])

    const one = await list(client, { limit: 0 })
    expect(one.data.map((m) => m.id)).toEqual(['gpt-6.1-sol'])
    expect(one.nextCursor).toEqual(expect.any(String))
    const atEnd = await list(client, { cursor: String(CODEX_VISIBLE.length) })
    expect(atEnd).toEqual({ data: [], nextCursor: null })

    expect((await client.call('model/list', { cursor: 'bogus' })).error).toEqual({
      code: -32600,
      message: 'invalid cursor: bogus',
    })
    expect((await client.call('model/list', { cursor: '99' })).error).toEqual({
      code: -32600,
      message: `cursor 99 exceeds total models ${CODEX_VISIBLE.length}`,
    })
    expect((await client.call('model/list', { modelProvider: 'nowhere' })).error).toEqual({
      code: -32600,
      message:
        'This chat uses model provider \u201cnowhere\u201d, which is no longer configured. ' +
        'Restore this provider\u2019s configuration to continue.',
      data: { type: 'modelProviderNotConfigured', modelProvider: 'nowhere' },
    })
  })

  it("lists what a provider's /models serves, asked with the provider's headers and cached", async () => {
    const core = await startCore(transport, {
      models: ['llama3.2:3b', 'qwen2.5-coder:7b', 'gpt-6-sol'],
      env: { MOCK_MODELS_KEY: 'sk-local-123' },
      config: (url) =>
        [
          'model = "qwen2.5-coder:7b"',
          'model_provider = "mock"',
          provider(url, [
            'env_key = "MOCK_MODELS_KEY"',
            'http_headers = { "x-team" = "desk" }',
            'query_params = { "api-version" = "2025-01-01" }',
          ]),
        ].join('\n'),
    })
    const { client, model } = core
    const listed = await list(client, {})
    expect(listed.data.map((m) => m.id)).toEqual([...CODEX_VISIBLE, 'qwen2.5-coder:7b', 'llama3.2:3b'])
    expect(listed.data.filter((m) => m.isDefault).map((m) => m.id)).toEqual(['qwen2.5-coder:7b'])
    const gets = model.requests.filter((r) => r.method === 'GET')
    expect(gets).toHaveLength(1)
    expect(gets[0]).toMatchObject({ path: '/v1/models', query: { 'api-version': '2025-01-01' } })
    expect(gets[0]?.headers).toMatchObject({ authorization: 'Bearer sk-local-123', 'x-team': 'desk' })

    // A second listing (the TUI's /model) reuses the answer instead of asking again.
    await list(client, { includeHidden: true })
    expect(model.requests.filter((r) => r.method === 'GET')).toHaveLength(1)

    // Listing the built-in openai provider never asks the local server.
    const openai = await list(client, { modelProvider: 'openai' })
    expect(openai.data.map((m) => m.id)).toEqual(CODEX_VISIBLE)
    expect(openai.data.some((m) => m.isDefault)).toBe(false)
    expect(model.requests.filter((r) => r.method === 'GET')).toHaveLength(1)
  })

  it('still answers the catalog when the provider cannot list its models, and logs why', async () => {
    const core = await startCore(transport, {
      config: (url) => ['model = "gpt-5.5"', 'model_provider = "mock"', provider(url)].join('\n'),
    })
    const listed = await list(core.client, {})
    expect(listed.data.map((m) => m.id)).toEqual(CODEX_VISIBLE)
    expect(listed.data.find((m) => m.isDefault)?.id).toBe('gpt-5.5')
    expect(core.model.requests.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual(['/v1/models'])
    await eventually('the failure in the log', () =>
      core.proc.stderr().includes('the provider did not list its models'),
    )
    expect(core.proc.stderr()).toMatch(/status.{0,3}404/)
  })

  it('says what codex-desk can do with the configured provider', async () => {
    const { client } = await startCore(transport, {
      config: (url) => ['model_provider = "mock"', provider(url)].join('\n'),
    })
    const capabilities = await client.request('modelProvider/capabilities/read', {})
    expectCodexShape('ModelProviderCapabilitiesReadResponse', capabilities)
    // Web search is on by default ("cached"), as codex offers it.
    expect(capabilities).toEqual({ imageGeneration: false, webSearch: true })
    const off = await startCore(transport, {
      config: (url) => ['model_provider = "mock"', 'web_search = "disabled"', provider(url)].join('\n'),
    })
    expect(await off.client.request('modelProvider/capabilities/read', {})).toEqual({
      imageGeneration: false,
      webSearch: false,
    })
    expect((await client.call('modelProvider/capabilities/read')).error).toEqual({
      code: -32600,
      message: 'Invalid request: missing field `params`',
    })
  })

  it("reports the model's context window with each turn's token usage, as codex computes it", async () => {
    const { client } = await startCore(transport, {
      config: (url) => ['model = "gpt-6.1-terra"', 'model_provider = "mock"', provider(url)].join('\n'),
    })
    const windowOf = async (params: Record<string, unknown>) => {
      const { thread } = await startThread(client, params)
      const { turnId } = await runTurn(client, thread.id, 'hello')
      const usage = client.received.find(
        (m) => m.method === 'thread/tokenUsage/updated' && (m.params as { turnId: string }).turnId === turnId,
      )
      expectCodexShape('ServerNotification', { method: usage?.method, params: usage?.params })
      return (usage?.params as { tokenUsage: { modelContextWindow: number | null } }).tokenUsage
        .modelContextWindow
    }
    // 500000 in the catalog, 95% of it usable.
    expect(await windowOf({})).toBe(475_000)
    // codex's fallback for a model it does not know: 272000 x 95%, what its TUI shows as 258K.
    expect(await windowOf({ model: 'my-local-model' })).toBe(258_400)
    // model_context_window wins, capped at the model's maximum (872000 for gpt-6.1-sol).
    expect(await windowOf({ model: 'gpt-6.1-sol', config: { model_context_window: 100_000 } })).toBe(95_000)
    expect(await windowOf({ model: 'gpt-6.1-sol', config: { model_context_window: 2_000_000 } })).toBe(
      828_400,
    )
  })
})
