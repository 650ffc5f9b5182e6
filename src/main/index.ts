/**
 * Electron main process: the desktop shell. Wires the parts built and tested under Node: the
 * WorkerHost (supervises the core utility process), the CoreController (control port, websocket
 * listener, main's own connection for the token owner, window ports, the core's state for the
 * windows), Settings, the TokenOwner, and the bridge's IPC (desktopIpc.ts). The only place besides
 * window.ts and the preload that imports electron; keep it thin.
 *
 * One instance per user-data folder. Quitting asks the core to shut down and kills it after 5 s.
 */
import {
  app,
  clipboard,
  dialog,
  ipcMain,
  MessageChannelMain,
  Notification,
  safeStorage,
  screen,
  session,
  shell,
  utilityProcess,
  type BrowserWindow,
  type IpcMainEvent,
  type IpcMainInvokeEvent,
  type MessageBoxOptions,
  type MessagePortMain,
} from 'electron'
import Store from 'electron-store'
import { join, resolve } from 'node:path'
import type { AppInfo } from '../renderer/bridge'
import { resolveCodexDeskHome } from '../worker/home'
import { fromElectronPort, type EventEmitterLike } from '../worker/transport/port'
import { VERSION } from '../worker/version'
import { DEFAULT_OAUTH_SETTINGS, parseOAuthSettings, type OAuthSettings } from './auth/settings'
import { TokenOwner } from './auth/tokenOwner'
import { TokenStore } from './auth/tokenStore'
import { CoreController, type CorePorts } from './coreSession'
import { Attention, electronAttentionShell } from './attention'
import { DesktopIpc, settingsView } from './desktopIpc'
import { electronFolderDialog } from './folderDialog'
import { IPC_EVENT, type EventChannel } from './ipcChannels'
import { senderProblem, type IpcSender, type TrustedRenderer } from './ipcSchemas'
import { openFileAt } from './openFile'
import { PORT_REQUEST_CHANNEL } from './portHandoff'
import { reloadOnCrash } from './rendererRecovery'
import { Settings } from './settings'
import { fromUtilityProcess } from './utilityProcess'
import { createMainWindow, denyPermissions, hardenWebContents, rendererPage } from './window'
import { WorkerHost } from './workerHost'
import { cascadeWindowState, initialWindowState, WindowStateKeeper } from './windowState'

const QUIT_TIMEOUT_MS = 5000

const log = {
  info: (fields: object, message: string) => console.info(`codex-desk: ${message}`, fields),
  warn: (fields: object, message: string) => console.warn(`codex-desk: ${message}`, fields),
  error: (fields: object, message: string) => console.error(`codex-desk: ${message}`, fields),
}

// A separate profile (settings, sign-in, logs, the single-instance lock) for tests and side-by-side runs.
const userDataDir = process.env.CODEX_DESK_USER_DATA_DIR?.trim()
if (userDataDir) {
  app.setPath('userData', resolve(userDataDir))
  app.setAppLogsPath(join(resolve(userDataDir), 'logs'))
}

if (!app.requestSingleInstanceLock()) {
  // The running instance gets 'second-instance' and shows its window.
  app.quit()
} else {
  void app.whenReady().then(main, (error: unknown) => {
    log.error({ error: String(error) }, 'the app did not start')
    app.exit(1)
  })
}

function describeSender(event: IpcMainEvent | IpcMainInvokeEvent): IpcSender {
  let frameUrl: string | null = null
  let isMainFrame = false
  try {
    const frame = event.senderFrame
    if (frame) {
      frameUrl = frame.url
      isMainFrame = frame.parent === null
    }
  } catch {
    // A frame disposed while we looked: treated as gone.
  }
  return { webContentsId: event.sender.id, frameUrl, isMainFrame }
}

