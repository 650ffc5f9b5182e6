/**
 * The store's open thread as notifications grow it (store.ts dispatches them here): turns started
 * and completed, items started and completed, text, reasoning and command output deltas, summary
 * parts, a turn's diff and its errors, each reported as a small `Change` (a delta is an `append`).
 * A thread's first user message becomes its preview in the list.
 *
 * Runtime-free and DOM-free. It must never drop an item it has because a later message carries less
 * (turn/completed is a summary), never show one item or turn twice (everything is keyed by id), and
 * never grow a thread that is not open (for one, only its list row's last activity moves).
 */
import type { NotificationParams } from '../../worker/protocol/registry'
import { emptyAgentMessage, type Turn, type TurnError } from '../../worker/protocol/items'
import { userMessageText, type ThreadItem } from './model'
import { StoreBase, type ThreadView, type TurnView } from './storeBase'
import { turnDiffFromItems } from './turnDiff'

export abstract class TurnsStore extends StoreBase {
  /** The open thread's view, when `threadId` is it. */
  private viewFor(threadId: string): ThreadView | undefined {
    const view = this.state.view
    return view?.threadId === threadId ? view : undefined
  }

  protected addTurn(view: ThreadView, turn: Turn): TurnView {
    const turnView: TurnView = {
      id: turn.id,
      status: turn.status,
      error: turn.error,
      retrying: null,
      items: [],
      itemById: new Map(),
      unfinished: new Set(),
      diff: null,
    }
    for (const item of turn.items) {
      const copy = copyItem(item)
      turnView.items.push(copy)
      turnView.itemById.set(copy.id, copy)
    }
    // A past turn's diff is not stored with it: rebuilt from its file changes.
    if (turn.status !== 'inProgress') turnView.diff = turnDiffFromItems(turn.items, view.thread?.cwd ?? null)
    view.turns.push(turnView)
    view.turnById.set(turn.id, turnView)
    return turnView
  }

  /** turn/started (a new turn) or turn/completed (a summary: status and final messages, never fewer items). */
  protected onTurn({ threadId, turn }: NotificationParams<'turn/started'>, completed: boolean): void {
    const at = (completed ? turn.completedAt : turn.startedAt) ?? turn.startedAt
    if (at) this.touchThread(threadId, at)
    const view = this.viewFor(threadId)
    if (!view) return
    const existing = view.turnById.get(turn.id)
    if (!existing) {
      const added = this.addTurn(view, turn as Turn)
      if (completed) this.clearTurnApprovals(added.id)
      return this.emit({ kind: 'turn', turnId: turn.id })
    }
    if (completed || existing.status !== turn.status) {
      existing.status = turn.status
      existing.error = (turn.error as TurnError | null) ?? null
      if (turn.status !== 'inProgress') existing.retrying = null
    }
    this.emit({ kind: 'turn', turnId: turn.id })
    for (const item of turn.items) this.upsertItem(view, existing, item as ThreadItem)
    if (completed) this.clearTurnApprovals(turn.id)
  }

  private clearTurnApprovals(turnId: string): void {
    let changed = false
    for (const [key, approval] of this.state.approvals) {
      if (approval.turnId === turnId) {
        this.state.approvals.delete(key)
        changed = true
      }
    }
    if (changed) this.emit({ kind: 'approvals' })
  }

  /** The turn an event names; created when the snapshot did not have it yet. */
  private turnFor(view: ThreadView, turnId: string): TurnView {
    const existing = view.turnById.get(turnId)
    if (existing) return existing
    const turn = this.addTurn(view, {
      id: turnId,
      rootTurnId: null,
      items: [],
      itemsView: 'notLoaded',
      status: 'inProgress',
      error: null,
      startedAt: null,
      completedAt: null,
      durationMs: null,
    })
    this.emit({ kind: 'turn', turnId })
    return turn
  }

  private upsertItem(view: ThreadView, turn: TurnView, item: ThreadItem): void {
    const copy = copyItem(item)
    const existing = turn.itemById.get(item.id)
    if (existing) {
      turn.items[turn.items.indexOf(existing)] = copy
    } else {
      turn.items.push(copy)
    }
    turn.itemById.set(copy.id, copy)
    this.emit({ kind: 'item', turnId: turn.id, itemId: copy.id })
    // A file change's prompt shows the item's diff.
    for (const approval of this.state.approvals.values()) {
      if (approval.itemId === copy.id && approval.threadId === view.threadId) {
        this.emit({ kind: 'approvals' })
        break
      }
    }
  }

  protected onItem({ threadId, turnId, item }: NotificationParams<'item/started'>, completed: boolean): void {
    const view = this.viewFor(threadId)
    if (!view) return
    const turn = this.turnFor(view, turnId)
    if (completed) turn.unfinished.delete(item.id)
    else turn.unfinished.add(item.id)
    this.upsertItem(view, turn, item as ThreadItem)
    if (item.type === 'userMessage')
      this.previewFrom(threadId, item as Extract<ThreadItem, { type: 'userMessage' }>)
  }

