/**
 * The composer's memory: per thread, the messages queued while a turn runs (in order), the ones
 * sent to steer the running turn until the thread shows them, and the unsent draft. Everything is
 * kept in the window's storage (localStorage in a page) under one key per thread, so it survives an
 * Interrupt, a reload, a reconnect and a core restart.
 *
 * The rule for several tabs on one thread: a message belongs to the tab that queued it (its
 * `owner`, the tab's id kept in sessionStorage, which a reload keeps), and only that tab sends it.
 * Other tabs show it and may edit or remove it while it is still queued. A tab that has not been
 * seen for OWNER_STALE_MS (no heartbeat) has gone: the next tab that looks adopts its messages.
 * Before a message is sent it is marked `sending` in storage; the message goes out with its id as
 * the client message id, and the thread's user messages carry that id back, so after a reload a
 * message is sent again only when the thread is idle and does not already hold it: never twice.
 *
 * Pure: no DOM, no timers, no protocol; storage, the tab id, ids and the clock are given. It must
 * never throw on what it finds in storage (another version, another tab, a hand edit): what does
 * not parse is ignored.
 */

/** The slice of Web Storage used (localStorage in a page). */
export interface QueueStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
  /** Web Storage's enumeration, when present: lets a reloaded tab find its queues of other threads. */
  readonly length?: number
  key?(index: number): string | null
}

export type QueuedState =
  /** Waiting for the thread to be idle. */
  | 'queued'
  /** A turn/start with it is in flight (or its answer was lost with a reload). */
  | 'sending'
  /** Given to the running turn `turnId` to steer it; kept until the thread shows it. */
  | 'steered'

export interface QueuedMessage {
  /** Also the client message id the thread's user message carries back. */
  id: string
  text: string
  /** The tab that queued it; only it sends. */
  owner: string
  state: QueuedState
  /** For `steered`: the turn it was given to. */
  turnId?: string
  /** ms since the epoch. */
  queuedAt: number
}

export const QUEUE_KEY_PREFIX = 'codex-desk.queue.'
export const DRAFT_KEY_PREFIX = 'codex-desk.draft.'
export const TAB_KEY_PREFIX = 'codex-desk.tab.'
/** The draft of the composer when no thread is open (the next new thread). */
export const NEW_THREAD = 'new'
/** A tab that has not written its heartbeat for this long has closed. */
export const OWNER_STALE_MS = 30_000

const STATES: readonly QueuedState[] = ['queued', 'sending', 'steered']

function isQueued(value: unknown): value is QueuedMessage {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Record<string, unknown>
  return (
    typeof v.id === 'string' &&
    v.id !== '' &&
    typeof v.text === 'string' &&
    typeof v.owner === 'string' &&
    typeof v.queuedAt === 'number' &&
    STATES.includes(v.state as QueuedState) &&
    (v.turnId === undefined || typeof v.turnId === 'string')
  )
}

/** Storage that may throw (quota, disabled) or be absent: falls back to memory for this window. */
class SafeStorage {
  private readonly memory = new Map<string, string>()
  constructor(private readonly storage: QueueStorage | null) {}

  get(key: string): string | null {
    try {
      if (this.storage) return this.storage.getItem(key)
    } catch {
      // fall through to memory
    }
    return this.memory.get(key) ?? null
  }

  set(key: string, value: string): void {
    this.memory.set(key, value)
    try {
      this.storage?.setItem(key, value)
    } catch {
      // quota or disabled: this window still has it in memory
    }
  }

  /** Every key with the prefix (storage's and this window's). */
  keys(prefix: string): string[] {
    const found = new Set<string>()
    for (const key of this.memory.keys()) if (key.startsWith(prefix)) found.add(key)
    try {
      const storage = this.storage
      if (storage?.key && typeof storage.length === 'number') {
        for (let i = 0; i < storage.length; i++) {
          const key = storage.key(i)
          if (key?.startsWith(prefix)) found.add(key)
        }
      }
    } catch {
      // storage disabled: memory only
    }
    return [...found]
  }

