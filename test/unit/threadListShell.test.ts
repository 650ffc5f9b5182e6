/**
 * The pure parts of the thread list and the app shell: shortcut dispatch, the list's times and the
 * store's last-activity and list-filter rules, a past turn's rebuilt diff, the window's bounds
 * clamped to the displays there are, and the crash-reload budget, each with stand-ins for Electron.
 */
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import type { ThreadItem, Turn } from '../../src/worker/protocol/items'
import { thread } from '../support/threadFixtures'
import { DeskStore } from '../../src/renderer/state/store'
import { turnDiffFromItems } from '../../src/renderer/state/turnDiff'
import { platformOf, shortcutFor, shortcutTable, type KeyInput } from '../../src/renderer/view/shortcuts'
import { activityTime, relativeTime } from '../../src/renderer/view/threadTimes'
import { CrashBudget, reloadOnCrash } from '../../src/main/rendererRecovery'
import {
  initialWindowState,
  parseWindowState,
  WINDOW_STATE_KEY,
  WindowStateKeeper,
  type Rect,
} from '../../src/main/windowState'

const key = (k: string, mods: Partial<KeyInput> = {}): KeyInput => ({
  key: k,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  inText: false,
  ...mods,
})

describe('keyboard shortcuts', () => {
  it('maps the keys to actions with Ctrl on Linux and Windows and ⌘ on a Mac', () => {
    expect(shortcutFor(key('O', { ctrlKey: true, shiftKey: true }), 'other')).toBe('newThread')
    expect(shortcutFor(key('o', { metaKey: true, shiftKey: true }), 'mac')).toBe('newThread')
    expect(shortcutFor(key('o', { ctrlKey: true, shiftKey: true }), 'mac')).toBeNull()
    expect(shortcutFor(key('k', { ctrlKey: true }), 'other')).toBe('search')
    expect(shortcutFor(key('k', { metaKey: true }), 'mac')).toBe('search')
    expect(shortcutFor(key('ArrowDown', { altKey: true }), 'other')).toBe('nextThread')
    expect(shortcutFor(key('ArrowUp', { altKey: true }), 'mac')).toBe('previousThread')
    expect(shortcutFor(key('Escape'), 'other')).toBe('interrupt')
    expect(shortcutFor(key('/', { ctrlKey: true }), 'other')).toBe('help')
  })

  it('leaves typing alone: / and ? act only outside text fields, plain letters never', () => {
    expect(shortcutFor(key('/'), 'other')).toBe('focusComposer')
    expect(shortcutFor(key('/', { inText: true }), 'other')).toBeNull()
    expect(shortcutFor(key('?', { shiftKey: true }), 'other')).toBe('help')
    expect(shortcutFor(key('?', { shiftKey: true, inText: true }), 'other')).toBeNull()
    expect(shortcutFor(key('k'), 'other')).toBeNull()
    expect(shortcutFor(key('ArrowDown'), 'other')).toBeNull()
    expect(shortcutFor(key('Escape', { shiftKey: true }), 'other')).toBeNull()
    // The modifier shortcuts work from the message box too.
    expect(shortcutFor(key('k', { ctrlKey: true, inText: true }), 'other')).toBe('search')
    expect(shortcutFor(key('Escape', { inText: true }), 'other')).toBe('interrupt')
  })

  it('lists every shortcut in the help, approvals as shown on the buttons', () => {
    expect(platformOf('MacIntel')).toBe('mac')
    expect(platformOf('Linux x86_64')).toBe('other')
    const table = shortcutTable('other')
    expect(table.map((row) => row.what)).toEqual([
      'New thread',
      'Search threads',
      'Next / previous thread',
      'Focus the message box',
      'Interrupt the running turn',
      'Answer an approval',
      'Show these shortcuts',
    ])
    expect(table[0]?.keys).toBe('Ctrl+Shift+O')
    expect(shortcutTable('mac')[0]?.keys).toBe('⌘⇧O')
    expect(table.find((row) => row.what === 'Answer an approval')?.keys).toBe('shown on the buttons')
  })
})

function turn(id: string, items: ThreadItem[], times: Partial<Turn> = {}): Turn {
  return {
    id,
    rootTurnId: null,
    items,
    itemsView: 'full',
    status: 'completed',
    error: null,
    startedAt: null,
    completedAt: null,
    durationMs: null,
    ...times,
  }
}

