/**
 * Getting the user's attention when the window is not looked at: the tab/window title and the
 * dock/taskbar badge count the approvals waiting, and an OS notification says when an approval
 * waits or a turn ended while the window is hidden or unfocused. In the app it goes through the
 * bridge (Electron Notification, app.setBadgeCount); in a browser through the Notification API once
 * the user allowed it with the "Enable notifications" button this module shows.
 *
 * It only reads the store; it never answers a prompt or opens a thread on its own (a click on a
 * notification, the app's or the browser's, opens the thread it is about, as the user asked by
 * clicking).
 */
import type { DesktopBridge } from '../bridge'
import type { DeskSession } from '../session'
import { threadTitle } from '../state/model'
import type { Approval, DeskStore } from '../state/store'
import { h } from './dom'
import '../styles/attention.css'

export interface AttentionNotice {
  title: string
  body: string
  threadId: string
}

/** Where the signals go: the bridge in the app, the page's own APIs in a browser. */
export interface AttentionSink {
  setCount(count: number): void
  notify(notice: AttentionNotice): void
}

/** The title with the count of waiting approvals in front, as mail clients do: "(2) codex-desk". */
export function titleWithCount(base: string, count: number): string {
  return count > 0 ? `(${count}) ${base}` : base
}

function approvalBody(approval: Approval): string {
  if (approval.kind === 'command') return `Run ${approval.command ?? 'a command'}?`
  return 'Apply file changes?'
}

/**
 * Watches the store and tells the sink: the count on every change of the approvals, a notice for
 * each new approval and each turn that ended, while `away()` says the user is not looking.
 */
export function watchAttention(store: DeskStore, sink: AttentionSink, away: () => boolean): () => void {
  const seen = new Set(store.state.approvals.keys())
  const active = new Set<string>()
  for (const [id, status] of store.state.statuses) if (status.type === 'active') active.add(id)
  let count = -1
  const update = () => {
    const now = store.state.approvals.size
    if (now !== count) {
      count = now
      sink.setCount(now)
    }
  }
  update()
  return store.subscribe((change) => {
    if (change.kind === 'approvals') {
      update()
      for (const [key, approval] of store.state.approvals) {
        if (seen.has(key)) continue
        seen.add(key)
        if (!approval.stale && away()) {
          sink.notify({
            title: `Approval needed: ${threadTitle(store.thread(approval.threadId))}`,
            body: approvalBody(approval),
            threadId: approval.threadId,
          })
        }
      }
      for (const key of seen) if (!store.state.approvals.has(key)) seen.delete(key)
    } else if (change.kind === 'threads') {
      for (const [id, status] of store.state.statuses) {
        if (status.type === 'active') {
          active.add(id)
        } else if (active.delete(id) && away()) {
          sink.notify({
            title: `Turn finished: ${threadTitle(store.thread(id))}`,
            body: status.type === 'systemError' ? 'It stopped with an error.' : 'The answer is ready.',
            threadId: id,
          })
        }
      }
    }
  })
}

/** The user is not looking at this window: it is hidden (another tab, minimized) or not focused. */
function isAway(): boolean {
  return document.visibilityState === 'hidden' || !document.hasFocus()
}

/**
 * Starts the signals. Returns the "Enable notifications" button for the top bar (browser only,
 * shown while the permission was neither given nor refused).
 */
export function startAttention(
  store: DeskStore,
  session: DeskSession,
  bridge: DesktopBridge | undefined,
): HTMLElement {
  const base = document.title || 'codex-desk'
  const enable = h(
    'button',
    { type: 'button', class: 'enable-notifications', hidden: true },
    'Enable notifications',
  )
  const browserNotifications = !bridge?.attention && typeof Notification !== 'undefined'
  const showEnable = () => {
    enable.hidden = !browserNotifications || Notification.permission !== 'default'
  }
  enable.addEventListener('click', () => {
    void Notification.requestPermission().then(showEnable, showEnable)
  })
  showEnable()
  const sink: AttentionSink = {
    setCount(count) {
      document.title = titleWithCount(base, count)
      void bridge?.attention?.setBadgeCount(count).catch(() => undefined)
    },
    notify(notice) {
      if (bridge?.attention) {
        void bridge.attention
          .notify({ title: notice.title, body: notice.body, threadId: notice.threadId })
          .catch(() => undefined)
      } else if (browserNotifications && Notification.permission === 'granted') {
        const shown = new Notification(notice.title, {
          body: notice.body,
          tag: `codex-desk:${notice.threadId}`,
        })
        shown.onclick = () => {
          window.focus()
          void session.openThread(notice.threadId)
          shown.close()
        }
      }
    },
  }
  watchAttention(store, sink, isAway)
  // A click on an app notification this window asked for: main focused the window; open the thread.
  bridge?.attention?.onOpenThread?.((threadId) => void session.openThread(threadId))
  return enable
}
