/**
 * Electron main process: forks the core as a utility process, opens the window, and gives the
 * window its own app-server connection over a MessagePort handed through the preload with a
 * nonce. The only place (with preload) that imports electron. Its parts are built and tested under
 * Node (workerHost.ts, settings.ts, portHandoff.ts, auth/); wiring them in here, with restart and
 * the token owner's connection, lands with the desktop-shell work.
 */
import {
  app,
  BrowserWindow,
  ipcMain,
  MessageChannelMain,
  shell,
  utilityProcess,
  type UtilityProcess,
} from 'electron'
import { join } from 'node:path'
import { childEnvironment } from './workerHost'

let core: UtilityProcess | undefined

/** The allow-listed environment (workerHost.ts), with the app's home folder for the core. */
function childEnv(): Record<string, string> {
  const home = process.env.CODEX_DESK_HOME ?? join(app.getPath('home'), '.codex-desk')
  return childEnvironment(process.env, { CODEX_DESK_HOME: home })
}

function startCore(): UtilityProcess {
  const child = utilityProcess.fork(join(import.meta.dirname, 'worker.js'), [], {
    serviceName: 'codex-desk core',
    env: childEnv(),
    stdio: 'inherit',
  })
  child.on('exit', (code) => {
    if (core === child) core = undefined
    if (code !== 0) console.error(`codex-desk core exited with code ${code}`)
  })
  return child
}

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1100,
    height: 760,
    title: 'codex-desk',
    webPreferences: {
      preload: join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
    },
  })
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) void shell.openExternal(url)
    return { action: 'deny' }
  })
  win.webContents.on('will-navigate', (event) => event.preventDefault())
  const devUrl = process.env.ELECTRON_RENDERER_URL
  if (devUrl) void win.loadURL(devUrl)
  else void win.loadFile(join(import.meta.dirname, '../renderer/index.html'))
}

ipcMain.on('codex-desk:connect', (event, nonce: unknown) => {
  if (typeof nonce !== 'string' || !core) return
  const { port1, port2 } = new MessageChannelMain()
  core.postMessage({ type: 'connect', client: `window ${event.sender.id}` }, [port1])
  event.sender.postMessage('codex-desk:port', { nonce }, [port2])
})

void app.whenReady().then(() => {
  core = startCore()
  createWindow()
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow()
  })
})

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit()
})

app.on('before-quit', () => {
  core?.kill()
})
