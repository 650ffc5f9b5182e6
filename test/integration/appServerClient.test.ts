/**
 * The runtime-free AppServerClient (src/worker/protocol/client.ts) against a real core over a
 * websocket: typed requests, JSON-RPC errors, notifications, answering server requests, timeouts
 * and what happens to pending work when the connection closes.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import {
  AppServerClient,
  RequestHandlerError,
  RpcError,
  type ClientChannel,
} from '../../src/worker/protocol/client'
import { spawnAppServer, type AppServerProcess } from '../support/appServerProcess'
import { webSocketChannel } from '../support/channels'
import { functionCall, startModelServer, text, unauthorized, type ModelServer } from '../support/modelServer'
import { modelConfig } from '../support/threadHarness'

const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
const jwt = (n: number) =>
  [
    part({ alg: 'none' }),
    part({ n, 'https://api.openai.com/auth': { chatgpt_account_id: 'acct_1' } }),
    'c2ln',
  ].join('.')

let model: ModelServer
let proc: AppServerProcess
const clients: AppServerClient[] = []

afterEach(async () => {
  for (const client of clients.splice(0)) client.close()
  await proc?.dispose()
  await model?.close()
})

async function start(config = ''): Promise<void> {
  model = await startModelServer()
  proc = await spawnAppServer(['--listen', 'ws://127.0.0.1:0'], {
    waitForUrl: true,
    env: { CODEX_DESK_LOG: 'warn', OPENAI_API_KEY: '' },
    files: { 'config.toml': `model = "m"\nchatgpt_base_url = "${model.url}"\n${config}` },
  })
}

/** A core whose model provider is the scripted server, so turns run. */
async function startWithModel(): Promise<void> {
  model = await startModelServer()
  proc = await spawnAppServer(['--listen', 'ws://127.0.0.1:0'], {
    waitForUrl: true,
    env: { CODEX_DESK_LOG: 'warn', OPENAI_API_KEY: '' },
    files: { 'config.toml': modelConfig(model.url) },
  })
}

async function connect(sent?: string[]): Promise<AppServerClient> {
  const ws = new WebSocket(proc.url as string)
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  const channel = webSocketChannel(ws) as ClientChannel
  const send = channel.send
  if (sent) channel.send = (frame) => (sent.push(frame), send(frame))
  const client = new AppServerClient(channel)
  clients.push(client)
  await client.initialize({ clientInfo: { name: 'client_test', version: '1.0.0' } })
  return client
}

