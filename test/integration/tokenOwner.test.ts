/**
 * The token owner end to end: real PKCE sign-ins against the scripted OAuth issuer (the "browser" is
 * fetch following the issuer's redirect to the loopback listener), a real file-backed encrypted
 * store, and real cores (the CLI, spawned) that the owner logs in and refreshes for. The only fakes
 * are the scripted issuer and the scripted model server.
 *
 * After every test, every log line the owner wrote, every summary and change event, every error
 * message a test caught and every page the loopback showed the browser is checked for every token
 * and authorization code the issuer handed out.
 */
import { existsSync, readFileSync } from 'node:fs'
import { stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import Conf from 'conf'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { parseOAuthSettings } from '../../src/main/auth/settings'
import {
  EXPIRED_PROBLEM,
  TokenOwner,
  type AccountSummary,
  type TokenOwnerLog,
} from '../../src/main/auth/tokenOwner'
import { TOKEN_STORE_KEY, TokenStore, type Cipher } from '../../src/main/auth/tokenStore'
import { AppServerClient } from '../../src/worker/protocol/client'
import { makeTempDir, spawnAppServer, type AppServerProcess } from '../support/appServerProcess'
import { connectWebSocket, webSocketChannel } from '../support/channels'
import { aesCipher } from '../support/cipher'
import { startModelServer, text, unauthorized, type ModelServer } from '../support/modelServer'
import { startOAuthIssuer, type OAuthIssuerOptions, type ScriptedIssuer } from '../support/oauthIssuer'
import { WAIT_MS, withTimeout, type TestClient } from '../support/testClient'
import { runTurn, startThread } from '../support/threadHarness'

type Cleanup = () => Promise<void> | void
const cleanups: Cleanup[] = []
const contexts: OwnerContext[] = []

afterEach(async () => {
  try {
    for (const ctx of contexts) expect(leaksIn(ctx)).toEqual([])
  } finally {
    contexts.length = 0
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  }
})

// --- the owner's surroundings ---

type BrowserMode = 'follow' | 'forge-state' | 'ignore'

/** What the system browser would do with the authorize URL: follow the issuer's 302 to the loopback. */
class Browser {
  readonly opened: string[] = []
  readonly pages: { status: number; html: string }[] = []
  private readonly waiters = new Set<() => void>()

  constructor(public mode: BrowserMode | BrowserMode[] = 'follow') {}

  async open(url: string): Promise<void> {
    this.opened.push(url)
    for (const wake of [...this.waiters]) wake()
    const mode = Array.isArray(this.mode) ? (this.mode.shift() ?? 'follow') : this.mode
    if (mode === 'ignore') return // the user closed the tab
    const authorize = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(WAIT_MS) })
    const location = authorize.headers.get('location')
    if (authorize.status !== 302 || !location) {
      throw new Error(`the issuer answered ${authorize.status} to the authorize request`)
    }
    const back = new URL(location)
    if (mode === 'forge-state') back.searchParams.set('state', 'forged-by-another-page')
    const page = await fetch(back, { signal: AbortSignal.timeout(WAIT_MS) })
    this.pages.push({ status: page.status, html: await page.text() })
  }

  /** The redirect URI of the n-th authorize URL opened. */
  redirectUri(index = 0): string {
    const url = this.opened[index]
    if (!url) throw new Error(`the browser opened ${this.opened.length} URL(s)`)
    return new URL(url).searchParams.get('redirect_uri') as string
  }

  waitForOpened(count: number): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve) => {
        const check = () => {
          if (this.opened.length < count) return
          this.waiters.delete(check)
          resolve()
        }
        this.waiters.add(check)
        check()
      }),
      WAIT_MS,
      `the browser to open ${count} URL(s)`,
    )
  }
}

interface LogLine {
  level: 'info' | 'warn' | 'error'
  obj: object
  msg: string
}