  /** A thread's preview is its first user message; the list learns it here instead of refetching. */
  private previewFrom(threadId: string, item: Extract<ThreadItem, { type: 'userMessage' }>): void {
    const text = userMessageText(item).trim()
    if (!text) return
    let changed = false
    for (const map of [this.state.threads, this.state.known]) {
      const thread = map.get(threadId)
      if (thread && !thread.preview) {
        map.set(threadId, { ...thread, preview: text })
        changed = true
      }
    }
    const view = this.state.view
    if (view?.threadId === threadId && view.thread && !view.thread.preview) {
      view.thread = { ...view.thread, preview: text }
      changed = true
    }
    if (changed) {
      this.emit({ kind: 'threads' })
      this.emit({ kind: 'viewMeta' })
    }
  }

  /**
   * A delta. Its item may be unknown: a rejoin's snapshot leaves out an item still streaming, and
   * its deltas then come with no item/started, so the item is created here.
   */
  protected onDelta(
    p: { threadId: string; turnId: string; itemId: string; delta: string; summaryIndex?: number },
    type: 'agentMessage' | 'reasoning' | 'commandExecution',
  ): void {
    const view = this.viewFor(p.threadId)
    if (!view) return
    const turn = this.turnFor(view, p.turnId)
    let item = turn.itemById.get(p.itemId)
    if (!item) {
      item = placeholderItem(p.itemId, type)
      turn.items.push(item)
      turn.itemById.set(item.id, item)
      this.emit({ kind: 'item', turnId: turn.id, itemId: item.id })
    }
    if (item.type === 'agentMessage') {
      item.text += p.delta
    } else if (item.type === 'commandExecution') {
      item.aggregatedOutput = (item.aggregatedOutput ?? '') + p.delta
    } else if (item.type === 'reasoning') {
      const index = p.summaryIndex ?? 0
      while (item.summary.length <= index) item.summary.push('')
      item.summary[index] += p.delta
      // Only a delta to the last part grows the joined text at its end.
      if (index !== item.summary.length - 1) {
        return this.emit({ kind: 'item', turnId: turn.id, itemId: item.id })
      }
    } else {
      return
    }
    this.emit({ kind: 'append', turnId: turn.id, itemId: item.id })
  }

  protected onSummaryPart(p: NotificationParams<'item/reasoning/summaryPartAdded'>): void {
    const view = this.viewFor(p.threadId)
    if (!view) return
    const turn = this.turnFor(view, p.turnId)
    let item = turn.itemById.get(p.itemId)
    if (!item) {
      item = placeholderItem(p.itemId, 'reasoning')
      turn.items.push(item)
      turn.itemById.set(item.id, item)
    }
    if (item.type !== 'reasoning') return
    while (item.summary.length <= p.summaryIndex) item.summary.push('')
    this.emit({ kind: 'item', turnId: turn.id, itemId: item.id })
  }

  protected onDiff({ threadId, turnId, diff }: NotificationParams<'turn/diff/updated'>): void {
    const view = this.viewFor(threadId)
    if (!view) return
    this.turnFor(view, turnId).diff = diff
    this.emit({ kind: 'turn', turnId })
  }

  protected onError({ threadId, turnId, error, willRetry }: NotificationParams<'error'>): void {
    const view = this.viewFor(threadId)
    if (!view) return
    const turn = this.turnFor(view, turnId)
    if (willRetry) {
      turn.retrying = error.message
      // The core drops the answer a broken stream left unfinished (the retry answers again), as
      // codex does: it never completes, so it leaves the view here.
      for (const id of turn.unfinished) {
        const item = turn.itemById.get(id)
        if (item?.type !== 'agentMessage' && item?.type !== 'reasoning') continue
        turn.items.splice(turn.items.indexOf(item), 1)
        turn.itemById.delete(id)
        turn.unfinished.delete(id)
        this.emit({ kind: 'item', turnId, itemId: id })
      }
    } else turn.error = error as TurnError
    this.emit({ kind: 'turn', turnId })
  }
}

/** A copy the store may grow in place (deltas) without touching the caller's object. */
function copyItem(item: ThreadItem): ThreadItem {
  const copy = { ...item } as ThreadItem
  if (copy.type === 'reasoning') copy.summary = [...copy.summary]
  return copy
}

function placeholderItem(id: string, type: 'agentMessage' | 'reasoning' | 'commandExecution'): ThreadItem {
  switch (type) {
    case 'agentMessage':
      return emptyAgentMessage(id)
    case 'reasoning':
      return { type, id, summary: [], content: [] }
    case 'commandExecution':
      return {
        type,
        id,
        command: '',
        cwd: '',
        processId: null,
        source: 'agent',
        status: 'inProgress',
        commandActions: [],
        aggregatedOutput: '',
        exitCode: null,
        durationMs: null,
      }
  }
}
