/**
 * The desktop bridge: what the sandboxed preload exposes as `window.codexDesk` inside the app.
 * Types only; the preload (src/main/preload) implements it, the renderer uses it when present and
 * falls back to a websocket in a plain browser. Every function is one capability; none exposes
 * ipcRenderer, a port to main, or anything that could read a token.
 */

/** A place in a file, 1-based, as config diagnostics report it. */
export interface FileLocation {
  path: string
  line: number
  column: number
}

export type OpenFileResult = { ok: true } | { ok: false; message: string }

export interface AppInfo {
  name: string
  version: string
  platform: string
  electronVersion: string
  /** The core's rotating log file (core.log), for "show logs". */
  coreLogPath: string
  /** CODEX_DESK_HOME as the app passes it to the core. */
  codexDeskHome: string
}

export interface WebSocketListenerView {
  enabled: boolean
  /** 0 picks a free port at every start. */
  port: number
  allowedOrigins: string[]
  /** The URL the listener is bound to right now, or null when it is off or failed. */
  url: string | null
  /** Why the listener could not start (e.g. the port is taken), or null. */
  error: string | null
}

export interface SettingsView {
  webSocketListener: WebSocketListenerView
  /** What external tools present (Authorization: Bearer, or the codex-desk.bearer.<token> subprotocol). */
  capabilityToken: string
  /** Command that opens a file at a line, e.g. `code --goto {path}:{line}:{column}`; empty: the OS default app. */
  editorCommand: string
  /** The OAuth client id the ChatGPT sign-in presents to the issuer; empty until the user sets one. */
  oauthClientId: string
}

export interface SettingsPatchView {
  webSocketListener?: Partial<Pick<WebSocketListenerView, 'enabled' | 'port' | 'allowedOrigins'>>
  editorCommand?: string
  oauthClientId?: string
}

export type SettingsUpdateResult =
  { ok: true; settings: SettingsView } | { ok: false; field: string; message: string }

export interface AccountSummaryView {
  signedIn: boolean
  email: string | null
  planType: string | null
  accountId: string | null
  /** A sentence for the user when something needs attention. */
  problem: string | null
}

export type AccountActionResult = { ok: true } | { ok: false; message: string }

/** The native folder dialog's answer: a folder, a cancel, or why it could not give one. */
export type ChooseFolderResult =
  { ok: true; path: string } | { ok: false; canceled: true } | { ok: false; canceled: false; message: string }

/** The core process as the WorkerHost sees it. `generation` grows by one at every (re)start. */
export type CoreStateView =
  | { kind: 'stopped' }
  | { kind: 'starting'; generation: number }
  | { kind: 'running'; generation: number; pid: number | null }
  | { kind: 'restarting'; generation: number; attempt: number; delayMs: number; reason: string }
  | { kind: 'failed'; generation: number; reason: string }

export type Unsubscribe = () => void

/** An OS notification the renderer asks for (an approval waits, a turn ended). */
export interface AttentionNoticeView {
  title: string
  body: string
  /** The thread it is about: a click on the notification opens it in the window that asked. */
  threadId?: string
}

export interface DesktopBridge {
  /**
   * Asks main for a new app-server connection. The port arrives as a window message
   * `{type: 'codex-desk:port', nonce}` with the port in `event.ports[0]` (see portHandoff.ts).
   */
  connect(nonce: string): void
  /** Opens the file at the line and column in the user's editor (settings), else the OS default app. */
  openFile(location: FileLocation): Promise<OpenFileResult>
  /** Puts text on the system clipboard (the capability token's copy button). */
  copyText(text: string): Promise<void>
  /** The native folder dialog (a new thread's working folder), opened at `defaultPath` if given. */
  chooseFolder(defaultPath: string | null): Promise<ChooseFolderResult>
  appInfo(): Promise<AppInfo>
  settings: {
    get(): Promise<SettingsView>
    update(patch: SettingsPatchView): Promise<SettingsUpdateResult>
    regenerateToken(): Promise<SettingsView>
    onDidChange(listener: (settings: SettingsView) => void): Unsubscribe
  }
  account: {
    summary(): Promise<AccountSummaryView>
    signIn(): Promise<AccountActionResult>
    signOut(): Promise<AccountActionResult>
    onDidChange(listener: (summary: AccountSummaryView) => void): Unsubscribe
  }
  core: {
    state(): Promise<CoreStateView>
    /** Starts the core again after the host gave up (state `failed`). */
    retry(): Promise<void>
    onDidChangeState(listener: (state: CoreStateView) => void): Unsubscribe
  }
  /** OS notifications and the dock/taskbar badge (src/main/attention.ts). */
  attention?: {
    notify(notice: AttentionNoticeView): Promise<boolean>
    setBadgeCount(count: number): Promise<void>
    /** A notification this window asked for was clicked: open its thread. */
    onOpenThread(listener: (threadId: string) => void): Unsubscribe
  }
}

declare global {
  interface Window {
    codexDesk?: DesktopBridge
  }
}
