/**
 * Main's side of the attention signals (src/main/attention.ts) behind the IPC checks of
 * desktopIpc.ts: notifications and the badge reach the shell (a stand-in for Electron's
 * Notification and app.setBadgeCount) only from our page and with valid arguments, and a click on a
 * notification brings the window back.
 */
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { Attention, electronAttentionShell, type AttentionShell } from '../../src/main/attention'
import { DesktopIpc, type DesktopIpcDeps } from '../../src/main/desktopIpc'
import { IPC_INVOKE } from '../../src/main/ipcChannels'
import type { IpcSender } from '../../src/main/ipcSchemas'
import type { AttentionNoticeView } from '../../src/renderer/bridge'

const RENDERER_URL = pathToFileURL('/opt/codex-desk/out/renderer/index.html').href
const OURS: IpcSender = { webContentsId: 7, frameUrl: RENDERER_URL, isMainFrame: true }
const FOREIGN: IpcSender = { webContentsId: 7, frameUrl: 'https://example.com/', isMainFrame: true }

function rig(supported = true) {
  const shown: { notice: AttentionNoticeView; click: () => void }[] = []
  const badges: number[] = []
  let focused = 0
  const shell: AttentionShell = {
    notificationsSupported: () => supported,
    showNotification: (notice, click) => void shown.push({ notice, click }),
    setBadgeCount: (count) => void badges.push(count),
  }
  const attention = new Attention(shell, () => ({ focus: () => void focused++ }))
  // Only what these two channels use; the rest of the bridge is tested in desktopIpc.test.ts.
  const deps = {
    trusted: { isAppWindow: (id: number) => id === 7, rendererUrl: RENDERER_URL },
    log: { warn: () => {} },
    attention,
  } as unknown as DesktopIpcDeps
  return { ipc: new DesktopIpc(deps), shown, badges, focused: () => focused }
}

describe('attention through the desktop bridge', () => {
  it('shows a notification from our page, and a click on it focuses the window', async () => {
    const r = rig()
    const notice = { title: 'Approval needed: Fix the tests', body: 'Apply file changes?' }
    expect(await r.ipc.invoke(IPC_INVOKE.attentionNotify, OURS, [notice])).toBe(true)
    expect(r.shown.map((s) => s.notice)).toEqual([notice])
    r.shown[0]?.click()
    expect(r.focused()).toBe(1)
  })

  it('answers false where the OS has no notifications', async () => {
    const r = rig(false)
    expect(await r.ipc.invoke(IPC_INVOKE.attentionNotify, OURS, [{ title: 't', body: 'b' }])).toBe(false)
    expect(r.shown).toEqual([])
  })

  it('refuses a foreign page and bad arguments before the shell sees them', async () => {
    const r = rig()
    await expect(
      r.ipc.invoke(IPC_INVOKE.attentionNotify, FOREIGN, [{ title: 't', body: 'b' }]),
    ).rejects.toThrow(/not the app page/)
    await expect(
      r.ipc.invoke(IPC_INVOKE.attentionNotify, OURS, [{ title: 't', body: 'b', icon: '/etc/passwd' }]),
    ).rejects.toThrow(/icon is not accepted/)
    await expect(
      r.ipc.invoke(IPC_INVOKE.attentionNotify, OURS, [{ title: 'x'.repeat(201), body: '' }]),
    ).rejects.toThrow(/at most 200 characters/)
    await expect(r.ipc.invoke(IPC_INVOKE.attentionBadge, OURS, [-1])).rejects.toThrow(/integer from 0/)
    await expect(r.ipc.invoke(IPC_INVOKE.attentionBadge, OURS, [1.5])).rejects.toThrow(/integer from 0/)
    expect(r.shown).toEqual([])
    expect(r.badges).toEqual([])
  })

  it('sets the badge to the count of waiting approvals, once per change', async () => {
    const r = rig()
    for (const count of [1, 2, 2, 0]) await r.ipc.invoke(IPC_INVOKE.attentionBadge, OURS, [count])
    expect(r.badges).toEqual([1, 2, 0])
  })
})

describe('the Electron shell', () => {
  it('shows an Electron notification, calls back on its click, and sets the app badge', () => {
    const made: { options: { title: string; body: string }; shown: boolean; click?: () => void }[] = []
    const badges: (number | undefined)[] = []
    class FakeNotification {
      static isSupported = () => true
      private readonly record: (typeof made)[number]
      constructor(options: { title: string; body: string }) {
        this.record = { options, shown: false }
        made.push(this.record)
      }
      on(_event: 'click', listener: () => void) {
        this.record.click = listener
        return this
      }
      show() {
        this.record.shown = true
      }
    }
    const shell = electronAttentionShell({
      Notification: FakeNotification,
      app: { setBadgeCount: (count?: number) => (badges.push(count), true) },
    })
    let clicked = 0
    shell.showNotification({ title: 'Turn finished: A', body: 'The answer is ready.' }, () => clicked++)
    expect(made).toEqual([
      expect.objectContaining({
        options: { title: 'Turn finished: A', body: 'The answer is ready.' },
        shown: true,
      }),
    ])
    made[0]?.click?.()
    expect(clicked).toBe(1)
    shell.setBadgeCount(3)
    expect(badges).toEqual([3])
  })
})
