/**
 * The main process entry (src/main/index.ts) as wired, with Electron replaced by a stand-in, since
 * the binary cannot run here: `utilityProcess.fork` starts the real core in a worker thread,
 * MessageChannelMain is a real MessageChannel, electron-store is `conf` in a temp dir, and
 * safeStorage a real AES cipher. What the stand-in cannot tell is whether Electron behaves as
 * assumed (e2e/electron.spec.ts does, where Electron runs); what this checks is the wiring: the
 * window's preferences and guards, the IPC sender check, a window's port to a working core, the
 * state broadcasts, a second window (cascaded) and a notification click (to the window that asked),
 * and a quit that shuts the core down through its control port.
 */
import type { EventEmitter } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { MessagePort, Worker } from 'node:worker_threads'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { IPC_EVENT, IPC_INVOKE } from '../../src/main/ipcChannels'
import { PORT_MESSAGE_TYPE, PORT_REQUEST_CHANNEL, createNonce } from '../../src/main/portHandoff'
import type { SettingsView } from '../../src/renderer/bridge'
import { REPO_ROOT, makeTempDir } from '../support/appServerProcess'
import { portChannel } from '../support/channels'
import { TestClient, withTimeout } from '../support/testClient'

type Handler = (...args: unknown[]) => unknown

const fake = vi.hoisted(() => ({
  paths: {} as Record<string, string>,
  windows: [] as unknown[],
  handlers: new Map<string, Handler>(),
  listeners: new Map<string, Handler>(),
  forks: [] as {
    path: string
    options: { env: Record<string, string>; serviceName: string; stdio: string }
  }[],
  workers: [] as unknown[],
  openedExternally: [] as string[],
  permissionAnswers: [] as boolean[],
  quit: { calls: 0, done: false },
  app: undefined as unknown,
  /** Notifications main showed (attention.ts), to click them. */
  notifications: [] as { options: { title: string; body: string }; emit(event: 'click'): boolean }[],
  /** Work areas of the stand-in's displays, the primary first. */
  displays: [{ id: 1, workArea: { x: 0, y: 0, width: 1920, height: 1050 } }],
}))

vi.mock('electron-store', async () => {
  const { default: Conf } = await import('conf')
  return {
    default: class Store extends Conf<Record<string, unknown>> {
      constructor(options: { name: string; configFileMode?: number; clearInvalidConfig?: boolean }) {
        super({ ...options, configName: options.name, projectName: 'codex-desk', cwd: fake.paths.userData })
      }
    },
  }
})

