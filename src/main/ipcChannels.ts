/**
 * The IPC channel names between main and the preload: one per capability of the desktop bridge
 * (src/renderer/bridge.ts), plus the three events main pushes to windows. The port request and the
 * port message are in portHandoff.ts. Runtime-free and import-free, so the sandboxed (CommonJS)
 * preload bundles it without pulling anything else in.
 */

/** `ipcRenderer.invoke` → `ipcMain.handle`, one per bridge function. */
export const IPC_INVOKE = {
  openFile: 'codex-desk:open-file',
  copyText: 'codex-desk:copy-text',
  chooseFolder: 'codex-desk:choose-folder',
  appInfo: 'codex-desk:app-info',
  settingsGet: 'codex-desk:settings-get',
  settingsUpdate: 'codex-desk:settings-update',
  settingsRegenerateToken: 'codex-desk:settings-regenerate-token',
  accountSummary: 'codex-desk:account-summary',
  accountSignIn: 'codex-desk:account-sign-in',
  accountSignOut: 'codex-desk:account-sign-out',
  coreState: 'codex-desk:core-state',
  coreRetry: 'codex-desk:core-retry',
  attentionNotify: 'codex-desk:attention-notify',
  attentionBadge: 'codex-desk:attention-badge',
} as const

export type InvokeChannel = (typeof IPC_INVOKE)[keyof typeof IPC_INVOKE]

/** `webContents.send` → `ipcRenderer.on`: main tells every window. */
export const IPC_EVENT = {
  /** SettingsView */
  settingsChanged: 'codex-desk:settings-changed',
  /** AccountSummaryView */
  accountChanged: 'codex-desk:account-changed',
  /** CoreStateView */
  coreStateChanged: 'codex-desk:core-state-changed',
  /** string: the thread of a clicked notification (sent to the window that asked for it only) */
  openThread: 'codex-desk:open-thread',
} as const

export type EventChannel = (typeof IPC_EVENT)[keyof typeof IPC_EVENT]
