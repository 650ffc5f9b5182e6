/**
 * Dismissed diagnostics are remembered in the page's storage (src/renderer/state/dismissalMemory.ts):
 * a new page (a reload) hides them again as they arrive, a changed one shows, a fixed problem is
 * forgotten, and the memory stays small.
 */
import { describe, expect, it } from 'vitest'
import { DeskStore } from '../../src/renderer/state/store'
import { visibleDiagnostics } from '../../src/renderer/state/diagnosticsSet'
import {
  DISMISSED_KEY,
  DismissalMemory,
  dismissalHash,
  MAX_REMEMBERED,
  rememberDismissals,
} from '../../src/renderer/state/dismissalMemory'
import type { ConfigWarningNotification } from '../../src/worker/protocol/notifications'

const PATH = '/home/me/.codex-desk/config.toml'

function problem(line: number, value = '"true"'): ConfigWarningNotification {
  return {
    summary: 'Invalid value in the user config',
    details: `${PATH}:${line}:1: invalid type: string ${value}`,
    path: PATH,
    range: { start: { line, column: 1 }, end: { line, column: 4 } },
  }
}

const noSandbox: ConfigWarningNotification = {
  summary: 'Commands cannot be sandboxed on this machine',
  details: 'no sandbox is available on linux.',
}

function memoryStorage() {
  const map = new Map<string, string>()
  return {
    map,
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, v),
    removeItem: (k: string) => void map.delete(k),
  }
}

/** A page: a fresh store watched by the memory over the shared storage. */
function page(storage: ReturnType<typeof memoryStorage>) {
  const store = new DeskStore()
  rememberDismissals(store, storage)
  const shown = () =>
    [
      ...visibleDiagnostics(store.state.diagnostics, 'problem'),
      ...visibleDiagnostics(store.state.diagnostics, 'notice'),
    ].map((e) => e.warning.range?.start.line ?? e.warning.summary)
  const dismiss = (line: number | string) => {
    const entry = store.state.diagnostics.entries.find(
      (e) => (e.warning.range?.start.line ?? e.warning.summary) === line,
    )
    if (!entry) throw new Error(`no entry ${line}`)
    store.dismissDiagnostic(entry.key)
  }
  return { store, shown, dismiss }
}

describe('remembered dismissals', () => {
  it('a reload hides what was dismissed, and shows a problem whose content changed', () => {
    const storage = memoryStorage()
    const first = page(storage)
    first.store.replaceDiagnostics({ problems: [problem(2), problem(5)], notices: [noSandbox] })
    first.dismiss(2)
    first.dismiss(noSandbox.summary)
    expect(first.shown()).toEqual([5])

    const reloaded = page(storage)
    reloaded.store.replaceDiagnostics({ problems: [problem(2), problem(5)], notices: [noSandbox] })
    expect(reloaded.shown()).toEqual([5])

    const changed = page(storage)
    changed.store.replaceDiagnostics({ problems: [problem(2, '"yes"'), problem(5)], notices: [noSandbox] })
    expect(changed.shown()).toEqual([2, 5])
  })

  it('forgets a problem the core reports fixed, so it shows when it comes back; a notice is kept', () => {
    const storage = memoryStorage()
    const p = page(storage)
    p.store.replaceDiagnostics({ problems: [problem(2)], notices: [noSandbox] })
    p.dismiss(2)
    p.dismiss(noSandbox.summary)
    p.store.replaceDiagnostics({ problems: [], notices: [] })
    const again = page(storage)
    again.store.replaceDiagnostics({ problems: [problem(2)], notices: [noSandbox] })
    expect(again.shown()).toEqual([2])
  })

  it('keeps only short hashes, at most MAX_REMEMBERED, the newest dismissals first', () => {
    const storage = memoryStorage()
    const memory = new DismissalMemory(storage)
    for (let i = 0; i < MAX_REMEMBERED + 10; i++) memory.remember(dismissalHash(`key ${i}`))
    expect(memory.size).toBe(MAX_REMEMBERED)
    const stored = JSON.parse(storage.map.get(DISMISSED_KEY) ?? '[]') as string[]
    expect(stored).toHaveLength(MAX_REMEMBERED)
    expect(stored[0]).toBe(dismissalHash(`key ${MAX_REMEMBERED + 9}`))
    expect(stored).not.toContain(dismissalHash('key 0'))
    expect(JSON.stringify(stored).length).toBeLessThan(MAX_REMEMBERED * 20)
    expect(dismissalHash('a')).not.toBe(dismissalHash('b'))
  })

  it('ignores a broken stored value and a storage that refuses writes', () => {
    const storage = memoryStorage()
    storage.map.set(DISMISSED_KEY, '{not json')
    expect(new DismissalMemory(storage).size).toBe(0)
    storage.map.set(DISMISSED_KEY, JSON.stringify([1, 'x'.repeat(100), 'ok.1']))
    expect(new DismissalMemory(storage).size).toBe(1)
    const full = {
      ...memoryStorage(),
      setItem: () => {
        throw new Error('QuotaExceededError')
      },
    }
    const p = page(full)
    p.store.replaceDiagnostics({ problems: [problem(2)], notices: [] })
    p.dismiss(2)
    expect(p.shown()).toEqual([])
  })
})
