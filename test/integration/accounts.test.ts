/**
 * Accounts end to end against a real core (the CLI, spawned) and the scripted model server:
 * API-key login, ChatGPT tokens from a client, the 401 refresh loop with its failure modes, the
 * forced login rules, logout, and who gets asked for fresh tokens.
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { spawnAppServer, type AppServerProcess } from '../support/appServerProcess'
import { connectWebSocket } from '../support/channels'
import {
  startModelServer,
  text,
  unauthorized,
  type ModelServer,
  type RecordedRequest,
} from '../support/modelServer'
import { RpcResponseError, WAIT_MS, type ServerMessage, type TestClient } from '../support/testClient'

/** An unsigned JWT with ChatGPT's claims (the core reads claims, the backend checks signatures). */
function chatgptJwt(claims: { email?: string; plan?: string; account?: string; user?: string; n?: number }) {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return [
    part({ alg: 'none', typ: 'JWT' }),
    part({
      email: claims.email ?? 'ada@example.com',
      exp: Math.floor(Date.now() / 1000) + 3600,
      n: claims.n ?? 0,
      'https://api.openai.com/auth': {
        chatgpt_account_id: claims.account ?? 'acct_1',
        chatgpt_plan_type: claims.plan ?? 'pro',
        chatgpt_user_id: claims.user ?? 'user_1',
      },
    }),
    'c2lnbmF0dXJl',
  ].join('.')
}

const TOKEN_1 = chatgptJwt({ n: 1 })
const TOKEN_2 = chatgptJwt({ n: 2 })

interface Core {
  model: ModelServer
  proc: AppServerProcess
  connect(name?: string): Promise<TestClient>
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A core whose default provider is `openai`, with both backends pointed at the model server. */
async function startCore(
  options: { config?: string; env?: NodeJS.ProcessEnv; home?: string; files?: Record<string, string> } = {},
) {
  const model = await startModelServer()
  cleanups.push(() => model.close())
  const config = ['model = "test-model"', `chatgpt_base_url = "${model.url}"`, options.config ?? '', ''].join(
    '\n',
  )
  const proc = await spawnAppServer(['--listen', 'ws://127.0.0.1:0'], {
    waitForUrl: true,
    env: { CODEX_DESK_LOG: 'warn', OPENAI_API_KEY: '', OPENAI_BASE_URL: model.url, ...options.env },
    ...(options.home ? { home: options.home } : { files: { 'config.toml': config, ...options.files } }),
  })
  const clients: TestClient[] = []
  cleanups.push(async () => {
    for (const client of clients) client.close()
    await proc.dispose()
  })
  const core: Core = {
    model,
    proc,
    async connect(name = 'test_client') {
      const { client } = await connectWebSocket(proc.url as string)
      clients.push(client)
      await client.initialize(name)
      return client
    },
  }
  return core
}

async function rpcError(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise
  } catch (error) {
    if (error instanceof RpcResponseError) return error.error
    throw error
  }
  throw new Error('expected a JSON-RPC error')
}

async function loginTokens(client: TestClient, accessToken = TOKEN_1, account = 'acct_1') {
  return client.request('account/login/start', {
    type: 'chatgptAuthTokens',
    accessToken,
    chatgptAccountId: account,
    chatgptPlanType: 'pro',
  })
}

async function startTurn(
  client: TestClient,
  threadId?: string,
): Promise<{ threadId: string; turnId: string }> {
  const id = threadId ?? (await client.request('thread/start', {})).thread.id
  const { turn } = await client.request('turn/start', { threadId: id, input: [{ type: 'text', text: 'hi' }] })
  return { threadId: id, turnId: turn.id }
}

async function completed(client: TestClient, turnId: string) {
  const message = await client.waitForNotification(
    'turn/completed',
    (p) => (p as { turn: { id: string } }).turn.id === turnId,
  )
  return (message.params as { turn: { status: string; error: { message: string } | null } }).turn
}

function answer(client: TestClient, request: ServerMessage, result: unknown): void {
  client.send({ id: request.id, result })
}

