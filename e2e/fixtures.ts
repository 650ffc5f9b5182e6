/**
 * The `desk` fixture: serves the built renderer (out/renderer) over http://127.0.0.1:<port 0> and
 * spawns the built headless app-server (bin/codex-desk.js) on ws://127.0.0.1:0, each with its own
 * temp CODEX_DESK_HOME. Everything it starts is torn down after each test, even when the test fails;
 * a failing test gets the servers' stderr and the page's console attached.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test as base, type TestInfo } from 'playwright/test'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const rendererDir = join(repoRoot, 'out', 'renderer')
const cliBin = join(repoRoot, 'bin', 'codex-desk.js')
const cliBundle = join(repoRoot, 'out', 'main', 'cli.js')

/** Generous for a cold start on a loaded CI box; normally the URL is printed well within a second. */
const STARTUP_TIMEOUT_MS = 15_000
const LISTENING = /^codex-desk app-server listening on (ws:\/\/\S+)$/m

// Only what the renderer build emits (plus the obvious extras); anything else is a 404 so that a
// reference to an unexpected asset shows up as a failed request instead of being served blindly.
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
}

export interface AppServer {
  /** The `ws://127.0.0.1:PORT` URL the server printed. */
  readonly url: string
  readonly process: ChildProcess
  /** Everything the server wrote to stderr so far (its logs). */
  stderr(): string
  /** Kills the process (SIGKILL by default: a crash, not a graceful shutdown) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

export interface StartOptions {
  /** Values for `--ws-allow-origin`; defaults to the static server's origin. Pass [] for none. */
  allowOrigins?: readonly string[]
}

export interface Desk {
  /** The static server's origin, e.g. http://127.0.0.1:41234. */
  readonly origin: string
  /** An app-server started before the test that allows `origin`. */
  readonly server: AppServer
  /** Starts one more app-server; it is disposed with the fixture. */
  startAppServer(options?: StartOptions): Promise<AppServer>
  /** The renderer's URL pointed at the given websocket URL. */
  rendererUrl(wsUrl: string): string
}

async function serveRenderer(): Promise<Server> {
  const server = createServer((req, res) => {
    void (async () => {
      let pathname: string
      try {
        pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
      } catch {
        // A malformed escape such as `/%zz` would otherwise throw out of the handler and hang the request.
        res.writeHead(400).end()
        return
      }
      const relative = normalize(pathname === '/' ? '/index.html' : pathname)
      const file = join(rendererDir, relative)
      const type = CONTENT_TYPES[extname(file)]
      // normalize() resolves `..`, so anything still outside rendererDir is a traversal attempt.
      if ((req.method !== 'GET' && req.method !== 'HEAD') || !type || !file.startsWith(rendererDir + sep)) {
        res.writeHead(404).end()
        return
      }
      try {
        const body = await readFile(file)
        res.writeHead(200, {
          'content-type': type,
          'content-length': body.length,
          'cache-control': 'no-store',
        })
        res.end(req.method === 'HEAD' ? undefined : body)
      } catch {
        res.writeHead(404).end()
      }
    })()
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return server
}

async function spawnAppServer(tempRoot: string, allowOrigins: readonly string[]): Promise<AppServer> {
  // One home per process: two servers sharing a home would race on its files.
  const home = await mkdtemp(join(tempRoot, 'home-'))
  const args = [cliBin, 'app-server', '--listen', 'ws://127.0.0.1:0']
  for (const origin of allowOrigins) args.push('--ws-allow-origin', origin)
  // stdin is ignored: the ws listener does not read it, and an inherited tty would tie it to ours.
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, CODEX_DESK_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })

  const url = await new Promise<string>((resolve, reject) => {
    const fail = (why: string) => {
      cleanup()
      child.kill('SIGKILL')
      reject(new Error(`app-server ${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`))
    }
    const onData = () => {
      const match = LISTENING.exec(stdout)
      if (match?.[1]) {
        cleanup()
        resolve(match[1])
      }
    }
    const onExit = (code: number | null, signal: string | null) => fail(`exited early (${code ?? signal})`)
    const onError = (error: Error) => fail(`failed to spawn: ${error.message}`)
    const timer = setTimeout(() => fail(`printed no URL within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS)
    const cleanup = () => {
      clearTimeout(timer)
      child.stdout.off('data', onData)
      child.off('exit', onExit)
      child.off('error', onError)
    }
    child.stdout.on('data', onData)
    child.once('exit', onExit)
    child.once('error', onError)
  })

  return {
    url,
    process: child,
    stderr: () => stderr,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
}

/** Stops a server gracefully, escalating to SIGKILL if it hangs (a hang must not stall teardown). */
async function stopAppServer(server: AppServer): Promise<void> {
  const timer = setTimeout(() => server.process.kill('SIGKILL'), 3_000)
  try {
    await server.kill('SIGTERM')
  } finally {
    clearTimeout(timer)
  }
}

async function attachLogs(testInfo: TestInfo, servers: readonly AppServer[]): Promise<void> {
  for (const [i, server] of servers.entries()) {
    await testInfo.attach(`app-server-${i}.stderr.txt`, { body: server.stderr(), contentType: 'text/plain' })
  }
}

export const test = base.extend<{ desk: Desk }>({
  // Records what the page printed so a failure can be diagnosed from the report; Chromium logs, for
  // instance, the HTTP status of a refused websocket upgrade, which the page itself never sees.
  page: async ({ page }, use, testInfo) => {
    const lines: string[] = []
    const started = performance.now()
    const stamp = () => `${((performance.now() - started) / 1000).toFixed(3)}s`
    page.on('console', (message) => lines.push(`${stamp()} [${message.type()}] ${message.text()}`))
    page.on('pageerror', (error) => lines.push(`${stamp()} [pageerror] ${error.stack ?? error.message}`))
    await use(page)
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('page-console.txt', { body: lines.join('\n'), contentType: 'text/plain' })
    }
  },
  // Playwright reads fixture dependencies from the destructuring pattern, so `{}` is required here.
  // eslint-disable-next-line no-empty-pattern
  desk: async ({}, use, testInfo) => {
    if (!existsSync(join(rendererDir, 'index.html')) || !existsSync(cliBundle)) {
      throw new Error('codex-desk is not built: run `npm run build` before `npx playwright test`.')
    }
    const tempRoot = await mkdtemp(join(tmpdir(), 'codex-desk-e2e-'))
    const servers: AppServer[] = []
    let staticServer: Server | undefined
    try {
      staticServer = await serveRenderer()
      const origin = `http://127.0.0.1:${(staticServer.address() as AddressInfo).port}`
      const startAppServer = async (options: StartOptions = {}) => {
        const server = await spawnAppServer(tempRoot, options.allowOrigins ?? [origin])
        servers.push(server)
        return server
      }
      const server = await startAppServer()
      await use({
        origin,
        server,
        startAppServer,
        rendererUrl: (wsUrl) => `${origin}/index.html?ws=${encodeURIComponent(wsUrl)}`,
      })
    } finally {
      if (testInfo.status !== testInfo.expectedStatus) await attachLogs(testInfo, servers)
      await Promise.all(servers.map(stopAppServer))
      staticServer?.closeAllConnections()
      await new Promise<void>((resolve) => (staticServer ? staticServer.close(() => resolve()) : resolve()))
      await rm(tempRoot, { recursive: true, force: true })
    }
  },
})

export { expect } from 'playwright/test'
