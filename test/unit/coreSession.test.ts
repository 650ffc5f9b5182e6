/**
 * The CoreController with everything real but Electron: the production WorkerHost supervising the
 * real core entry (src/worker/index.ts) in worker threads (Node's stand-in for the utility
 * process: same parent-port messages, real MessagePorts), Settings over a file in a temp dir, a
 * real TokenOwner signed in with tokens from the scripted OAuth issuer, real websocket clients
 * against the listener, and crashes made by terminating the thread from outside.
 */
import { writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { MessageChannel, Worker, type MessagePort, type TransferListItem } from 'node:worker_threads'
import Conf from 'conf'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { parseOAuthSettings } from '../../src/main/auth/settings'
import type { TokenOwner } from '../../src/main/auth/tokenOwner'
import { CoreController, type CorePorts, type ListenerStatus } from '../../src/main/coreSession'
import { createNonce } from '../../src/main/portHandoff'
import { Settings } from '../../src/main/settings'
import { WorkerHost, type SupervisedProcess } from '../../src/main/workerHost'
import type { CoreStateView } from '../../src/renderer/bridge'
import { fromNodePort, type DataEmitterLike } from '../../src/worker/transport/port'
import { REPO_ROOT, makeTempDir } from '../support/appServerProcess'
import { portChannel } from '../support/channels'
import { quietTokenOwner } from '../support/tokenOwner'
import { startOAuthIssuer, type ScriptedIssuer } from '../support/oauthIssuer'
import { TestClient, withTimeout } from '../support/testClient'

const CORE_ENTRY = join(REPO_ROOT, 'test/support/fixtures/coreWorker.mjs')
const WAIT_MS = 60_000
const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A worker thread as the WorkerHost's SupervisedProcess (what fromUtilityProcess is in the app). */
function threadProcess(worker: Worker): SupervisedProcess {
  const threadId = worker.threadId
  let exited = false
  worker.on('error', () => {}) // an uncaught error in the core ends the thread: an exit the host sees
  worker.once('exit', () => (exited = true))
  return {
    pid: threadId,
    stdout: worker.stdout,
    stderr: worker.stderr,
    postMessage: (message, transfer) => worker.postMessage(message, transfer as TransferListItem[]),
    kill() {
      if (!exited) void worker.terminate()
    },
    onSpawn(listener) {
      worker.on('online', listener)
      return { dispose: () => worker.off('online', listener) }
    },
    onExit(listener) {
      const onExit = (code: number) => listener(code, null)
      worker.on('exit', onExit)
      return { dispose: () => worker.off('exit', onExit) }
    },
  }
}

/** Node puts a transferred port inside the message (the core accepts both conventions). */
const nodePorts: CorePorts = {
  open(proc, message) {
    const { port1, port2 } = new MessageChannel()
    proc.postMessage({ ...message, port: port1 }, [port1])
    return fromNodePort(port2 as unknown as DataEmitterLike)
  },
}

interface Desk {
  host: WorkerHost
  controller: CoreController
  settings: Settings
  states: CoreStateView[]
  listener: ListenerStatus[]
  workers: Worker[]
  logs: string[]
  /** A window's connection: port hand-off, then initialize. */
  window(sender?: number): Promise<TestClient>
  /** What the core entry the next launch runs (the real core by default). */
  entry: { path: string }
}

async function until<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
): Promise<T> {
  return withTimeout(
    (async () => {
      for (;;) {
        const value = await probe()
        if (value) return value
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })(),
    WAIT_MS,
    what,
  )
}

/** account/read until the token owner has logged this core in (it does so right after main's initialize). */
async function signedInAccount(client: TestClient) {
  return until(async () => (await client.request('account/read', {})).account, 'the core to be signed in')
}

async function startDesk(options: { owner?: TokenOwner; maxCrashes?: number; start?: boolean } = {}) {
  const temp = await makeTempDir('codex-desk-core-session-')
  cleanups.push(() => temp.remove())
  const settings = new Settings({
    store: new Conf<Record<string, unknown>>({ projectName: 'codex-desk-test', cwd: temp.path }),
    log: { warn: () => {} },
  })
  cleanups.push(() => settings.dispose())
  const workers: Worker[] = []
  const logs: string[] = []
  const log = {
    info: (_f: object, m: string) => void logs.push(`info: ${m}`),
    warn: (_f: object, m: string) => void logs.push(`warn: ${m}`),
    error: (_f: object, m: string) => void logs.push(`error: ${m}`),
  }
  const entry = { path: CORE_ENTRY }
  const host: WorkerHost = new WorkerHost({
    launch: ({ env }) => {
      const worker = new Worker(entry.path, { env, stdout: true, stderr: true })
      workers.push(worker)
      return threadProcess(worker)
    },
    requestShutdown: (proc) => controller.requestShutdown(proc),
    logDir: join(temp.path, 'logs'),
    extraEnv: { CODEX_DESK_HOME: join(temp.path, 'home'), CODEX_DESK_LOG: 'warn' },
    backoff: { initialMs: 50, maxMs: 100, jitter: 0 },
    crashLoop: { maxCrashes: options.maxCrashes ?? 5, windowMs: 60_000 },
    logger: log,
  })
  const controller: CoreController = new CoreController({
    host,
    ports: nodePorts,
    settings,
    ...(options.owner ? { account: options.owner } : {}),
    clientInfo: { name: 'codex_desk', title: 'codex-desk', version: '0.0.0-test' },
    log,
    callTimeoutMs: 5000,
  })
  cleanups.push(async () => {
    controller.dispose()
    await host.dispose()
  })
  const states: CoreStateView[] = []
  const listener: ListenerStatus[] = []
  controller.onDidChangeState((state) => states.push(state))
  controller.onDidChangeListener((status) => listener.push(status))
  let nextSender = 100
  const desk: Desk = {
    host,
    controller,
    settings,
    states,
    listener,
    workers,
    logs,
    entry,
    async window(sender = nextSender++) {
      const result = await controller.openWindowPort(sender, createNonce())
      if (!result.ok) throw new Error(`no port: ${result.reason}`)
      const client = new TestClient(portChannel(result.port.raw as MessagePort))
      cleanups.push(() => {
        if (!client.closed) client.channel.close()
      })
      await client.initialize('codex_desk_ui')
      return client
    },
  }
  if (options.start !== false) await host.start()
  return desk
}

/** A websocket handshake: 'open', the HTTP status of a refused upgrade, or 'unreachable'. */
function handshake(url: string, token?: string): Promise<'open' | number | 'unreachable'> {
  return withTimeout(
    new Promise((resolve) => {
      const ws = new WebSocket(url, token ? { headers: { Authorization: `Bearer ${token}` } } : {})
      ws.on('open', () => {
        ws.close()
        resolve('open')
      })
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0)
        ws.terminate()
      })
      ws.on('error', () => resolve('unreachable'))
    }),
    WAIT_MS,
    `a handshake with ${url}`,
  )
}

