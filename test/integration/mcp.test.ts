/**
 * MCP servers end to end, against the real core and a real MCP server (test/support/mcpServer.ts,
 * written with the official SDK): the tools and resources a client lists, a model's call that becomes
 * an `mcpToolCall` item whose result reaches the next model request, approvals, progress, one shared
 * server process for every thread and client, restart after a crash, and reload after a config change.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeTempDir, REPO_ROOT } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import { GREETING_TEXT, GREETING_URI } from '../support/mcpServer'
import { event, functionOutput, text, type Step } from '../support/modelServer'
import {
  harnessesPerTest,
  modelConfig,
  startHarness,
  startThread,
  type Harness,
  type TransportKind,
} from '../support/threadHarness'
import { withTimeout, type ServerMessage, type TestClient } from '../support/testClient'

const { harness, removeAfter } = harnessesPerTest()

/** `[mcp_servers.NAME]` running the test server, its pid files in `pidDir`. */
function serverConfig(pidDir: string, extra: { prefix?: string; toolTimeoutSec?: number } = {}): string {
  const env = [`MCP_TEST_PID_DIR = ${JSON.stringify(pidDir)}`]
  if (extra.prefix) env.push(`MCP_TEST_TOOL_PREFIX = ${JSON.stringify(extra.prefix)}`)
  return [
    '[mcp_servers.test]',
    `command = ${JSON.stringify(process.execPath)}`,
    `args = ["--import", "tsx", ${JSON.stringify(join(REPO_ROOT, 'test/support/mcpServer.ts'))}]`,
    `cwd = ${JSON.stringify(REPO_ROOT)}`,
    `env = { ${env.join(', ')} }`,
    // Generous: the test server starts through tsx, on a busy machine.
    'startup_timeout_sec = 60',
    ...(extra.toolTimeoutSec ? [`tool_timeout_sec = ${extra.toolTimeoutSec}`] : []),
    '',
  ].join('\n')
}

async function mcpHarness(
  transport: TransportKind,
  extra: { toolTimeoutSec?: number } = {},
): Promise<{ h: Harness; pidDir: string }> {
  const pids = removeAfter(await makeTempDir('mcp-pids-'))
  const h = await harness(transport, { config: settings(pids.path, extra) })
  return { h, pidDir: pids.path }
}

function settings(pidDir: string, extra: { prefix?: string; toolTimeoutSec?: number } = {}): string {
  return `approval_policy = "on-request"\n${serverConfig(pidDir, extra)}`
}

/** The test servers alive now (each writes a pid file; a crashed one leaves its file behind). */
function livePids(pidDir: string): number[] {
  if (!existsSync(pidDir)) return []
  return readdirSync(pidDir)
    .map(Number)
    .filter((pid) => {
      try {
        process.kill(pid, 0)
        return true
      } catch {
        return false
      }
    })
}

function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
}

/** What the model streams to call `name` in the namespace `namespace` (codex's namespaced call). */
function namespacedCall(namespace: string, name: string, args: unknown, callId: string): Step[] {
  const item = {
    id: `fc_${callId}`,
    type: 'function_call',
    status: 'completed',
    namespace,
    name,
    call_id: callId,
    arguments: JSON.stringify(args),
  }
  return [
    event('response.output_item.added', {
      output_index: 0,
      item: { ...item, status: 'in_progress', arguments: '' },
    }),
    event('response.output_item.done', { output_index: 0, item }),
  ]
}

type Item = Record<string, unknown> & { id: string; type: string }

async function itemEvents(client: TestClient, callId: string): Promise<{ started: Item; completed: Item }> {
  const byId = (p: unknown) => (p as { item: { id: string } }).item.id === callId
  const started = await client.waitForNotification('item/started', byId)
  const completed = await client.waitForNotification('item/completed', byId)
  for (const m of [started, completed])
    expectCodexShape('ServerNotification', { method: m.method, params: m.params })
  return {
    started: (started.params as { item: Item }).item,
    completed: (completed.params as { item: Item }).item,
  }
}

async function turn(client: TestClient, threadId: string, text: string): Promise<ServerMessage> {
  const { turn } = await client.request('turn/start', { threadId, input: [{ type: 'text', text }] })
  return client.waitForNotification(
    'turn/completed',
    (p) => (p as { turn: { id: string } }).turn.id === turn.id,
  )
}

const until = async (check: () => boolean, what: string): Promise<void> => {
  await withTimeout(
    (async () => {
      while (!check()) await new Promise((r) => setTimeout(r, 50))
    })(),
    60_000,
    what,
  )
}