  remove(key: string): void {
    this.memory.delete(key)
    try {
      this.storage?.removeItem(key)
    } catch {
      // ignore
    }
  }
}

export interface ComposerQueueOptions {
  storage: QueueStorage | null
  /** This tab's id (kept across a reload). */
  tabId: string
  newId: () => string
  now?: () => number
}

export class ComposerQueue {
  private readonly storage: SafeStorage
  readonly tabId: string
  private readonly newId: () => string
  private readonly now: () => number

  constructor(options: ComposerQueueOptions) {
    this.storage = new SafeStorage(options.storage)
    this.tabId = options.tabId
    this.newId = options.newId
    this.now = options.now ?? Date.now
  }

  // ── reading and writing a thread's list ──

  /** The thread's messages in order (steered ones first: they were meant for the running turn). */
  list(threadId: string): QueuedMessage[] {
    const raw = this.storage.get(QUEUE_KEY_PREFIX + threadId)
    if (!raw) return []
    let parsed: unknown
    try {
      parsed = JSON.parse(raw)
    } catch {
      return []
    }
    if (!Array.isArray(parsed)) return []
    const seen = new Set<string>()
    return parsed.filter((entry): entry is QueuedMessage => {
      if (!isQueued(entry) || seen.has(entry.id)) return false
      seen.add(entry.id)
      return true
    })
  }

  private write(threadId: string, list: QueuedMessage[]): void {
    if (list.length === 0) this.storage.remove(QUEUE_KEY_PREFIX + threadId)
    else this.storage.set(QUEUE_KEY_PREFIX + threadId, JSON.stringify(list))
  }

  private update(threadId: string, change: (list: QueuedMessage[]) => boolean): boolean {
    const list = this.list(threadId)
    const changed = change(list)
    if (changed) this.write(threadId, list)
    return changed
  }

  /** Queues a message at the end; returns it. */
  add(threadId: string, text: string): QueuedMessage {
    const message: QueuedMessage = {
      id: this.newId(),
      text,
      owner: this.tabId,
      state: 'queued',
      queuedAt: this.now(),
    }
    this.update(threadId, (list) => (list.push(message), true))
    return message
  }

  /** Changes the text of a message still queued (not one on its way). */
  edit(threadId: string, id: string, text: string): boolean {
    return this.update(threadId, (list) => {
      const entry = list.find((m) => m.id === id)
      if (!entry || entry.state !== 'queued' || entry.text === text) return false
      entry.text = text
      return true
    })
  }

  /** Removes a message still queued. */
  remove(threadId: string, id: string): boolean {
    return this.update(threadId, (list) => {
      const index = list.findIndex((m) => m.id === id && m.state === 'queued')
      if (index < 0) return false
      list.splice(index, 1)
      return true
    })
  }

  /** A message that reached the thread (or was given up): gone from the list, whatever its state. */
  done(threadId: string, id: string): boolean {
    return this.update(threadId, (list) => {
      const index = list.findIndex((m) => m.id === id)
      if (index < 0) return false
      list.splice(index, 1)
      return true
    })
  }

  /** Threads holding messages of this tab (or of a tab that has gone): what a reloaded tab sends. */
  threadsWithMine(): string[] {
    return this.storage
      .keys(QUEUE_KEY_PREFIX)
      .map((key) => key.slice(QUEUE_KEY_PREFIX.length))
      .filter((threadId) =>
        this.list(threadId).some((m) => m.owner === this.tabId || this.ownerGone(m.owner)),
      )
  }

  // ── sending ──

  /**
   * The message this tab should send now, when the thread is idle: the first one in order, if it
   * is queued and this tab's (adopting it when its owner has gone). Null when the first belongs to
   * a live tab, or is on its way: order is kept, one message per turn.
   */
  next(threadId: string): QueuedMessage | null {
    const list = this.list(threadId)
    const head = list[0]
    if (!head || head.state !== 'queued') return null
    if (head.owner !== this.tabId) {
      if (!this.ownerGone(head.owner)) return null
      head.owner = this.tabId
      this.write(threadId, list)
    }
    return head
  }

