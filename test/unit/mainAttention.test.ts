/**
 * Main's side of the attention signals (src/main/attention.ts) behind the IPC checks of
 * desktopIpc.ts: notifications and the badge reach the shell (a stand-in for Electron's
 * Notification and app.setBadgeCount) only from our page and with valid arguments, and a click on a
 * notification brings back the window that asked and opens the thread in it.
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
  /** Open windows by webContents id, and what each was told (focus, open a thread). */
  const windows = new Map<number, string[]>([
    [7, []],
    [8, []],
  ])
  const shell: AttentionShell = {
    notificationsSupported: () => supported,
    showNotification: (notice, click) => void shown.push({ notice, click }),
    setBadgeCount: (count) => void badges.push(count),
  }
  const attention = new Attention(shell, (id) => {
    const wid = id !== undefined && windows.has(id) ? id : [...windows.keys()][0]
    const told = wid === undefined ? undefined : windows.get(wid)
    if (!told) return null
    return {
      focus: () => {
        focused++
        told.push('focus')
      },
      openThread: (threadId) => void told.push(`open ${threadId}`),
    }
  })
  // Only what these two channels use; the rest of the bridge is tested in desktopIpc.test.ts.
  const deps = {
    trusted: { isAppWindow: (id: number) => id === 7 || id === 8, rendererUrl: RENDERER_URL },
    log: { warn: () => {} },
    attention,
  } as unknown as DesktopIpcDeps
  return { ipc: new DesktopIpc(deps), shown, badges, windows, focused: () => focused }
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

  it('a click opens the thread in the window that asked, or in another one once it is closed', async () => {
    const r = rig()
    const notice = { title: 'Turn finished: Fix the tests', body: 'The answer is ready.', threadId: 'thr-1' }
    const ASKING: IpcSender = { ...OURS, webContentsId: 8 }
    expect(await r.ipc.invoke(IPC_INVOKE.attentionNotify, ASKING, [notice])).toBe(true)
    expect(r.shown.map((s) => s.notice)).toEqual([notice])
    r.shown[0]?.click()
    expect(r.windows.get(8)).toEqual(['focus', 'open thr-1'])
    expect(r.windows.get(7)).toEqual([])

    r.windows.delete(8)
    r.shown[0]?.click()
    expect(r.windows.get(7)).toEqual(['focus', 'open thr-1'])
  })

  it('a notice without a thread only brings the window back', async () => {
    const r = rig()
    await r.ipc.invoke(IPC_INVOKE.attentionNotify, OURS, [{ title: 't', body: 'b' }])
    r.shown[0]?.click()
    expect(r.windows.get(7)).toEqual(['focus'])
  })

  it('refuses a thread id that is not one', async () => {
    const r = rig()
    for (const threadId of ['', 'a b', 'x'.repeat(201), '../../etc', 5]) {
      await expect(
        r.ipc.invoke(IPC_INVOKE.attentionNotify, OURS, [{ title: 't', body: 'b', threadId }]),
      ).rejects.toThrow(/must be a thread id/)
    }
    expect(r.shown).toEqual([])
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