describe.each<TransportKind>(['stdio', 'ws'])('MCP servers over %s', (transport) => {
  it('lists the server with its tools and resources once it has started', async () => {
    const { h } = await mcpHarness(transport)
    const client = await h.connect()
    const list = await client.request('mcpServerStatus/list', {})
    expectCodexShape('ListMcpServerStatusResponse', list)
    expect(list.nextCursor).toBeNull()
    const [server] = list.data
    expect(server).toMatchObject({
      name: 'test',
      runtimeStatus: 'connected',
      authStatus: 'unsupported',
      httpOrigin: null,
      toolsError: null,
      serverInfo: { name: 'codex-desk-test', version: '1.2.3', title: null },
      resources: [
        { name: 'greeting', uri: GREETING_URI, mimeType: 'text/plain', description: 'A greeting.' },
      ],
    })
    expect(Object.keys(server?.tools ?? {}).sort()).toEqual(['count', 'crash', 'echo', 'wait'])
    expect(server?.tools.echo).toMatchObject({ name: 'echo', annotations: { readOnlyHint: true } })
    for (const status of ['starting', 'ready']) {
      const note = await client.waitForNotification(
        'mcpServer/startupStatus/updated',
        (p) => (p as { status: string }).status === status,
      )
      expectCodexShape('ServerNotification', { method: note.method, params: note.params })
      expect(note.params).toEqual({ name: 'test', status, error: null, failureReason: null, threadId: null })
    }
    const short = await client.request('mcpServerStatus/list', { detail: 'toolsAndAuthOnly' })
    expect(short.data[0]?.resources).toEqual([])
  })

  it("turns the model's call into an mcpToolCall item and gives the result to the next request", async () => {
    const { h } = await mcpHarness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue(namespacedCall('mcp__test', 'echo', { text: 'hi' }, 'call_echo'), text('done'))
    await turn(client, thread.id, 'echo hi')

    const tools = (h.model.requests[0]?.body as { tools: { type: string; name: string }[] }).tools
    const namespace = tools.find((t) => t.name === 'mcp__test')
    expect(namespace).toEqual({
      type: 'namespace',
      name: 'mcp__test',
      description: 'Tools in the mcp__test namespace.',
      tools: [
        expect.objectContaining({ type: 'function', name: 'count', strict: false }),
        expect.objectContaining({ type: 'function', name: 'crash' }),
        {
          type: 'function',
          name: 'echo',
          description: 'Echoes the text back.',
          strict: false,
          parameters: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
        },
        expect.objectContaining({ type: 'function', name: 'wait' }),
      ],
    })

    const { started, completed } = await itemEvents(client, 'call_echo')
    expect(started).toMatchObject({
      type: 'mcpToolCall',
      server: 'test',
      tool: 'echo',
      status: 'inProgress',
      arguments: { text: 'hi' },
      readOnlyHint: true,
      result: null,
    })
    expect(completed).toMatchObject({
      status: 'completed',
      result: { content: [{ type: 'text', text: 'echo: hi' }], structuredContent: { echoed: 'hi' } },
      error: null,
    })
    const output = functionOutput(h.model.requests, 'call_echo')
    expect(output).toMatch(/^Wall time: \d+\.\d{4} seconds\nOutput:\n\{"echoed":"hi"\}$/)
  })
})

