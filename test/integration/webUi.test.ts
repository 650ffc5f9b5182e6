import { request, type IncomingHttpHeaders } from 'node:http'
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { requestPath } from '../../src/worker/transport/staticFiles'
import {
  makeTempDir,
  runCli,
  spawnAppServer,
  waitForStdout,
  type AppServerProcess,
} from '../support/appServerProcess'
import { connectWebSocket, refusedUpgrade } from '../support/channels'
import { withTimeout } from '../support/testClient'

const INDEX_HTML = '<!doctype html><title>codex-desk fixture</title><script src="./assets/app.js"></script>\n'
const APP_JS = 'document.title = "fixture app"\n'
const WEB_UI_LINE = /^codex-desk web UI: (http:\/\/127\.0\.0\.1:(\d+)\/#token=([A-Za-z0-9_-]+))$/m

// <root>/ui is the served folder; <root>/package.json and <root>/secret.txt sit just outside it, so
// a traversal that got through would find something rather than a 404.
let root: { path: string; remove(): Promise<void> }
let uiDir: string

beforeAll(async () => {
  root = await makeTempDir('codex-desk-webui-')
  uiDir = join(root.path, 'ui')
  await mkdir(join(uiDir, 'assets'), { recursive: true })
  await writeFile(join(uiDir, 'index.html'), INDEX_HTML)
  await writeFile(join(uiDir, 'assets', 'app.js'), APP_JS)
  await writeFile(join(uiDir, 'assets', 'data.bin'), Buffer.from([0, 1, 2, 3]))
  await writeFile(join(uiDir, '.hidden'), 'not for browsers')
  await writeFile(join(root.path, 'package.json'), '{"name":"outside"}')
  await writeFile(join(root.path, 'secret.txt'), 'outside the web UI folder')
  await symlink(join(root.path, 'secret.txt'), join(uiDir, 'leak.txt'))
})
afterAll(async () => root.remove())

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

interface WebUiServer {
  proc: AppServerProcess
  wsUrl: string
  pageUrl: string
  port: number
  token: string
  origin: string
}

async function serveWebUi(
  options: { args?: string[]; home?: string; port?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<WebUiServer> {
  const listen = `ws://127.0.0.1:${options.port ?? 0}`
  const proc = await spawnAppServer(['--listen', listen, '--web-ui', ...(options.args ?? [])], {
    waitForUrl: true,
    env: { CODEX_DESK_WEB_UI_DIR: uiDir, ...options.env },
    ...(options.home ? { home: options.home } : {}),
  })
  cleanups.push(() => proc.dispose())
  const [, pageUrl, port, token] = (await waitForStdout(proc, WEB_UI_LINE)) as unknown as string[]
  return {
    proc,
    wsUrl: proc.url as string,
    pageUrl: pageUrl as string,
    port: Number(port),
    token: token as string,
    origin: `http://127.0.0.1:${port}`,
  }
}

interface HttpAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/** A raw HTTP request: the path goes out exactly as written (fetch would normalize `..` away). */
function http(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        )
      },
    )
    req.setTimeout(5_000, () => req.destroy(new Error(`GET ${path} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

const browserProtocols = (token: string) => ['codex-desk', `codex-desk.bearer.${token}`]

describe('web UI (--web-ui)', () => {
  it('prints the listening line and a URL carrying the token, and nothing else on stdout', async () => {
    const server = await serveWebUi()
    expect(server.wsUrl).toBe(`ws://127.0.0.1:${server.port}`)
    expect(server.token).toHaveLength(43) // 32 bytes, base64url without padding
    expect(server.proc.stdout()).toBe(
      `codex-desk app-server listening on ws://127.0.0.1:${server.port}\n` +
        `codex-desk web UI: http://127.0.0.1:${server.port}/#token=${server.token}\n`,
    )
    // The log line follows the stdout lines; give it a moment to arrive.
    await withTimeout(
      (async () => {
        while (!server.proc.stderr().includes('web UI ready')) await new Promise((r) => setTimeout(r, 20))
      })(),
      5_000,
      'the web UI log line',
    )
    expect(server.proc.stderr()).toContain(`web UI ready; open the URL printed on stdout`)
    expect(server.proc.stderr()).toContain(`url=http://127.0.0.1:${server.port}/ `)
    expect(server.proc.stderr()).not.toContain(server.token)
  })

  it('serves index.html at / and the assets with their content types and safety headers', async () => {
    const { port } = await serveWebUi()
    const index = await http(port, '/')
    expect(index.status).toBe(200)
    expect(index.body.toString()).toBe(INDEX_HTML)
    expect(index.headers).toMatchObject({
      'content-type': 'text/html; charset=utf-8',
      'content-length': String(Buffer.byteLength(INDEX_HTML)),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
      'content-security-policy': "frame-ancestors 'none'",
    })
    // The page's own query (the renderer reads ?ws=…) does not change what is served.
    expect((await http(port, '/?ws=ws%3A%2F%2F127.0.0.1%3A1')).body.toString()).toBe(INDEX_HTML)
    expect((await http(port, '/index.html')).body.toString()).toBe(INDEX_HTML)

    const app = await http(port, '/assets/app.js')
    expect(app.status).toBe(200)
    expect(app.body.toString()).toBe(APP_JS)
    expect(app.headers['content-type']).toBe('text/javascript; charset=utf-8')
    expect(app.headers['x-content-type-options']).toBe('nosniff')
    const data = await http(port, '/assets/data.bin')
    expect(data.headers['content-type']).toBe('application/octet-stream')
    expect([...data.body]).toEqual([0, 1, 2, 3])

    const head = await http(port, '/assets/app.js', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(APP_JS)))
    expect(head.body).toHaveLength(0)

    const revalidated = await http(port, '/assets/app.js', {
      headers: { 'if-none-match': app.headers.etag as string },
    })
    expect(revalidated.status).toBe(304)
    expect(revalidated.body).toHaveLength(0)

    const post = await http(port, '/', { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.allow).toBe('GET, HEAD')
  })

  it('answers 404 for unknown paths, folders and hidden files, and keeps the probes', async () => {
    const { port } = await serveWebUi()
    for (const path of ['/nope.js', '/assets/', '/assets', '/.hidden', '/assets/app.js/x']) {
      const answer = await http(port, path)
      expect({ path, status: answer.status }).toEqual({ path, status: 404 })
      expect(answer.headers['x-content-type-options']).toBe('nosniff')
    }
    expect((await http(port, '/readyz')).status).toBe(200)
    expect((await http(port, '/healthz')).status).toBe(200)
  })

  it('refuses paths that climb out of the folder, raw or encoded, and malformed escapes', async () => {
    const { port } = await serveWebUi()
    for (const path of [
      '/../package.json',
      '/assets/../../package.json',
      '/%2e%2e/package.json',
      '/%2E%2E/secret.txt',
      '/..%2fpackage.json',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%5csecret.txt',
      '/%00index.html',
      '/%zz',
      '/assets/%e0%a4%a',
    ]) {
      const answer = await http(port, path)
      expect({ path, status: answer.status }).toEqual({ path, status: 400 })
      expect(answer.body.toString()).toBe('bad request path')
    }
    // A symlink inside the folder that points outside it is not followed out.
    const leak = await http(port, '/leak.txt')
    expect(leak.status).toBe(404)
    expect(leak.body.toString()).not.toContain('outside')
  })

  it('refuses a foreign Origin with 403 and allows its own origin and localhost', async () => {
    const { port, wsUrl, token, origin } = await serveWebUi()
    const evil = { origin: 'http://evil.example' }
    expect((await http(port, '/', { headers: evil })).status).toBe(403)
    expect((await http(port, '/assets/app.js', { headers: { origin: 'http://127.0.0.1:1' } })).status).toBe(
      403,
    )
    expect(await refusedUpgrade(wsUrl, { headers: evil, protocols: browserProtocols(token) })).toEqual({
      status: 403,
      body: 'forbidden origin',
    })
    expect((await http(port, '/', { headers: { origin } })).status).toBe(200)
    for (const allowed of [origin, `http://localhost:${port}`]) {
      const { client, ws } = await connectWebSocket(wsUrl, {
        headers: { origin: allowed },
        protocols: browserProtocols(token),
      })
      cleanups.push(async () => ws.terminate())
      expect(ws.protocol).toBe('codex-desk')
      expect((await client.initialize('browser')).userAgent).toMatch(/^browser\//)
    }
  })

  it('still allows the origins given with --ws-allow-origin', async () => {
    const { port, wsUrl, token } = await serveWebUi({ args: ['--ws-allow-origin', 'http://127.0.0.1:5173'] })
    expect((await http(port, '/', { headers: { origin: 'http://127.0.0.1:5173' } })).status).toBe(200)
    const { client, ws } = await connectWebSocket(wsUrl, {
      headers: { origin: 'http://127.0.0.1:5173' },
      protocols: browserProtocols(token),
    })
    cleanups.push(async () => ws.terminate())
    await client.initialize('dev_server')
  })

  it('needs the token from the printed URL for a websocket, and never logs it', async () => {
    const { wsUrl, token, origin, proc } = await serveWebUi()
    expect(await refusedUpgrade(wsUrl, { headers: { origin } })).toEqual({
      status: 401,
      body: 'missing websocket bearer token',
    })
    expect(
      await refusedUpgrade(wsUrl, { headers: { origin }, protocols: browserProtocols(`${token}x`) }),
    ).toEqual({ status: 401, body: 'invalid websocket bearer token' })
    const { client, ws } = await connectWebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } })
    cleanups.push(async () => ws.terminate())
    const result = await client.initialize('external_tool')
    expect(result.codexHome).toBe(proc.home)
    await expect(client.request('thread/loaded/list', {})).resolves.toEqual({ data: [], nextCursor: null })
    expect(proc.stderr()).toContain('websocket upgrade refused')
    expect(proc.stderr()).not.toContain(token)
  })

  it('keeps its token in web-ui-token (mode 0600) and prints the same URL after a restart', async () => {
    const home = await makeTempDir()
    cleanups.push(() => home.remove())
    const first = await serveWebUi({ home: home.path })
    const file = join(home.path, 'web-ui-token')
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect((await readFile(file, 'utf8')).trim()).toBe(first.token)
    await first.proc.dispose()

    // Same home, same port: a page that kept its token reconnects.
    const second = await serveWebUi({ home: home.path, port: first.port })
    expect(second.pageUrl).toBe(first.pageUrl)
    const { client, ws } = await connectWebSocket(second.wsUrl, {
      headers: { origin: second.origin },
      protocols: browserProtocols(first.token),
    })
    cleanups.push(async () => ws.terminate())
    await client.initialize('browser')
    expect(second.proc.stderr()).not.toContain('created a web UI token')
  })

  it('uses the token from --ws-auth capability-token --ws-token-file instead of its own', async () => {
    const tokenFile = join(root.path, 'chosen-token')
    await writeFile(tokenFile, 'chosen-token_123\n')
    const server = await serveWebUi({
      args: ['--ws-auth', 'capability-token', '--ws-token-file', tokenFile],
    })
    expect(server.token).toBe('chosen-token_123')
    await expect(stat(join(server.proc.home, 'web-ui-token'))).rejects.toThrow(/ENOENT/)
    const { client, ws } = await connectWebSocket(server.wsUrl, {
      headers: { origin: server.origin },
      protocols: browserProtocols('chosen-token_123'),
    })
    cleanups.push(async () => ws.terminate())
    await client.initialize('browser')
  })

  it('refuses a token file whose token a browser could not send, without printing the token', async () => {
    const tokenFile = join(root.path, 'spaced-token')
    await writeFile(tokenFile, 'two words\n')
    const result = await runCli(
      [
        'app-server',
        '--listen',
        'ws://127.0.0.1:0',
        '--web-ui',
        '--ws-auth',
        'capability-token',
        '--ws-token-file',
        tokenFile,
      ],
      { CODEX_DESK_WEB_UI_DIR: uiDir },
    )
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(
      `error: --ws-token-file ${tokenFile} holds characters a browser cannot send in a websocket subprotocol ` +
        "(allowed: letters, digits and !#$%&'*+-.^_`|~)\n",
    )
  })

  it('does not allow its own origin or serve files without --web-ui', async () => {
    const proc = await spawnAppServer(['--listen', 'ws://127.0.0.1:0'], {
      waitForUrl: true,
      env: { CODEX_DESK_WEB_UI_DIR: uiDir },
    })
    cleanups.push(() => proc.dispose())
    const url = proc.url as string
    const port = Number(new URL(url).port)
    expect((await http(port, '/')).status).toBe(400)
    expect(await refusedUpgrade(url, { headers: { origin: `http://127.0.0.1:${port}` } })).toEqual({
      status: 403,
      body: 'forbidden origin',
    })
    await new Promise((r) => setTimeout(r, 200))
    expect(proc.stdout()).toBe(`codex-desk app-server listening on ${url}\n`)
  })

  it('exits 1 naming the folder when the web UI is not built', async () => {
    const empty = join(root.path, 'not-built')
    await mkdir(empty, { recursive: true })
    const result = await runCli(['app-server', '--listen', 'ws://127.0.0.1:0', '--web-ui'], {
      CODEX_DESK_WEB_UI_DIR: empty,
    })
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(
      `error: the web UI is not built: run \`npm run build\` first (looked in ${empty})\n`,
    )
  })

  it('exits 1 naming the token file when it is empty or unreadable, and prints no URL', async () => {
    const home = await makeTempDir()
    cleanups.push(() => home.remove())
    const file = join(home.path, 'web-ui-token')
    await writeFile(file, '  \n', { mode: 0o600 })
    const args = ['app-server', '--listen', 'ws://127.0.0.1:0', '--web-ui']
    const env = { CODEX_DESK_WEB_UI_DIR: uiDir, CODEX_DESK_HOME: home.path }
    const empty = await runCli(args, env)
    expect(empty.code).toBe(1)
    expect(empty.stdout).toBe('')
    expect(empty.stderr).toBe(
      `error: the web UI token file ${file} is empty: delete it to have a new token generated, or put a token in it\n`,
    )
    expect(await readFile(file, 'utf8')).toBe('  \n')

    await writeFile(file, 'has spaces in it\n')
    const unsafe = await runCli(args, env)
    expect(unsafe.code).toBe(1)
    expect(unsafe.stderr).toContain(`the web UI token file ${file} holds characters a browser cannot send`)
    expect(unsafe.stderr).not.toContain('has spaces')

    await import('node:fs/promises').then((fs) => fs.rm(file))
    await mkdir(file)
    const unreadable = await runCli(args, env)
    expect(unreadable.code).toBe(1)
    expect(unreadable.stderr).toBe(`error: cannot read the web UI token file ${file}: EISDIR\n`)
  })

  it('exits 2 with a hint for --web-ui without a websocket listener or with auth it cannot use', async () => {
    for (const args of [['--web-ui'], ['--listen', 'off', '--web-ui'], ['--stdio', '--web-ui']]) {
      const result = await runCli(['app-server', ...args])
      expect(result.code).toBe(2)
      expect(result.stderr).toBe(
        'error: --web-ui serves the web UI on the websocket listener, so it needs --listen ws://IP:PORT, ' +
          'e.g. `codex-desk app-server --listen ws://127.0.0.1:4500 --web-ui`\n\n' +
          'Run `codex-desk --help` for usage.\n',
      )
    }
    const sha = await runCli([
      'app-server',
      '--listen',
      'ws://127.0.0.1:0',
      '--web-ui',
      '--ws-auth',
      'capability-token',
      '--ws-token-sha256',
      'a'.repeat(64),
    ])
    expect(sha.code).toBe(2)
    expect(sha.stderr).toContain('--web-ui prints a URL carrying the token, so it needs the token itself')
  })
})

describe('static request paths', () => {
  it('maps request targets to folder-relative paths and refuses the rest', () => {
    expect(requestPath('/')).toBe('')
    expect(requestPath('/?x=1#y')).toBe('')
    expect(requestPath('/assets/app.js?v=2')).toBe('assets/app.js')
    expect(requestPath('//assets//app.js')).toBe('assets/app.js')
    expect(requestPath('/a%20b.js')).toBe('a b.js')
    expect(requestPath('http://127.0.0.1/index.html')).toBeUndefined()
    expect(requestPath('*')).toBeUndefined()
    expect(requestPath('/./index.html')).toBeUndefined()
    expect(requestPath('/assets/..')).toBeUndefined()
    expect(requestPath('/%2e%2e')).toBeUndefined()
    expect(requestPath('/%')).toBeUndefined()
  })
})