async function signedInOwner(): Promise<{ owner: TokenOwner; issuer: ScriptedIssuer }> {
  const issuer = await startOAuthIssuer()
  cleanups.push(() => issuer.close())
  const temp = await makeTempDir('codex-desk-owner-')
  cleanups.push(() => temp.remove())
  const owner = quietTokenOwner(
    temp.path,
    parseOAuthSettings({ issuer: issuer.url, clientId: issuer.clientId }),
  )
  cleanups.push(() => owner.dispose())
  const minted = await issuer.mint()
  const file = join(temp.path, 'auth.json')
  await writeFile(
    file,
    JSON.stringify({
      tokens: {
        id_token: minted.idToken,
        access_token: minted.accessToken,
        refresh_token: minted.refreshToken,
        account_id: 'acct-test-1',
      },
    }),
  )
  await owner.importSignIn(file)
  return { owner, issuer }
}

describe('CoreController', () => {
  it("hands a window a port to the running core, after main's own connection fixed the originator", async () => {
    const desk = await startDesk()
    const client = await desk.window(1)
    // The first initialize in the core fixes the originator: main's, not the window's.
    const init = client.received.find((m) => m.id !== undefined && m.result !== undefined)
    expect((init?.result as { userAgent: string }).userAgent).toMatch(
      /^codex_desk\/0\.169\.0 .*\(codex_desk_ui; 0\.0\.1\) codex-desk\/0\.1\.0$/,
    )
    const { data } = await client.request('thread/list', {})
    expect(data).toEqual([])
    expect(desk.states).toEqual([
      { kind: 'starting', generation: 1 },
      { kind: 'running', generation: 1, pid: desk.workers[0]?.threadId },
    ])
    expect(desk.controller.state).toEqual(desk.states.at(-1))
  })

  it('refuses a replayed nonce and a window that asks too often', async () => {
    const desk = await startDesk()
    const nonce = createNonce()
    const first = await desk.controller.openWindowPort(5, nonce)
    expect(first.ok).toBe(true)
    if (first.ok) first.port.close()
    expect(await desk.controller.openWindowPort(6, nonce)).toEqual({ ok: false, reason: 'replayed nonce' })
    expect(await desk.controller.openWindowPort(6, 'short')).toEqual({ ok: false, reason: 'invalid nonce' })
    // The broker decides synchronously, so eleven requests in one tick are eleven in one second.
    const results = await Promise.all(
      Array.from({ length: 11 }, () => desk.controller.openWindowPort(7, createNonce())),
    )
    for (const result of results) if (result.ok) result.port.close()
    expect(results.filter((r) => r.ok)).toHaveLength(10)
    expect(results[10]).toEqual({ ok: false, reason: 'rate limited' })
    // Another window is not held back by this one.
    const other = await desk.controller.openWindowPort(8, createNonce())
    expect(other.ok).toBe(true)
    if (other.ok) other.port.close()
  })

  it('runs the websocket listener as the settings say: off, on with the token, restarted, off again', async () => {
    const desk = await startDesk()
    expect(desk.controller.listenerStatus).toEqual({ url: null, error: null })

    desk.settings.update({ webSocketListener: { enabled: true } })
    const { url } = await until(
      () => (desk.controller.listenerStatus.url ? desk.controller.listenerStatus : undefined),
      'url',
    )
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/)
    const token = desk.settings.get().capabilityToken
    expect(await handshake(url!, token)).toBe('open')
    expect(await handshake(url!)).toBe(401)
    expect(await handshake(url!, 'not-the-token')).toBe(401)

    // A new token restarts the listener with it: the old one no longer opens anything.
    const fresh = desk.settings.regenerateToken()
    const restarted = await until(async () => {
      const current = desk.controller.listenerStatus.url
      return current && (await handshake(current, fresh)) === 'open' ? current : undefined
    }, 'the listener to take the new token')
    expect(await handshake(restarted, token)).toBe(401)

    desk.settings.update({ webSocketListener: { enabled: false } })
    await until(() => desk.controller.listenerStatus.url === null, 'the listener to stop')
    expect(await handshake(restarted, fresh)).toBe('unreachable')
    expect(desk.logs).toContain('info: websocket listener stopped')
  })

  it("shows a taken port as the listener's error, and recovers on a free one", async () => {
    const blocker: Server = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
    const taken = (blocker.address() as { port: number }).port
    const desk = await startDesk()

    desk.settings.update({ webSocketListener: { enabled: true, port: taken } })
    const failed = await until(
      () => (desk.controller.listenerStatus.error ? desk.controller.listenerStatus : undefined),
      'error',
    )
    expect(failed.url).toBeNull()
    expect(failed.error).toMatch(/^The websocket listener could not start: .*EADDRINUSE/)

    desk.settings.update({ webSocketListener: { port: 0 } })
    const ok = await until(
      () => (desk.controller.listenerStatus.url ? desk.controller.listenerStatus : undefined),
      'url',
    )
    expect(ok.error).toBeNull()
    expect(await handshake(ok.url!, desk.settings.get().capabilityToken)).toBe('open')
  })

  it('after a crash: a new generation, the listener back, and the new core signed in by the token owner', async () => {
    const { owner } = await signedInOwner()
    const desk = await startDesk({ owner })
    desk.settings.update({ webSocketListener: { enabled: true } })
    await until(() => desk.controller.listenerStatus.url, 'the first listener')

    const first = await desk.window()
    expect(await signedInAccount(first)).toMatchObject({ type: 'chatgpt', email: 'ada@example.com' })

    const crashed = desk.workers[0]!
    const firstThread = crashed.threadId
    await crashed.terminate()
    await until(
      () => desk.controller.state.kind === 'running' && desk.controller.state.generation === 2,
      'restart',
    )
    expect(desk.states.map((s) => s.kind)).toEqual([
      'starting',
      'running',
      'restarting',
      'starting',
      'running',
    ])
    expect(desk.states[2]).toEqual({
      kind: 'restarting',
      generation: 1,
      attempt: 1,
      delayMs: 50,
      reason: 'The core exited with code 1',
    })
    expect(desk.states.at(-1)).toEqual({ kind: 'running', generation: 2, pid: desk.workers[1]?.threadId })
    expect(desk.workers[1]?.threadId).not.toBe(firstThread)
    // The first window's connection died with its core.
    await until(() => first.closed, 'the old connection to close')

    const url = await until(() => desk.controller.listenerStatus.url, 'the listener after the restart')
    expect(await handshake(url, desk.settings.get().capabilityToken)).toBe('open')

    const second = await desk.window()
    expect(await signedInAccount(second)).toMatchObject({ type: 'chatgpt', email: 'ada@example.com' })
  })

  it('after the host gives up, windows get no port; retry starts a new generation', async () => {
    const temp = await makeTempDir('codex-desk-broken-core-')
    cleanups.push(() => temp.remove())
    const broken = join(temp.path, 'broken.mjs')
    await writeFile(broken, "process.stderr.write('cannot start: broken build\\n')\nprocess.exit(3)\n")
    const desk = await startDesk({ maxCrashes: 2, start: false })
    desk.entry.path = broken
    // The thread comes up (spawn) before the script exits, so the start itself succeeds.
    await desk.host.start()
    await until(() => desk.controller.state.kind === 'failed', 'the host to give up')
    const failed = desk.controller.state
    expect(failed).toMatchObject({ kind: 'failed', generation: 2 })
    expect(failed.kind === 'failed' && failed.reason).toMatch(
      /^The codex-desk core crashed 2 times in 60 s; last exit code 3\. See /,
    )
    const started = Date.now()
    expect(await desk.controller.openWindowPort(1, createNonce())).toEqual({
      ok: false,
      reason: 'the core is not running (failed)',
    })
    // At once: well under the 5 s call timeout this desk is given, which a wait would reach.
    expect(Date.now() - started).toBeLessThan(2_500)

    desk.entry.path = CORE_ENTRY
    desk.controller.retry()
    await until(() => desk.controller.state.kind === 'running', 'the retried core')
    expect(desk.controller.state).toMatchObject({ kind: 'running', generation: 3 })
    const client = await desk.window()
    expect((await client.request('thread/list', {})).data).toEqual([])
    // Retry is for a core that is not running: a running one is left alone.
    desk.controller.retry()
    expect(desk.controller.state).toMatchObject({ kind: 'running', generation: 3 })
  })

  it('a window that asks while the core is still starting gets its port once the core is up', async () => {
    const desk = await startDesk({ start: false })
    const starting = desk.host.start()
    const client = await desk.window()
    await starting
    expect((await client.request('thread/list', {})).data).toEqual([])
  })

  it('quitting asks the core to shut down over the control port, and nothing restarts it', async () => {
    const desk = await startDesk()
    desk.settings.update({ webSocketListener: { enabled: true } })
    await until(() => desk.controller.listenerStatus.url, 'the listener')
    const client = await desk.window()
    const exits: boolean[] = []
    desk.host.onDidExit((exit) => exits.push(exit.requested))

    // A core in a worker thread closes everything on shutdown but, unlike the utility process,
    // does not exit the thread itself; the host's kill after the timeout ends it.
    await desk.controller.shutdown(1000)

    // The core closed the window's connection itself: a close frame, not a dead port.
    await until(() => client.closed, 'the window connection to close')
    expect(client.closed).toEqual({ code: 1001, reason: 'server shutting down' })
    expect(exits).toEqual([true])
    expect(desk.controller.state).toEqual({ kind: 'stopped' })
    expect(desk.controller.listenerStatus).toEqual({ url: null, error: null })
    desk.controller.retry()
    expect(desk.controller.state).toEqual({ kind: 'stopped' })
    expect(await desk.controller.openWindowPort(1, createNonce())).toEqual({
      ok: false,
      reason: 'the core is not running (stopped)',
    })
  })
})