describe('MCP tool calls', () => {
  it('asks before a tool that is not read-only, and streams its progress', async () => {
    const { h } = await mcpHarness('ws')
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue(namespacedCall('mcp__test', 'count', { n: 3 }, 'call_count'), text('done'))
    const { turn: started } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'count' }],
    })
    const ask = await client.waitForServerRequest('mcpServer/elicitation/request')
    expectCodexShape('ServerRequest', { id: ask.id, method: ask.method, params: ask.params })
    expect(ask.params).toMatchObject({
      threadId: thread.id,
      turnId: started.id,
      serverName: 'test',
      mode: 'form',
      message: 'Allow the test MCP server to run tool "count"?',
      _meta: { codex_approval_kind: 'mcp_tool_call', tool_name: 'count', tool_params: { n: 3 } },
    })
    client.send({ id: ask.id, result: { action: 'accept', content: null } })
    const { completed } = await itemEvents(client, 'call_count')
    expect(completed).toMatchObject({ status: 'completed', error: null, readOnlyHint: null })
    // Progress is published as the server reports it, before the item completes.
    const progress = client.received.filter((m) => m.method === 'item/mcpToolCall/progress')
    for (const note of progress) {
      expectCodexShape('ServerNotification', { method: note.method, params: note.params })
      expect(note.params).toMatchObject({ threadId: thread.id, turnId: started.id, itemId: 'call_count' })
    }
    expect(progress.map((m) => (m.params as { message: string }).message)).toEqual([
      'counted 1 of 3',
      'counted 2 of 3',
      'counted 3 of 3',
    ])
    await client.waitForNotification('turn/completed')
    expect(functionOutput(h.model.requests, 'call_count')).toEqual([
      { type: 'input_text', text: expect.stringMatching(/^Wall time: \d+\.\d{4} seconds\nOutput:$/) },
      { type: 'input_text', text: 'counted to 3' },
    ])
  })

  it('fails a tool that needs approval when the approval policy is never', async () => {
    const { h } = await mcpHarness('ws')
    const client = await h.connect()
    const { thread } = await startThread(client, { approvalPolicy: 'never' })
    h.model.enqueue(namespacedCall('mcp__test', 'count', { n: 1 }, 'call_never'), text('done'))
    await turn(client, thread.id, 'count')
    const { completed } = await itemEvents(client, 'call_never')
    const message = 'MCP tool call requires approval, but approval policy is never'
    expect(completed).toMatchObject({ status: 'failed', result: null, error: { message } })
    expect(functionOutput(h.model.requests, 'call_never')).toEqual([
      { type: 'input_text', text: expect.stringMatching(/^Wall time:/) },
      { type: 'input_text', text: message },
    ])
  })
})

describe('MCP tool calls, continued', () => {
  it('fails a call that outlasts the tool timeout, and the turn goes on', async () => {
    const { h } = await mcpHarness('ws', { toolTimeoutSec: 1 })
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue(namespacedCall('mcp__test', 'wait', { ms: 20_000 }, 'call_slow'), text('done'))
    const completedTurn = await turn(client, thread.id, 'wait')
    expect((completedTurn.params as { turn: { status: string } }).turn.status).toBe('completed')
    const { completed } = await itemEvents(client, 'call_slow')
    const message = 'timed out awaiting tools/call after 1s'
    expect(completed).toMatchObject({ status: 'failed', error: { message } })
    expect(functionOutput(h.model.requests, 'call_slow')).toEqual([
      { type: 'input_text', text: expect.stringMatching(/^Wall time:/) },
      { type: 'input_text', text: message },
    ])
  })

  it("offers codex's resource tools and reads a resource for the model", async () => {
    const { h } = await mcpHarness('ws')
    const client = await h.connect()
    const { thread } = await startThread(client)
    const read = { id: 'fc_read', type: 'function_call', status: 'completed', name: 'read_mcp_resource' }
    const args = JSON.stringify({ server: 'test', uri: GREETING_URI })
    h.model.enqueue(
      [
        event('response.output_item.done', {
          output_index: 0,
          item: { ...read, call_id: 'call_read', arguments: args },
        }),
      ],
      text('done'),
    )
    await turn(client, thread.id, 'read it')
    const names = (h.model.requests[0]?.body as { tools: { name: string }[] }).tools.map((t) => t.name)
    expect(names).toEqual(
      expect.arrayContaining([
        'list_mcp_resources',
        'list_mcp_resource_templates',
        'read_mcp_resource',
        'mcp__test',
      ]),
    )
    const { completed } = await itemEvents(client, 'call_read')
    expect(completed).toMatchObject({ server: 'test', tool: 'read_mcp_resource', status: 'completed' })
    expect(JSON.parse(functionOutput(h.model.requests, 'call_read') as string)).toEqual({
      server: 'test',
      uri: GREETING_URI,
      contents: [{ uri: GREETING_URI, mimeType: 'text/plain', text: GREETING_TEXT }],
    })
  })
})