interface OwnerContext {
  issuer: ScriptedIssuer
  owner: TokenOwner
  store: TokenStore
  conf: Conf<Record<string, unknown>>
  dir: string
  cipher: Cipher
  browser: Browser
  logs: LogLine[]
  changes: AccountSummary[]
  errors: string[]
  /** Secrets that did not come from the issuer (e.g. a planted file's contents). */
  extraSecrets: string[]
  /** An error the promise rejected with (recorded for the leak check); fails if it resolved. */
  caught(promise: Promise<unknown>): Promise<Error>
  /** A second owner on the same store file (an app restart). */
  reopen(): TokenOwner
}

async function setup(
  options: {
    issuer?: OAuthIssuerOptions | ScriptedIssuer
    settings?: Record<string, unknown>
    browser?: BrowserMode | BrowserMode[]
    loginTimeoutMs?: number
    encryptionAvailable?: boolean
  } = {},
): Promise<OwnerContext> {
  const issuer =
    options.issuer && 'url' in options.issuer ? options.issuer : await startOAuthIssuer(options.issuer)
  cleanups.push(() => issuer.close())
  const temp = await makeTempDir('codex-desk-owner-')
  cleanups.push(() => temp.remove())
  const logs: LogLine[] = []
  const log: TokenOwnerLog = {
    info: (obj, msg) => void logs.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => void logs.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => void logs.push({ level: 'error', obj, msg }),
  }
  const cipher = aesCipher({ available: () => options.encryptionAvailable ?? true })
  const openConf = () =>
    new Conf<Record<string, unknown>>({ projectName: 'codex-desk-test', cwd: temp.path, configName: 'auth' })
  const conf = openConf()
  const store = new TokenStore(conf, cipher, log)
  const browser = new Browser(options.browser)
  const settings = parseOAuthSettings({ issuer: issuer.url, clientId: issuer.clientId, ...options.settings })
  const changes: AccountSummary[] = []
  const makeOwner = (s: TokenStore) => {
    const owner = new TokenOwner({
      settings,
      store: s,
      openExternal: (url) => browser.open(url),
      log,
      ...(options.loginTimeoutMs !== undefined ? { loginTimeoutMs: options.loginTimeoutMs } : {}),
    })
    owner.onDidChange((summary) => void changes.push(summary))
    cleanups.push(() => owner.dispose())
    return owner
  }
  const errors: string[] = []
  const ctx: OwnerContext = {
    issuer,
    owner: makeOwner(store),
    store,
    conf,
    dir: temp.path,
    cipher,
    browser,
    logs,
    changes,
    errors,
    extraSecrets: [],
    async caught(promise) {
      const outcome = await promise.then(
        () => undefined,
        (error: unknown) => error,
      )
      if (!(outcome instanceof Error)) throw new Error('expected a rejection with an Error')
      errors.push(outcome.message)
      return outcome
    },
    reopen: () => makeOwner(new TokenStore(openConf(), cipher, log)),
  }
  contexts.push(ctx)
  return ctx
}

/** Every place a token or code could leak to, checked against every secret the issuer issued. */
function leaksIn(ctx: OwnerContext): string[] {
  const secrets = [...ctx.issuer.secrets(), ...ctx.extraSecrets]
  const places: [string, string][] = [
    ...ctx.logs.map((line, i): [string, string] => [`log line ${i} (${line.msg})`, JSON.stringify(line)]),
    ...ctx.changes.map((summary, i): [string, string] => [`change event ${i}`, JSON.stringify(summary)]),
    ['summary()', JSON.stringify(ctx.owner.summary())],
    ...ctx.errors.map((message, i): [string, string] => [`error ${i}`, message]),
    ...ctx.browser.pages.map((page, i): [string, string] => [`browser page ${i}`, page.html]),
  ]
  const leaks: string[] = []
  for (const [where, content] of places) {
    secrets.forEach((secret, i) => {
      if (content.includes(secret)) leaks.push(`${where} contains issued secret #${i}`)
    })
  }
  return leaks
}

/** The issuer's most recent token set (a sign-in or refresh must have happened). */
function issued(ctx: OwnerContext) {
  const tokens = ctx.issuer.lastIssued()
  if (!tokens) throw new Error('the issuer has issued no tokens yet')
  return tokens
}

function storeFileBytes(ctx: OwnerContext): string {
  const path = join(ctx.dir, 'auth.json')
  return existsSync(path) ? readFileSync(path).toString('utf8') : ''
}

