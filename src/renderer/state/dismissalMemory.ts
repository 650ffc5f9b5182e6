/**
 * Remembers which diagnostics the user dismissed (the config problems banner and the machine
 * notices such as "no sandbox") across reloads and restarts: in localStorage, by a hash of the
 * entry's whole content (its diagnosticsSet key), so an entry whose text, file or place CHANGED has
 * another hash and shows again. A problem the core reports fixed is forgotten, so it shows again
 * if it comes back; notices are kept (a core that just started finds its notices late). At most
 * MAX_REMEMBERED hashes are kept, the most recently dismissed or seen first.
 *
 * It only watches the store and calls `dismissDiagnostic`; it never hides an entry it has no hash
 * for, and a storage that fails (disabled, full) only means dismissals last until the reload.
 */
import type { KeyValueStorage } from '../sessionConnection'
import type { DeskStore } from './store'

export const DISMISSED_KEY = 'codex-desk.dismissedDiagnostics'
export const MAX_REMEMBERED = 50

/** A short, stable hash of a diagnostic key (two 32-bit FNV-1a style hashes, in base 36). */
export function dismissalHash(key: string): string {
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193)
    h2 = Math.imul(h2 ^ c, 0x5bd1e995)
  }
  return `${(h1 >>> 0).toString(36)}.${(h2 >>> 0).toString(36)}`
}

function load(storage: KeyValueStorage): string[] {
  try {
    const parsed: unknown = JSON.parse(storage.getItem(DISMISSED_KEY) ?? '[]')
    if (!Array.isArray(parsed)) return []
    return parsed.filter((h): h is string => typeof h === 'string' && h.length <= 32).slice(0, MAX_REMEMBERED)
  } catch {
    return []
  }
}

/** The remembered hashes, newest first, bounded. */
export class DismissalMemory {
  private hashes: string[]

  constructor(private readonly storage: KeyValueStorage) {
    this.hashes = load(storage)
  }

  has(hash: string): boolean {
    return this.hashes.includes(hash)
  }

  remember(hash: string): void {
    this.hashes = [hash, ...this.hashes.filter((h) => h !== hash)].slice(0, MAX_REMEMBERED)
    this.save()
  }

  forget(hash: string): void {
    if (!this.has(hash)) return
    this.hashes = this.hashes.filter((h) => h !== hash)
    this.save()
  }

  get size(): number {
    return this.hashes.length
  }

  private save(): void {
    try {
      if (this.hashes.length === 0) this.storage.removeItem(DISMISSED_KEY)
      else this.storage.setItem(DISMISSED_KEY, JSON.stringify(this.hashes))
    } catch {
      // Storage full or disabled: the dismissal lasts until the reload.
    }
  }
}

/**
 * Keeps the store's dismissals and the memory in step: an entry the memory knows is dismissed as
 * it arrives; a dismissal the user makes is remembered; a dismissed problem the core dropped (fixed)
 * is forgotten. Returns the unsubscribe.
 */
export function rememberDismissals(store: DeskStore, storage: KeyValueStorage | null): () => void {
  if (!storage) return () => undefined
  const memory = new DismissalMemory(storage)
  let dismissed = new Set(store.state.diagnostics.dismissed)
  const sync = () => {
    const set = store.state.diagnostics
    for (const key of set.dismissed) if (!dismissed.has(key)) memory.remember(dismissalHash(key))
    for (const key of dismissed) {
      // Dropped from the dismissed set: the core no longer reports that problem.
      if (!set.dismissed.has(key) && !set.entries.some((e) => e.key === key)) {
        memory.forget(dismissalHash(key))
      }
    }
    dismissed = new Set(set.dismissed)
    for (const entry of set.entries) {
      if (!set.dismissed.has(entry.key) && memory.has(dismissalHash(entry.key))) {
        store.dismissDiagnostic(entry.key) // emits again; that run finds it dismissed
        return
      }
    }
  }
  sync()
  return store.subscribe((change) => {
    if (change.kind === 'diagnostics') sync()
  })
}
