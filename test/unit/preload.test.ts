/**
 * The preload against main's real IPC handlers. Electron cannot run here, so `electron` is replaced
 * by a stand-in for contextBridge and ipcRenderer that carries calls, with structured cloning as
 * IPC does, to the real DesktopIpc (real Settings over a file in a temp dir) and port requests to a
 * real PortBroker; the window is an EventTarget. A channel name or argument shape that does not
 * match main's shows up as a failed call here.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'
import Conf from 'conf'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { DesktopIpc } from '../../src/main/desktopIpc'
import { IPC_EVENT } from '../../src/main/ipcChannels'
import type { IpcSender } from '../../src/main/ipcSchemas'
import {
  PORT_MESSAGE_TYPE,
  PORT_REQUEST_CHANNEL,
  PortBroker,
  receivePort,
  type MessageEventTarget,
} from '../../src/main/portHandoff'
import { Settings } from '../../src/main/settings'
import type { CoreStateView, DesktopBridge, SettingsView } from '../../src/renderer/bridge'
import { REPO_ROOT, makeTempDir } from '../support/appServerProcess'

type Listener = (event: { ports: MessagePort[] }, ...args: unknown[]) => void

const fake = vi.hoisted(() => {
  const listeners = new Map<string, Set<Listener>>()
  const state = {
    exposed: new Map<string, unknown>(),
    sent: [] as { channel: string; args: unknown[] }[],
    invoke: (async () => {
      throw new Error('no main process')
    }) as (channel: string, args: unknown[]) => Promise<unknown>,
    onSend: (() => {}) as (channel: string, args: unknown[]) => void,
    listeners,
    /** main → preload: `webContents.send` / `webContents.postMessage`. */
    emit(channel: string, payload: unknown, ports: MessagePort[] = []) {
      for (const listener of [...(listeners.get(channel) ?? [])]) listener({ ports }, payload)
    },
  }
  const module = {
    contextBridge: {
      exposeInMainWorld: (key: string, api: unknown) => void state.exposed.set(key, api),
    },
    ipcRenderer: {
      on(channel: string, listener: Listener) {
        let set = listeners.get(channel)
        if (!set) listeners.set(channel, (set = new Set()))
        set.add(listener)
      },
      removeListener(channel: string, listener: Listener) {
        listeners.get(channel)?.delete(listener)
      },
      send(channel: string, ...args: unknown[]) {
        state.sent.push({ channel, args })
        state.onSend(channel, structuredClone(args))
      },
      // IPC clones the arguments and the result.
      invoke: async (channel: string, ...args: unknown[]) =>
        structuredClone(await state.invoke(channel, structuredClone(args))),
    },
  }
  return { state, module }
})

vi.mock('electron', () => fake.module)

const RENDERER_URL = pathToFileURL('/opt/codex-desk/out/renderer/index.html').href
const SENDER: IpcSender = { webContentsId: 1, frameUrl: RENDERER_URL, isMainFrame: true }

/** The page's window: an EventTarget whose postMessage dispatches to itself, as a browser's does. */
class FakeWindow extends EventTarget {
  location = { protocol: 'file:', origin: 'file://' }
  readonly posted: { data: unknown; targetOrigin: string; ports: MessagePort[] }[] = []
  postMessage(data: unknown, targetOrigin: string, ports: MessagePort[] = []) {
    this.posted.push({ data, targetOrigin, ports })
    const event = Object.assign(new Event('message'), { data, source: this, ports })
    queueMicrotask(() => this.dispatchEvent(event))
  }
}

let temp: { path: string; remove(): Promise<void> }
let settings: Settings
let bridge: DesktopBridge
const win = new FakeWindow()
const openPorts: MessagePort[] = []

