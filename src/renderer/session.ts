/**
 * The session: one AppServerClient at a time over whatever channel `openChannel` gives (a
 * MessagePort in the app, a websocket in a browser), kept alive with reconnects, and the user's
 * actions (open, start, send, interrupt, archive, rename, answer a prompt) as protocol requests.
 * It feeds the store; views call it and never touch the client.
 *
 * The connection half (reconnects, what every connection loads, approval prompts) is the base class
 * in sessionConnection.ts, the thread actions (open, start, send, archive, ...) its subclass in
 * sessionThreads.ts; this file adds the composer queue.
 *
 * On every (re)connection: initialize, thread/list, and thread/resume of the open thread, whose
 * turns replace the view's in frame order (AppServerClient `onResult`), so a running turn goes on
 * with nothing missing or doubled. Runtime-free (no DOM, no Node): the integration tests drive it
 * against a real core. A failed request is a notice for the user, never an uncaught error.
 *
 * The composer's messages go through a queue kept in the window's storage (state/composerQueue.ts):
 * Enter queues, and the queue is pumped whenever the thread may take a turn (one message per turn,
 * in order, sent with its id as the client message id so a reload never sends one twice); Steer
 * hands text to the running turn and takes it back into the queue if the turn ends unread.
 */
import { ComposerQueue } from './state/composerQueue'
import type { ThreadItem } from './state/model'
import { OPEN_THREAD_KEY, type SessionOptions } from './sessionConnection'
import { SessionThreads } from './sessionThreads'

export {
  CLIENT_NAME,
  OPEN_THREAD_KEY,
  RECONNECT_BACKOFF,
  type Decision,
  type KeyValueStorage,
  type SessionOptions,
} from './sessionConnection'

/** How often this tab says it is alive, so other tabs leave its queued messages to it. */
const HEARTBEAT_MS = 10_000

/** A fresh id (a queued message's, a tab's). */
export function newId(): string {
  return globalThis.crypto.randomUUID()
}

/** The client message ids the turns' user messages carry back. */
function shownClientIds(turns: readonly { items: readonly ThreadItem[] }[]): Set<string> {
  const ids = new Set<string>()
  for (const turn of turns) {
    for (const item of turn.items) if (item.type === 'userMessage' && item.clientId) ids.add(item.clientId)
  }
  return ids
}

export class DeskSession extends SessionThreads {
  /** Queued messages, steers on their way and drafts, per thread (state/composerQueue.ts). */
  readonly queue: ComposerQueue
  /** Queued messages whose turn/start is in flight, and the threads they go to. */
  private readonly sendingIds = new Set<string>()
  private readonly sendingThreads = new Set<string>()
  /** Threads a queued message just started a turn in, until the thread is seen running (turn id). */
  private readonly awaitingStart = new Map<string, string>()
  /** Threads this window queued for: pumped even when not open. */
  private readonly queuedThreads = new Set<string>()
  /** Queued messages being edited: not sent (nor anything after them) until the edit ends. */
  private readonly held = new Set<string>()
  private pumpScheduled = false
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined

  constructor(options: SessionOptions) {
    super(options)
    this.queue = options.composerQueue ?? new ComposerQueue({ storage: null, tabId: newId(), newId })
    const remembered = options.storage?.getItem(OPEN_THREAD_KEY)
    if (remembered) this.store.openThread(remembered)
    // After a reload: this tab's queued messages of threads not open still go once those are idle.
    for (const threadId of this.queue.threadsWithMine()) this.queuedThreads.add(threadId)
    this.store.subscribe((change) => {
      if (['threads', 'view', 'turn', 'item'].includes(change.kind)) this.schedulePump()
      else if (change.kind === 'connection') {
        if (!this.connected) this.awaitingStart.clear()
        this.schedulePump()
      }
    })
  }

  start(): void {
    this.queue.heartbeat()
    this.heartbeatTimer = setInterval(() => this.queue.heartbeat(), HEARTBEAT_MS)
    void this.connect()
  }

  dispose(): void {
    this.disposed = true
    clearTimeout(this.retryTimer)
    clearInterval(this.heartbeatTimer)
    for (const timer of this.staleTimers) clearTimeout(timer)
    const client = this.client
    this.client = null
    client?.close()
  }

  // ── the composer: queue, steer, retry ─────────────────────────────────────────────────────────

  /**
   * What Enter does. With no thread open, starts one with the text (sendMessage). Otherwise the
   * text is queued for the open thread (kept in the window's storage) and goes out as the next turn
   * as soon as the thread is idle: at once when it already is. False when nothing was sent or kept.
   */
  async submit(text: string): Promise<boolean> {
    const threadId = this.startingThread ? null : this.store.state.openThreadId
    if (!threadId) return this.sendMessage(text)
    this.queue.add(threadId, text)
    this.queuedThreads.add(threadId)
    this.store.composerChanged()
    await this.pump(threadId)
    return true
  }

  /**
   * Gives the text to the open thread's running turn (the model reads it at its next step). It is
   * kept until the thread shows it: if the turn ends first (Interrupt), it is queued for the next
   * turn instead, so it is never lost. With no running turn, this is `submit`.
   */
  async steer(text: string): Promise<boolean> {
    const threadId = this.store.state.openThreadId
    const turn = this.store.runningTurn()
    if (!threadId || !turn) return this.submit(text)
    const client = this.requireClient('Could not send the message to the running turn')
    if (!client) return false
    const entry = this.queue.addSteered(threadId, text, turn.id)
    this.queuedThreads.add(threadId)
    this.store.composerChanged()
    try {
      await client.request('turn/steer', {
        threadId,
        expectedTurnId: turn.id,
        input: [{ type: 'text', text, text_elements: [] }],
        clientUserMessageId: entry.id,
      })
    } catch {
      // The turn ended meanwhile (or the connection closed: reconciled once the thread is back).
      if (!client.closedWith) this.queue.unsend(threadId, entry.id)
      this.store.composerChanged()
    }
    this.schedulePump()
    return true
  }