  /** Marks the message as on its way; false when it is gone or not queued (another send took it). */
  markSending(threadId: string, id: string): boolean {
    return this.update(threadId, (list) => {
      const entry = list.find((m) => m.id === id)
      if (!entry || entry.state !== 'queued' || entry.owner !== this.tabId) return false
      entry.state = 'sending'
      return true
    })
  }

  /** A send that surely did not reach the thread: queued again, where it was. */
  unsend(threadId: string, id: string): boolean {
    return this.update(threadId, (list) => {
      const entry = list.find((m) => m.id === id)
      if (!entry || entry.state === 'queued') return false
      entry.state = 'queued'
      delete entry.turnId
      return true
    })
  }

  /** Records text given to the running turn `turnId` until the thread shows it (`reconcile`). */
  addSteered(threadId: string, text: string, turnId: string): QueuedMessage {
    const message: QueuedMessage = {
      id: this.newId(),
      text,
      owner: this.tabId,
      state: 'steered',
      turnId,
      queuedAt: this.now(),
    }
    this.update(threadId, (list) => {
      // Ahead of the queued ones: it was meant for the turn that runs now.
      const firstQueued = list.findIndex((m) => m.state === 'queued')
      list.splice(firstQueued < 0 ? list.length : firstQueued, 0, message)
      return true
    })
    return message
  }

  /**
   * Squares this tab's messages on their way with what the thread holds: `shown` are the client
   * message ids of the thread's user messages, `idle` says the thread runs nothing, `inFlight` the
   * ids this window is sending right now. A message the thread shows is done. One that is not shown
   * goes back to the queue (in place) when it cannot arrive any more: a send not in flight while the
   * thread is idle, or a steer whose turn has ended (interrupted before the model read it).
   * Returns whether anything changed.
   */
  reconcile(
    threadId: string,
    thread: { shown: ReadonlySet<string>; idle: boolean; runningTurnId: string | null },
    inFlight: ReadonlySet<string> = new Set(),
  ): boolean {
    return this.update(threadId, (list) => {
      let changed = false
      for (let i = list.length - 1; i >= 0; i--) {
        const entry = list[i] as QueuedMessage
        if (entry.state === 'queued') {
          // A send whose answer was lost but that arrived (the request reached the core).
          if (thread.shown.has(entry.id)) {
            list.splice(i, 1)
            changed = true
          }
          continue
        }
        if (entry.owner !== this.tabId && !this.ownerGone(entry.owner)) continue
        if (thread.shown.has(entry.id)) {
          list.splice(i, 1)
          changed = true
          continue
        }
        const lost =
          entry.state === 'sending'
            ? thread.idle && !inFlight.has(entry.id)
            : thread.runningTurnId !== entry.turnId
        if (lost) {
          entry.state = 'queued'
          entry.owner = this.tabId
          delete entry.turnId
          changed = true
        }
      }
      return changed
    })
  }

  // ── tabs ──

  /** Says this tab is alive (call every few seconds). */
  heartbeat(): void {
    this.storage.set(TAB_KEY_PREFIX + this.tabId, String(this.now()))
  }

  /** This tab is closing: its messages may be adopted at once. */
  leave(): void {
    this.storage.remove(TAB_KEY_PREFIX + this.tabId)
  }

  ownerGone(owner: string): boolean {
    if (owner === this.tabId) return false
    const seen = Number(this.storage.get(TAB_KEY_PREFIX + owner))
    return !Number.isFinite(seen) || seen <= 0 || this.now() - seen > OWNER_STALE_MS
  }

  // ── the draft ──

  draft(threadId: string | null): string {
    return this.storage.get(DRAFT_KEY_PREFIX + (threadId ?? NEW_THREAD)) ?? ''
  }

  setDraft(threadId: string | null, text: string): void {
    const key = DRAFT_KEY_PREFIX + (threadId ?? NEW_THREAD)
    if (text) this.storage.set(key, text)
    else this.storage.remove(key)
  }
}