describe('AppServerClient', () => {
  it('types requests, rejects with RpcError, and delivers validated notifications', async () => {
    await start()
    const client = await connect()
    expect(await client.request('account/read', {})).toEqual({ account: null, requiresOpenaiAuth: true })

    const error = await client.request('account/login/cancel', { loginId: 'nope' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RpcError)
    expect(error).toMatchObject({ code: -32600, message: 'invalid login id: nope' })

    const updates: unknown[] = []
    const listener = client.onNotification('account/updated', (params) => updates.push(params))
    await client.request('account/logout', undefined)
    await expect.poll(() => updates).toEqual([{ authMode: null, planType: null }])
    listener.dispose()
    await client.request('account/logout', undefined)
    await new Promise((r) => setTimeout(r, 100))
    expect(updates).toHaveLength(1)
  })

  it('answers the refresh request with its handler, and with an error when the handler throws', async () => {
    await start()
    const client = await connect()
    const other = await connect()
    let calls = 0
    client.handleRequest('account/chatgptAuthTokens/refresh', async (params) => {
      calls++
      expect(params).toEqual({ reason: 'unauthorized', previousAccountId: 'acct_1' })
      if (calls === 2) throw new RequestHandlerError(-32000, 'signed out')
      return { accessToken: jwt(calls + 1), chatgptAccountId: 'acct_1' }
    })
    await client.request('account/login/start', {
      type: 'chatgptAuthTokens',
      accessToken: jwt(1),
      chatgptAccountId: 'acct_1',
    })
    const { thread } = await other.request('thread/start', {})
    const finished: { status: string; error: { message: string } | null }[] = []
    other.onNotification('turn/completed', (p) => finished.push(p.turn as (typeof finished)[number]))

    model.enqueue(unauthorized(), text('ok'))
    await other.request('turn/start', { threadId: thread.id, input: [{ type: 'text', text: 'a' }] })
    await expect.poll(() => finished.length).toBe(1)
    expect(finished[0]?.status).toBe('completed')
    expect(model.requests.at(-1)?.headers.authorization).toBe(`Bearer ${jwt(2)}`)

    model.enqueue(unauthorized())
    await other.request('turn/start', { threadId: thread.id, input: [{ type: 'text', text: 'b' }] })
    await expect.poll(() => finished.length).toBe(2)
    expect(finished[1]?.error?.message).toBe('auth refresh request failed: code=-32000 message=signed out')
  })

  it('answers a server request nobody handles with method-not-found, so the core does not wait', async () => {
    await start()
    const client = await connect()
    await client.request('account/login/start', {
      type: 'chatgptAuthTokens',
      accessToken: jwt(1),
      chatgptAccountId: 'acct_1',
    })
    const { thread } = await client.request('thread/start', {})
    const errors: string[] = []
    client.onNotification('error', (p) => errors.push(p.error.message))
    model.enqueue(unauthorized())
    await client.request('turn/start', { threadId: thread.id, input: [{ type: 'text', text: 'a' }] })
    await expect
      .poll(() => errors)
      .toEqual([
        'auth refresh request failed: code=-32601 message=no handler for account/chatgptAuthTokens/refresh',
      ])
  })

  it('times out a request, and fails pending and later requests once the connection closes', async () => {
    await start()
    const client = await connect()
    await expect(client.request('thread/list', {}, { timeoutMs: 1 })).rejects.toThrow(
      /thread\/list timed out after 1 ms/,
    )

    const patient = await connect()
    const closed = new Promise((resolve) => patient.onClose(resolve))
    proc.child.kill('SIGKILL')
    await closed
    expect(patient.closedWith?.code).toBeGreaterThan(0)
    await expect(patient.request('account/read', {})).rejects.toThrow(
      /connection to the app server is closed/,
    )
  })

  it('hands onResult the result before the promise settles, and rejects when onResult throws', async () => {
    await start()
    const client = await connect()
    const order: string[] = []
    const result = await client.request(
      'thread/list',
      {},
      { onResult: (r) => order.push(`onResult ${r.data.length}`) },
    )
    order.push(`resolved ${result.data.length}`)
    expect(order).toEqual(['onResult 0', 'resolved 0'])
    await expect(
      client.request(
        'thread/list',
        {},
        {
          onResult: () => {
            throw new Error('snapshot rejected')
          },
        },
      ),
    ).rejects.toThrow('snapshot rejected')
  })

  it('aborts a waiting approval handler once another connection answers, and sends no reply of its own', async () => {
    await startWithModel()
    const sentByA: string[] = []
    const a = await connect(sentByA)
    const b = await connect()
    const { thread } = await a.request('thread/start', {
      cwd: proc.home,
      approvalPolicy: 'untrusted',
      sandbox: 'workspace-write',
    })
    await b.request('thread/resume', { threadId: thread.id })

    const seenByA: { id: unknown; aborted: boolean }[] = []
    a.handleRequest('item/commandExecution/requestApproval', (params, { id, signal }) => {
      expect(params.command).toBe('touch approved.txt')
      // Waits like a person would, and "answers" accept only after the abort: that must not be sent.
      return new Promise((resolve) =>
        signal.addEventListener('abort', () => {
          seenByA.push({ id, aborted: signal.aborted })
          resolve({ decision: 'accept' })
        }),
      )
    })
    let answeredByB: unknown
    b.handleRequest('item/commandExecution/requestApproval', async (_params, { id }) => {
      answeredByB = id
      return { decision: 'decline' as const }
    })
    const items: { type: string; status?: string }[] = []
    a.onNotification('item/completed', (p) => items.push(p.item as (typeof items)[number]))
    const completed = new Promise((resolve) => a.onNotification('turn/completed', resolve))

    model.enqueue(
      functionCall({ name: 'shell_command', arguments: { command: 'touch approved.txt' }, callId: 'c1' }),
      text('done'),
    )
    await a.request('turn/start', { threadId: thread.id, input: [{ type: 'text', text: 'go' }] })
    await completed

    expect(answeredByB).toBeDefined()
    expect(seenByA).toEqual([{ id: answeredByB, aborted: true }])
    expect(items.find((item) => item.type === 'commandExecution')?.status).toBe('declined')
    const replies = sentByA.map((frame) => JSON.parse(frame) as { id?: unknown; method?: string })
    expect(replies.filter((m) => m.id === answeredByB && m.method === undefined)).toEqual([])
  })
})