/** The loopback listener is gone: connecting is refused. */
async function expectPortClosed(redirectUri: string): Promise<void> {
  const error = await fetch(redirectUri, { signal: AbortSignal.timeout(WAIT_MS) }).then(
    () => undefined,
    (e: unknown) => e as Error & { cause?: { code?: string } },
  )
  expect(error?.cause?.code).toBe('ECONNREFUSED')
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

// --- cores ---

function chatgptConfig(model: ModelServer, extra = ''): string {
  return [
    'model = "test-model"',
    `chatgpt_base_url = "${model.url}"`,
    'auth_refresh_timeout_secs = 5',
    extra,
    '',
  ].join('\n')
}

async function startModel(): Promise<ModelServer> {
  const model = await startModelServer()
  cleanups.push(() => model.close())
  return model
}

async function startCore(
  model: ModelServer,
  options: { home?: string; extraConfig?: string } = {},
): Promise<AppServerProcess> {
  const proc = await spawnAppServer(['--listen', 'ws://127.0.0.1:0'], {
    waitForUrl: true,
    env: { CODEX_DESK_LOG: 'warn' },
    ...(options.home
      ? { home: options.home }
      : { files: { 'config.toml': chatgptConfig(model, options.extraConfig) } }),
  })
  cleanups.push(() => proc.dispose())
  return proc
}

/** The main process's connection to a core: an initialized AppServerClient over a websocket. */
async function connectOwnerClient(proc: AppServerProcess): Promise<AppServerClient> {
  const ws = new WebSocket(proc.url as string)
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    }),
    WAIT_MS,
    'the websocket to open',
  )
  const client = new AppServerClient(webSocketChannel(ws), { requestTimeoutMs: WAIT_MS })
  cleanups.push(() => client.close())
  await client.initialize({ clientInfo: { name: 'codex_desk_main', title: 'codex-desk', version: '0.1.0' } })
  return client
}

/** A second connection, the way the renderer would run turns. */
async function connectTurnClient(proc: AppServerProcess): Promise<TestClient> {
  const { client } = await connectWebSocket(proc.url as string)
  cleanups.push(() => client.close())
  await client.initialize('turn_client')
  return client
}

async function turnStatus(client: TestClient, proc: AppServerProcess, input = 'hi'): Promise<string> {
  const { thread } = await startThread(client, { cwd: proc.home })
  const { completed } = await runTurn(client, thread.id, input)
  return (completed.params as { turn: { status: string } }).turn.status
}

const modelCalls = (model: ModelServer) => model.requests.filter((r) => r.path.endsWith('/responses'))
const bearer = (token: string) => `Bearer ${token}`

const SIGNED_IN: AccountSummary = {
  signedIn: true,
  email: 'ada@example.com',
  planType: 'plus',
  accountId: 'acct-test-1',
  problem: null,
}

// --- the tests ---

