/**
 * The diagnostics the banner shows: the CURRENT config problems and machine notices, newest first,
 * each dismissible until it changes. The core sends the whole set on every change (see
 * worker/protocol/deskDiagnostics.ts), so a fixed file's entries go away and a moved problem replaces
 * the old one; a core without that set is handled with its plain `configWarning`s, which only add.
 *
 * Pure and immutable: every function returns a new set and never touches its input. No DOM.
 */
import type { ConfigWarningNotification } from '../../worker/protocol/notifications'

export type DiagnosticKind = 'problem' | 'notice'

export interface DiagnosticEntry {
  /** Everything shown of it: a change of any of it makes a new entry (and undoes a dismissal). */
  key: string
  kind: DiagnosticKind
  warning: ConfigWarningNotification
  /** When it first appeared: a larger number is newer. */
  seq: number
}

export interface DiagnosticsSet {
  /** Newest first; within one arrival, in the core's order. */
  entries: readonly DiagnosticEntry[]
  /** Keys the user dismissed; a problem's is dropped once it is gone, so a problem that returns shows. */
  dismissed: ReadonlySet<string>
  /**
   * The core sends whole sets on this connection (or one was asked for): lone `configWarning`s are
   * then only echoes of entries a set carries, and are ignored.
   */
  fromCore: boolean
  nextSeq: number
}

export const EMPTY_DIAGNOSTICS: DiagnosticsSet = {
  entries: [],
  dismissed: new Set(),
  fromCore: false,
  nextSeq: 1,
}

export function diagnosticKey(kind: DiagnosticKind, w: ConfigWarningNotification): string {
  return JSON.stringify([
    kind,
    w.summary,
    w.details ?? null,
    w.path ?? null,
    w.range?.start.line ?? null,
    w.range?.start.column ?? null,
    w.range?.end.line ?? null,
    w.range?.end.column ?? null,
  ])
}

const NOTICE_PREFIX = JSON.stringify(['notice']).slice(0, -1)

function sorted(entries: DiagnosticEntry[]): DiagnosticEntry[] {
  // Array.prototype.sort is stable: one arrival keeps the core's order.
  return entries.sort((a, b) => b.seq - a.seq)
}

/**
 * The whole current set from the core: entries still there keep their age (and dismissal), new
 * ones are the newest, and the rest are gone.
 */
export function replaceDiagnostics(
  set: DiagnosticsSet,
  current: { problems: readonly ConfigWarningNotification[]; notices: readonly ConfigWarningNotification[] },
): DiagnosticsSet {
  const old = new Map(set.entries.map((e) => [e.key, e]))
  const seq = set.nextSeq
  const entries: DiagnosticEntry[] = []
  const seen = new Set<string>()
  const take = (kind: DiagnosticKind, warning: ConfigWarningNotification) => {
    const key = diagnosticKey(kind, warning)
    if (seen.has(key)) return
    seen.add(key)
    entries.push({ key, kind, warning, seq: old.get(key)?.seq ?? seq })
  }
  for (const w of current.problems) take('problem', w)
  for (const w of current.notices) take('notice', w)
  // A fixed problem that comes back shows again; a dismissed notice stays dismissed, since a core
  // that just started finds its notices a moment after its first set.
  const dismissed = new Set(
    [...set.dismissed].filter((key) => seen.has(key) || key.startsWith(NOTICE_PREFIX)),
  )
  return { entries: sorted(entries), dismissed, fromCore: true, nextSeq: seq + 1 }
}

/**
 * A lone `configWarning` from a core that sends no sets: added as the newest unless already shown.
 * Once the core sent a set, the set is the truth and this is ignored.
 */
export function addWarning(
  set: DiagnosticsSet,
  warning: ConfigWarningNotification,
  kind: DiagnosticKind = 'problem',
): DiagnosticsSet {
  if (set.fromCore) return set
  const key = diagnosticKey(kind, warning)
  if (set.entries.some((e) => e.key === key)) return set
  const entry: DiagnosticEntry = { key, kind, warning, seq: set.nextSeq }
  return { ...set, entries: sorted([entry, ...set.entries]), nextSeq: set.nextSeq + 1 }
}

/** Hidden until it changes (a changed entry has another key) or goes away and comes back. */
export function dismissDiagnostic(set: DiagnosticsSet, key: string): DiagnosticsSet {
  if (set.dismissed.has(key) || !set.entries.some((e) => e.key === key)) return set
  return { ...set, dismissed: new Set([...set.dismissed, key]) }
}

/**
 * A new connection: its set (`expectSet`) or its own warnings follow. Dismissals are kept for
 * entries that return, so a notice dismissed before a core restart stays dismissed.
 */
export function resetDiagnostics(set: DiagnosticsSet, expectSet: boolean): DiagnosticsSet {
  if (set.entries.length === 0 && set.fromCore === expectSet) return set
  return { ...set, entries: [], fromCore: expectSet }
}

/** The core could not give a set: its lone warnings count from now on. */
export function withoutSet(set: DiagnosticsSet): DiagnosticsSet {
  return set.fromCore ? { ...set, fromCore: false } : set
}

/** What the banner shows of one kind: not dismissed, newest first. */
export function visibleDiagnostics(set: DiagnosticsSet, kind: DiagnosticKind): DiagnosticEntry[] {
  return set.entries.filter((e) => e.kind === kind && !set.dismissed.has(e.key))
}
