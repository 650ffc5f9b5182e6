import { createHmac } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import {
  RemoteRequirements,
  type CachePayload,
  type RemoteRequirementsOptions,
  type RequirementsIdentity,
} from '../../src/worker/config/requirementsCache'
import { createLoggerFactory } from '../../src/worker/util/log'

const TTL = 60_000
const T0 = Date.parse('2030-01-01T00:00:00.000Z')
const DOCUMENT = 'allowed_sandbox_modes = ["read-only"]\n'
const USER_A: RequirementsIdentity = { userId: 'user-a', accountId: 'acct-a', accessToken: 'token-a' }

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

interface RecordedRequest {
  method: string | undefined
  path: string | undefined
  headers: IncomingHttpHeaders
}

type Reply = (res: ServerResponse) => void

const ok =
  (body: string): Reply =>
  (res) =>
    res.writeHead(200, { 'content-type': 'application/toml' }).end(body)
const status =
  (code: number, headers: Record<string, string> = {}): Reply =>
  (res) =>
    res.writeHead(code, headers).end()
/** Leaves the request hanging, as a server that never answers. */
const silence: Reply = () => undefined

/** A real HTTP server on 127.0.0.1 that answers each request with the next scripted reply. */
async function requirementsServer() {
  const requests: RecordedRequest[] = []
  const replies: Reply[] = []
  let fallback: Reply = status(500)
  const server = createServer((req, res) => {
    requests.push({ method: req.method, path: req.url, headers: req.headers })
    req.resume()
    ;(replies.shift() ?? fallback)(res)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    // Hanging requests (the timeout test) would otherwise keep close() waiting.
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  cleanups.push(close)
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/requirements`,
    requests,
    /** Queues replies for the next requests, in order. */
    script: (...next: Reply[]) => replies.push(...next),
    /** What every request gets once the script runs out. */
    otherwise: (reply: Reply) => (fallback = reply),
    close,
  }
}

async function tempHome(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'codex-desk-requirements-cache-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

interface LogRecord {
  level: string
  message: string
  [field: string]: unknown
}

function captureLogs() {
  const records: LogRecord[] = []
  const logs = createLoggerFactory({
    format: 'json',
    levels: { defaultLevel: 'trace', targets: new Map() },
    destination: { write: (text: string) => records.push(JSON.parse(text) as LogRecord) },
  })
  return { log: logs.get('requirements'), records, messages: () => records.map((r) => r.message) }
}

/** One installation: a home folder, a clock and an identity shared by the instances it creates. */
async function installation(url: string) {
  const home = await tempHome()
  const clock = { now: T0 }
  let identity: RequirementsIdentity | undefined = USER_A
  const logs = captureLogs()
  return {
    home,
    clock,
    logs,
    cachePath: join(home, 'requirements-cache.json'),
    keyPath: join(home, 'requirements-cache.key'),
    signIn: (next: RequirementsIdentity | undefined) => (identity = next),
    /** A fresh instance, as after a restart. */
    remote: (options: Partial<RemoteRequirementsOptions> = {}) =>
      new RemoteRequirements({
        homeDir: home,
        url,
        ttlMs: TTL,
        fetchTimeoutMs: 2_000,
        maxAttempts: 3,
        backoffMs: 5,
        log: logs.log,
        identity: () => identity,
        now: () => clock.now,
        ...options,
      }),
  }
}

async function readCache(path: string): Promise<{ payload: CachePayload; signature: string }> {
  return JSON.parse(await readFile(path, 'utf8')) as { payload: CachePayload; signature: string }
}

/** Signs as the format documents it, independently of the module, to forge or check a cache. */
async function signWithInstallationKey(keyPath: string, payload: unknown): Promise<string> {
  return createHmac('sha256', await readFile(keyPath))
    .update(JSON.stringify(payload))
    .digest('base64')
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777
const posix = process.platform !== 'win32'

describe('remote requirements with a signed cache', () => {
  it('fetches on first load with the account headers and writes a signed cache and a 0600 key', async () => {
    const server = await requirementsServer()
    server.script(ok(DOCUMENT))
    const inst = await installation(server.url)

    const result = await inst.remote().load()

    expect(result).toEqual({ contents: DOCUMENT, source: 'network', problems: [] })
    expect(server.requests).toHaveLength(1)
    expect(server.requests[0]).toMatchObject({
      method: 'GET',
      path: '/requirements',
      headers: {
        authorization: 'Bearer token-a',
        'chatgpt-account-id': 'acct-a',
        accept: 'application/toml, text/plain',
      },
    })
    const key = await readFile(inst.keyPath)
    expect(key).toHaveLength(32)
    const cache = await readCache(inst.cachePath)
    expect(cache.payload).toEqual({
      contents: DOCUMENT,
      fetchedAt: T0,
      expiresAt: T0 + TTL,
      userId: 'user-a',
      accountId: 'acct-a',
    })
    expect(cache.signature).toBe(await signWithInstallationKey(inst.keyPath, cache.payload))
    expect(await readFile(inst.cachePath, 'utf8')).not.toContain('token-a')
    if (posix) {
      expect(await modeOf(inst.keyPath)).toBe(0o600)
      expect(await modeOf(inst.cachePath)).toBe(0o600)
    }
    expect(inst.logs.messages()).toContain('fetched the remote requirements')
  })

  it('uses a valid cache without any request', async () => {
    const server = await requirementsServer()
    server.script(ok(DOCUMENT))
    const inst = await installation(server.url)
    await inst.remote().load()
    inst.clock.now = T0 + TTL - 1

    const result = await inst.remote().load()

    expect(result).toEqual({ contents: DOCUMENT, source: 'cache', problems: [] })
    expect(server.requests).toHaveLength(1)
    expect(inst.logs.messages()).toContain('using cached requirements')
  })

  it('refetches when the cache has expired and logs when it expired', async () => {
    const server = await requirementsServer()
    server.script(ok(DOCUMENT), ok('allowed_login_methods = ["chatgpt"]\n'))
    const inst = await installation(server.url)
    await inst.remote().load()
    inst.clock.now = T0 + TTL

    const result = await inst.remote().load()

    expect(result.source).toBe('network')
    expect(result.contents).toBe('allowed_login_methods = ["chatgpt"]\n')
    expect(server.requests).toHaveLength(2)
    expect(inst.logs.messages()).toContain(
      `requirements cache expired at ${new Date(T0 + TTL).toISOString()}; refetching`,
    )
    expect((await readCache(inst.cachePath)).payload).toMatchObject({
      contents: 'allowed_login_methods = ["chatgpt"]\n',
      fetchedAt: T0 + TTL,
      expiresAt: T0 + 2 * TTL,
    })
  })

  it('refetches when the cache contents were edited but the signature was kept', async () => {
    const server = await requirementsServer()
    server.script(ok(DOCUMENT), ok(DOCUMENT))
    const inst = await installation(server.url)
    await inst.remote().load()
    const cache = await readCache(inst.cachePath)
    cache.payload.contents = 'allowed_sandbox_modes = ["danger-full-access"]\n'
    await writeFile(inst.cachePath, JSON.stringify(cache))

    const result = await inst.remote().load()

    expect(result).toEqual({ contents: DOCUMENT, source: 'network', problems: [] })
    expect(server.requests).toHaveLength(2)
    expect(inst.logs.messages()).toContain('requirements cache signature does not verify; refetching')
    expect((await readCache(inst.cachePath)).payload.contents).toBe(DOCUMENT)
  })

  it('refetches when the cache belongs to another user or another account', async () => {
    const server = await requirementsServer()
    server.otherwise(ok(DOCUMENT))
    const inst = await installation(server.url)
    await inst.remote().load()

    inst.signIn({ userId: 'user-b', accountId: 'acct-a', accessToken: 'token-b' })
    expect((await inst.remote().load()).source).toBe('network')
    inst.signIn({ userId: 'user-b', accountId: 'acct-b', accessToken: 'token-b' })
    expect((await inst.remote().load()).source).toBe('network')

    expect(server.requests).toHaveLength(3)
    expect(server.requests[2]?.headers).toMatchObject({
      authorization: 'Bearer token-b',
      'chatgpt-account-id': 'acct-b',
    })
    expect(
      inst.logs.messages().filter((m) => m === 'requirements cache belongs to another account; refetching'),
    ).toHaveLength(2)
    expect((await readCache(inst.cachePath)).payload).toMatchObject({ userId: 'user-b', accountId: 'acct-b' })
  })

  it('refetches when a correctly signed cache holds contents that do not parse', async () => {
    const server = await requirementsServer()
    server.script(ok(DOCUMENT), ok(DOCUMENT))
    const inst = await installation(server.url)
    await inst.remote().load()
    const payload: CachePayload = {
      contents: 'allowed_sandbox_modes = []\n',
      fetchedAt: T0,
      expiresAt: T0 + TTL,
      userId: 'user-a',
      accountId: 'acct-a',
    }
    const forged = { payload, signature: await signWithInstallationKey(inst.keyPath, payload) }
    await writeFile(inst.cachePath, JSON.stringify(forged))

    const result = await inst.remote().load()

    expect(result).toEqual({ contents: DOCUMENT, source: 'network', problems: [] })
    expect(server.requests).toHaveLength(2)
    expect(inst.logs.messages()).toContain('requirements cache contents do not parse; refetching')
  })

  it('retries a 503 after the Retry-After delay and then succeeds', async () => {
    const server = await requirementsServer()
    server.script(status(503, { 'retry-after': '1' }), ok(DOCUMENT))
    const inst = await installation(server.url)
    const started = performance.now()

    const result = await inst.remote().load()

    expect(result).toEqual({ contents: DOCUMENT, source: 'network', problems: [] })
    expect(server.requests).toHaveLength(2)
    expect(performance.now() - started).toBeGreaterThanOrEqual(950)
    const retry = inst.logs.records.find((r) => r.message === 'requirements fetch failed; retrying')
    expect(retry).toMatchObject({
      level: 'info',
      attempt: 1,
      delayMs: 1000,
      reason: 'HTTP 503 Service Unavailable',
    })
  })

  it('retries 429 and 500 with backoff until the attempts run out', async () => {
    const server = await requirementsServer()
    server.script(status(429), status(500), ok(DOCUMENT))
    const inst = await installation(server.url)

    expect((await inst.remote().load()).source).toBe('network')
    expect(server.requests).toHaveLength(3)

    server.otherwise(status(502))
    inst.clock.now = T0 + TTL
    const result = await inst.remote({ maxAttempts: 2 }).load()
    expect(server.requests).toHaveLength(5)
    expect(result.source).toBe('stale-cache')
  })

  it('does not retry a 404 and reports it', async () => {
    const server = await requirementsServer()
    server.otherwise(status(404))
    const inst = await installation(server.url)

    const result = await inst.remote().load()

    expect(result).toEqual({
      contents: null,
      source: 'none',
      problems: [`could not load the remote requirements from ${server.url}: HTTP 404 Not Found`],
    })
    expect(server.requests).toHaveLength(1)
    expect(inst.logs.messages()).toContain(result.problems[0])
  })

  it('uses the expired cache as a stale cache when the server is down', async () => {
    const server = await requirementsServer()
    server.script(ok(DOCUMENT))
    const inst = await installation(server.url)
    await inst.remote().load()
    await server.close()
    inst.clock.now = T0 + 10 * TTL

    const result = await inst.remote({ maxAttempts: 2 }).load()

    expect(result.source).toBe('stale-cache')
    expect(result.contents).toBe(DOCUMENT)
    expect(result.problems).toHaveLength(1)
    expect(result.problems[0]).toMatch(
      new RegExp(
        `^could not load the remote requirements from ${server.url.replace(/[.]/g, '\\.')}: .+; using the cached copy that expired at ${new Date(T0 + TTL).toISOString()}$`,
      ),
    )
    expect(inst.logs.messages()).toContain('requirements fetch failed; retrying')
  })

  it('reports nothing usable when the server is down and there is no cache', async () => {
    const server = await requirementsServer()
    await server.close()
    const inst = await installation(server.url)

    const result = await inst.remote({ maxAttempts: 1 }).load()

    expect(result.source).toBe('none')
    expect(result.problems[0]).toMatch(
      /^could not load the remote requirements from http:\/\/127\.0\.0\.1:\d+/,
    )
  })

  it('gives up on a server that never answers after the per-attempt timeout', async () => {
    const server = await requirementsServer()
    server.otherwise(silence)
    const inst = await installation(server.url)
    const started = performance.now()

    const result = await inst.remote({ fetchTimeoutMs: 200, maxAttempts: 2 }).load()

    const elapsed = performance.now() - started
    expect(result).toEqual({
      contents: null,
      source: 'none',
      problems: [`could not load the remote requirements from ${server.url}: the request timed out`],
    })
    expect(server.requests).toHaveLength(2)
    expect(elapsed).toBeGreaterThanOrEqual(390)
    expect(elapsed).toBeLessThan(5_000)
  })

  it('does nothing without a signed-in ChatGPT account', async () => {
    const server = await requirementsServer()
    const inst = await installation(server.url)
    inst.signIn(undefined)

    const result = await inst.remote().load()

    expect(result).toEqual({ contents: null, source: 'none', problems: [] })
    expect(server.requests).toHaveLength(0)
    await expect(stat(inst.keyPath)).rejects.toMatchObject({ code: 'ENOENT' })
    expect(inst.logs.records).toContainEqual(
      expect.objectContaining({
        level: 'debug',
        message: 'remote requirements need a signed-in ChatGPT account; skipping the remote source',
      }),
    )
  })

  it('caches "no requirements" from a 204 and from an empty body', async () => {
    const server = await requirementsServer()
    server.script(status(204), ok(''))
    const inst = await installation(server.url)

    expect(await inst.remote().load()).toEqual({ contents: null, source: 'network', problems: [] })
    expect(await inst.remote().load()).toEqual({ contents: null, source: 'cache', problems: [] })
    inst.clock.now = T0 + TTL
    expect(await inst.remote().load()).toEqual({ contents: null, source: 'network', problems: [] })
    expect((await readCache(inst.cachePath)).payload.contents).toBeNull()
  })

  it('does not cache an invalid document from the server and does not retry it', async () => {
    const server = await requirementsServer()
    server.otherwise(ok('allowed_sandbox_modes = ["everything"]\n'))
    const inst = await installation(server.url)

    const result = await inst.remote().load()

    expect(result.source).toBe('none')
    expect(result.problems[0]).toContain('the server sent invalid requirements: `allowed_sandbox_modes[0]`')
    expect(server.requests).toHaveLength(1)
    await expect(stat(inst.cachePath)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('refuses to send the token over plain http to another machine', async () => {
    const inst = await installation('http://requirements.example.invalid/requirements')

    const result = await inst.remote().load()

    expect(result).toEqual({
      contents: null,
      source: 'none',
      problems: [
        'could not load the remote requirements from http://requirements.example.invalid/requirements: the requirements url must use https',
      ],
    })
  })

  it.skipIf(!posix)('tightens a key file that other users can read and says so', async () => {
    const server = await requirementsServer()
    server.otherwise(ok(DOCUMENT))
    const inst = await installation(server.url)
    await inst.remote().load()
    await chmod(inst.keyPath, 0o644)

    inst.clock.now = T0 + 1
    const result = await inst.remote().load()

    expect(result.source).toBe('cache')
    expect(await modeOf(inst.keyPath)).toBe(0o600)
    expect(inst.logs.records).toContainEqual(
      expect.objectContaining({
        level: 'warn',
        message: 'requirements cache key is readable by other users; tightening it to 0600',
      }),
    )
  })

  it('shares one fetch between concurrent loads', async () => {
    const server = await requirementsServer()
    server.otherwise(ok(DOCUMENT))
    const inst = await installation(server.url)
    const remote = inst.remote()

    const [a, b] = await Promise.all([remote.load(), remote.load()])

    expect(a).toEqual(b)
    expect(server.requests).toHaveLength(1)
  })
})