describe('signing in with PKCE', () => {
  it('signs in through the browser and shows the account, and the issuer saw a valid S256 verifier', async () => {
    const ctx = await setup()
    const summary = await ctx.owner.signIn()

    expect(summary).toEqual(SIGNED_IN)
    expect(ctx.owner.summary()).toEqual(SIGNED_IN)
    expect(ctx.changes.at(-1)).toEqual(SIGNED_IN)
    expect(ctx.issuer.codeExchanges).toEqual([
      { verifierLength: 43, challengeMethod: 'S256', verifierMatched: true, redirectUriMatched: true },
    ])
    const authorize = new URL(ctx.browser.opened[0] as string)
    expect(authorize.origin + authorize.pathname).toBe(`${ctx.issuer.url}/oauth/authorize`)
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
    expect(authorize.searchParams.get('scope')).toBe('openid profile email offline_access')
    expect(ctx.browser.redirectUri()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/auth\/callback$/)
    expect(ctx.browser.pages).toEqual([
      { status: 200, html: expect.stringContaining('Signed in to codex-desk, you can close this tab') },
    ])
    expect(ctx.issuer.grants('authorization_code').map((r) => r.fields.sort())).toEqual([
      ['client_id', 'code', 'code_verifier', 'grant_type', 'redirect_uri'],
    ])
    await expectPortClosed(ctx.browser.redirectUri())
  })

  it('fails a denied consent with the issuer’s reason and leaves the loopback port closed', async () => {
    const ctx = await setup()
    ctx.issuer.denyNextAuthorization('access_denied', 'The user denied access.')
    const error = await ctx.caught(ctx.owner.signIn())

    expect(error.message).toBe(
      'The sign-in was not completed: the issuer answered access_denied (The user denied access.).',
    )
    expect(ctx.browser.pages[0]?.status).toBe(400)
    expect(ctx.browser.pages[0]?.html).toContain('could not sign you in')
    expect(ctx.issuer.grants('authorization_code')).toEqual([])
    expect(ctx.owner.summary().signedIn).toBe(false)
    await expectPortClosed(ctx.browser.redirectUri())
  })

  it('fails a redirect with the wrong state and leaves the loopback port closed', async () => {
    const ctx = await setup({ browser: 'forge-state' })
    const error = await ctx.caught(ctx.owner.signIn())

    expect(error.message).toMatch(/state that does not match this sign-in/)
    expect(ctx.browser.pages[0]?.status).toBe(400)
    expect(ctx.issuer.grants('authorization_code')).toEqual([]) // the code was never redeemed
    expect(ctx.owner.summary().signedIn).toBe(false)
    await expectPortClosed(ctx.browser.redirectUri())
  })

  it('tells the user to set the client id when none is configured', async () => {
    const ctx = await setup({ settings: { clientId: '' } })
    const error = await ctx.caught(ctx.owner.signIn())

    expect(error.message).toMatch(/set the client id in Settings/)
    expect(ctx.browser.opened).toEqual([])
    expect(ctx.issuer.requests).toEqual([])
  })

  it('gives up when the browser never comes back, and closes the loopback port', async () => {
    const ctx = await setup({ browser: 'ignore', loginTimeoutMs: 300 })
    const error = await ctx.caught(ctx.owner.signIn())

    expect(error.message).toBe('The sign-in timed out: the browser did not come back within 300 ms.')
    await expectPortClosed(ctx.browser.redirectUri())
  })

  it('stops a sign-in when its AbortSignal fires', async () => {
    const ctx = await setup({ browser: 'ignore' })
    const controller = new AbortController()
    const signIn = ctx.caught(ctx.owner.signIn(controller.signal))
    await ctx.browser.waitForOpened(1)
    controller.abort()

    expect((await signIn).message).toBe('The sign-in was cancelled.')
    await expectPortClosed(ctx.browser.redirectUri())
  })

  it('lets a newer sign-in cancel the one in progress, even on a fixed redirect port', async () => {
    const port = await freePort()
    const ctx = await setup({ browser: ['ignore', 'follow'], settings: { redirectPort: port } })
    const first = ctx.caught(ctx.owner.signIn())
    await ctx.browser.waitForOpened(1)
    const second = await ctx.owner.signIn()

    expect((await first).message).toBe('The sign-in was cancelled.')
    expect(second).toEqual(SIGNED_IN)
    expect(ctx.browser.redirectUri(0)).toBe(`http://127.0.0.1:${port}/auth/callback`)
    expect(ctx.browser.redirectUri(1)).toBe(`http://127.0.0.1:${port}/auth/callback`)
    await expectPortClosed(ctx.browser.redirectUri(1))
  })

  it('falls back to the issuer’s /oauth endpoints when it has no discovery document', async () => {
    const ctx = await setup({ issuer: { discovery: false } })
    expect(await ctx.owner.signIn()).toEqual(SIGNED_IN)
    expect(ctx.issuer.requests[0]).toMatchObject({ path: '/.well-known/openid-configuration', status: 404 })
  })

  it('refuses a sign-in whose tokens carry no ChatGPT account id', async () => {
    const ctx = await setup({ issuer: { account: { accountId: null } } })
    const error = await ctx.caught(ctx.owner.signIn())

    expect(error.message).toMatch(/no ChatGPT account id/)
    expect(ctx.owner.summary().signedIn).toBe(false)
    expect(ctx.conf.get(TOKEN_STORE_KEY)).toBeUndefined()
  })

  it('redacts the authorization code from an issuer error that quotes it', async () => {
    const ctx = await setup()
    ctx.issuer.failNextToken({
      status: 400,
      error: 'invalid_grant',
      description: 'bad code',
      echoSecret: true,
    })
    const error = await ctx.caught(ctx.owner.signIn())

    expect(error.message).toBe('The issuer refused the sign-in: invalid_grant (bad code for [redacted]).')
    expect(ctx.owner.summary().signedIn).toBe(false)
  })
})

