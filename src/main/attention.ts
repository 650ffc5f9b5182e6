/**
 * Main's side of the renderer's attention signals (src/renderer/view/attention.ts): an OS
 * notification when an approval waits or a turn ends while the window is not focused, and the
 * dock/taskbar badge counting waiting approvals. Electron is reached through `AttentionShell`, so
 * the logic runs under Node with a stand-in; `electronAttentionShell` is the real one.
 *
 * A click on a notification brings back the window that asked for it and tells that window to
 * open the notification's thread (IPC_EVENT.openThread); a window closed meanwhile is replaced by
 * any open one.
 *
 * It must never show a notification with text the renderer did not validate through ipcSchemas,
 * and never steal the focus: a click on a notification brings the window back, nothing else does.
 */
import type { AttentionNoticeView } from '../renderer/bridge'

export interface AttentionShell {
  /** Whether the OS can show notifications at all. */
  notificationsSupported(): boolean
  showNotification(notice: AttentionNoticeView, onClick: () => void): void
  setBadgeCount(count: number): void
}

export interface AttentionWindow {
  /** Restores, shows and focuses the window. */
  focus(): void
  /** Tells the window's page to open the thread. */
  openThread(threadId: string): void
}

export class Attention {
  private lastBadge = -1

  constructor(
    private readonly shell: AttentionShell,
    /** The window with this webContents id if it is still open, else any open window. */
    private readonly window: (webContentsId?: number) => AttentionWindow | null,
  ) {}

  /** `from`: the webContents id of the window that asked; the click goes back to it. */
  notify(notice: AttentionNoticeView, from?: number): boolean {
    if (!this.shell.notificationsSupported()) return false
    this.shell.showNotification(notice, () => {
      const window = this.window(from)
      if (!window) return
      window.focus()
      if (notice.threadId) window.openThread(notice.threadId)
    })
    return true
  }

  setBadgeCount(count: number): void {
    if (count === this.lastBadge) return
    this.lastBadge = count
    this.shell.setBadgeCount(count)
  }
}

/** The slice of electron the shell uses (passed in: this module imports no electron). */
export interface ElectronAttentionApi {
  Notification: {
    isSupported(): boolean
    new (options: { title: string; body: string; silent?: boolean }): {
      on(event: 'click', listener: () => void): unknown
      show(): void
    }
  }
  app: { setBadgeCount(count?: number): boolean }
}

export function electronAttentionShell(electron: ElectronAttentionApi): AttentionShell {
  // Shown notifications are kept referenced until clicked or replaced, or the click is lost to GC.
  const shown = new Set<{ show(): void }>()
  return {
    notificationsSupported: () => electron.Notification.isSupported(),
    showNotification(notice, onClick) {
      const notification = new electron.Notification({ title: notice.title, body: notice.body })
      shown.add(notification)
      if (shown.size > 20) shown.delete(shown.values().next().value as { show(): void })
      notification.on('click', () => {
        shown.delete(notification)
        onClick()
      })
      notification.show()
    },
    setBadgeCount: (count) => void electron.app.setBadgeCount(count),
  }
}