describe('thread times', () => {
  it('shows ages from just now to a date', () => {
    const now = 1_000_000 * 1000
    expect(relativeTime(1_000_000, now)).toBe('just now')
    expect(relativeTime(1_000_000 - 59, now)).toBe('just now')
    expect(relativeTime(1_000_000 - 5 * 60, now)).toBe('5 min ago')
    expect(relativeTime(1_000_000 - 3 * 3600, now)).toBe('3 h ago')
    expect(relativeTime(1_000_000 - 3 * 86_400, now)).not.toMatch(/ago/)
    // A clock slightly behind the core's is not "in the future".
    expect(relativeTime(1_000_010, now)).toBe('just now')
    expect(activityTime({ createdAt: 100, updatedAt: 250 })).toBe(250)
    expect(activityTime({ createdAt: 100, updatedAt: 0 })).toBe(100)
  })

  it('moves a listed thread to the time its turn started and ended, never back, and not on a snapshot of the same time', () => {
    const store = new DeskStore()
    store.replaceThreadList([thread('T', 100), thread('U', 120)], null)
    store.openThread('T')
    store.applyThreadSnapshot(thread('T', 100, { updatedAt: 150 }))
    expect(store.state.threads.get('T')?.updatedAt).toBe(150)
    store.applyNotification('turn/started', {
      threadId: 'T',
      turn: turn('t1', [], { status: 'inProgress', startedAt: 200 }),
    })
    expect(store.state.threads.get('T')?.updatedAt).toBe(200)
    store.applyNotification('turn/completed', {
      threadId: 'T',
      turn: turn('t1', [], { startedAt: 200, completedAt: 230 }),
    })
    expect(store.state.threads.get('T')?.updatedAt).toBe(230)
    // An older time (a late message) does not move it back.
    store.touchThread('T', 210)
    expect(store.state.threads.get('T')?.updatedAt).toBe(230)
    // A thread that is not open moves when the session reads its new time.
    store.touchThread('U', 300)
    expect(store.state.threads.get('U')?.updatedAt).toBe(300)
    // The list order stays by creation, newest first.
    expect(store.listOrder()).toEqual(['U', 'T'])
  })

  it('keeps a new thread out of a searched or archived list, and drops an unarchived row', () => {
    const store = new DeskStore()
    store.replaceThreadList([thread('A', 10, { preview: 'login bug' })], null)
    store.setListFilter({ search: 'login', archived: false })
    store.applyNotification('thread/started', { thread: thread('B', 20) })
    expect(store.listOrder()).toEqual(['A'])
    store.setListFilter({ search: '', archived: true })
    store.replaceThreadList([thread('Z', 5)], null)
    store.applyNotification('thread/started', { thread: thread('C', 30) })
    expect(store.listOrder()).toEqual(['Z'])
    store.dropFromList('Z')
    expect(store.listOrder()).toEqual([])
    store.setListFilter({ search: '', archived: false })
    store.applyNotification('thread/started', { thread: thread('D', 40) })
    expect(store.listOrder()).toEqual(['D'])
  })
})

describe("a past turn's diff", () => {
  const change = (changes: Extract<ThreadItem, { type: 'fileChange' }>['changes'], status = 'completed') =>
    ({ type: 'fileChange', id: `fc-${changes.length}-${status}`, changes, status }) as ThreadItem

  it('is rebuilt from the applied file changes, paths relative to the thread folder', () => {
    const diff = turnDiffFromItems(
      [
        change([{ path: '/work/notes/plan.txt', kind: { type: 'add' }, diff: 'step one\nstep two\n' }]),
        change([
          {
            path: '/work/src/a.ts',
            kind: { type: 'update', move_path: null },
            diff: '@@ -1,1 +1,1 @@\n-old\n+new\n',
          },
          { path: '/work/gone.txt', kind: { type: 'delete' }, diff: 'bye\n' },
        ]),
        change([{ path: '/work/declined.txt', kind: { type: 'add' }, diff: 'no\n' }], 'declined'),
      ],
      '/work',
    )
    expect(diff).toBe(
      [
        'diff --git a/notes/plan.txt b/notes/plan.txt',
        'new file mode 100644',
        '--- /dev/null',
        '+++ b/notes/plan.txt',
        '@@ -0,0 +1,2 @@',
        '+step one',
        '+step two',
        'diff --git a/src/a.ts b/src/a.ts',
        '--- a/src/a.ts',
        '+++ b/src/a.ts',
        '@@ -1,1 +1,1 @@',
        '-old',
        '+new',
        'diff --git a/gone.txt b/gone.txt',
        'deleted file mode 100644',
        '--- a/gone.txt',
        '+++ /dev/null',
        '@@ -1,1 +0,0 @@',
        '-bye',
        '',
      ].join('\n'),
    )
  })

  it('is none for a turn that changed no file, and a reopened thread shows it on its past turns only', () => {
    expect(turnDiffFromItems([], '/work')).toBeNull()
    const store = new DeskStore()
    store.openThread('T')
    const fc = change([{ path: '/work/x.txt', kind: { type: 'add' }, diff: 'x\n' }])
    store.applyThreadSnapshot(
      thread('T', 1, { turns: [turn('past', [fc]), turn('running', [fc], { status: 'inProgress' })] }),
    )
    expect(store.state.view?.turnById.get('past')?.diff).toContain('+++ b/x.txt')
    // A running turn's diff comes from the core as it runs.
    expect(store.state.view?.turnById.get('running')?.diff).toBeNull()
  })
})