describe('the encrypted store', () => {
  it('keeps every token out of the store file and signs the next app start in from it', async () => {
    const ctx = await setup()
    await ctx.owner.signIn()
    const bytes = storeFileBytes(ctx)

    expect(bytes).toContain(TOKEN_STORE_KEY)
    for (const secret of ctx.issuer.secrets()) {
      expect(bytes).not.toContain(secret)
      for (const part of secret.split('.')) expect(bytes).not.toContain(part)
    }
    expect(bytes).not.toContain('ada@example.com')
    expect(ctx.reopen().summary()).toEqual(SIGNED_IN)
  })

  it('keeps the sign-in in memory for the session, and says so, when encryption is unavailable', async () => {
    const ctx = await setup({ encryptionAvailable: false })
    const summary = await ctx.owner.signIn()

    expect(summary).toMatchObject({ signedIn: true, accountId: 'acct-test-1' })
    expect(summary.problem).toBe(
      'Your ChatGPT sign-in cannot be saved securely on this computer because no system keychain is available. You stay signed in until codex-desk quits.',
    )
    for (const secret of ctx.issuer.secrets()) expect(storeFileBytes(ctx)).not.toContain(secret)
    expect(ctx.conf.get(TOKEN_STORE_KEY)).toBeUndefined()
    expect(ctx.reopen().summary().signedIn).toBe(false)
  })
})

describe('importing a codex sign-in', () => {
  async function writeAuthJson(ctx: OwnerContext, contents: unknown): Promise<string> {
    const path = join(ctx.dir, 'codex-auth.json')
    await writeFile(path, typeof contents === 'string' ? contents : JSON.stringify(contents, null, 2))
    return path
  }

  it('imports a codex auth.json, stores it encrypted, never touches the file, and logs a core in', async () => {
    const ctx = await setup()
    const minted = await ctx.issuer.mint()
    const path = await writeAuthJson(ctx, {
      OPENAI_API_KEY: null,
      tokens: {
        id_token: minted.idToken,
        access_token: minted.accessToken,
        refresh_token: minted.refreshToken,
        account_id: 'acct-test-1',
      },
      last_refresh: '2025-01-01T00:00:00Z',
    })
    const before = { bytes: readFileSync(path), mtimeMs: (await stat(path)).mtimeMs }

    expect(await ctx.owner.importSignIn(path)).toEqual(SIGNED_IN)
    expect(readFileSync(path)).toEqual(before.bytes)
    expect((await stat(path)).mtimeMs).toBe(before.mtimeMs)
    expect(ctx.store.load()).toMatchObject({ refreshToken: minted.refreshToken, accountId: 'acct-test-1' })
    for (const secret of ctx.issuer.secrets()) expect(storeFileBytes(ctx)).not.toContain(secret)

    const model = await startModel()
    const core = await startCore(model)
    await ctx.owner.attach(await connectOwnerClient(core))
    const turns = await connectTurnClient(core)
    expect((await turns.request('account/read', {})).account).toEqual({
      type: 'chatgpt',
      email: 'ada@example.com',
      planType: 'plus',
    })
  })

  it('refuses files that are not a codex ChatGPT sign-in, without quoting them', async () => {
    const ctx = await setup()
    const minted = await ctx.issuer.mint()
    const notJson = await writeAuthJson(ctx, `{"tokens": {"access_token": "${minted.accessToken}", oops`)
    expect((await ctx.caught(ctx.owner.importSignIn(notJson))).message).toBe(
      `${notJson} is not a codex sign-in file: it is not valid JSON.`,
    )
    const apiKeyOnly = await writeAuthJson(ctx, { OPENAI_API_KEY: 'sk-test-not-a-chatgpt-sign-in' })
    ctx.extraSecrets.push('sk-test-not-a-chatgpt-sign-in')
    expect((await ctx.caught(ctx.owner.importSignIn(apiKeyOnly))).message).toMatch(/has no ChatGPT sign-in/)
    const notJwt = await writeAuthJson(ctx, {
      tokens: {
        id_token: null,
        access_token: 'opaque-access-token-value',
        refresh_token: minted.refreshToken,
      },
    })
    ctx.extraSecrets.push('opaque-access-token-value')
    expect((await ctx.caught(ctx.owner.importSignIn(notJwt))).message).toBe(
      "The sign-in's access token is not a JWT, so codex-desk cannot use it.",
    )
    const missing = join(ctx.dir, 'nowhere.json')
    expect((await ctx.caught(ctx.owner.importSignIn(missing))).message).toBe(
      `codex-desk could not read ${missing} (ENOENT).`,
    )
    expect(ctx.owner.summary().signedIn).toBe(false)
  })

  it('refuses an auth.json whose tokens and file carry no account id', async () => {
    const ctx = await setup({ issuer: { account: { accountId: null } } })
    const minted = await ctx.issuer.mint()
    const path = await writeAuthJson(ctx, {
      tokens: {
        id_token: minted.idToken,
        access_token: minted.accessToken,
        refresh_token: minted.refreshToken,
      },
    })
    expect((await ctx.caught(ctx.owner.importSignIn(path))).message).toMatch(/no ChatGPT account id/)
  })
})