beforeAll(async () => {
  temp = await makeTempDir('codex-desk-preload-')
  settings = new Settings({
    store: new Conf<Record<string, unknown>>({ projectName: 'codex-desk-test', cwd: temp.path }),
    log: { warn: () => {} },
  })
  const core: CoreStateView = { kind: 'failed', generation: 2, reason: 'The core crashed 5 times in 60 s.' }
  const ipc = new DesktopIpc({
    trusted: { isAppWindow: (id) => id === SENDER.webContentsId, rendererUrl: RENDERER_URL },
    settings,
    listenerStatus: () => ({ url: null, error: 'The websocket listener could not start: EADDRINUSE' }),
    account: {
      summary: () => ({ signedIn: false, email: null, planType: null, accountId: null, problem: null }),
      signIn: async () => {
        throw new Error('Sign-in needs an OAuth client id.')
      },
      signOut: async () => undefined,
    },
    coreState: () => core,
    retryCore: () => {},
    openFile: async () => ({ ok: true }),
    copyText: () => {},
    appInfo: () => ({
      name: 'codex-desk',
      version: '0.1.0',
      platform: 'linux',
      electronVersion: '45.4.1',
      coreLogPath: '/logs/core.log',
      codexDeskHome: '/home/me/.codex-desk',
    }),
    confirmEditorCommand: async () => true,
    log: { warn: () => {} },
  })
  fake.state.invoke = (channel, args) => ipc.invoke(channel, SENDER, args)
  vi.stubGlobal('window', win)
  await import('../../src/main/preload/index')
  bridge = fake.state.exposed.get('codexDesk') as DesktopBridge
})

afterEach(() => {
  for (const port of openPorts.splice(0)) port.close()
  win.location = { protocol: 'file:', origin: 'file://' }
  fake.state.onSend = () => {}
})

afterAll(async () => {
  vi.unstubAllGlobals()
  settings.dispose()
  await temp.remove()
})