describe('the shared MCP runtime', () => {
  it('runs one server process for two threads and two clients, as a child of the core', async () => {
    const { h, pidDir } = await mcpHarness('ws')
    const first = await h.connect('first')
    const second = await h.connect('second')
    const a = await startThread(first)
    const b = await startThread(second)
    h.model.enqueue(namespacedCall('mcp__test', 'echo', { text: 'a' }, 'call_a'), text('done'))
    await turn(first, a.thread.id, 'a')
    h.model.enqueue(namespacedCall('mcp__test', 'echo', { text: 'b' }, 'call_b'), text('done'))
    await turn(second, b.thread.id, 'b')
    expect((await itemEvents(first, 'call_a')).completed.status).toBe('completed')
    expect((await itemEvents(second, 'call_b')).completed.status).toBe('completed')
    const pids = livePids(pidDir)
    expect(pids).toHaveLength(1)
    expect(parentOf(pids[0] as number)).toBe(h.proc.child.pid)
  })

  it('ends the server process when the core shuts down', async () => {
    const pids = removeAfter(await makeTempDir('mcp-pids-'))
    const h = await startHarness('ws', { config: settings(pids.path) })
    try {
      const client = await h.connect()
      await client.request('mcpServerStatus/list', {})
      expect(livePids(pids.path)).toHaveLength(1)
    } finally {
      await h.dispose()
    }
    await until(() => livePids(pids.path).length === 0, 'the server process to end')
  })

  it('restarts a server that crashed and reports it', async () => {
    const { h, pidDir } = await mcpHarness('ws')
    const client = await h.connect()
    const { thread } = await startThread(client)
    await client.request('mcpServerStatus/list', {})
    const [before] = livePids(pidDir)
    const crash = await client.request('mcpServer/tool/call', {
      threadId: thread.id,
      server: 'test',
      tool: 'crash',
    })
    expect(crash.content).toEqual([{ type: 'text', text: 'crashing' }])
    const failed = await client.waitForNotification(
      'mcpServer/startupStatus/updated',
      (p) => (p as { status: string }).status === 'failed',
    )
    expectCodexShape('ServerNotification', { method: failed.method, params: failed.params })
    expect(failed.params).toMatchObject({ name: 'test', error: 'MCP server exited unexpectedly' })
    const readyAgain = (p: unknown) => (p as { status: string }).status === 'ready'
    await client.waitForNotification('mcpServer/startupStatus/updated', readyAgain) // the first start
    await client.waitForNotification('mcpServer/startupStatus/updated', readyAgain) // the restart
    const after = livePids(pidDir)
    expect(after).toHaveLength(1)
    expect(after[0]).not.toBe(before)
    const list = await client.request('mcpServerStatus/list', {})
    expect(list.data[0]?.runtimeStatus).toBe('connected')
    const echo = await client.request('mcpServer/tool/call', {
      threadId: thread.id,
      server: 'test',
      tool: 'echo',
      arguments: { text: 'back' },
    })
    expect(echo.structuredContent).toEqual({ echoed: 'back' })
  })

  it('picks up a changed server config on reload and stops the old process', async () => {
    const { h, pidDir } = await mcpHarness('ws')
    const client = await h.connect()
    await client.request('mcpServerStatus/list', {})
    const [old] = livePids(pidDir)
    await writeFile(
      join(h.proc.home, 'config.toml'),
      modelConfig(h.model.url, settings(pidDir, { prefix: 'v2_' })),
    )
    const reloaded = await client.request('config/mcpServer/reload', undefined)
    expectCodexShape('McpServerRefreshResponse', reloaded)
    expect(reloaded).toEqual({})
    const list = await client.request('mcpServerStatus/list', {})
    expect(Object.keys(list.data[0]?.tools ?? {}).sort()).toEqual([
      'v2_count',
      'v2_crash',
      'v2_echo',
      'v2_wait',
    ])
    await until(() => !livePids(pidDir).includes(old as number), 'the old server process to end')
    expect(livePids(pidDir)).toHaveLength(1)
  })

  it('reads a resource and calls a tool for a client directly', async () => {
    const { h } = await mcpHarness('ws')
    const client = await h.connect()
    const { thread } = await startThread(client)
    const read = await client.request('mcpServer/resource/read', { server: 'test', uri: GREETING_URI })
    expectCodexShape('McpResourceReadResponse', read)
    expect(read).toEqual({
      contents: [{ uri: GREETING_URI, mimeType: 'text/plain', text: GREETING_TEXT }],
      originCallId: null,
    })
    const call = await client.request('mcpServer/tool/call', {
      threadId: thread.id,
      server: 'test',
      tool: 'echo',
      arguments: { text: 'direct' },
    })
    expectCodexShape('McpServerToolCallResponse', call)
    expect(call).toEqual({
      content: [{ type: 'text', text: 'echo: direct' }],
      structuredContent: { echoed: 'direct' },
    })
    const unknown = await client.call('mcpServer/resource/read', { server: 'nope', uri: GREETING_URI })
    expect(unknown.error).toEqual({ code: -32603, message: "unknown MCP server 'nope'" })
    const oauth = await client.call('mcpServer/oauth/login', { name: 'test' })
    expect(oauth.error).toEqual({
      code: -32600,
      message: 'OAuth login is only supported for streamable HTTP servers.',
    })
  })
})