describe('API-key login', () => {
  it('saves the key to auth.json (0600), reports the account, and signs model requests with it', async () => {
    const core = await startCore()
    const client = await core.connect('desk_test')
    expect(await client.request('account/read', {})).toEqual({ account: null, requiresOpenaiAuth: true })

    // Not signed in: the turn fails and says how to sign in.
    const before = await startTurn(client)
    const failed = await completed(client, before.turnId)
    expect(failed.status).toBe('failed')
    expect(failed.error?.message).toMatch(/Not signed in.*Sign in.*OPENAI_API_KEY.*choose a model/)
    expect(failed.error?.message).not.toMatch(/account\//)

    expect(await client.request('account/login/start', { type: 'apiKey', apiKey: 'sk-test-123' })).toEqual({
      type: 'apiKey',
    })
    const loginCompleted = await client.waitForNotification('account/login/completed')
    expect(loginCompleted.params).toEqual({ loginId: null, success: true, error: null })
    const updated = await client.waitForNotification('account/updated')
    expect(updated.params).toEqual({ authMode: 'apikey', planType: null })
    const order = client.received.map((m) => m.method ?? `response:${String(m.id)}`)
    expect(order.indexOf('account/login/completed')).toBeLessThan(order.indexOf('account/updated'))

    const file = join(core.proc.home, 'auth.json')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
      auth_mode: 'apikey',
      OPENAI_API_KEY: 'sk-test-123',
    })
    expect(await client.request('account/read', {})).toEqual({
      account: { type: 'apiKey' },
      requiresOpenaiAuth: true,
    })

    core.model.enqueue(text('Hello with a key.'))
    const turn = await startTurn(client, before.threadId)
    expect((await completed(client, turn.turnId)).status).toBe('completed')
    const request = core.model.requests.at(-1)
    expect(request?.path).toBe('/v1/responses')
    expect(request?.headers.authorization).toBe('Bearer sk-test-123')
    expect(request?.headers.originator).toBe('desk_test')
    expect(request?.headers['user-agent']).toMatch(/^codex-desk\/\S+ \(.+\) .* \(desk_test; 0\.0\.1\)$/)
  })

  it('keeps the saved key across a restart and forgets it at logout', async () => {
    const first = await startCore()
    const client = await first.connect()
    await client.request('account/login/start', { type: 'apiKey', apiKey: 'sk-persisted' })
    first.proc.child.kill('SIGKILL')
    await first.proc.exited

    const again = await startCore({ home: first.proc.home, env: { OPENAI_BASE_URL: first.model.url } })
    const next = await again.connect()
    expect((await next.request('account/read', {})).account).toEqual({ type: 'apiKey' })
    const turn = await startTurn(next)
    expect((await completed(next, turn.turnId)).status).toBe('completed')
    expect(first.model.requests.at(-1)?.headers.authorization).toBe('Bearer sk-persisted')

    expect(await next.request('account/logout', undefined)).toEqual({})
    expect((await next.waitForNotification('account/updated')).params).toEqual({
      authMode: null,
      planType: null,
    })
    await expect(stat(join(first.proc.home, 'auth.json'))).rejects.toThrow(/ENOENT/)
    expect((await next.request('account/read', {})).account).toBeNull()
  })

  it('refuses a blank key, and API keys when config forces ChatGPT login', async () => {
    const core = await startCore({ config: 'forced_login_method = "chatgpt"' })
    const client = await core.connect()
    expect(await rpcError(client.request('account/login/start', { type: 'apiKey', apiKey: 'sk-x' }))).toEqual(
      {
        code: -32600,
        message: 'API key login is disabled. Use ChatGPT login instead.',
      },
    )
    const open = await startCore()
    const other = await open.connect()
    expect(await rpcError(other.request('account/login/start', { type: 'apiKey', apiKey: '  ' }))).toEqual({
      code: -32600,
      message: 'apiKey must not be empty',
    })
  })
})

