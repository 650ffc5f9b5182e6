/**
 * Throttled checkpoints of an item's streaming text (tool output, whose producer hands over the
 * whole text so far): at most one line per item per 250 ms, never more than 250 ms behind. A line
 * carries only what is new since the item's last line (`item_text_delta`), so a long output costs
 * its length once, not its length per line; text that was replaced rather than extended is written
 * whole (`item_checkpoint`).
 *
 * It must never keep a finished process alive (its timers are unref'd) and never lose text to a
 * failed write: the failed part is written again with the next line.
 */
import type { ItemTextDelta, RolloutPayloads } from './rolloutLines'
import type { CheckpointText } from './rolloutSink'

export const CHECKPOINT_INTERVAL_MS = 250

/** Characters compared at the end of the last text to decide that the new text extends it. */
const EXTENDS_CHECK = 64

/** Where the checkpoints go: the writer's queue. */
export interface CheckpointTarget {
  appendText(delta: ItemTextDelta, atMs: number): Promise<void>
  appendCheckpoint(payload: RolloutPayloads['item_checkpoint'], atMs: number): Promise<void>
  failed(itemId: string, error: unknown): void
}

interface State {
  turnId: string
  text: CheckpointText
  /** Newer text than the last line queued for this item. */
  dirty: boolean
  lastAt: number
  timer: NodeJS.Timeout | null
  /** The text as the lines queued so far have it. */
  written: string
}

export class CheckpointThrottle {
  private readonly states = new Map<string, State>()

  constructor(
    private readonly target: CheckpointTarget,
    private readonly interval = CHECKPOINT_INTERVAL_MS,
  ) {}

  /**
   * The first call for an item writes at once; later calls within the interval of its last line are
   * held, and the latest of them is written when the interval is up.
   */
  checkpoint(turnId: string, itemId: string, text: CheckpointText): void {
    let state = this.states.get(itemId)
    if (!state) {
      state = { turnId, text, dirty: true, lastAt: -Infinity, timer: null, written: '' }
      this.states.set(itemId, state)
    } else {
      state.turnId = turnId
      state.text = text
      state.dirty = true
    }
    if (state.timer) return
    const now = Date.now()
    const wait = state.lastAt + this.interval - now
    if (wait <= 0) {
      void this.emit(itemId, state, now).catch(() => undefined)
      return
    }
    const held = state
    held.timer = setTimeout(() => {
      held.timer = null
      if (held.dirty && this.states.get(itemId) === held) {
        void this.emit(itemId, held, Date.now()).catch(() => undefined)
      }
    }, wait)
    held.timer.unref()
  }

  /** Queues every held text now; the promises settle with their writes. */
  flush(): Promise<void>[] {
    const writes: Promise<void>[] = []
    for (const [itemId, state] of this.states) {
      if (state.timer) {
        clearTimeout(state.timer)
        state.timer = null
      }
      if (state.dirty) writes.push(this.emit(itemId, state, Date.now()))
    }
    return writes
  }

  /** The item completed: its held text is superseded. */
  drop(itemId: string): void {
    const state = this.states.get(itemId)
    if (!state) return
    if (state.timer) clearTimeout(state.timer)
    this.states.delete(itemId)
  }

  /** The turn completes: held text of its items is queued first, so an interrupted item keeps it. */
  settle(turnId: string): void {
    for (const [itemId, state] of this.states) {
      if (state.turnId !== turnId) continue
      if (state.timer) clearTimeout(state.timer)
      if (state.dirty) void this.emit(itemId, state, Date.now()).catch(() => undefined)
      this.states.delete(itemId)
    }
  }

  dispose(): void {
    for (const state of this.states.values()) if (state.timer) clearTimeout(state.timer)
    this.states.clear()
  }

  private emit(itemId: string, state: State, now: number): Promise<void> {
    state.dirty = false
    state.lastAt = now
    const source = state.text
    const text = typeof source === 'function' ? source() : source
    const before = state.written
    let written: Promise<void>
    if (text.length < before.length || !extendsText(before, text)) {
      written = this.target.appendCheckpoint({ turnId: state.turnId, itemId, text }, now)
    } else if (text.length === before.length) {
      written = Promise.resolve()
    } else {
      const delta = { turnId: state.turnId, itemId, offset: before.length, text: text.slice(before.length) }
      written = this.target.appendText(delta, now)
    }
    state.written = text
    written.catch((error: unknown) => {
      if (this.states.get(itemId) === state) {
        // Write it again from where the failed line started, with whatever is newest by then.
        if (state.written.length > before.length) state.written = before
        state.dirty = true
      }
      this.target.failed(itemId, error)
    })
    return written
  }
}

/** Whether `text` continues `before` (checked on the last characters of `before`: output only grows). */
function extendsText(before: string, text: string): boolean {
  const from = Math.max(0, before.length - EXTENDS_CHECK)
  return text.slice(from, before.length) === before.slice(from)
}