describe('the window position', () => {
  const laptop: Rect = { x: 0, y: 0, width: 1440, height: 870 }
  const monitor: Rect = { x: 1440, y: 0, width: 2560, height: 1400 }

  it('opens at the default size with nothing saved, shrunk to a small screen', () => {
    expect(initialWindowState(null, [laptop])).toEqual({ width: 1200, height: 800, maximized: false })
    expect(initialWindowState(null, [{ x: 0, y: 0, width: 1024, height: 700 }])).toEqual({
      width: 1024,
      height: 700,
      maximized: false,
    })
  })

  it('comes back where it was on a display that is still there', () => {
    const saved = { bounds: { x: 1600, y: 100, width: 1500, height: 900 }, maximized: true }
    expect(initialWindowState(saved, [laptop, monitor])).toEqual({ ...saved.bounds, maximized: true })
  })

  it('is moved inside the display that shows most of it, and shrunk to fit', () => {
    const saved = { bounds: { x: 1200, y: -50, width: 3000, height: 2000 }, maximized: false }
    expect(initialWindowState(saved, [laptop, monitor])).toEqual({
      x: 1440,
      y: 0,
      width: 2560,
      height: 1400,
      maximized: false,
    })
  })

  it('moves to the middle of the primary display when its monitor is gone', () => {
    const saved = { bounds: { x: 1600, y: 100, width: 1000, height: 700 }, maximized: false }
    expect(initialWindowState(saved, [laptop])).toEqual({
      x: 220,
      y: 85,
      width: 1000,
      height: 700,
      maximized: false,
    })
    // A sliver on screen (a title bar corner) is not enough to find it.
    const sliver = { bounds: { x: 1400, y: 800, width: 1000, height: 700 }, maximized: false }
    expect(initialWindowState(sliver, [laptop])).toMatchObject({ x: 220, y: 85 })
  })

  it('ignores a saved value that is not a window state', () => {
    expect(parseWindowState(null)).toBeNull()
    expect(parseWindowState({ bounds: { x: 0, y: 0, width: -1, height: 10 } })).toBeNull()
    expect(parseWindowState({ bounds: { x: 0, y: 0, width: 'wide', height: 10 } })).toBeNull()
    expect(parseWindowState({ bounds: { x: 1, y: 2, width: 3, height: 4 } })).toEqual({
      bounds: { x: 1, y: 2, width: 3, height: 4 },
      maximized: false,
    })
  })

  it('is saved as the window moves (debounced) and when it closes', async () => {
    const values = new Map<string, unknown>()
    const keeper = new WindowStateKeeper({
      store: { get: (k) => values.get(k), set: (k, v) => void values.set(k, v) },
      log: { warn: () => {} },
      debounceMs: 20,
    })
    expect(keeper.saved()).toBeNull()
    let bounds: Rect = { x: 10, y: 20, width: 900, height: 600 }
    let maximized = false
    const window = Object.assign(new EventEmitter(), {
      getNormalBounds: () => bounds,
      isMaximized: () => maximized,
      isDestroyed: () => false,
    })
    keeper.track(window)
    window.emit('move')
    bounds = { ...bounds, x: 30 }
    window.emit('move')
    expect(values.has(WINDOW_STATE_KEY)).toBe(false)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(keeper.saved()).toEqual({ bounds: { x: 30, y: 20, width: 900, height: 600 }, maximized: false })
    maximized = true
    window.emit('close')
    expect(keeper.saved()).toEqual({ bounds: { x: 30, y: 20, width: 900, height: 600 }, maximized: true })
  })
})

describe('a crashed window', () => {
  it('is reloaded up to three times a minute, each a little later, then the count starts over', () => {
    let now = 0
    const budget = new CrashBudget({ maxReloads: 3, periodMs: 60_000, delayMs: 500 }, () => now)
    expect(budget.crashed()).toEqual({ reload: true, delayMs: 500 })
    now += 1000
    expect(budget.crashed()).toEqual({ reload: true, delayMs: 1000 })
    now += 1000
    expect(budget.crashed()).toEqual({ reload: true, delayMs: 1500 })
    now += 1000
    expect(budget.crashed()).toEqual({ reload: false })
    now += 61_000
    expect(budget.crashed()).toEqual({ reload: true, delayMs: 500 })
  })

  it('asks the user after a crash loop, and reloads only when asked to', async () => {
    const timers: (() => void)[] = []
    let reloads = 0
    const contents = Object.assign(new EventEmitter(), {
      reload: () => void reloads++,
      isDestroyed: () => false,
    })
    const asked: string[] = []
    let answer = false
    reloadOnCrash(contents, {
      policy: { maxReloads: 2, periodMs: 60_000, delayMs: 10 },
      now: () => 0,
      log: { warn: () => {}, error: () => {} },
      setTimer: (run) => timers.push(run),
      onGiveUp: async (details) => {
        asked.push(details.reason)
        return answer
      },
    })
    const crash = (reason = 'crashed') => contents.emit('render-process-gone', {}, { reason, exitCode: 1 })
    crash('clean-exit')
    expect(timers).toHaveLength(0)
    crash()
    crash('oom')
    for (const run of timers.splice(0)) run()
    expect(reloads).toBe(2)
    crash()
    await Promise.resolve()
    expect(asked).toEqual(['crashed'])
    expect(reloads).toBe(2)
    answer = true
    crash()
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(reloads).toBe(3)
    // Asked again and said yes: the budget started over.
    crash()
    expect(timers).toHaveLength(1)
  })
})
