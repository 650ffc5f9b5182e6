import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { connectWebSocket } from '../support/channels'
import { makeTempDir, runCli, spawnAppServer, type AppServerProcess } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import type { TestClient } from '../support/testClient'
import { startHarness, startThread } from '../support/threadHarness'
import { STOCK_CODEX_CONFIG, TUI_TITLE_OVERRIDES } from '../support/codexConfigFixtures'

const BROKEN_USER_CONFIG = `# my settings
model = "o3"

[features]
collaboration_modes = "true"
web_search = true
`

const EXPECTED_DETAILS = (file: string) =>
  [
    `${file}:5:23: invalid type: string "true", expected a boolean in \`features.collaboration_modes\``,
    '  |',
    '5 | collaboration_modes = "true"',
    '  |                       ^^^^^^',
  ].join('\n')

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function server(args: string[], options: Parameters<typeof spawnAppServer>[1] = {}) {
  const proc = await spawnAppServer(args, options)
  cleanup.push(() => proc.dispose())
  return proc
}

async function wsClient(proc: AppServerProcess): Promise<TestClient> {
  const { client, ws } = await connectWebSocket(proc.url as string)
  cleanup.push(async () => ws.close())
  return client
}

/** Messages after the initialize response, in order. */
function afterInitialize(client: TestClient) {
  const index = client.received.findIndex((m) => m.id === 1000)
  return client.received.slice(index)
}

