import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'ws'
import { makeTempDir, runCli, spawnAppServer, type AppServerProcess } from '../support/appServerProcess'
import { connectWebSocket, refusedUpgrade } from '../support/channels'
import type { ServerMessage } from '../support/testClient'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

async function serve(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<AppServerProcess> {
  const server = await spawnAppServer(['--listen', 'ws://127.0.0.1:0', ...args], { waitForUrl: true, env })
  cleanups.push(() => server.dispose())
  return server
}

async function connect(url: string, options: Parameters<typeof connectWebSocket>[1] = {}) {
  const connection = await connectWebSocket(url, options)
  cleanups.push(async () => connection.ws.terminate())
  return connection
}

const httpUrl = (wsUrl: string, path: string) => wsUrl.replace(/^ws:/, 'http:') + path

describe('app-server over websocket', () => {
  it('prints the chosen port and answers initialize', async () => {
    const server = await serve()
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/)
    expect(server.url).not.toMatch(/:0$/)
    const { client } = await connect(server.url as string)
    const result = await client.initialize('external_tool')
    expect(result.codexHome).toBe(server.home)
    expect(result.userAgent).toMatch(/^external_tool\//)
  })

  it('sends each reply to its own connection when two clients use the same 50 ids concurrently', async () => {
    const server = await serve()
    const { client: a } = await connect(server.url as string)
    const { client: b } = await connect(server.url as string)
    await a.initialize('client_a')
    await b.initialize('client_b')
    // For each id one side sends a valid request and the other an invalid one, so a reply that
    // crossed over would be visibly the wrong kind.
    for (let id = 0; id < 50; id++) {
      const good = { id, method: 'thread/loaded/list', params: {} }
      const bad = { id, method: 'thread/loaded/list', params: { limit: 'many' } }
      a.send(id % 2 === 0 ? good : bad)
      b.send(id % 2 === 0 ? bad : good)
    }
    const replies = async (client: typeof a) =>
      Promise.all(Array.from({ length: 50 }, (_, id) => client.waitForResponse(id)))
    const [ra, rb] = await Promise.all([replies(a), replies(b)])
    ra.forEach((r, id) =>
      expect(id % 2 === 0 ? r.result : r.error?.code).toEqual(
        id % 2 === 0 ? { data: [], nextCursor: null } : -32600,
      ),
    )
    rb.forEach((r, id) =>
      expect(id % 2 === 0 ? r.error?.code : r.result).toEqual(
        id % 2 === 0 ? -32600 : { data: [], nextCursor: null },
      ),
    )
    await new Promise((r) => setTimeout(r, 100))
    expect(a.received.filter((m) => m.id !== undefined && m.method === undefined)).toHaveLength(51)
    expect(b.received.filter((m) => m.id !== undefined && m.method === undefined)).toHaveLength(51)
  })

  it('answers every kind of bad input with an error and keeps serving', async () => {
    const server = await serve()
    const { client } = await connect(server.url as string)
    await client.initialize()
    const ok = () =>
      expect(client.request('thread/loaded/list', {})).resolves.toEqual({ data: [], nextCursor: null })
    const nextError = async (send: () => void): Promise<ServerMessage> => {
      send()
      return client.waitForResponse(null as unknown as number)
    }

    const parse = await nextError(() => client.sendRaw('{"id":1,"method":'))
    expect(parse.error?.code).toBe(-32700)
    expect(parse.error?.message).toMatch(/^Parse error: /)
    await ok()

    const unknown = await client.call('thread/teleport', {}, 2)
    expect(unknown.error?.code).toBe(-32600)
    expect(unknown.error?.message).toMatch(
      /^Invalid request: unknown variant `thread\/teleport`, expected one of `initialize`/,
    )
    await ok()

    const badParams = await client.call('thread/loaded/list', { limit: 'many' }, 3)
    expect(badParams.error).toEqual({
      code: -32600,
      message: 'Invalid request: invalid type at `limit`: expected number, received string',
    })
    await ok()

    const missingParams = await client.call('thread/loaded/list', undefined, 4)
    expect(missingParams.error).toEqual({ code: -32600, message: 'Invalid request: missing field `params`' })
    await ok()

    for (const id of [1.5, null]) {
      const badId = await nextError(() => client.send({ id, method: 'thread/loaded/list', params: {} }))
      expect(badId.error).toEqual({
        code: -32600,
        message: 'Invalid request: `id` must be a string or an integer',
      })
      await ok()
    }

    const batch = await nextError(() =>
      client.sendRaw('[{"id":9,"method":"thread/loaded/list","params":{}}]'),
    )
    expect(batch.error).toEqual({
      code: -32600,
      message: 'Invalid request: batch requests are not supported',
    })
    await ok()

    const withJsonrpc = await client.call('thread/loaded/list', {}, 'string-id')
    expect(withJsonrpc.result).toEqual({ data: [], nextCursor: null })
    client.send({ jsonrpc: '2.0', id: 10, method: 'thread/loaded/list', params: {} })
    expect((await client.waitForResponse(10)).result).toEqual({ data: [], nextCursor: null })

    client.send({ method: 'some/unknownNotification', params: {} })
    await ok()
    expect(client.violations).toEqual([])
  })

  it('ignores binary frames and closes an oversized frame with 1009', async () => {
    const server = await serve(['--ws-max-payload', '4096'])
    const { client, ws } = await connect(server.url as string)
    await client.initialize()
    ws.send(Buffer.from(JSON.stringify({ id: 1, method: 'thread/loaded/list', params: {} })), {
      binary: true,
    })
    await expect(client.request('thread/loaded/list', {}, 2)).resolves.toEqual({ data: [], nextCursor: null })
    expect(client.received.some((m) => m.id === 1)).toBe(false)
    // The log line travels on stderr, the answer on the socket: either may arrive first.
    await vi.waitFor(() => expect(server.stderr()).toContain('dropping binary websocket frame'), {
      timeout: 10_000,
    })
    ws.send(JSON.stringify({ id: 3, method: 'thread/loaded/list', params: { cursor: 'x'.repeat(8192) } }))
    expect((await client.waitForClose()).code).toBe(1009)
    // The server keeps serving others.
    const { client: other } = await connect(server.url as string)
    await other.initialize()
  })

  it('answers the readiness and health probes and rejects plain HTTP', async () => {
    const server = await serve()
    const url = server.url as string
    expect((await fetch(httpUrl(url, '/readyz'))).status).toBe(200)
    const health = await fetch(httpUrl(url, '/healthz'))
    expect(health.status).toBe(200)
    expect(await health.text()).toBe('')
    expect((await fetch(httpUrl(url, '/'))).status).toBe(400)
  })

  it('refuses requests and upgrades that carry an Origin unless that origin is allowed', async () => {
    const server = await serve(['--ws-allow-origin', 'http://127.0.0.1:5173'])
    const url = server.url as string
    expect(
      (await fetch(httpUrl(url, '/readyz'), { headers: { origin: 'http://evil.example' } })).status,
    ).toBe(403)
    const refused = await refusedUpgrade(url, { headers: { origin: 'http://evil.example' } })
    expect(refused.status).toBe(403)
    const { client } = await connect(url, { headers: { origin: 'http://127.0.0.1:5173' } })
    await client.initialize()
  })
})

describe('websocket auth', () => {
  it('accepts the capability token and refuses wrong and missing ones with codex bodies', async () => {
    const dir = await makeTempDir()
    cleanups.push(() => dir.remove())
    const tokenFile = join(dir.path, 'token')
    await writeFile(tokenFile, '  capability-secret-1234\n')
    const server = await serve(['--ws-auth', 'capability-token', '--ws-token-file', tokenFile])
    const url = server.url as string
    expect(await refusedUpgrade(url)).toEqual({ status: 401, body: 'missing websocket bearer token' })
    expect(await refusedUpgrade(url, { headers: { authorization: 'Bearer nope' } })).toEqual({
      status: 401,
      body: 'invalid websocket bearer token',
    })
    expect(await refusedUpgrade(url, { headers: { authorization: 'Basic abc' } })).toEqual({
      status: 401,
      body: 'invalid authorization header',
    })
    const { client } = await connect(url, { headers: { authorization: 'bearer capability-secret-1234' } })
    await client.initialize()
    // Browsers offer the token as a subprotocol entry instead of a header.
    const { client: browserLike, ws } = await connect(url, {
      protocols: ['codex-desk', 'codex-desk.bearer.capability-secret-1234'],
    })
    expect(ws.protocol).toBe('codex-desk')
    await browserLike.initialize()
    // The readiness probe needs no auth.
    expect((await fetch(httpUrl(url, '/readyz'))).status).toBe(200)
  })

  it('accepts the token given as its SHA-256', async () => {
    const digest = createHash('sha256').update('hashed-token-5678').digest('hex')
    const server = await serve(['--ws-auth', 'capability-token', '--ws-token-sha256', digest])
    const { client } = await connect(server.url as string, {
      headers: { authorization: 'Bearer hashed-token-5678' },
    })
    await client.initialize()
    expect(
      (await refusedUpgrade(server.url as string, { headers: { authorization: 'Bearer x' } })).status,
    ).toBe(401)
  })

  it('checks signed bearer tokens: signature, expiry, issuer and audience', async () => {
    const dir = await makeTempDir()
    cleanups.push(() => dir.remove())
    const secret = 'a-shared-secret-that-is-at-least-32-bytes-long'
    const secretFile = join(dir.path, 'secret')
    await writeFile(secretFile, secret)
    const server = await serve([
      '--ws-auth',
      'signed-bearer-token',
      '--ws-shared-secret-file',
      secretFile,
      '--ws-issuer',
      'desk-tests',
      '--ws-audience',
      'codex-desk',
    ])
    const url = server.url as string
    const now = Math.floor(Date.now() / 1000)
    const sign = (claims: Record<string, unknown>, key = secret) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(key))
    const good = { iss: 'desk-tests', aud: 'codex-desk', exp: now + 300 }
    const bearer = async (claims: Record<string, unknown>, key?: string) => ({
      headers: { authorization: `Bearer ${await sign(claims, key)}` },
    })

    const { client } = await connect(url, await bearer(good))
    await client.initialize()
    expect(
      await refusedUpgrade(url, await bearer(good, 'another-secret-that-is-also-32-bytes-long!')),
    ).toEqual({
      status: 401,
      body: 'invalid websocket jwt',
    })
    expect(await refusedUpgrade(url, await bearer({ ...good, exp: now - 120 }))).toEqual({
      status: 401,
      body: 'expired websocket jwt',
    })
    expect(await refusedUpgrade(url, await bearer({ ...good, nbf: now + 600 }))).toEqual({
      status: 401,
      body: 'websocket jwt is not valid yet',
    })
    expect(await refusedUpgrade(url, await bearer({ ...good, iss: 'someone-else' }))).toEqual({
      status: 401,
      body: 'websocket jwt issuer mismatch',
    })
    expect(await refusedUpgrade(url, await bearer({ ...good, aud: ['other'] }))).toEqual({
      status: 401,
      body: 'websocket jwt audience mismatch',
    })
    expect(await refusedUpgrade(url)).toEqual({ status: 401, body: 'missing websocket bearer token' })
  })

  it('refuses to start a non-loopback listener without auth and says how to add it', async () => {
    const result = await runCli(['app-server', '--listen', 'ws://0.0.0.0:0'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(
      'refusing to start non-loopback websocket listener 0.0.0.0:0 without auth; configure `--ws-auth capability-token` or `--ws-auth signed-bearer-token`',
    )
  })

  it('never writes a token, secret or Authorization header to the logs', async () => {
    const dir = await makeTempDir()
    cleanups.push(() => dir.remove())
    const token = 'tok-very-secret-capability-9f8e7d'
    const tokenFile = join(dir.path, 'token')
    await writeFile(tokenFile, token)
    for (const format of ['json', 'text']) {
      const server = await serve(['--ws-auth', 'capability-token', '--ws-token-file', tokenFile], {
        CODEX_DESK_LOG: 'trace',
        LOG_FORMAT: format,
      })
      const url = server.url as string
      await refusedUpgrade(url, { headers: { authorization: `Bearer ${token}-wrong` } })
      await refusedUpgrade(url, { headers: { authorization: `Bearer sk-proj-abcdefghijklmnop` } })
      const { client, ws } = await connect(url, { headers: { authorization: `Bearer ${token}` } })
      await client.initialize()
      await client.call('thread/loaded/list', { cursor: token }, 1)
      ws.close()
      await new Promise((r) => setTimeout(r, 200))
      const logs = server.stderr()
      expect(logs.length).toBeGreaterThan(200)
      expect(logs).toContain('websocket upgrade refused')
      expect(logs).not.toContain(token)
      expect(logs).not.toContain('sk-proj-abcdefghijklmnop')
      expect(logs.toLowerCase()).not.toContain('bearer tok')
      if (format === 'json') {
        for (const line of logs.trim().split('\n')) {
          const record = JSON.parse(line) as Record<string, unknown>
          expect(Object.keys(record).slice(0, 4)).toEqual(['time', 'level', 'target', 'message'])
        }
      }
    }
  })
})

describe('websocket close', () => {
  it('closes clients with 1001 when the server gets SIGTERM and exits 0', async () => {
    const server = await serve()
    const { client } = await connect(server.url as string)
    await client.initialize()
    server.child.kill('SIGTERM')
    expect((await client.waitForClose()).code).toBe(1001)
    await expect(server.exited).resolves.toEqual({ code: 0, signal: null })
  })

  it('drops replies for a client that went away and keeps serving the others', async () => {
    const server = await serve()
    const { client: a, ws } = await connect(server.url as string)
    const { client: b } = await connect(server.url as string)
    await a.initialize()
    await b.initialize()
    for (let i = 0; i < 20; i++) a.send({ id: i, method: 'thread/loaded/list', params: {} })
    ws.terminate()
    await expect(b.request('thread/loaded/list', {})).resolves.toEqual({ data: [], nextCursor: null })
    expect(ws.readyState).toBe(WebSocket.CLOSED)
  })
})
