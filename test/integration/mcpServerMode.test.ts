/**
 * `codex-desk mcp-server` driven by the official MCP SDK client, as another agent or an editor would:
 * the real CLI on stdio, a real core (in its process, or the home's running app-server it attaches
 * to), real commands and files, and the scripted model.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js'
import { ElicitRequestSchema, type ElicitRequest } from '@modelcontextprotocol/sdk/types.js'
import { afterEach, describe, expect, it } from 'vitest'
import { CLI_ENTRY, makeTempDir, spawnAppServer, TSX_LOADER, writeFiles } from '../support/appServerProcess'
import { connectWebSocket } from '../support/channels'
import { functionCall, stall, startModelServer, text, type ModelServer } from '../support/modelServer'
import { WAIT_MS } from '../support/testClient'
import { modelConfig } from '../support/threadHarness'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean()
})

interface Setup {
  model: ModelServer
  home: string
  project: string
}

async function setup(): Promise<Setup> {
  const model = await startModelServer()
  cleanups.push(() => model.close())
  const home = await makeTempDir('codex-desk-mcp-home-')
  cleanups.push(() => home.remove())
  const project = await makeTempDir('codex-desk-mcp-project-')
  cleanups.push(() => project.remove())
  await writeFiles(home.path, { 'config.toml': modelConfig(model.url) })
  return { model, home: home.path, project: project.path }
}

async function connect(
  s: Setup,
  options: { elicitation?: (request: ElicitRequest) => unknown; args?: string[] } = {},
) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', TSX_LOADER, CLI_ENTRY, 'mcp-server', ...(options.args ?? [])],
    cwd: s.project,
    env: { ...(process.env as Record<string, string>), CODEX_DESK_HOME: s.home, CODEX_DESK_LOG: 'info' },
    stderr: 'pipe',
  })
  let stderr = ''
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const client = new Client(
    { name: 'mcp-test', version: '1.0.0' },
    { capabilities: options.elicitation ? { elicitation: {} } : {} },
  )
  if (options.elicitation) {
    const answer = options.elicitation
    client.setRequestHandler(ElicitRequestSchema, async (request) => answer(request) as never)
  }
  await client.connect(transport)
  cleanups.push(() => client.close())
  // What crossed the wire, before the SDK's schemas strip fields they do not know.
  const raw: Array<{ method?: string; params?: Record<string, unknown> }> = []
  const deliver = transport.onmessage
  transport.onmessage = (message) => {
    raw.push(message as (typeof raw)[number])
    deliver?.(message)
  }
  return { client, stderr: () => stderr, raw }
}

type ToolResult = {
  content: Array<{ type: string; text?: string }>
  structuredContent?: Record<string, unknown>
  isError?: boolean
}

async function call(
  client: Client,
  name: string,
  args: Record<string, unknown>,
  onprogress?: (m: string) => void,
) {
  return (await client.callTool({ name, arguments: args }, undefined, {
    timeout: WAIT_MS,
    ...(onprogress ? { onprogress: (p: { message?: string }) => onprogress(p.message ?? '') } : {}),
  })) as ToolResult
}

const shell = (command: string, callId: string) =>
  functionCall({ name: 'shell_command', arguments: { command }, callId })

describe('codex-desk mcp-server', () => {
  it('lists codex and codex-reply with the input schemas codex gives them', async () => {
    const s = await setup()
    const { client } = await connect(s)
    expect(client.getServerVersion()?.name).toBe('codex-desk')
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name)).toEqual(['codex', 'codex-reply'])
    const [codex, reply] = tools
    expect(codex?.inputSchema.required).toEqual(['prompt'])
    expect(Object.keys(codex?.inputSchema.properties ?? {}).sort()).toEqual(
      [
        'approval-policy',
        'base-instructions',
        'compact-prompt',
        'config',
        'cwd',
        'developer-instructions',
        'model',
        'profile',
        'prompt',
        'sandbox',
      ].sort(),
    )
    expect(Object.keys(reply?.inputSchema.properties ?? {}).sort()).toEqual([
      'conversationId',
      'prompt',
      'threadId',
    ])
    expect(codex?.outputSchema?.required).toEqual(['threadId', 'content'])
  })

  it('runs a session with codex, continues it with codex-reply, and the thread is an ordinary thread', async () => {
    const s = await setup()
    const { client } = await connect(s)
    s.model.enqueue(text('The answer is 42.'))
    const progress: string[] = []
    const first = await call(client, 'codex', { prompt: 'What is the answer?', cwd: s.project }, (m) =>
      progress.push(m),
    )
    expect(first.isError).toBeUndefined()
    expect(first.content[0]?.text).toBe('The answer is 42.')
    const threadId = first.structuredContent?.threadId as string
    expect(threadId).toMatch(/^[0-9a-f-]{36}$/)
    expect(first.structuredContent?.content).toBe('The answer is 42.')
    expect(progress.some((m) => m.startsWith('Started thread ' + threadId))).toBe(true)

    s.model.enqueue(text('Still 42.'))
    const second = await call(client, 'codex-reply', { threadId, prompt: 'Are you sure?' })
    expect(second.content[0]?.text).toBe('Still 42.')
    expect(second.structuredContent?.threadId).toBe(threadId)
    // The second model request carries the first exchange: the same conversation, continued.
    const body = JSON.stringify(s.model.requests.at(-1)?.body)
    expect(body).toContain('What is the answer?')
    expect(body).toContain('The answer is 42.')
    expect(body).toContain('Are you sure?')

    // An app-server on the same home lists the thread, in the folder the MCP caller gave.
    const server = await spawnAppServer([], { home: s.home })
    cleanups.push(() => server.dispose())
    const app = server.stdioClient()
    await app.initialize()
    const list = (await app.request('thread/list', {})) as { data: Array<{ id: string; cwd: string }> }
    expect(list.data.find((t) => t.id === threadId)?.cwd).toBe(s.project)
  })

  it('asks the MCP client before a command and obeys its answer', async () => {
    const s = await setup()
    const asked: ElicitRequest['params'][] = []
    let answer: 'accept' | 'decline' = 'accept'
    const { client, raw } = await connect(s, {
      elicitation: (request) => {
        asked.push(request.params)
        return { action: answer }
      },
    })
    const args = { cwd: s.project, 'approval-policy': 'untrusted', sandbox: 'workspace-write' }
    s.model.enqueue(shell('touch yes.txt', 'call_yes'), text('made it'))
    const accepted = await call(client, 'codex', { prompt: 'make yes.txt', ...args })
    expect(accepted.content[0]?.text).toBe('made it')
    expect(existsSync(join(s.project, 'yes.txt'))).toBe(true)
    expect(asked[0]?.message).toContain('touch yes.txt')
    // The correlation fields codex's MCP server adds, for clients written for it.
    const wire = raw.find((m) => m.method === 'elicitation/create')
    expect(wire?.params).toMatchObject({
      codex_elicitation: 'exec-approval',
      codex_cwd: s.project,
      codex_command: ['touch yes.txt'],
      threadId: accepted.structuredContent?.threadId,
    })

    answer = 'decline'
    s.model.enqueue(shell('touch no.txt', 'call_no'), text('did not'))
    const threadId = accepted.structuredContent?.threadId as string
    const declined = await call(client, 'codex-reply', { threadId, prompt: 'make no.txt' })
    expect(declined.content[0]?.text).toBe('did not')
    expect(asked).toHaveLength(2)
    expect(existsSync(join(s.project, 'no.txt'))).toBe(false)
  })

  it('declines without asking when the MCP client cannot answer approvals', async () => {
    const s = await setup()
    const { client } = await connect(s)
    const progress: string[] = []
    s.model.enqueue(shell('touch never.txt', 'call_never'), text('could not'))
    const result = await call(
      client,
      'codex',
      { prompt: 'make never.txt', cwd: s.project, 'approval-policy': 'untrusted' },
      (m) => progress.push(m),
    )
    expect(result.content[0]?.text).toBe('could not')
    expect(existsSync(join(s.project, 'never.txt'))).toBe(false)
    expect(progress.some((m) => m.startsWith('Declined without asking'))).toBe(true)
  })

  it('attaches to the app-server that owns the home, whose clients see the session live', async () => {
    const s = await setup()
    const server = await spawnAppServer(['--listen', 'ws://127.0.0.1:0'], { home: s.home, waitForUrl: true })
    cleanups.push(() => server.dispose())
    // The core records its listener just after printing it: attach once the record is there.
    await expect.poll(() => existsSync(join(s.home, 'app-server.json')), { timeout: WAIT_MS }).toBe(true)
    // A websocket client of that core, as the desktop UI would be.
    const { client: app, ws } = await connectWebSocket(server.url as string)
    cleanups.push(async () => ws.close())
    await app.initialize()

    const { client, stderr } = await connect(s, { args: ['-c', 'model="attached-model"'] })
    s.model.enqueue(text('attached answer'))
    const result = await call(client, 'codex', { prompt: 'hello', cwd: s.project })
    const threadId = result.structuredContent?.threadId as string
    expect(result.content[0]?.text).toBe('attached answer')
    await app.waitForNotification(
      'thread/started',
      (p) => (p as { thread: { id: string } }).thread.id === threadId,
    )
    expect(stderr()).toContain('attached to the core that owns this home')
    // mcp-server's own -c reaches the attached core's thread.
    expect((s.model.requests.at(-1)?.body as { model: string }).model).toBe('attached-model')
  })

  it('interrupts the turn when the MCP caller cancels the call, and the session goes on', async () => {
    const s = await setup()
    const { client } = await connect(s)
    s.model.enqueue(text('first'))
    const first = await call(client, 'codex', { prompt: 'start', cwd: s.project })
    const threadId = first.structuredContent?.threadId as string
    s.model.enqueue(stall())
    const controller = new AbortController()
    const cancelled = client.callTool(
      { name: 'codex-reply', arguments: { threadId, prompt: 'hang' } },
      undefined,
      {
        signal: controller.signal,
        timeout: WAIT_MS,
      },
    )
    await s.model.waitForRequests(2)
    controller.abort()
    await expect(cancelled).rejects.toThrow()
    s.model.enqueue(text('back again'))
    const next = await call(client, 'codex-reply', { threadId, prompt: 'still there?' })
    expect(next.content[0]?.text).toBe('back again')
    // The stalled request was abandoned: the turn was interrupted, not left running.
    await expect.poll(() => s.model.requests[1]?.disconnectedByClient, { timeout: WAIT_MS }).toBe(true)
  })

  it('refuses a second prompt while the thread is still working, and bad arguments, in words', async () => {
    const s = await setup()
    const { client } = await connect(s)
    const bad = await call(client, 'codex-reply', { prompt: 'no thread' })
    expect(bad.isError).toBe(true)
    expect(bad.content[0]?.text).toContain('give the `threadId`')
    const unknown = await call(client, 'codex-x', { prompt: 'x' })
    expect(unknown.isError).toBe(true)
    expect(unknown.content[0]?.text).toContain('codex-desk offers `codex` and `codex-reply`')
  })
})