vi.mock('electron', async () => {
  const { EventEmitter } = await import('node:events')
  const { MessageChannel, Worker } = await import('node:worker_threads')
  const { join } = await import('node:path')
  const { aesCipher } = await import('../support/cipher')
  const { REPO_ROOT } = await import('../support/appServerProcess')

  class App extends EventEmitter {
    isPackaged = false
    whenReady = () => Promise.resolve()
    getPath = (name: string) => fake.paths[name] ?? join(fake.paths.userData ?? '/nowhere', name)
    setPath = (name: string, path: string) => void (fake.paths[name] = path)
    setAppLogsPath = (path: string) => void (fake.paths.logs = path)
    requestSingleInstanceLock = () => true
    getName = () => 'codex-desk'
    getVersion = () => '0.1.0'
    exit = (code: number) => {
      throw new Error(`app.exit(${code})`)
    }
    quit = () => {
      fake.quit.calls++
      let prevented = false
      this.emit('before-quit', { preventDefault: () => (prevented = true) })
      if (!prevented) fake.quit.done = true
    }
  }
  const app = new App()
  fake.app = app

  /** MessagePortMain over a Node port: listeners get `{data, ports}` and it needs `start()`. */
  type NodePort = InstanceType<typeof MessageChannel>['port1']
  class PortMain extends EventEmitter {
    constructor(readonly raw: NodePort) {
      super()
      raw.on('message', (data: unknown) => this.emit('message', { data, ports: [] }))
      raw.on('close', () => this.emit('close'))
    }
    postMessage(data: unknown) {
      this.raw.postMessage(data)
    }
    start() {}
    close() {
      this.raw.close()
    }
  }
  class MessageChannelMain {
    readonly port1: PortMain
    readonly port2: PortMain
    constructor() {
      const { port1, port2 } = new MessageChannel()
      this.port1 = new PortMain(port1)
      this.port2 = new PortMain(port2)
    }
  }

  class WebContents extends EventEmitter {
    static nextId = 1
    readonly id = WebContents.nextId++
    readonly sent: { channel: string; payload: unknown }[] = []
    readonly posted: { channel: string; message: unknown; ports: PortMain[] }[] = []
    windowOpenHandler: ((details: { url: string }) => { action: string }) | undefined
    send(channel: string, payload: unknown) {
      this.sent.push({ channel, payload })
    }
    postMessage(channel: string, message: unknown, ports: PortMain[]) {
      this.posted.push({ channel, message, ports })
    }
    setWindowOpenHandler(handler: (details: { url: string }) => { action: string }) {
      this.windowOpenHandler = handler
    }
    isDestroyed() {
      return false
    }
    reloads = 0
    reload() {
      this.reloads++
    }
  }
  class BrowserWindow extends EventEmitter {
    readonly webContents = new WebContents()
    loaded: string | undefined
    constructor(readonly options: Record<string, unknown>) {
      super()
      fake.windows.push(this)
      app.emit('web-contents-created', {}, this.webContents)
    }
    async loadFile(path: string) {
      this.loaded = path
    }
    async loadURL(url: string) {
      this.loaded = url
    }
    isDestroyed = () => false
    isMinimized = () => false
    isMaximized = () => false
    getNormalBounds = () => ({ x: 0, y: 0, width: 1200, height: 800 })
    /** Where the window is: its given position, or where the system put one without (120, 50). */
    getBounds = () => ({
      x: (this.options.x as number | undefined) ?? 120,
      y: (this.options.y as number | undefined) ?? 50,
      width: this.options.width as number,
      height: this.options.height as number,
    })
    focused = 0
    maximize() {}
    close() {}
    restore() {}
    show() {}
    focus() {
      this.focused++
    }
  }

  /** A utility process: the real core in a worker thread (Node ports travel inside the message). */
  class UtilityProcess extends EventEmitter {
    /**
     * Never a number: a thread id is not a pid, and fromUtilityProcess sends SIGKILL to the pid it
     * saw. Without one it calls kill(), which ends the thread.
     */
    readonly pid: number | undefined = undefined
    readonly stdout
    readonly stderr
    private readonly worker
    constructor() {
      super()
      const fork = fake.forks.at(-1)!
      this.worker = new Worker(join(REPO_ROOT, 'test/support/fixtures/coreWorker.mjs'), {
        env: fork.options.env,
        stdout: true,
        stderr: true,
      })
      fake.workers.push(this.worker)
      this.stdout = this.worker.stdout
      this.stderr = this.worker.stderr
      this.worker.on('error', () => {})
      this.worker.on('online', () => this.emit('spawn'))
      this.worker.on('exit', (code: number) => this.emit('exit', code))
    }
    postMessage(message: Record<string, unknown>, transfer: PortMain[] = []) {
      const ports = transfer.map((p) => p.raw)
      this.worker.postMessage({ ...message, port: ports[0] }, ports)
    }
    kill() {
      void this.worker.terminate()
      return true
    }
  }

  /** Notifications are shown by main (attention.ts); nothing here needs them to appear. */
  class Notification extends EventEmitter {
    static isSupported() {
      return true
    }
    constructor(readonly options: { title: string; body: string }) {
      super()
      fake.notifications.push(this)
    }
    show() {}
  }

  return {
    app,
    BrowserWindow,
    MessageChannelMain,
    Notification,
    clipboard: { writeText: () => {} },
    dialog: { showMessageBox: async () => ({ response: 1 }) },
    ipcMain: {
      handle: (channel: string, handler: Handler) => void fake.handlers.set(channel, handler),
      on: (channel: string, listener: Handler) => void fake.listeners.set(channel, listener),
    },
    safeStorage: aesCipher(),
    screen: {
      getPrimaryDisplay: () => fake.displays[0],
      getAllDisplays: () => fake.displays,
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (handler: (c: unknown, p: string, cb: (ok: boolean) => void) => void) =>
          handler({}, 'media', (ok) => void fake.permissionAnswers.push(ok)),
        setPermissionCheckHandler: (handler: () => boolean) => void fake.permissionAnswers.push(handler()),
      },
    },
    shell: {
      openExternal: async (url: string) => void fake.openedExternally.push(url),
      openPath: async () => '',
    },
    utilityProcess: {
      fork(path: string, _args: string[], options: (typeof fake.forks)[number]['options']) {
        fake.forks.push({ path, options })
        return new UtilityProcess()
      },
    },
  }
})