describe('the owner and real cores', () => {
  it('refreshes once with rotation on a 401 and the retried model request carries the new token', async () => {
    const ctx = await setup()
    await ctx.owner.signIn()
    const first = issued(ctx)
    const model = await startModel()
    const core = await startCore(model)
    await ctx.owner.attach(await connectOwnerClient(core))
    model.enqueue(unauthorized(), text('after the refresh'))

    const turns = await connectTurnClient(core)
    expect(await turnStatus(turns, core)).toBe('completed')

    const renewed = issued(ctx)
    expect(ctx.issuer.grants('refresh_token').map((r) => r.status)).toEqual([200])
    expect(ctx.issuer.grants('refresh_token')[0]?.fields.sort()).toEqual([
      'client_id',
      'grant_type',
      'refresh_token',
      'scope',
    ])
    const calls = modelCalls(model)
    expect(calls).toHaveLength(2)
    expect(calls[0]?.headers.authorization).toBe(bearer(first.accessToken))
    expect(calls[1]?.headers.authorization).toBe(bearer(renewed.accessToken))
    expect(calls[1]?.headers['chatgpt-account-id']).toBe('acct-test-1')
    expect(renewed.accessToken).not.toBe(first.accessToken)
    expect(renewed.refreshToken).not.toBe(first.refreshToken)
    expect(ctx.store.load()?.refreshToken).toBe(renewed.refreshToken)
    expect(ctx.issuer.isRefreshTokenValid(first.refreshToken)).toBe(false)
    expect(ctx.owner.summary()).toEqual(SIGNED_IN)
  })

  it('logs an already attached core in as soon as the user signs in', async () => {
    const ctx = await setup()
    const model = await startModel()
    const core = await startCore(model)
    await ctx.owner.attach(await connectOwnerClient(core))
    const turns = await connectTurnClient(core)
    expect((await turns.request('account/read', {})).account).toBeNull()

    await ctx.owner.signIn()

    expect((await turns.request('account/read', {})).account).toEqual({
      type: 'chatgpt',
      email: 'ada@example.com',
      planType: 'plus',
    })
    expect(await turnStatus(turns, core)).toBe('completed')
    expect(modelCalls(model)[0]?.headers.authorization).toBe(bearer(issued(ctx).accessToken))
  })

  it('keeps the old refresh token when the issuer does not rotate it', async () => {
    const ctx = await setup({ issuer: { rotateRefreshTokens: false } })
    await ctx.owner.signIn()
    const first = issued(ctx)
    const model = await startModel()
    const core = await startCore(model)
    await ctx.owner.attach(await connectOwnerClient(core))
    model.enqueue(unauthorized(), text('ok'))

    expect(await turnStatus(await connectTurnClient(core), core)).toBe('completed')
    expect(ctx.issuer.grants('refresh_token')).toHaveLength(1)
    expect(ctx.store.load()?.refreshToken).toBe(first.refreshToken)
    expect(ctx.store.load()?.accessToken).toBe(ctx.issuer.lastIssued()?.accessToken)
  })

  it('shares one refresh grant between two cores that ask at the same time', async () => {
    const ctx = await setup()
    await ctx.owner.signIn()
    const [modelA, modelB] = await Promise.all([startModel(), startModel()])
    const [coreA, coreB] = await Promise.all([startCore(modelA), startCore(modelB)])
    await Promise.all([
      connectOwnerClient(coreA).then((c) => ctx.owner.attach(c)),
      connectOwnerClient(coreB).then((c) => ctx.owner.attach(c)),
    ])
    ctx.issuer.delayNextToken(1_500) // both refresh requests arrive while the first grant is out
    modelA.enqueue(unauthorized(), text('a'))
    modelB.enqueue(unauthorized(), text('b'))
    const [turnsA, turnsB] = await Promise.all([connectTurnClient(coreA), connectTurnClient(coreB)])

    expect(await Promise.all([turnStatus(turnsA, coreA), turnStatus(turnsB, coreB)])).toEqual([
      'completed',
      'completed',
    ])
    const renewed = issued(ctx)
    expect(ctx.issuer.grants('refresh_token')).toHaveLength(1)
    expect(modelCalls(modelA)[1]?.headers.authorization).toBe(bearer(renewed.accessToken))
    expect(modelCalls(modelB)[1]?.headers.authorization).toBe(bearer(renewed.accessToken))
  })

  it('logs a restarted core in again when the owner attaches its new connection', async () => {
    const ctx = await setup()
    await ctx.owner.signIn()
    const model = await startModel()
    const core = await startCore(model)
    const ownerClient = await connectOwnerClient(core)
    await ctx.owner.attach(ownerClient)
    expect(await turnStatus(await connectTurnClient(core), core)).toBe('completed')

    core.child.kill('SIGTERM')
    await withTimeout(core.exited, WAIT_MS, 'the core to exit')
    await withTimeout(
      new Promise<void>((resolve) => ownerClient.onClose(() => resolve())),
      WAIT_MS,
      'the owner connection to close',
    )
    const restarted = await startCore(model, { home: core.home })
    await ctx.owner.attach(await connectOwnerClient(restarted))
    const turns = await connectTurnClient(restarted)

    expect((await turns.request('account/read', {})).account).toEqual({
      type: 'chatgpt',
      email: 'ada@example.com',
      planType: 'plus',
    })
    expect(await turnStatus(turns, restarted)).toBe('completed')
    const calls = modelCalls(model)
    expect(calls).toHaveLength(2)
    expect(calls[1]?.headers.authorization).toBe(bearer(issued(ctx).accessToken))
    expect(calls[1]?.headers['chatgpt-account-id']).toBe('acct-test-1')
    expect(ctx.owner.summary()).toEqual(SIGNED_IN)
  })

  it('signs out with the expiry sentence when the issuer refuses the refresh token, and the turn fails', async () => {
    const ctx = await setup()
    await ctx.owner.signIn()
    const model = await startModel()
    const core = await startCore(model)
    await ctx.owner.attach(await connectOwnerClient(core))
    ctx.issuer.expireRefreshTokens()
    model.enqueue(unauthorized())

    const turns = await connectTurnClient(core)
    expect(await turnStatus(turns, core)).toBe('failed')

    const expired: AccountSummary = {
      signedIn: false,
      email: null,
      planType: null,
      accountId: null,
      problem: EXPIRED_PROBLEM,
    }
    expect(EXPIRED_PROBLEM).toBe('Your ChatGPT sign-in has expired. Sign in again.')
    expect(ctx.owner.summary()).toEqual(expired)
    expect(ctx.changes.at(-1)).toEqual(expired)
    expect(ctx.issuer.grants('refresh_token').map((r) => r.status)).toEqual([400])
    expect(ctx.store.load()).toBeNull()
    expect(ctx.conf.get(TOKEN_STORE_KEY)).toBeUndefined()
    await withTimeout(ctx.owner.settled(), WAIT_MS, 'the owner to log the core out')
    expect((await turns.request('account/read', {})).account).toBeNull()

    // Signing in again clears the problem.
    expect(await ctx.owner.signIn()).toEqual(SIGNED_IN)
  })

  it('keeps the sign-in when the issuer fails for a moment, and the next 401 refreshes', async () => {
    const ctx = await setup()
    await ctx.owner.signIn()
    const model = await startModel()
    const core = await startCore(model)
    await ctx.owner.attach(await connectOwnerClient(core))
    const turns = await connectTurnClient(core)

    ctx.issuer.failNextToken({ status: 503 })
    model.enqueue(unauthorized())
    expect(await turnStatus(turns, core)).toBe('failed')
    expect(ctx.owner.summary()).toEqual(SIGNED_IN)
    expect(ctx.logs.some((l) => l.level === 'warn' && /keeping the sign-in/.test(l.msg))).toBe(true)

    model.enqueue(unauthorized(), text('ok'))
    expect(await turnStatus(turns, core, 'again')).toBe('completed')
    expect(ctx.issuer.grants('refresh_token').map((r) => r.status)).toEqual([503, 200])
    expect(modelCalls(model).at(-1)?.headers.authorization).toBe(bearer(issued(ctx).accessToken))
  })

  it('signs out: clears the store, logs the core out and revokes the refresh token', async () => {
    const ctx = await setup()
    await ctx.owner.signIn()
    const refreshToken = issued(ctx).refreshToken
    const model = await startModel()
    const core = await startCore(model)
    await ctx.owner.attach(await connectOwnerClient(core))
    const turns = await connectTurnClient(core)
    expect((await turns.request('account/read', {})).account).toMatchObject({ type: 'chatgpt' })

    await ctx.owner.signOut()

    expect(ctx.owner.summary()).toEqual({
      signedIn: false,
      email: null,
      planType: null,
      accountId: null,
      problem: null,
    })
    expect(ctx.store.load()).toBeNull()
    expect(ctx.conf.get(TOKEN_STORE_KEY)).toBeUndefined()
    expect((await turns.request('account/read', {})).account).toBeNull()
    expect(ctx.issuer.wasRevoked(refreshToken)).toBe(true)
    expect(ctx.reopen().summary().signedIn).toBe(false)
  })

  it('shows a core’s refusal of the sign-in (a forced workspace) as the problem', async () => {
    const ctx = await setup()
    await ctx.owner.signIn()
    const model = await startModel()
    const core = await startCore(model, { extraConfig: 'forced_chatgpt_workspace_id = "ws-other"' })
    await ctx.owner.attach(await connectOwnerClient(core))

    const summary = ctx.owner.summary()
    expect(summary.signedIn).toBe(true)
    expect(summary.problem).toMatch(/^The app server refused your ChatGPT sign-in: .*workspace/)
    expect(summary.problem).toContain('ws-other')
    expect(ctx.changes.at(-1)?.problem).toBe(summary.problem)
  })
})

describe('secrets', () => {
  it('never puts a token or authorization code in a log line, summary, change event or error', async () => {
    const ctx = await setup()
    ctx.issuer.failNextToken({ status: 400, error: 'invalid_grant', description: 'no', echoSecret: true })
    await ctx.caught(ctx.owner.signIn())
    await ctx.owner.signIn()
    const notJson = join(ctx.dir, 'broken.json')
    await writeFile(notJson, `{"tokens":{"refresh_token":"${issued(ctx).refreshToken}"`)
    await ctx.caught(ctx.owner.importSignIn(notJson))
    await ctx.owner.signOut()

    expect(ctx.logs.length).toBeGreaterThan(3)
    expect(ctx.changes.length).toBeGreaterThan(1)
    expect(ctx.errors).toHaveLength(2)
    expect(ctx.issuer.secrets().length).toBeGreaterThanOrEqual(5) // two codes and one token set
    expect(leaksIn(ctx)).toEqual([])
  })
})
