/**
 * The app window and the rules every webContents lives under: context isolation, the sandbox, no
 * Node in the page, no new windows (http(s) links go to the system browser), no navigation away
 * from the app's page, no <webview>, and every permission request denied.
 *
 * The page's Content-Security-Policy is the <meta> tag in src/renderer/index.html: the app loads
 * the page from a file: URL, which has no response headers to put a policy in (session.webRequest
 * only sees http(s) responses), and the same page serves the browser mode. The policy allows
 * scripts and styles from the page's own origin only (no inline script, no eval).
 */
import { BrowserWindow, shell, type Session, type WebContents } from 'electron'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { isRendererPage } from './ipcSchemas'
import { DEFAULT_WINDOW_SIZE, MIN_WINDOW_SIZE, type InitialWindowState } from './windowState'

export interface RendererPage {
  /** What the window loads; IPC senders must show this page (ipcSchemas.ts). */
  url: string
  load(window: BrowserWindow): Promise<void>
}

function isLoopbackHttp(url: string): boolean {
  try {
    const parsed = new URL(url)
    return (
      parsed.protocol === 'http:' &&
      (parsed.hostname === 'localhost' || parsed.hostname === '127.0.0.1' || parsed.hostname === '[::1]')
    )
  } catch {
    return false
  }
}

/**
 * The built page (out/renderer/index.html), or electron-vite's dev server in an unpackaged dev run.
 * A packaged app ignores ELECTRON_RENDERER_URL: the bridge must never be given to a page from
 * anywhere else, and a dev server URL must be loopback.
 */
export function rendererPage(isPackaged: boolean, env: NodeJS.ProcessEnv = process.env): RendererPage {
  const devUrl = env.ELECTRON_RENDERER_URL
  if (!isPackaged && devUrl && isLoopbackHttp(devUrl)) {
    return { url: devUrl, load: (window) => window.loadURL(devUrl) }
  }
  const file = join(import.meta.dirname, '../renderer/index.html')
  return { url: pathToFileURL(file).href, load: (window) => window.loadFile(file) }
}

function isWebUrl(url: string): boolean {
  try {
    const protocol = new URL(url).protocol
    return protocol === 'http:' || protocol === 'https:'
  } catch {
    return false
  }
}

/** Applied to every webContents the app creates (app 'web-contents-created'). */
export function hardenWebContents(contents: WebContents, page: RendererPage): void {
  contents.setWindowOpenHandler(({ url }) => {
    if (isWebUrl(url)) void shell.openExternal(url)
    return { action: 'deny' }
  })
  contents.on('will-frame-navigate', (event) => {
    const { url, isMainFrame } = event
    if (isMainFrame && isRendererPage(url, page.url)) return
    // The developer tools' own pages (a page cannot navigate to devtools: itself).
    if (url.startsWith('devtools://')) return
    event.preventDefault()
    // A link the user clicked in the page: the system browser, not this window.
    if (isMainFrame && isWebUrl(url)) void shell.openExternal(url)
  })
  contents.on('will-redirect', (event) => {
    if (!isRendererPage(event.url, page.url)) event.preventDefault()
  })
  contents.on('will-attach-webview', (event) => event.preventDefault())
}

/**
 * The app's session grants nothing but writing plain text to the clipboard (a code block's Copy
 * button): no camera, web notifications (the main process shows them), geolocation, clipboard read, …
 */
export function denyPermissions(session: Session): void {
  session.setPermissionRequestHandler((_contents, permission, callback) =>
    callback(permission === 'clipboard-sanitized-write'),
  )
  session.setPermissionCheckHandler((_contents, permission) => permission === 'clipboard-sanitized-write')
}

/** `initial`: the remembered size and position (windowState.ts), already clamped to a display. */
export function createMainWindow(
  preload: string,
  page: RendererPage,
  initial: InitialWindowState = { ...DEFAULT_WINDOW_SIZE, maximized: false },
): BrowserWindow {
  const window = new BrowserWindow({
    width: initial.width,
    height: initial.height,
    ...(initial.x !== undefined && initial.y !== undefined ? { x: initial.x, y: initial.y } : {}),
    minWidth: MIN_WINDOW_SIZE.width,
    minHeight: MIN_WINDOW_SIZE.height,
    title: 'codex-desk',
    show: false,
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
    },
  })
  window.once('ready-to-show', () => {
    if (initial.maximized) window.maximize()
    window.show()
  })
  void page.load(window).catch((error: unknown) => {
    console.error(`codex-desk: cannot load the app page ${page.url}: ${String(error)}`)
  })
  return window
}