describe('config diagnostics through the real CLI', () => {
  it('reports a bad value with file, line, columns and underline right after initialize, over stdio', async () => {
    const proc = await server([], { files: { 'config.toml': BROKEN_USER_CONFIG } })
    const client = proc.stdioClient()
    await client.initialize()
    const warning = (await client.waitForNotification('configWarning')).params
    const file = join(proc.home, 'config.toml')
    expect(warning).toEqual({
      summary:
        'Invalid value for `features.collaboration_modes` in the user config; that setting is ignored and the rest of the file applies.',
      details: EXPECTED_DETAILS(file),
      path: file,
      range: { start: { line: 5, column: 23 }, end: { line: 5, column: 28 } },
    })
    expect(afterInitialize(client).map((m) => m.method ?? 'response')).toEqual(['response', 'configWarning'])
    // The rest of the file applies and the server keeps serving.
    const read = await client.request('config/read', {})
    expect(read.config.model).toBe('o3')
    expect(read.config.features).toEqual({ web_search: true })
    expect(client.violations).toEqual([])
  })

  it('sends the warning to every websocket connection after its own initialize', async () => {
    const proc = await server(['--listen', 'ws://127.0.0.1:0'], {
      waitForUrl: true,
      files: { 'config.toml': BROKEN_USER_CONFIG },
    })
    for (const name of ['first', 'second']) {
      const client = await wsClient(proc)
      await client.initialize(name)
      const warning = (await client.waitForNotification('configWarning')).params as { details: string }
      expect(warning.details).toBe(EXPECTED_DETAILS(join(proc.home, 'config.toml')))
      expect(afterInitialize(client)[1]?.method).toBe('configWarning')
      expect((await client.request('config/read', {})).config.model).toBe('o3')
    }
  })

  it('ignores a file with a syntax error as a whole and points at the error', async () => {
    const proc = await server([], { files: { 'config.toml': 'model = "o3"\n[features\nx = true\n' } })
    const client = proc.stdioClient()
    await client.initialize()
    const warning = (await client.waitForNotification('configWarning')).params as Record<string, unknown>
    expect(warning.summary).toBe('Invalid configuration in the user config; the whole file is ignored.')
    expect(warning.range).toEqual({ start: { line: 2, column: 10 }, end: { line: 2, column: 10 } })
    expect(String(warning.details)).toMatch(/config\.toml:2:10: Expected "\.", "\]"/)
    expect(String(warning.details).split('\n').slice(2)).toEqual(['2 | [features', '  |          ^'])
    const read = await client.request('config/read', { includeLayers: true })
    expect(read.config.model).toBeNull()
    expect(read.layers?.[0]?.disabledReason).toMatch(/Expected/)
  })

  it('names an unknown key, its layer and its line, and keeps the rest', async () => {
    const proc = await server([], { files: { 'config.toml': 'model = "o3"\n\nbogus_unknown_key = 1\n' } })
    const client = proc.stdioClient()
    await client.initialize()
    const warning = (await client.waitForNotification('configWarning')).params as Record<string, unknown>
    expect(warning.summary).toBe(
      'Unrecognized setting `bogus_unknown_key` in the user config (line 3) is ignored.',
    )
    expect(warning.range).toEqual({ start: { line: 3, column: 1 }, end: { line: 3, column: 17 } })
    expect((await client.request('config/read', {})).config.model).toBe('o3')
  })

  it('aborts startup with exit code 2 and the formatted message when a -c value has the wrong type', async () => {
    const result = await runCli(['app-server', '-c', 'features.collaboration_modes="true"'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(
      [
        'error: --config:1:30: invalid type: string "true", expected a boolean in `features.collaboration_modes`',
        '  |',
        '1 | features.collaboration_modes="true"',
        '  |                              ^^^^^^',
      ].join('\n'),
    )
    const notToml = await runCli(['app-server', '-c', 'notify=[not toml'])
    expect(notToml.code).toBe(2)
    expect(notToml.stderr).toContain('invalid type: string "[not toml", expected a sequence in `notify`')
  })
})

describe('config layers through the real CLI', () => {
  it('merges system, user, session flags and managed file in precedence order', async () => {
    const system = await makeTempDir()
    cleanup.push(() => system.remove())
    await writeFile(
      join(system.path, 'config.toml'),
      'model = "system-model"\napproval_policy = "never"\n[sandbox_workspace_write]\nwritable_roots = ["/a", "/b"]\nnetwork_access = true\n',
    )
    const proc = await server(
      ['-c', 'model=flag-model', '-c', 'model_reasoning_effort="high"', '--enable', 'fast_mode'],
      {
        env: { CODEX_DESK_SYSTEM_CONFIG_DIR: system.path },
        files: {
          'config.toml':
            'model = "user-model"\nsandbox_mode = "workspace-write"\n[sandbox_workspace_write]\nwritable_roots = ["/c"]\n',
          'managed_config.toml': 'approval_policy = "untrusted"\n',
        },
      },
    )
    const client = proc.stdioClient()
    await client.initialize()
    const read = await client.request('config/read', { includeLayers: true })
    expect(read.config).toMatchObject({
      // `flag-model` is not TOML: the raw string.
      model: 'flag-model',
      model_reasoning_effort: 'high',
      approval_policy: 'untrusted',
      sandbox_mode: 'workspace-write',
      // Tables merge key by key; arrays replace.
      sandbox_workspace_write: { writable_roots: ['/c'], network_access: true },
      features: { fast_mode: true },
    })
    expect(read.layers?.map((l) => l.name.type)).toEqual([
      'legacyManagedConfigTomlFromFile',
      'sessionFlags',
      'user',
      'system',
    ])
    expect(read.origins.model?.name).toEqual({ type: 'sessionFlags' })
    expect(read.origins.approval_policy?.name).toEqual({
      type: 'legacyManagedConfigTomlFromFile',
      file: join(proc.home, 'managed_config.toml'),
    })
    expect(read.origins['sandbox_workspace_write.network_access']?.name.type).toBe('system')
    expect(read.origins['sandbox_workspace_write.writable_roots']?.name.type).toBe('user')
    expect(read.layers?.[3]?.version).toMatch(/^sha256:[0-9a-f]{64}$/)
  })
})

const COMMENTED = `# Written by hand: keep this comment.
model = "o3"   # the model I like

[features]
# experimental things
web_search = true
`

describe('config writes through the real CLI', () => {
  it('writes a value, keeps comments and formatting, and reports the new version', async () => {
    const proc = await server([], { files: { 'config.toml': COMMENTED } })
    const client = proc.stdioClient()
    await client.initialize()
    const before = await client.request('config/read', { includeLayers: true })
    const userVersion = before.layers?.find((l) => l.name.type === 'user')?.version
    const result = await client.request('config/batchWrite', {
      edits: [
        { keyPath: 'features.collaboration_modes', value: true, mergeStrategy: 'upsert' },
        { keyPath: 'model', value: 'gpt-5', mergeStrategy: 'replace' },
      ],
      expectedVersion: userVersion ?? null,
    })
    const file = join(proc.home, 'config.toml')
    const text = await readFile(file, 'utf8')
    expect(text).toBe(
      `# Written by hand: keep this comment.
model = "gpt-5"   # the model I like

[features]
# experimental things
web_search = true
collaboration_modes = true
`,
    )
    expect(result).toEqual({
      status: 'ok',
      version: expect.stringMatching(/^sha256:/),
      filePath: file,
      overriddenMetadata: null,
    })
    const after = await client.request('config/read', { includeLayers: true })
    expect(after.config.model).toBe('gpt-5')
    expect(after.layers?.find((l) => l.name.type === 'user')?.version).toBe(result.version)
  })

  it('refuses a stale expectedVersion, a bad value, an unknown key and another file, and leaves the file alone', async () => {
    const proc = await server([], { files: { 'config.toml': COMMENTED } })
    const client = proc.stdioClient()
    await client.initialize()
    const failure = async (params: Record<string, unknown>) => {
      const response = await client.call('config/value/write', { mergeStrategy: 'replace', ...params })
      return response.error
    }
    expect(await failure({ keyPath: 'model', value: 'x', expectedVersion: 'sha256:0' })).toEqual({
      code: -32600,
      message: 'Configuration was modified since last read. Fetch latest version and retry.',
      data: { config_write_error_code: 'configVersionConflict' },
    })
    expect(await failure({ keyPath: 'features.web_search', value: 'yes' })).toEqual({
      code: -32600,
      message:
        'Invalid configuration: invalid type: string "yes", expected a boolean in `features.web_search`',
      data: { config_write_error_code: 'configValidationError' },
    })
    expect((await failure({ keyPath: 'no_such_key', value: 1 }))?.data).toEqual({
      config_write_error_code: 'configSchemaUnknownKey',
    })
    expect((await failure({ keyPath: 'model', value: 'x', filePath: '/etc/passwd' }))?.data).toEqual({
      config_write_error_code: 'configLayerReadonly',
    })
    expect((await failure({ keyPath: 'model' }))?.message).toBe('Invalid request: missing field `value`')
    expect(await readFile(join(proc.home, 'config.toml'), 'utf8')).toBe(COMMENTED)
  })

  it('says okOverridden when a session flag decides the written key', async () => {
    const proc = await server(['-c', 'model="from-flag"'], { files: { 'config.toml': COMMENTED } })
    const client = proc.stdioClient()
    await client.initialize()
    const result = await client.request('config/value/write', {
      keyPath: 'model',
      value: 'gpt-5',
      mergeStrategy: 'replace',
    })
    expect(result.status).toBe('okOverridden')
    expect(result.overriddenMetadata).toEqual({
      message: 'Overridden by session flags',
      overridingLayer: { name: { type: 'sessionFlags' }, version: expect.stringMatching(/^sha256:/) },
      effectiveValue: 'from-flag',
    })
    expect(await readFile(join(proc.home, 'config.toml'), 'utf8')).toContain('model = "gpt-5"')
  })

  it('reloads an outside edit and sends new problems to every connection', async () => {
    const proc = await server(['--listen', 'ws://127.0.0.1:0'], {
      waitForUrl: true,
      files: { 'config.toml': 'model = "o3"\n' },
    })
    const clients = [await wsClient(proc), await wsClient(proc)]
    for (const [i, c] of clients.entries()) await c.initialize(`client${i}`)
    await writeFile(join(proc.home, 'config.toml'), 'model = "o4"\napproval_policy = "sometimes"\n')
    for (const c of clients) {
      const warning = (await c.waitForNotification('configWarning')).params as { range: unknown }
      expect(warning.range).toEqual({ start: { line: 2, column: 19 }, end: { line: 2, column: 29 } })
    }
    expect((await clients[0]!.request('config/read', {})).config.model).toBe('o4')
    // A connection that arrives later hears the current problems after its initialize.
    const late = await wsClient(proc)
    await late.initialize('late')
    await late.waitForNotification('configWarning')
  })
})

describe('analytics', () => {
  async function collector() {
    const { createServer } = await import('node:http')
    const batches: { events: { name: string }[] }[] = []
    const http = createServer((req, res) => {
      let body = ''
      req.on('data', (c: Buffer) => (body += c.toString()))
      req.on('end', () => {
        batches.push(JSON.parse(body) as { events: { name: string }[] })
        res.end()
      })
    })
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
    cleanup.push(() => new Promise<void>((r) => http.close(() => r())))
    const port = (http.address() as { port: number }).port
    return { endpoint: `http://127.0.0.1:${port}/events`, batches }
  }

  async function runAndStop(args: string[], files: Record<string, string>) {
    const proc = await server(args, { files })
    const client = proc.stdioClient()
    await client.initialize()
    const read = await client.request('config/read', {})
    await client.call('no/such/method', {})
    proc.child.kill('SIGTERM')
    expect((await proc.exited).code).toBe(0)
    return read
  }

  it('stays off by default and sends nothing even with an endpoint', async () => {
    const { endpoint, batches } = await collector()
    const read = await runAndStop([], { 'config.toml': `[analytics]\nendpoint = "${endpoint}"\n` })
    expect(read.config.analytics).toEqual({ endpoint, enabled: false })
    expect(read.origins['analytics.enabled']).toBeUndefined()
    expect(batches).toEqual([])
  })

  it('turns on with --analytics-default-enabled and sends usage events with no content', async () => {
    const { endpoint, batches } = await collector()
    const read = await runAndStop(['--analytics-default-enabled'], {
      'config.toml': `[analytics]\nendpoint = "${endpoint}"\n`,
    })
    expect(read.config.analytics).toEqual({ endpoint, enabled: true })
    expect(read.origins['analytics.enabled']?.name).toEqual({ type: 'sessionFlags' })
    expect(batches.flatMap((b) => b.events)).toEqual([
      { name: 'error', code: -32600, method: null, timestamp: expect.any(String) },
    ])
  })

  it('lets [analytics] enabled = false win over the flag', async () => {
    const { endpoint, batches } = await collector()
    const read = await runAndStop(['--analytics-default-enabled'], {
      'config.toml': `[analytics]\nenabled = false\nendpoint = "${endpoint}"\n`,
    })
    expect(read.config.analytics).toEqual({ endpoint, enabled: false })
    expect(read.origins['analytics.enabled']?.name.type).toBe('user')
    expect(batches).toEqual([])
  })
})

describe('requirements through the real CLI', () => {
  it('reads requirements, clamps a disallowed setting and refuses to write one', async () => {
    const proc = await server([], {
      files: {
        'requirements.toml': 'allowed_approval_policies = ["untrusted", "on-request"]\n',
        'config.toml': 'approval_policy = "never"\n',
      },
    })
    const client = proc.stdioClient()
    await client.initialize()
    const warning = (await client.waitForNotification('configWarning')).params as { summary: string }
    expect(warning.summary).toBe(
      "approval policy `never` is not allowed by your administrator's requirements; allowed: `untrusted`, `on-request`; using `untrusted` instead.",
    )
    expect(await client.request('configRequirements/read', undefined)).toEqual({
      requirements: {
        allowedApprovalPolicies: ['untrusted', 'on-request'],
        allowedSandboxModes: null,
        allowedLoginMethods: null,
        featureRequirements: null,
        enforceResidency: null,
      },
      supportsIndependentSpeedModes: true,
    })
    const refused = await client.call('config/value/write', {
      keyPath: 'approval_policy',
      value: 'never',
      mergeStrategy: 'replace',
    })
    expect(refused.error?.message).toBe(
      "Invalid configuration: approval policy `never` is not allowed by your administrator's requirements; allowed: `untrusted`, `on-request`",
    )
  })

  it('returns null requirements when nothing is configured', async () => {
    const proc = await server([])
    const client = proc.stdioClient()
    await client.initialize()
    expect(await client.request('configRequirements/read', undefined)).toEqual({
      requirements: null,
      supportsIndependentSpeedModes: true,
    })
  })
})

describe('keys codex accepts, through the real CLI', () => {
  it('loads a stock codex config.toml with no warning and shows its keys in config/read', async () => {
    const proc = await server([], { files: { 'config.toml': STOCK_CODEX_CONFIG } })
    const client = proc.stdioClient()
    await client.initialize()
    const { config } = await client.request('config/read', {})
    expect(afterInitialize(client).filter((m) => m.method === 'configWarning')).toEqual([])
    expect(config).toMatchObject({
      model: 'gpt-5.1-codex',
      check_for_update_on_startup: false,
      model_verbosity: 'low',
      otel: { environment: 'dev' },
      tui: { theme: 'dracula' },
      profiles: { deep: { model: 'o3' } },
      projects: { '/home/me/work': { trust_level: 'trusted' } },
    })
  })

  it('writes a key codex-desk only passes through, and refuses a misspelled one', async () => {
    const proc = await server([])
    const client = proc.stdioClient()
    await client.initialize()
    const written = await client.request('config/batchWrite', {
      edits: [
        { keyPath: 'check_for_update_on_startup', value: false, mergeStrategy: 'replace' },
        { keyPath: 'tui.theme', value: 'dracula', mergeStrategy: 'replace' },
      ],
    })
    expect(written.status).toBe('ok')
    await client.request('config/value/write', {
      keyPath: 'history.persistence',
      value: 'none',
      mergeStrategy: 'replace',
    })
    expect(await readFile(join(proc.home, 'config.toml'), 'utf8')).toContain(
      'check_for_update_on_startup = false',
    )
    const { config } = await client.request('config/read', {})
    expect(config).toMatchObject({
      check_for_update_on_startup: false,
      tui: { theme: 'dracula' },
      history: { persistence: 'none' },
    })
    const refused = await client.call('config/value/write', {
      keyPath: 'history.persistance',
      value: 'none',
      mergeStrategy: 'replace',
    })
    expect(refused.error?.message).toBe(
      'Invalid configuration: unknown configuration key `history.persistance`',
    )
  })
})

describe.each(['stdio', 'ws'] as const)('the Codex TUI thread overrides over %s', (transport) => {
  it("starts the TUI's title-generation thread with its exact config overrides", async () => {
    const harness = await startHarness(transport)
    cleanup.push(() => harness.dispose())
    const client = await harness.connect('codex-tui')
    const started = await startThread(client, {
      cwd: harness.proc.home,
      sandbox: 'read-only',
      config: TUI_TITLE_OVERRIDES,
      ephemeral: true,
      threadSource: 'thread_title',
    })
    expectCodexShape('ThreadStartResponse', started)
    expect(started.thread.ephemeral).toBe(true)
    expect(started.sandbox).toEqual({ type: 'readOnly', networkAccess: false })
  })
})