interface FakeWebContents extends EventEmitter {
  id: number
  sent: { channel: string; payload: unknown }[]
  posted: { channel: string; message: unknown; ports: { raw: MessagePort }[] }[]
  windowOpenHandler: (details: { url: string }) => { action: string }
}
interface FakeWindow {
  options: {
    webPreferences: Record<string, unknown>
    width?: number
    height?: number
    x?: number
    y?: number
  }
  webContents: FakeWebContents & { reloads: number }
  loaded: string
  focused: number
}

let temp: { path: string; remove(): Promise<void> }
let window: FakeWindow
const savedEnv = { ...process.env }
const rendererUrl = pathToFileURL(join(REPO_ROOT, 'src/renderer/index.html')).href

const until = <T>(probe: () => T | undefined | false, what: string) =>
  withTimeout(
    (async () => {
      for (;;) {
        const value = probe()
        if (value) return value
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })(),
    60_000,
    what,
  )

const eventFrom = (contents: FakeWebContents, frame: { url: string; parent: unknown } | null) => ({
  sender: contents,
  senderFrame: frame,
})

beforeAll(async () => {
  temp = await makeTempDir('codex-desk-main-')
  fake.paths.home = join(temp.path, 'home-dir')
  process.env.CODEX_DESK_HOME = join(temp.path, 'codex-desk-home')
  process.env.CODEX_DESK_USER_DATA_DIR = join(temp.path, 'user-data')
  process.env.CODEX_DESK_LOG = 'warn'
  Reflect.deleteProperty(process.env, 'ELECTRON_RENDERER_URL')
  await import('../../src/main/index')
  window = (await until(() => fake.windows[0], 'the window')) as FakeWindow
})

afterAll(async () => {
  await Promise.all((fake.workers as Worker[]).map((worker) => worker.terminate()))
  process.env = savedEnv
  await temp.remove()
})

describe('the main process', () => {
  it('opens a sandboxed, isolated window on the built page with the CommonJS preload', () => {
    expect(window.options.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webviewTag: false,
    })
    expect(window.options.webPreferences.preload).toMatch(/[/\\]preload[/\\]index\.cjs$/)
    expect(window.loaded).toBe(join(REPO_ROOT, 'src/renderer/index.html'))
    expect(fake.permissionAnswers).toEqual([false, false])
  })

  it('opens the first window at the default size, placed by the system (nothing saved yet)', () => {
    expect(window.options).toMatchObject({ width: 1200, height: 800, minWidth: 640, minHeight: 420 })
    expect(window.options.x).toBeUndefined()
  })

  it('reloads a window whose renderer crashed, so the page rejoins the core', async () => {
    window.webContents.emit('render-process-gone', {}, { reason: 'crashed', exitCode: 139 })
    await until(() => window.webContents.reloads === 1, 'the reload')
    // A window closed normally is not reloaded.
    window.webContents.emit('render-process-gone', {}, { reason: 'clean-exit', exitCode: 0 })
    await new Promise((resolve) => setTimeout(resolve, 1500))
    expect(window.webContents.reloads).toBe(1)
  })

  it('denies new windows and sends web links to the system browser', () => {
    const handler = window.webContents.windowOpenHandler
    expect(handler({ url: 'https://example.com/docs' })).toEqual({ action: 'deny' })
    expect(handler({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' })
    expect(handler({ url: 'javascript:alert(1)' })).toEqual({ action: 'deny' })
    expect(fake.openedExternally).toEqual(['https://example.com/docs'])
  })

  it('blocks navigation away from the app page and any <webview>', () => {
    const navigate = (url: string, isMainFrame = true) => {
      let prevented = false
      window.webContents.emit('will-frame-navigate', {
        url,
        isMainFrame,
        preventDefault: () => (prevented = true),
      })
      return prevented
    }
    expect(navigate(`${rendererUrl}#thread`)).toBe(false)
    expect(navigate('https://evil.example/')).toBe(true)
    expect(navigate(pathToFileURL('/tmp/other.html').href)).toBe(true)
    expect(navigate(rendererUrl, false)).toBe(true)
    let prevented = false
    window.webContents.emit('will-attach-webview', { preventDefault: () => (prevented = true) })
    expect(prevented).toBe(true)
  })

  it('forks the core with the allow-listed environment and CODEX_DESK_HOME, and reports it running', async () => {
    const fork = fake.forks[0]!
    expect(fork.path).toMatch(/[/\\]worker\.js$/)
    expect(fork.options).toMatchObject({ serviceName: 'codex-desk core', stdio: 'pipe' })
    expect(fork.options.env.CODEX_DESK_HOME).toBe(join(temp.path, 'codex-desk-home'))
    expect(fork.options.env.CODEX_DESK_USER_DATA_DIR).toBeUndefined()
    await until(
      () =>
        window.webContents.sent.some(
          (s) =>
            s.channel === IPC_EVENT.coreStateChanged && (s.payload as { kind: string }).kind === 'running',
        ),
      'the running state to be broadcast',
    )
    // The core starts before the window exists: the window hears from `running` on (and asks for
    // the state when its page loads).
    expect(
      window.webContents.sent.filter((s) => s.channel === IPC_EVENT.coreStateChanged).map((s) => s.payload),
    ).toEqual([{ kind: 'running', generation: 1, pid: null }])
    const state = fake.handlers.get(IPC_INVOKE.coreState)!
    expect(await state(eventFrom(window.webContents, { url: rendererUrl, parent: null }))).toEqual({
      kind: 'running',
      generation: 1,
      pid: null,
    })
  })

  it('answers the bridge from the app page only', async () => {
    const settingsGet = fake.handlers.get(IPC_INVOKE.settingsGet)!
    const view = (await settingsGet(
      eventFrom(window.webContents, { url: rendererUrl, parent: null }),
    )) as SettingsView
    expect(view).toMatchObject({ editorCommand: '', webSocketListener: { enabled: false, url: null } })
    expect(existsSync(join(temp.path, 'user-data', 'settings.json'))).toBe(true)
    await expect(
      Promise.resolve(settingsGet(eventFrom(window.webContents, { url: rendererUrl, parent: {} }))),
    ).rejects.toThrow('not the main frame')
    await expect(
      Promise.resolve(
        settingsGet(eventFrom(window.webContents, { url: 'https://evil.example/', parent: null })),
      ),
    ).rejects.toThrow('not the app page')
    await expect(
      Promise.resolve(settingsGet({ sender: { id: 999 }, senderFrame: { url: rendererUrl, parent: null } })),
    ).rejects.toThrow('not one of the app windows')
    const info = await fake.handlers.get(IPC_INVOKE.appInfo)!(
      eventFrom(window.webContents, { url: rendererUrl, parent: null }),
    )
    expect(info).toMatchObject({
      codexDeskHome: join(temp.path, 'codex-desk-home'),
      coreLogPath: join(temp.path, 'user-data', 'logs', 'core.log'),
    })
  })

  it("hands the window a port on its nonce that reaches the core, and ignores a foreign frame's request", async () => {
    const connect = fake.listeners.get(PORT_REQUEST_CHANNEL)!
    connect(eventFrom(window.webContents, { url: 'https://evil.example/', parent: null }), createNonce())
    const nonce = createNonce()
    connect(eventFrom(window.webContents, { url: rendererUrl, parent: null }), nonce)
    const posted = await until(() => window.webContents.posted[0], 'the port')
    expect(window.webContents.posted).toHaveLength(1)
    expect(posted.channel).toBe(PORT_MESSAGE_TYPE)
    expect(posted.message).toEqual({ nonce })
    const client = new TestClient(portChannel(posted.ports[0]!.raw))
    const init = await client.initialize('codex_desk_ui')
    // main's own connection (the token owner's) initialized first and fixed the originator.
    expect(init.userAgent).toMatch(/^codex_desk\//)
    expect((await client.request('thread/list', {})).data).toEqual([])
    ;(globalThis as { windowClient?: TestClient }).windowClient = client
  })

  it('opens another window on a second launch with --new-window, down and right of the first', () => {
    const app = fake.app as EventEmitter
    app.emit('second-instance', {}, ['codex-desk'], '/')
    expect(fake.windows).toHaveLength(1)
    expect(window.focused).toBeGreaterThan(0)
    app.emit('second-instance', {}, ['codex-desk', '--new-window'], '/')
    expect(fake.windows).toHaveLength(2)
    const second = fake.windows[1] as FakeWindow
    expect(second.options).toMatchObject({ x: 120 + 28, y: 50 + 28, width: 1200, height: 800 })
  })

  it("a click on a notification focuses the window that asked and tells it to open the notice's thread", async () => {
    const second = fake.windows[1] as FakeWindow
    const notify = fake.handlers.get(IPC_INVOKE.attentionNotify)!
    const notice = { title: 'Turn finished: Fix it', body: 'The answer is ready.', threadId: 'thr-42' }
    expect(await notify(eventFrom(second.webContents, { url: rendererUrl, parent: null }), notice)).toBe(true)
    const shown = fake.notifications.at(-1)!
    expect(shown.options).toEqual({ title: notice.title, body: notice.body })
    const before = { first: window.focused, second: second.focused }
    shown.emit('click')
    expect(second.focused).toBe(before.second + 1)
    expect(window.focused).toBe(before.first)
    expect(second.webContents.sent).toContainEqual({ channel: IPC_EVENT.openThread, payload: 'thr-42' })
    expect(window.webContents.sent.some((m) => m.channel === IPC_EVENT.openThread)).toBe(false)
  })

  it('quits only after asking the core to shut down, then lets the quit through', async () => {
    const client = (globalThis as { windowClient?: TestClient }).windowClient!
    ;(fake.app as { quit(): void }).quit()
    expect(fake.quit.done).toBe(false)
    // The core closes the window's connection itself when asked to shut down.
    await until(() => client.closed, 'the window connection to close')
    expect(client.closed).toEqual({ code: 1001, reason: 'server shutting down' })
    await until(() => fake.quit.done, 'the quit to go through')
    expect(fake.quit.calls).toBe(2)
    const log = readFileSync(join(temp.path, 'user-data', 'logs', 'core.log'), 'utf8')
    expect(log).toMatch(/core started/)
    expect(log).toMatch(/stopping/)
    // The core exits by itself after shutdown (here a worker thread, whose process.exit ends it),
    // cleanly and as requested, well before the host's 5 s kill timeout.
    expect(log).toMatch(/core exited \(pid unknown, code 0, signal none, requested\)/)
  })
})