describe('ChatGPT tokens from a client', () => {
  it('logs in, reads the claims, and refreshes once on a 401 before retrying with the new bearer', async () => {
    const core = await startCore({ env: { CODEX_DESK_LOG: 'trace' } })
    const owner = await core.connect('token_owner')
    expect(await loginTokens(owner)).toEqual({ type: 'chatgptAuthTokens' })
    expect((await owner.waitForNotification('account/login/completed')).params).toEqual({
      loginId: null,
      success: true,
      error: null,
    })
    expect((await owner.waitForNotification('account/updated')).params).toEqual({
      authMode: 'chatgptAuthTokens',
      planType: 'pro',
    })
    expect(await owner.request('account/read', {})).toEqual({
      account: { type: 'chatgpt', email: 'ada@example.com', planType: 'pro' },
      requiresOpenaiAuth: true,
      userId: 'user_1',
    })

    core.model.enqueue(unauthorized('token expired'), text('Fresh tokens work.'))
    const turn = await startTurn(owner)
    const refresh = await owner.waitForServerRequest('account/chatgptAuthTokens/refresh')
    expect(refresh.params).toEqual({ reason: 'unauthorized', previousAccountId: 'acct_1' })
    answer(owner, refresh, { accessToken: TOKEN_2, chatgptAccountId: 'acct_1', chatgptPlanType: 'pro' })
    expect((await completed(owner, turn.turnId)).status).toBe('completed')

    const [first, retried] = core.model.requests.slice(-2)
    expect(first?.path).toBe('/v1/codex/responses')
    expect(first?.headers.authorization).toBe(`Bearer ${TOKEN_1}`)
    expect(retried?.headers.authorization).toBe(`Bearer ${TOKEN_2}`)
    expect(retried?.headers['chatgpt-account-id']).toBe('acct_1')
    expect(retried?.headers.originator).toBe('token_owner')

    // Nothing the core wrote, at trace level, holds a token.
    const logs = core.proc.stderr() + core.proc.stdout()
    expect(logs).toContain('installed refreshed ChatGPT tokens')
    for (const token of [TOKEN_1, TOKEN_2]) {
      expect(logs).not.toContain(token)
      expect(logs).not.toContain(token.split('.')[1] as string)
    }
  })

  it('fails the turn when the refreshed request is unauthorized again', async () => {
    const core = await startCore()
    const owner = await core.connect()
    await loginTokens(owner)
    core.model.enqueue(unauthorized(), unauthorized('still no'))
    const turn = await startTurn(owner)
    answer(owner, await owner.waitForServerRequest('account/chatgptAuthTokens/refresh'), {
      accessToken: TOKEN_2,
      chatgptAccountId: 'acct_1',
    })
    const status = await owner.waitForNotification(
      'thread/status/changed',
      (p) => (p as { status: { type: string } }).status.type === 'systemError',
    )
    expect(status.params).toMatchObject({ threadId: turn.threadId })
    const error = await owner.waitForNotification('error')
    expect(error.params).toMatchObject({
      turnId: turn.turnId,
      willRetry: false,
      error: { codexErrorInfo: { httpConnectionFailed: { httpStatusCode: 401 } } },
    })
    expect((await completed(owner, turn.turnId)).status).toBe('failed')
  })

  it('fails the turn after the configured refresh timeout', async () => {
    const core = await startCore({ config: 'auth_refresh_timeout_secs = 1' })
    const owner = await core.connect()
    await loginTokens(owner)
    core.model.enqueue(unauthorized())
    const turn = await startTurn(owner)
    await owner.waitForServerRequest('account/chatgptAuthTokens/refresh')
    const error = await owner.waitForNotification('error')
    expect(error.params).toMatchObject({
      error: { message: 'auth refresh request timed out after 1s', codexErrorInfo: 'unauthorized' },
      willRetry: false,
    })
    expect((await completed(owner, turn.turnId)).status).toBe('failed')
    // A late answer is ignored, and the next turn asks again.
    core.model.enqueue(unauthorized(), text('second try'))
    const next = await startTurn(owner, turn.threadId)
    answer(owner, await owner.waitForServerRequest('account/chatgptAuthTokens/refresh'), {
      accessToken: TOKEN_2,
      chatgptAccountId: 'acct_1',
    })
    expect((await completed(owner, next.turnId)).status).toBe('completed')
  })

  it("reports the client's JSON-RPC error as the turn's error", async () => {
    const core = await startCore()
    const owner = await core.connect()
    await loginTokens(owner)
    core.model.enqueue(unauthorized())
    const turn = await startTurn(owner)
    const refresh = await owner.waitForServerRequest('account/chatgptAuthTokens/refresh')
    owner.send({ id: refresh.id, error: { code: -32000, message: 'session expired, sign in again' } })
    const error = await owner.waitForNotification('error')
    expect(error.params).toMatchObject({
      error: {
        message: 'auth refresh request failed: code=-32000 message=session expired, sign in again',
        codexErrorInfo: 'unauthorized',
      },
    })
    expect((await completed(owner, turn.turnId)).status).toBe('failed')
  })

  it('enforces the forced workspace at login and at every refresh', async () => {
    const core = await startCore({ config: 'forced_chatgpt_workspace_id = "acct_1"' })
    const owner = await core.connect()
    expect(await rpcError(loginTokens(owner, TOKEN_1, 'acct_WRONG'))).toEqual({
      code: -32600,
      message: 'External auth must use one of workspace(s) ["acct_1"], but received "acct_WRONG".',
    })
    expect((await owner.request('account/read', {})).account).toBeNull()
    await loginTokens(owner)
    core.model.enqueue(unauthorized())
    const turn = await startTurn(owner)
    answer(owner, await owner.waitForServerRequest('account/chatgptAuthTokens/refresh'), {
      accessToken: TOKEN_2,
      chatgptAccountId: 'acct_2',
    })
    const error = await owner.waitForNotification('error')
    expect((error.params as { error: { message: string } }).error.message).toBe(
      'external auth refresh returned workspace "acct_2", expected one of ["acct_1"]',
    )
    expect((await completed(owner, turn.turnId)).status).toBe('failed')
    // The rejected tokens were not installed: the next request still carries the first ones.
    core.model.enqueue(text('ok'))
    const next = await startTurn(owner, turn.threadId)
    await completed(owner, next.turnId)
    expect(core.model.requests.at(-1)?.headers.authorization).toBe(`Bearer ${TOKEN_1}`)
  })

  it('refuses other logins while external auth is active, and logout clears it', async () => {
    const core = await startCore()
    const client = await core.connect()
    await loginTokens(client)
    const active =
      'External auth is active. Use account/login/start (chatgptAuthTokens) to update it or account/logout to clear it.'
    for (const params of [
      { type: 'apiKey', apiKey: 'sk-x' },
      { type: 'chatgpt' },
      { type: 'chatgptDeviceCode' },
    ]) {
      expect(await rpcError(client.request('account/login/start', params as never))).toEqual({
        code: -32600,
        message: active,
      })
    }
    // chatgptAuthTokens itself updates the tokens.
    await loginTokens(client, TOKEN_2)
    expect(await client.request('account/logout', undefined)).toEqual({})
    const cleared = await client.waitForNotification(
      'account/updated',
      (p) => (p as { authMode: string | null }).authMode === null,
    )
    expect(cleared.params).toEqual({ authMode: null, planType: null })
    expect(await client.request('account/read', {})).toEqual({ account: null, requiresOpenaiAuth: true })
    const turn = await startTurn(client)
    expect((await completed(client, turn.turnId)).error?.message).toMatch(/Not signed in/)
    expect(core.model.requests).toHaveLength(0)
  })

  it('rejects malformed tokens and unknown login ids with codex messages', async () => {
    const core = await startCore({ config: 'forced_login_method = "api"' })
    const client = await core.connect()
    expect(await rpcError(loginTokens(client))).toEqual({
      code: -32600,
      message: 'External ChatGPT auth is disabled. Use API key login instead.',
    })
    expect(await rpcError(client.request('account/login/start', { type: 'chatgpt' }))).toEqual({
      code: -32600,
      message: 'ChatGPT login is disabled. Use API key login instead.',
    })
    // The administrator's allowed_login_methods has the same effect.
    const managed = await startCore({ files: { 'requirements.toml': 'allowed_login_methods = ["api"]\n' } })
    const user = await managed.connect()
    expect((await rpcError(loginTokens(user))).message).toBe(
      'External ChatGPT auth is disabled. Use API key login instead.',
    )
    expect(await user.request('account/login/start', { type: 'apiKey', apiKey: 'sk-allowed' })).toEqual({
      type: 'apiKey',
    })

    const open = await startCore()
    const other = await open.connect()
    expect(await rpcError(loginTokens(other, 'not-a-jwt'))).toEqual({
      code: -32603,
      message: 'failed to set external auth: invalid ID token format',
    })
    const missing = await rpcError(
      other.request('account/login/start', { type: 'chatgptAuthTokens', accessToken: TOKEN_1 } as never),
    )
    expect(missing.message).toContain('missing field `chatgptAccountId`')
    expect(await rpcError(other.request('account/login/cancel', { loginId: 'x' }))).toEqual({
      code: -32600,
      message: 'invalid login id: x',
    })
    expect(
      await other.request('account/login/cancel', { loginId: '123e4567-e89b-42d3-a456-426614174000' }),
    ).toEqual({ status: 'notFound' })
  })
})