/** Value imports of a source file (type-only imports are erased from the bundle). */
const valueImports = (file: string) =>
  [...readFileSync(join(REPO_ROOT, file), 'utf8').matchAll(/^import\s+(type\s+)?[^'"]*?from\s+'([^']+)'/gm)]
    .filter((m) => !m[1])
    .map((m) => m[2])

describe('the preload', () => {
  it('imports electron and runtime-free modules only, so the sandboxed CommonJS bundle stays small', () => {
    expect(valueImports('src/main/preload/index.ts').sort()).toEqual([
      '../ipcChannels',
      '../portHandoff',
      'electron',
    ])
    expect(valueImports('src/main/ipcChannels.ts')).toEqual([])
    expect(valueImports('src/main/portHandoff.ts')).toEqual([])
  })

  it('exposes only window.codexDesk, with exactly the bridge functions', () => {
    expect([...fake.state.exposed.keys()]).toEqual(['codexDesk'])
    const shape = (value: unknown): unknown =>
      typeof value === 'function'
        ? 'function'
        : Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, shape(v)]))
    expect(shape(bridge)).toEqual({
      connect: 'function',
      openFile: 'function',
      copyText: 'function',
      chooseFolder: 'function',
      appInfo: 'function',
      attention: { notify: 'function', setBadgeCount: 'function', onOpenThread: 'function' },
      settings: { get: 'function', update: 'function', regenerateToken: 'function', onDidChange: 'function' },
      account: { summary: 'function', signIn: 'function', signOut: 'function', onDidChange: 'function' },
      core: { state: 'function', retry: 'function', onDidChangeState: 'function' },
    })
  })

  it("reaches main's handler for every call, with main's answers", async () => {
    const view = await bridge.settings.get()
    expect(view).toEqual({
      webSocketListener: { enabled: false, port: 0, allowedOrigins: [], url: null, error: null },
      capabilityToken: settings.get().capabilityToken,
      editorCommand: '',
      oauthClientId: '',
    } satisfies SettingsView)
    const updated = await bridge.settings.update({
      webSocketListener: { enabled: true, port: 4510 },
      editorCommand: 'code -g {path}:{line}:{column}',
    })
    expect(updated).toMatchObject({
      ok: true,
      settings: {
        webSocketListener: {
          enabled: true,
          port: 4510,
          error: 'The websocket listener could not start: EADDRINUSE',
        },
        editorCommand: 'code -g {path}:{line}:{column}',
      },
    })
    expect(await bridge.settings.update({ webSocketListener: { port: -1 } })).toMatchObject({
      ok: false,
      field: 'webSocketListener.port',
    })
    const regenerated = await bridge.settings.regenerateToken()
    expect(regenerated.capabilityToken).toBe(settings.get().capabilityToken)
    expect(regenerated.capabilityToken).not.toBe(view.capabilityToken)
    expect(await bridge.openFile({ path: '/x/config.toml', line: 3, column: 1 })).toEqual({ ok: true })
    expect(await bridge.openFile({ path: 'relative.toml', line: 0, column: 1 })).toEqual({
      ok: false,
      message: 'Cannot open the file: line must be a line number (an integer from 1).',
    })
    await expect(bridge.copyText('token')).resolves.toBeUndefined()
    expect(await bridge.appInfo()).toMatchObject({ name: 'codex-desk', coreLogPath: '/logs/core.log' })
    expect(await bridge.account.summary()).toMatchObject({ signedIn: false })
    expect(await bridge.account.signIn()).toEqual({ ok: false, message: 'Sign-in needs an OAuth client id.' })
    expect(await bridge.account.signOut()).toEqual({ ok: true })
    expect(await bridge.core.state()).toEqual({
      kind: 'failed',
      generation: 2,
      reason: 'The core crashed 5 times in 60 s.',
    })
    await expect(bridge.core.retry()).resolves.toBeUndefined()
  })

  it('hands each subscriber the payload only, until it unsubscribes', () => {
    const seen: unknown[] = []
    const offSettings = bridge.settings.onDidChange((value) => seen.push(['settings', value]))
    const offAccount = bridge.account.onDidChange((value) => seen.push(['account', value]))
    const offCore = bridge.core.onDidChangeState((value) => seen.push(['core', value]))
    fake.state.emit(IPC_EVENT.settingsChanged, { editorCommand: '' })
    fake.state.emit(IPC_EVENT.accountChanged, { signedIn: true })
    fake.state.emit(IPC_EVENT.coreStateChanged, { kind: 'running', generation: 4, pid: 9 })
    offSettings()
    offAccount()
    offCore()
    fake.state.emit(IPC_EVENT.settingsChanged, { editorCommand: 'late' })
    fake.state.emit(IPC_EVENT.coreStateChanged, { kind: 'stopped' })
    expect(seen).toEqual([
      ['settings', { editorCommand: '' }],
      ['account', { signedIn: true }],
      ['core', { kind: 'running', generation: 4, pid: 9 }],
    ])
    for (const channel of Object.values(IPC_EVENT))
      expect(fake.state.listeners.get(channel)?.size ?? 0).toBe(0)
  })

  it("relays main's port to the page, which accepts it for its nonce and talks over it", async () => {
    const broker = new PortBroker()
    let corePort: MessagePort | undefined
    // Main: a port request from the window gets one end of a channel; the other stands in for the core.
    fake.state.onSend = (channel, [nonce]) => {
      if (channel !== PORT_REQUEST_CHANNEL) return
      const decision = broker.request(1, nonce)
      if (!decision.ok) return
      const { port1, port2 } = new MessageChannel()
      corePort = port1
      openPorts.push(port1, port2)
      fake.state.emit(decision.channel, decision.message, [port2])
    }
    const port = await receivePort<MessagePort>(
      win as unknown as MessageEventTarget<MessagePort>,
      (nonce) => bridge.connect(nonce),
      {
        source: win,
        timeoutMs: 60_000,
      },
    )
    expect(win.posted.at(-1)?.targetOrigin).toBe('*')
    expect(fake.state.sent.at(-1)?.channel).toBe(PORT_REQUEST_CHANNEL)
    const received = new Promise((resolve) => port.once('message', resolve))
    corePort?.postMessage('{"method":"configWarning"}')
    expect(await received).toBe('{"method":"configWarning"}')
  })

  it("posts to the page's own origin when the page is served over http (the dev server)", () => {
    win.location = { protocol: 'http:', origin: 'http://localhost:5173' }
    const { port1, port2 } = new MessageChannel()
    openPorts.push(port1, port2)
    fake.state.emit(PORT_MESSAGE_TYPE, { nonce: 'n0nce-0123456789abcdef' }, [port2])
    expect(win.posted.at(-1)).toEqual({
      data: { type: PORT_MESSAGE_TYPE, nonce: 'n0nce-0123456789abcdef' },
      targetOrigin: 'http://localhost:5173',
      ports: [port2],
    })
  })

  it('relays nothing for a message without a valid nonce or with other than one port, and closes its ports', async () => {
    const before = win.posted.length
    const cases: [unknown, number][] = [
      [{ nonce: 'short' }, 1],
      [{}, 1],
      [null, 1],
      [{ nonce: 'n0nce-0123456789abcdef' }, 0],
      [{ nonce: 'n0nce-0123456789abcdef' }, 2],
    ]
    for (const [payload, count] of cases) {
      const channels = Array.from({ length: count }, () => new MessageChannel())
      const closed = channels.map(({ port1 }) => new Promise<void>((resolve) => port1.once('close', resolve)))
      for (const { port1, port2 } of channels) openPorts.push(port1, port2)
      fake.state.emit(
        PORT_MESSAGE_TYPE,
        payload,
        channels.map(({ port2 }) => port2),
      )
      await Promise.all(closed)
    }
    expect(win.posted.length).toBe(before)
  })
})