function main(): void {
  const page = rendererPage(app.isPackaged)
  const preload = join(import.meta.dirname, '../preload/index.cjs')
  const windows = new Map<number, BrowserWindow>()
  const trusted: TrustedRenderer = { isAppWindow: (id) => windows.has(id), rendererUrl: page.url }

  app.on('web-contents-created', (_event, contents) => hardenWebContents(contents, page))
  denyPermissions(session.defaultSession)

  const settings = new Settings({
    store: new Store<Record<string, unknown>>({
      name: 'settings',
      configFileMode: 0o600,
      clearInvalidConfig: true,
    }),
    log,
  })

  let oauth: OAuthSettings = DEFAULT_OAUTH_SETTINGS
  try {
    oauth = parseOAuthSettings(settings.get().oauth)
  } catch (error) {
    log.warn({ error: (error as Error).message }, 'the oauth settings are invalid; using the defaults')
  }
  const authStore = new Store<Record<string, unknown>>({
    name: 'auth',
    configFileMode: 0o600,
    clearInvalidConfig: true,
  })
  const owner = new TokenOwner({
    settings: oauth,
    store: new TokenStore(authStore, safeStorage, log),
    openExternal: (url) => shell.openExternal(url),
    log,
  })

  const codexDeskHome = resolveCodexDeskHome(process.env)
  const host: WorkerHost = new WorkerHost({
    launch: ({ env, serviceName }) =>
      fromUtilityProcess(
        utilityProcess.fork(join(import.meta.dirname, 'worker.js'), [], { serviceName, env, stdio: 'pipe' }),
      ),
    // `core` exists before the host can start, let alone stop.
    requestShutdown: (proc): Promise<void> => core.requestShutdown(proc),
    logDir: app.getPath('logs'),
    extraEnv: { CODEX_DESK_HOME: codexDeskHome },
    logger: log,
  })

  const ports: CorePorts = {
    open(proc, message) {
      const { port1, port2 } = new MessageChannelMain()
      proc.postMessage(message, [port1])
      return fromElectronPort(port2 as unknown as EventEmitterLike)
    },
  }
  const core: CoreController = new CoreController({
    host,
    ports,
    settings,
    account: owner,
    clientInfo: { name: 'codex_desk', title: 'codex-desk', version: VERSION },
    log,
  })

  const broadcast = (channel: EventChannel, payload: unknown) => {
    for (const window of windows.values()) {
      if (!window.isDestroyed()) window.webContents.send(channel, payload)
    }
  }
  const currentSettingsView = () => settingsView(settings.get(), core.listenerStatus)
  core.onDidChangeState((state) => broadcast(IPC_EVENT.coreStateChanged, state))
  core.onDidChangeListener(() => broadcast(IPC_EVENT.settingsChanged, currentSettingsView()))
  settings.onDidChange((next) => {
    broadcast(IPC_EVENT.settingsChanged, currentSettingsView())
    try {
      owner.updateSettings(parseOAuthSettings(next.settings.oauth))
    } catch (error) {
      log.warn(
        { error: (error as Error).message },
        'the oauth settings are invalid; keeping the previous ones',
      )
    }
  })
  owner.onDidChange((summary) => broadcast(IPC_EVENT.accountChanged, summary))

  const appInfo = (): AppInfo => ({
    name: app.getName(),
    version: app.getVersion(),
    platform: process.platform,
    electronVersion: process.versions.electron ?? '',
    coreLogPath: host.logPath,
    codexDeskHome,
  })

  const ipc = new DesktopIpc({
    trusted,
    settings,
    listenerStatus: () => core.listenerStatus,
    account: owner,
    coreState: () => core.state,
    retryCore: () => core.retry(),
    openFile: (location) =>
      openFileAt(location, {
        editorCommand: () => settings.get().editorCommand,
        openPath: (path) => shell.openPath(path),
      }),
    copyText: (text) => clipboard.writeText(text),
    // Notifications and the dock/taskbar badge for approvals waiting and turns ending (attention.ts).
    attention: new Attention(electronAttentionShell({ Notification, app }), (id) => {
      const asked = id === undefined ? undefined : windows.get(id)
      const window =
        asked && !asked.isDestroyed() ? asked : [...windows.values()].find((w) => !w.isDestroyed())
      if (!window) return null
      return {
        focus() {
          if (window.isMinimized()) window.restore()
          window.show()
          window.focus()
        },
        openThread: (threadId) => window.webContents.send(IPC_EVENT.openThread, threadId),
      }
    }),
    // New thread's Browse…: the system folder dialog over the asking window (folderDialog.ts).
    folderDialog: electronFolderDialog(dialog, (id) => windows.get(id)),
    appInfo,
    async confirmEditorCommand(command, sender) {
      const options: MessageBoxOptions = {
        type: 'question',
        title: 'Editor command',
        message: 'Open files from codex-desk with this command?',
        detail: `${command}\n\nIt runs directly (no shell) with {path}, {line} and {column} filled in.`,
        buttons: ['Use this command', 'Cancel'],
        defaultId: 1,
        cancelId: 1,
        noLink: true,
      }
      const parent = windows.get(sender.webContentsId)
      const { response } = parent
        ? await dialog.showMessageBox(parent, options)
        : await dialog.showMessageBox(options)
      return response === 0
    },
    log,
  })
  for (const channel of ipc.channels) {
    ipcMain.handle(channel, (event, ...args: unknown[]) => ipc.invoke(channel, describeSender(event), args))
  }

  ipcMain.on(PORT_REQUEST_CHANNEL, (event, nonce: unknown) => {
    const sender = describeSender(event)
    const problem = senderProblem(sender, trusted)
    if (problem) {
      log.warn({ webContentsId: sender.webContentsId, problem }, 'refused a port request')
      return
    }
    const contents = event.sender
    void core.openWindowPort(sender.webContentsId, nonce).then((result) => {
      if (!result.ok) {
        log.warn({ webContentsId: sender.webContentsId, reason: result.reason }, 'no port for a window')
        return
      }
      if (contents.isDestroyed()) {
        result.port.close()
        return
      }
      contents.postMessage(result.channel, result.message, [result.port.raw as MessagePortMain])
    })
  })

  const windowState = new WindowStateKeeper({
    store: new Store<Record<string, unknown>>({ name: 'window-state', clearInvalidConfig: true }),
    log,
  })
  const workAreas = () => {
    const primary = screen.getPrimaryDisplay()
    return [primary, ...screen.getAllDisplays().filter((d) => d.id !== primary.id)].map((d) => d.workArea)
  }

  const openWindow = () => {
    const areas = workAreas()
    // A further window opens down and right of those already open (windowState.ts).
    const open = [...windows.values()].filter((w) => !w.isDestroyed()).map((w) => w.getBounds())
    const initial = cascadeWindowState(initialWindowState(windowState.saved(), areas), open, areas)
    const window = createMainWindow(preload, page, initial)
    windowState.track(window)
    // A crashed page is reloaded and rejoins the core (a few times; then the user decides).
    reloadOnCrash(window.webContents, {
      log,
      async onGiveUp() {
        if (window.isDestroyed()) return false
        const { response } = await dialog.showMessageBox(window, {
          type: 'error',
          title: 'codex-desk',
          message: 'This window keeps crashing.',
          detail:
            'codex-desk reloaded it several times within a minute and stopped. The core and its threads were not affected.',
          buttons: ['Reload', 'Close the window'],
          defaultId: 0,
          cancelId: 1,
          noLink: true,
        })
        if (response !== 0 && !window.isDestroyed()) window.close()
        return response === 0
      },
    })
    const id = window.webContents.id
    windows.set(id, window)
    window.on('closed', () => {
      windows.delete(id)
      core.forgetWindow(id)
    })
    return window
  }
  const showWindow = () => {
    const window = [...windows.values()].find((w) => !w.isDestroyed())
    if (!window) return void openWindow()
    if (window.isMinimized()) window.restore()
    window.show()
    window.focus()
  }

  // `codex-desk --new-window` while it runs opens another window; otherwise the window comes back.
  app.on('second-instance', (_event, argv) => {
    if (argv.includes('--new-window')) openWindow()
    else showWindow()
  })
  app.on('activate', () => {
    if (windows.size === 0) openWindow()
  })
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit()
  })

  let quitting: 'no' | 'stopping' | 'done' = 'no'
  app.on('before-quit', (event) => {
    if (quitting === 'done') return
    event.preventDefault()
    if (quitting === 'stopping') return
    quitting = 'stopping'
    void (async () => {
      try {
        await core.shutdown(QUIT_TIMEOUT_MS)
      } catch (error) {
        log.error({ error: String(error) }, 'stopping the core failed')
      }
      core.dispose()
      owner.dispose()
      settings.dispose()
      await host.dispose()
    })().finally(() => {
      quitting = 'done'
      app.quit()
    })
  })

  void host.start().catch((error: unknown) => {
    // The state (failed) reaches the windows; the retry button starts it again.
    log.error({ error: String(error) }, 'the core did not start')
  })
  openWindow()
}