describe('who is asked for fresh tokens', () => {
  it('two turns that hit 401 together share one refresh', async () => {
    const core = await startCore()
    const owner = await core.connect()
    await loginTokens(owner)
    const byToken = (request: RecordedRequest) =>
      request.headers.authorization === `Bearer ${TOKEN_1}` ? unauthorized() : text('after refresh')
    core.model.enqueue(byToken, byToken, byToken, byToken)
    const a = await startTurn(owner)
    const b = await startTurn(owner)
    const refresh = await owner.waitForServerRequest('account/chatgptAuthTokens/refresh')
    // Let the second 401 arrive while the first refresh is still waiting.
    await core.model.waitForRequests(2, WAIT_MS)
    answer(owner, refresh, { accessToken: TOKEN_2, chatgptAccountId: 'acct_1' })
    expect((await completed(owner, a.turnId)).status).toBe('completed')
    expect((await completed(owner, b.turnId)).status).toBe('completed')
    expect(owner.received.filter((m) => m.method === 'account/chatgptAuthTokens/refresh')).toHaveLength(1)
  })

  it('passes a waiting refresh on, with its id, when the owner it was sent to disconnects', async () => {
    const core = await startCore()
    const olderOwner = await core.connect('older_owner')
    const supplier = await core.connect('supplier')
    await loginTokens(olderOwner)
    await loginTokens(supplier)
    core.model.enqueue(unauthorized(), text('ok'))
    const turn = await startTurn(olderOwner)
    const first = await supplier.waitForServerRequest('account/chatgptAuthTokens/refresh')
    supplier.close()
    const passedOn = await olderOwner.waitForServerRequest('account/chatgptAuthTokens/refresh')
    expect(passedOn.id).toBe(first.id)
    expect(passedOn.params).toEqual(first.params)
    answer(olderOwner, passedOn, { accessToken: TOKEN_2, chatgptAccountId: 'acct_1' })
    expect((await completed(olderOwner, turn.turnId)).status).toBe('completed')
    expect(core.model.requests.at(-1)?.headers.authorization).toBe(`Bearer ${TOKEN_2}`)
  })

  it('asks the supplier, then another token owner, then every client', async () => {
    const core = await startCore()
    const bystander = await core.connect('bystander')
    const olderOwner = await core.connect('older_owner')
    const supplier = await core.connect('supplier')
    await loginTokens(olderOwner)
    await loginTokens(supplier)
    const threadId = (await bystander.request('thread/start', {})).thread.id

    const refreshOnce = async (expected: TestClient, token: string) => {
      core.model.enqueue(unauthorized(), text('ok'))
      const turn = await startTurn(bystander, threadId)
      answer(expected, await expected.waitForServerRequest('account/chatgptAuthTokens/refresh'), {
        accessToken: token,
        chatgptAccountId: 'acct_1',
      })
      expect((await completed(bystander, turn.turnId)).status).toBe('completed')
    }

    await refreshOnce(supplier, TOKEN_2)
    supplier.close()
    await refreshOnce(olderOwner, chatgptJwt({ n: 3 }))
    olderOwner.close()
    await refreshOnce(bystander, chatgptJwt({ n: 4 }))
    expect(bystander.received.filter((m) => m.method === 'account/chatgptAuthTokens/refresh')).toHaveLength(1)
  })
})