  /** Changes a queued message's text. */
  editQueued(threadId: string, id: string, text: string): void {
    if (!text.trim()) return this.removeQueued(threadId, id)
    if (this.queue.edit(threadId, id, text)) this.store.composerChanged()
  }

  removeQueued(threadId: string, id: string): void {
    this.held.delete(id)
    if (this.queue.remove(threadId, id)) this.store.composerChanged()
  }

  /** Holds a queued message while it is edited (`on`), or lets it go again. */
  holdQueued(id: string, on: boolean): void {
    if (on) this.held.add(id)
    else if (this.held.delete(id)) this.schedulePump()
  }

  /** Another window changed the queue or a draft (a `storage` event): show it, send what is ours. */
  queueChangedElsewhere(): void {
    this.store.composerChanged()
    this.schedulePump()
  }

  /** The user message of a turn, as text: what Retry sends again. */
  turnMessage(turnId: string): string | null {
    const turn = this.store.state.view?.turnById.get(turnId)
    const texts: string[] = []
    for (const item of turn?.items ?? []) {
      if (item.type !== 'userMessage') continue
      for (const input of item.content) if (input.type === 'text') texts.push(input.text)
    }
    return texts.length ? texts.join('\n\n') : null
  }

  /** Sends the user message of a failed turn again, as a new turn (queued if one runs). */
  async retryTurn(turnId: string): Promise<boolean> {
    const text = this.turnMessage(turnId)
    if (!text) return false
    return this.submit(text)
  }

  /** Whether the thread may not take a new turn now (one runs, or is being started by this window). */
  private busy(threadId: string): boolean {
    if (this.sendingThreads.has(threadId)) return true
    const awaited = this.awaitingStart.get(threadId)
    if (awaited !== undefined) {
      const view = this.store.state.view
      const seen = view?.threadId === threadId ? view.turnById.get(awaited) : undefined
      if (this.store.statusOf(threadId).type === 'active' || (seen && seen.status !== 'inProgress')) {
        this.awaitingStart.delete(threadId)
      } else return true
    }
    if (this.store.statusOf(threadId).type === 'active') return true
    return this.store.state.openThreadId === threadId && this.store.runningTurn() !== undefined
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.disposed) return
    this.pumpScheduled = true
    queueMicrotask(() => {
      this.pumpScheduled = false
      const open = this.store.state.openThreadId
      const threads = new Set(this.queuedThreads)
      if (open) threads.add(open)
      for (const threadId of threads) void this.pump(threadId)
    })
  }

  /**
   * Squares the thread's queue with what the thread shows, then, when the thread is idle, sends
   * the first queued message of this window as a new turn (one per turn, in order). A message is
   * marked as on its way in storage before the request and removed once the core took it; a reload
   * in between finds it in the thread (its client message id) or sends it again once idle.
   */
  private async pump(threadId: string): Promise<void> {
    const client = this.client
    if (!client || !this.initialized.has(client) || this.disposed) return
    const view = this.store.state.view
    const open = view?.threadId === threadId ? view : null
    if (view?.threadId === threadId && view.phase !== 'ready') return
    const status = this.store.statusOf(threadId).type
    // A thread the core has not loaded (after a restart) is resumed once opened.
    if (!open && status !== 'idle' && status !== 'systemError') return
    const busy = this.busy(threadId)
    if (open) {
      const running = this.store.runningTurn()
      const changed = this.queue.reconcile(
        threadId,
        { shown: shownClientIds(open.turns), idle: !busy, runningTurnId: running?.id ?? null },
        this.sendingIds,
      )
      if (changed) this.store.composerChanged()
    }
    if (busy) return
    const next = this.queue.next(threadId)
    if (!next || this.held.has(next.id) || !this.queue.markSending(threadId, next.id)) return
    this.sendingIds.add(next.id)
    this.sendingThreads.add(threadId)
    this.store.composerChanged()
    try {
      const { turn } = await client.request(
        'turn/start',
        {
          threadId,
          input: [{ type: 'text', text: next.text, text_elements: [] }],
          clientUserMessageId: next.id,
        },
        {
          onResult: (r) => this.store.applyNotification('turn/started', { threadId, turn: r.turn }),
        },
      )
      this.awaitingStart.set(threadId, turn.id)
      this.queue.done(threadId, next.id)
    } catch (error) {
      if (!client.closedWith) {
        // Refused: the text goes back to the message box rather than failing again and again.
        this.queue.done(threadId, next.id)
        const draft = this.queue.draft(threadId)
        this.queue.setDraft(threadId, draft ? `${draft}\n\n${next.text}` : next.text)
        this.fail('Could not send the queued message (it is back in the message box)', error, client)
      }
      // Closed: unknown whether it arrived; reconciled once the thread is back.
    } finally {
      this.sendingIds.delete(next.id)
      this.sendingThreads.delete(threadId)
      this.store.composerChanged()
      this.schedulePump()
    }
  }
}
