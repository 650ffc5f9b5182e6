/**
 * A real core (the CLI, spawned) wired to a scripted model server, with helpers to start threads
 * and run turns. `stdio` gives one client over the child's pipes; `ws` listens on 127.0.0.1 and
 * hands out as many websocket clients as a test needs.
 */
import { afterEach } from 'vitest'
import type { ResultOf } from '../../src/worker/protocol/registry'
import { makeTempDir, spawnAppServer, type AppServerProcess } from './appServerProcess'
import { connectWebSocket } from './channels'
import { startModelServer, type ModelServer } from './modelServer'
import type { ServerMessage, TestClient } from './testClient'

export type TransportKind = 'stdio' | 'ws'

export interface Harness {
  model: ModelServer
  proc: AppServerProcess
  transport: TransportKind
  /** An initialized client (stdio: the one pipe client; ws: a new connection each call). */
  connect(name?: string, capabilities?: { experimentalApi?: boolean }): Promise<TestClient>
  dispose(): Promise<void>
}

export interface HarnessOptions {
  /** Extra TOML appended to the generated config. */
  config?: string
  env?: NodeJS.ProcessEnv
  files?: Record<string, string>
  /** Reuse a home (a restart): its config is kept as is. */
  home?: string
}

export function modelConfig(url: string, extra = ''): string {
  return [
    'model = "test-model"',
    'model_provider = "mock"',
    extra,
    '[model_providers.mock]',
    'name = "Mock"',
    `base_url = "${url}"`,
    'request_max_retries = 2',
    'stream_max_retries = 1',
    'stream_idle_timeout_ms = 10000',
    '',
  ].join('\n')
}

export async function startHarness(transport: TransportKind, options: HarnessOptions = {}): Promise<Harness> {
  const model = await startModelServer()
  const args = transport === 'ws' ? ['--listen', 'ws://127.0.0.1:0'] : []
  let proc: AppServerProcess
  try {
    proc = await spawnAppServer(args, {
      waitForUrl: transport === 'ws',
      env: { CODEX_DESK_LOG: 'warn', ...options.env },
      files: { 'config.toml': modelConfig(model.url, options.config), ...options.files },
      ...(options.home ? { home: options.home } : {}),
    })
  } catch (error) {
    await model.close()
    throw error
  }
  const clients: TestClient[] = []
  let stdioUsed = false
  return {
    model,
    proc,
    transport,
    async connect(name = 'test_client', capabilities) {
      let client: TestClient
      if (transport === 'stdio') {
        if (stdioUsed) throw new Error('stdio has one client')
        stdioUsed = true
        client = proc.stdioClient()
      } else {
        client = (await connectWebSocket(proc.url as string)).client
      }
      clients.push(client)
      await client.initialize(name, capabilities)
      return client
    },
    async dispose() {
      for (const client of clients) client.close()
      await proc.dispose()
      await model.close()
    },
  }
}

export async function startThread(
  client: TestClient,
  params: Record<string, unknown> = {},
): Promise<ResultOf<'thread/start'>> {
  return client.request('thread/start', params as never)
}

/** Starts a turn with one text input and waits for its turn/completed. */
export async function runTurn(
  client: TestClient,
  threadId: string,
  text: string,
): Promise<{ turnId: string; completed: ServerMessage }> {
  const { turn } = await client.request('turn/start', { threadId, input: [{ type: 'text', text }] })
  const completed = await client.waitForNotification(
    'turn/completed',
    (p) => (p as { turn: { id: string } }).turn.id === turn.id,
  )
  return { turnId: turn.id, completed }
}

/** The methods a client received for one thread, in order (responses excluded). */
export function methodsFor(client: TestClient, threadId: string): string[] {
  return client.received
    .filter((m) => m.method !== undefined && m.id === undefined)
    .filter((m) => {
      const p = m.params as { threadId?: string; thread?: { id: string } } | undefined
      return p?.threadId === threadId || p?.thread?.id === threadId
    })
    .map((m) => m.method as string)
}

/**
 * The harnesses and temp homes of one test file, disposed after each test, so a file does not
 * repeat the bookkeeping:
 *
 *   const { harness, disposeAfter, removeAfter } = harnessesPerTest()
 *   const h = await harness('ws', { config: '...' })
 */
export function harnessesPerTest(): {
  harness(transport: TransportKind, options?: HarnessOptions): Promise<Harness>
  /** A harness in a home of the test's own, and `restart()`: a new process (and model server) on it. */
  restartable(
    transport: TransportKind,
    options?: HarnessOptions,
  ): Promise<{ home: string; first: Harness; restart(): Promise<Harness> }>
  disposeAfter<T extends { dispose(): Promise<void> }>(h: T): T
  removeAfter<T extends { remove(): Promise<void> }>(home: T): T
} {
  const harnesses: { dispose(): Promise<void> }[] = []
  const homes: { remove(): Promise<void> }[] = []
  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.dispose()
    for (const home of homes.splice(0)) await home.remove()
  })
  const harness = async (transport: TransportKind, options: HarnessOptions = {}): Promise<Harness> => {
    const h = await startHarness(transport, options)
    harnesses.push(h)
    return h
  }
  return {
    harness,
    async restartable(transport, options = {}) {
      const home = await makeTempDir()
      homes.push(home)
      let current = await harness(transport, { ...options, home: home.path })
      return {
        home: home.path,
        first: current,
        async restart() {
          harnesses.splice(harnesses.indexOf(current), 1)
          await current.dispose()
          current = await harness(transport, { ...options, home: home.path })
          return current
        },
      }
    },
    disposeAfter(h) {
      harnesses.push(h)
      return h
    },
    removeAfter(home) {
      homes.push(home)
      return home
    },
  }
}
