import { describe, expect, it } from 'vitest'
import {
  addWarning,
  dismissDiagnostic,
  EMPTY_DIAGNOSTICS,
  replaceDiagnostics,
  resetDiagnostics,
  visibleDiagnostics,
  type DiagnosticsSet,
} from '../../src/renderer/state/diagnosticsSet'
import type { ConfigWarningNotification } from '../../src/worker/protocol/notifications'

const PATH = '/home/me/.codex-desk/config.toml'

function problem(line: number, summary = 'Invalid value in the user config'): ConfigWarningNotification {
  return {
    summary,
    details: `${PATH}:${line}:1: invalid type`,
    path: PATH,
    range: { start: { line, column: 1 }, end: { line, column: 4 } },
  }
}

const noSandbox: ConfigWarningNotification = {
  summary: 'Commands cannot be sandboxed on this machine',
  details: 'no sandbox is available on linux.',
}

const shown = (set: DiagnosticsSet, kind: 'problem' | 'notice' = 'problem') =>
  visibleDiagnostics(set, kind).map((e) => e.warning.range?.start.line ?? e.warning.summary)

describe('the diagnostics set', () => {
  it('clears a fixed file: an empty set from the core leaves no problem', () => {
    const broken = replaceDiagnostics(EMPTY_DIAGNOSTICS, { problems: [problem(2)], notices: [] })
    expect(shown(broken)).toEqual([2])
    const fixed = replaceDiagnostics(broken, { problems: [], notices: [] })
    expect(shown(fixed)).toEqual([])
  })

  it('replaces an entry whose file changed: the problem at a line the file no longer has goes away', () => {
    const before = replaceDiagnostics(EMPTY_DIAGNOSTICS, { problems: [problem(7)], notices: [] })
    const after = replaceDiagnostics(before, { problems: [problem(3)], notices: [] })
    expect(shown(after)).toEqual([3])
  })

  it('lists the newest first, and keeps the age of a problem that is still there', () => {
    let set = replaceDiagnostics(EMPTY_DIAGNOSTICS, { problems: [problem(1)], notices: [] })
    set = replaceDiagnostics(set, { problems: [problem(1), problem(5)], notices: [] })
    expect(shown(set)).toEqual([5, 1])
    set = replaceDiagnostics(set, { problems: [problem(9), problem(1), problem(5)], notices: [] })
    expect(shown(set)).toEqual([9, 5, 1])
  })

  it('keeps a dismissed entry hidden until it changes', () => {
    let set = replaceDiagnostics(EMPTY_DIAGNOSTICS, { problems: [problem(2)], notices: [] })
    const key = visibleDiagnostics(set, 'problem')[0]?.key as string
    set = dismissDiagnostic(set, key)
    expect(shown(set)).toEqual([])
    // The same problem again (another save of the file): still dismissed.
    set = replaceDiagnostics(set, { problems: [problem(2)], notices: [] })
    expect(shown(set)).toEqual([])
    // It changed (another line): shown again.
    set = replaceDiagnostics(set, { problems: [problem(4)], notices: [] })
    expect(shown(set)).toEqual([4])
  })

  it('shows a dismissed problem again when it was fixed and comes back', () => {
    let set = replaceDiagnostics(EMPTY_DIAGNOSTICS, { problems: [problem(2)], notices: [] })
    set = dismissDiagnostic(set, visibleDiagnostics(set, 'problem')[0]?.key as string)
    set = replaceDiagnostics(set, { problems: [], notices: [] })
    set = replaceDiagnostics(set, { problems: [problem(2)], notices: [] })
    expect(shown(set)).toEqual([2])
  })

  it('keeps machine notices apart from config problems, and a dismissed notice dismissed across a reconnect', () => {
    let set = replaceDiagnostics(EMPTY_DIAGNOSTICS, { problems: [problem(2)], notices: [noSandbox] })
    expect(shown(set, 'notice')).toEqual([noSandbox.summary])
    expect(shown(set)).toEqual([2])
    set = dismissDiagnostic(set, visibleDiagnostics(set, 'notice')[0]?.key as string)
    set = resetDiagnostics(set, true)
    expect(set.entries).toEqual([])
    // A restarted core's first set may come before its sandbox probe found the notice.
    set = replaceDiagnostics(set, { problems: [], notices: [] })
    set = replaceDiagnostics(set, { problems: [], notices: [noSandbox] })
    expect(shown(set, 'notice')).toEqual([])
  })

  it('ignores lone warnings while the core sends sets, and adds them (once each) when it does not', () => {
    const awaiting = resetDiagnostics(EMPTY_DIAGNOSTICS, true)
    expect(addWarning(awaiting, problem(2))).toBe(awaiting)
    let plain = resetDiagnostics(EMPTY_DIAGNOSTICS, false)
    plain = addWarning(plain, problem(2))
    plain = addWarning(plain, problem(2))
    plain = addWarning(plain, problem(6))
    expect(shown(plain)).toEqual([6, 2])
  })

  it('never changes the set it is given', () => {
    const set = replaceDiagnostics(EMPTY_DIAGNOSTICS, { problems: [problem(2)], notices: [] })
    const entries = set.entries
    dismissDiagnostic(set, entries[0]?.key as string)
    replaceDiagnostics(set, { problems: [], notices: [] })
    expect(set.entries).toBe(entries)
    expect(set.dismissed.size).toBe(0)
  })
})
