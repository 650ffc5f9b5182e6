/**
 * The `desk` fixture: what `npm run serve` runs, one per test. It starts the scripted model server
 * (test/support/modelServer.ts) in the test process, writes a temp CODEX_DESK_HOME whose config.toml
 * points a provider at it, and spawns the built `bin/codex-desk.js app-server --listen
 * ws://127.0.0.1:0 --web-ui` with a temp project folder as its working directory (so a thread's cwd,
 * its commands and its patches all land there). It parses the two lines the command prints (the
 * listener URL, then the web UI URL with its token) and can SIGKILL and restart the core on the same
 * port and home, so an open page reconnects by itself.
 *
 * Everything it starts (cores, the model server, an optional static server for the dev-mode
 * `?ws=` page) is stopped and every temp folder removed after each test, even when the test fails;
 * a failing test gets the cores' stderr, the model requests and the page's console attached.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { StaticFiles } from '../src/worker/transport/staticFiles'
import { test as base, type Page, type TestInfo } from 'playwright/test'
import { startModelServer, type ModelServer } from '../test/support/modelServer'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
export const rendererDir = join(repoRoot, 'out', 'renderer')
const cliBin = join(repoRoot, 'bin', 'codex-desk.js')
const cliBundle = join(repoRoot, 'out', 'main', 'cli.js')

/** Generous for a cold start on a loaded CI box; normally both lines are printed well within a second. */
const STARTUP_TIMEOUT_MS = 15_000
const LISTENING = /^codex-desk app-server listening on (ws:\/\/127\.0\.0\.1:(\d+))$/
const WEB_UI = /^codex-desk web UI: (http:\/\/127\.0\.0\.1:(\d+)\/#token=(\S+))$/

export interface AppServer {
  /** The `ws://127.0.0.1:PORT` URL the server printed. */
  readonly url: string
  readonly port: number
  readonly process: ChildProcess
  /** Everything the server wrote to stdout / stderr so far. */
  stdout(): string
  stderr(): string
  /** Kills the process (SIGKILL by default: a crash, not a graceful shutdown) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

export interface WebUiServer extends AppServer {
  /** `http://127.0.0.1:PORT/#token=TOKEN`, the second line the command printed. */
  readonly uiUrl: string
  readonly token: string
}

export interface StartOptions {
  /** Values for `--ws-allow-origin`. Default: none. */
  allowOrigins?: readonly string[]
}

export interface StaticRenderer {
  /** The static server's origin, e.g. http://127.0.0.1:41234. */
  readonly origin: string
  /** The renderer's page there, pointed at a websocket URL with `?ws=` (the dev mode), or at nothing. */
  pageUrl(wsUrl?: string): string
}

export interface Desk {
  /** The web UI URL the core printed, token included: what a user pastes into a browser. */
  readonly uiUrl: string
  /** `http://127.0.0.1:PORT`, the page's own origin. */
  readonly origin: string
  /** `ws://127.0.0.1:PORT`. */
  readonly wsUrl: string
  readonly token: string
  /** The scripted Responses server the core's `mock` provider points at. */
  readonly model: ModelServer
  /** CODEX_DESK_HOME; `configPath` is its config.toml. */
  readonly home: string
  readonly configPath: string
  /** The config.toml as written, for line numbers. */
  readonly configText: string
  /** The core's working directory: the cwd of every thread the UI starts. */
  readonly project: string
  /** The core now running. */
  core(): WebUiServer
  /**
   * SIGKILLs the core and starts a new one on the same port and home (same token), so an open page
   * reconnects by itself. Resolves once the new core prints its URLs.
   */
  restart(): Promise<WebUiServer>
  /** Starts one more core without `--web-ui` (its own temp home); disposed with the fixture. */
  startAppServer(options?: StartOptions): Promise<AppServer>
  /** Serves out/renderer from a separate static server (the dev setup); disposed with the fixture. */
  serveStatic(): Promise<StaticRenderer>
  /** Opens the web UI in `page` and waits until it is connected. */
  open(page: Page): Promise<void>
}

export interface DeskOptions {
  /**
   * TOML lines added to the generated config.toml after the top-level `model` keys and before the
   * `[model_providers.mock]` table: top-level keys such as `approval_policy`, or whole tables.
   */
  deskConfig: string
  /** The scripted provider's `stream_max_retries` (0 unless a test retries a broken stream). */
  deskStreamRetries: number
}

/** The config.toml that sends every turn to the scripted model server. */
export function modelConfig(modelUrl: string, extra: string, streamRetries = 0): string {
  return [
    '# written by e2e/fixtures.ts',
    'model = "e2e-model"',
    'model_provider = "mock"',
    ...(extra ? [extra] : []),
    '',
    '[model_providers.mock]',
    'name = "Scripted model"',
    `base_url = "${modelUrl}"`,
    'request_max_retries = 0',
    `stream_max_retries = ${streamRetries}`,
    // Tests hold a stream still (a stall) while they look at the page; never long enough for this.
    'stream_idle_timeout_ms = 60000',
    '',
  ].join('\n')
}

/** The built renderer on its own origin (the dev page with `?ws=`), served as `--web-ui` serves it. */
async function serveRenderer(): Promise<Server> {
  const files = await StaticFiles.open(rendererDir)
  const server = createServer((req, res) => {
    files.handle(req, res).catch(() => res.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  return server
}

interface SpawnOptions {
  home: string
  cwd: string
  listenPort: number
  webUi: boolean
  allowOrigins: readonly string[]
}

/**
 * Spawns the built CLI and waits for the lines it prints: the listener's URL, and with `--web-ui`
 * the UI URL right after it. Anything else on stdout before them breaks the interface and fails.
 */
async function spawnCore(options: SpawnOptions & { webUi: true }): Promise<WebUiServer>
async function spawnCore(options: SpawnOptions): Promise<AppServer>
async function spawnCore(options: SpawnOptions): Promise<AppServer | WebUiServer> {
  const args = [cliBin, 'app-server', '--listen', `ws://127.0.0.1:${options.listenPort}`]
  if (options.webUi) args.push('--web-ui')
  for (const origin of options.allowOrigins) args.push('--ws-allow-origin', origin)
  // stdin is ignored: the ws listener does not read it, and an inherited tty would tie it to ours.
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...process.env, CODEX_DESK_HOME: options.home, CODEX_DESK_LOG: 'info' },
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
  const expectedLines = options.webUi ? 2 : 1

  const lines = await new Promise<string[]>((resolve, reject) => {
    const fail = (why: string) => {
      cleanup()
      child.kill('SIGKILL')
      reject(
        new Error(`codex-desk ${args.slice(1).join(' ')}: ${why}\nstdout:\n${stdout}\nstderr:\n${stderr}`),
      )
    }
    const onData = () => {
      const complete = stdout.slice(0, stdout.lastIndexOf('\n') + 1)
      const printed = complete.split('\n').filter((line) => line !== '')
      if (printed.length < expectedLines) return
      if (printed.length > expectedLines)
        return fail(`printed ${printed.length} lines, expected ${expectedLines}`)
      cleanup()
      resolve(printed)
    }
    const onExit = (code: number | null, signal: string | null) => fail(`exited early (${code ?? signal})`)
    const onError = (error: Error) => fail(`failed to spawn: ${error.message}`)
    const timer = setTimeout(
      () => fail(`printed fewer than ${expectedLines} line(s) within ${STARTUP_TIMEOUT_MS} ms`),
      STARTUP_TIMEOUT_MS,
    )
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

  const listening = LISTENING.exec(lines[0] ?? '')
  if (!listening?.[1]) {
    child.kill('SIGKILL')
    throw new Error(`unexpected first line from codex-desk: ${JSON.stringify(lines[0])}`)
  }
  const server: AppServer = {
    url: listening[1],
    port: Number(listening[2]),
    process: child,
    stdout: () => stdout,
    stderr: () => stderr,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    },
  }
  if (!options.webUi) return server
  const webUi = WEB_UI.exec(lines[1] ?? '')
  if (!webUi?.[1] || !webUi[3] || Number(webUi[2]) !== server.port) {
    child.kill('SIGKILL')
    throw new Error(`unexpected second line from codex-desk --web-ui: ${JSON.stringify(lines[1])}`)
  }
  return { ...server, uiUrl: webUi[1], token: decodeURIComponent(webUi[3]) }
}

/** Stops a server gracefully, escalating to SIGKILL if it hangs (a hang must not stall teardown). */
async function stopServer(server: AppServer): Promise<void> {
  const timer = setTimeout(() => server.process.kill('SIGKILL'), 3_000)
  try {
    await server.kill('SIGTERM')
  } finally {
    clearTimeout(timer)
  }
}

async function attachLogs(
  testInfo: TestInfo,
  cores: readonly AppServer[],
  model: ModelServer | undefined,
): Promise<void> {
  for (const [i, core] of cores.entries()) {
    const body = `stdout:\n${core.stdout()}\nstderr:\n${core.stderr()}`
    await testInfo.attach(`core-${i}.log.txt`, { body, contentType: 'text/plain' })
  }
  if (model) {
    const requests = model.requests.map((r) => ({
      index: r.index,
      path: r.path,
      disconnectedByClient: r.disconnectedByClient,
      input: (r.body as { input?: unknown } | undefined)?.input,
    }))
    await testInfo.attach('model-requests.json', {
      body: JSON.stringify(requests, null, 2),
      contentType: 'application/json',
    })
  }
}

export const test = base.extend<DeskOptions & { desk: Desk }>({
  deskConfig: ['', { option: true }],
  deskStreamRetries: [0, { option: true }],
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
  desk: async ({ deskConfig, deskStreamRetries }, use, testInfo) => {
    if (!existsSync(join(rendererDir, 'index.html')) || !existsSync(cliBundle)) {
      throw new Error('codex-desk is not built: run `npm run build` before `npx playwright test`.')
    }
    const tempRoot = await mkdtemp(join(tmpdir(), 'codex-desk-e2e-'))
    const cores: AppServer[] = []
    const staticServers: Server[] = []
    let model: ModelServer | undefined
    try {
      model = await startModelServer()
      const home = join(tempRoot, 'home')
      const project = join(tempRoot, 'project')
      await mkdir(home)
      await mkdir(project)
      const configPath = join(home, 'config.toml')
      const configText = modelConfig(model.url, deskConfig, deskStreamRetries)
      await writeFile(configPath, configText)

      let current = await spawnCore({ home, cwd: project, listenPort: 0, webUi: true, allowOrigins: [] })
      cores.push(current)
      const first = current
      const desk: Desk = {
        uiUrl: first.uiUrl,
        origin: `http://127.0.0.1:${first.port}`,
        wsUrl: first.url,
        token: first.token,
        model,
        home,
        configPath,
        configText,
        project,
        core: () => current,
        async restart() {
          await current.kill('SIGKILL')
          const next = await spawnCore({
            home,
            cwd: project,
            listenPort: first.port,
            webUi: true,
            allowOrigins: [],
          })
          cores.push(next)
          current = next
          // The open page keeps the token it was given; a new one would lock it out.
          if (next.uiUrl !== first.uiUrl) {
            throw new Error(`the restarted core printed ${next.uiUrl}, not ${first.uiUrl}`)
          }
          return next
        },
        async startAppServer(options = {}) {
          const otherHome = await mkdtemp(join(tempRoot, 'home-'))
          const server = await spawnCore({
            home: otherHome,
            cwd: project,
            listenPort: 0,
            webUi: false,
            allowOrigins: options.allowOrigins ?? [],
          })
          cores.push(server)
          return server
        },
        async serveStatic() {
          const server = await serveRenderer()
          staticServers.push(server)
          const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
          return {
            origin,
            pageUrl: (wsUrl) => `${origin}/index.html${wsUrl ? `?ws=${encodeURIComponent(wsUrl)}` : ''}`,
          }
        },
        async open(page) {
          await page.goto(first.uiUrl)
          await base
            .expect(page.getByRole('status', { name: 'Connection' }))
            .toHaveAttribute('data-state', 'connected')
        },
      }
      await use(desk)
    } finally {
      if (testInfo.status !== testInfo.expectedStatus) await attachLogs(testInfo, cores, model)
      await Promise.all(cores.map(stopServer))
      for (const server of staticServers) {
        server.closeAllConnections()
        await new Promise<void>((resolve) => server.close(() => resolve()))
      }
      await model?.close()
      await rm(tempRoot, { recursive: true, force: true })
    }
  },
})

export { expect } from 'playwright/test'
