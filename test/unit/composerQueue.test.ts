import { describe, expect, it } from 'vitest'
import {
  ComposerQueue,
  DRAFT_KEY_PREFIX,
  OWNER_STALE_MS,
  QUEUE_KEY_PREFIX,
  type QueueStorage,
} from '../../src/renderer/state/composerQueue'

/** A Web Storage stand-in shared by the "tabs" of one test. */
class MemoryStorage implements QueueStorage {
  readonly map = new Map<string, string>()
  getItem(key: string): string | null {
    return this.map.get(key) ?? null
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value)
  }
  removeItem(key: string): void {
    this.map.delete(key)
  }
}

function tab(storage: QueueStorage | null, tabId: string, clock = { now: 1_000_000 }): ComposerQueue {
  let n = 0
  return new ComposerQueue({ storage, tabId, newId: () => `${tabId}-${++n}`, now: () => clock.now })
}

const T = 'thread-1'
const idle = { shown: new Set<string>(), idle: true, runningTurnId: null }

describe('ComposerQueue', () => {
  it('keeps queued messages in the order they were queued, and sends them one at a time in that order', () => {
    const queue = tab(new MemoryStorage(), 'a')
    queue.add(T, 'one')
    queue.add(T, 'two')
    queue.add(T, 'three')
    expect(queue.list(T).map((m) => m.text)).toEqual(['one', 'two', 'three'])

    const first = queue.next(T)
    expect(first?.text).toBe('one')
    expect(queue.markSending(T, first?.id ?? '')).toBe(true)
    // One per turn: nothing else goes while the first is on its way.
    expect(queue.next(T)).toBeNull()
    queue.done(T, first?.id ?? '')
    expect(queue.next(T)?.text).toBe('two')
  })

  it('edits and removes a queued message, but not one already on its way', () => {
    const queue = tab(new MemoryStorage(), 'a')
    const one = queue.add(T, 'one')
    const two = queue.add(T, 'two')
    expect(queue.edit(T, two.id, 'two, edited')).toBe(true)
    expect(queue.list(T).map((m) => m.text)).toEqual(['one', 'two, edited'])

    queue.markSending(T, one.id)
    expect(queue.edit(T, one.id, 'too late')).toBe(false)
    expect(queue.remove(T, one.id)).toBe(false)
    expect(queue.remove(T, two.id)).toBe(true)
    expect(queue.list(T).map((m) => m.text)).toEqual(['one'])
    expect(queue.remove(T, 'unknown')).toBe(false)
  })

  it('survives a reload: a new instance on the same storage and tab id reads the same queue and draft', () => {
    const storage = new MemoryStorage()
    const before = tab(storage, 'a')
    before.add(T, 'queued before the reload')
    before.addSteered(T, 'steered before the reload', 'turn-1')
    before.setDraft(T, 'half a sentence')
    before.setDraft(null, 'a new thread draft')

    const after = tab(storage, 'a')
    expect(after.list(T).map((m) => [m.text, m.state])).toEqual([
      ['steered before the reload', 'steered'],
      ['queued before the reload', 'queued'],
    ])
    expect(after.draft(T)).toBe('half a sentence')
    expect(after.draft(null)).toBe('a new thread draft')
    after.setDraft(T, '')
    expect(storage.getItem(DRAFT_KEY_PREFIX + T)).toBeNull()
    // An emptied queue leaves no key behind.
    for (const m of after.list(T)) after.done(T, m.id)
    expect(storage.getItem(QUEUE_KEY_PREFIX + T)).toBeNull()
  })

  it('finds the threads holding messages of this tab after a reload, through the storage keys', () => {
    const storage = new MemoryStorage()
    const enumerable: QueueStorage = {
      getItem: (k) => storage.getItem(k),
      setItem: (k, v) => storage.setItem(k, v),
      removeItem: (k) => storage.removeItem(k),
      get length() {
        return storage.map.size
      },
      key: (i) => [...storage.map.keys()][i] ?? null,
    }
    const clock = { now: 1_000_000 }
    const a = tab(enumerable, 'a', clock)
    const b = tab(enumerable, 'b', clock)
    b.heartbeat()
    a.add('thread-x', 'mine')
    b.add('thread-y', 'not mine')
    a.setDraft('thread-z', 'only a draft')
    expect(tab(enumerable, 'a', clock).threadsWithMine()).toEqual(['thread-x'])
  })

  it('tolerates corrupt storage: unparsable JSON, a non-list, and malformed or duplicate entries are ignored', () => {
    const storage = new MemoryStorage()
    const queue = tab(storage, 'a')
    storage.setItem(QUEUE_KEY_PREFIX + T, '{not json')
    expect(queue.list(T)).toEqual([])
    storage.setItem(QUEUE_KEY_PREFIX + T, '{"a":1}')
    expect(queue.list(T)).toEqual([])
    const good = { id: 'x', text: 'kept', owner: 'a', state: 'queued', queuedAt: 1 }
    storage.setItem(
      QUEUE_KEY_PREFIX + T,
      JSON.stringify([
        null,
        3,
        { id: 'y', text: 5 },
        { ...good, state: 'weird' },
        good,
        { ...good, text: 'dup' },
      ]),
    )
    expect(queue.list(T).map((m) => m.text)).toEqual(['kept'])
    // And it can still add after reading garbage.
    queue.add(T, 'added')
    expect(queue.list(T).map((m) => m.text)).toEqual(['kept', 'added'])
  })

  it('works in memory when storage is missing or throws', () => {
    const throwing: QueueStorage = {
      getItem: () => {
        throw new Error('denied')
      },
      setItem: () => {
        throw new Error('quota')
      },
      removeItem: () => {
        throw new Error('denied')
      },
    }
    for (const storage of [null, throwing]) {
      const queue = tab(storage, 'a')
      queue.add(T, 'kept in memory')
      queue.setDraft(T, 'draft in memory')
      expect(queue.list(T).map((m) => m.text)).toEqual(['kept in memory'])
      expect(queue.draft(T)).toBe('draft in memory')
    }
  })

  it('never sends a message twice: a second markSending fails, and one the thread shows is dropped', () => {
    const storage = new MemoryStorage()
    const queue = tab(storage, 'a')
    const message = queue.add(T, 'once')
    expect(queue.markSending(T, message.id)).toBe(true)
    expect(queue.markSending(T, message.id)).toBe(false)

    // A reload while the request was in flight: the thread shows the message (its client id).
    const reloaded = tab(storage, 'a')
    expect(reloaded.next(T)).toBeNull()
    expect(reloaded.reconcile(T, { ...idle, shown: new Set([message.id]) })).toBe(true)
    expect(reloaded.list(T)).toEqual([])
  })

  it('sends again after a reload only when the thread is idle and does not hold the message', () => {
    const storage = new MemoryStorage()
    const queue = tab(storage, 'a')
    const message = queue.add(T, 'maybe lost')
    queue.markSending(T, message.id)
    const reloaded = tab(storage, 'a')

    // The thread runs a turn: wait (it may be this message's turn).
    expect(reloaded.reconcile(T, { shown: new Set(), idle: false, runningTurnId: 'turn-9' })).toBe(false)
    expect(reloaded.next(T)).toBeNull()
    // Still in flight in this window: wait for the answer.
    expect(reloaded.reconcile(T, idle, new Set([message.id]))).toBe(false)
    // Idle, not shown, not in flight: the request never arrived, so it is queued again, in place.
    expect(reloaded.reconcile(T, idle)).toBe(true)
    expect(reloaded.next(T)?.id).toBe(message.id)
  })

  it('a steer whose turn ended before the model read it goes back to the queue, ahead of the rest', () => {
    const queue = tab(new MemoryStorage(), 'a')
    queue.add(T, 'queued later')
    const steer = queue.addSteered(T, 'steer', 'turn-1')
    expect(queue.list(T).map((m) => m.text)).toEqual(['steer', 'queued later'])
    expect(queue.next(T)).toBeNull()
    // Its turn still runs: kept.
    expect(queue.reconcile(T, { shown: new Set(), idle: false, runningTurnId: 'turn-1' })).toBe(false)
    // Delivered: the thread shows it.
    const delivered = tab(new MemoryStorage(), 'b')
    const other = delivered.addSteered(T, 'read by the model', 'turn-1')
    expect(delivered.reconcile(T, { ...idle, shown: new Set([other.id]) })).toBe(true)
    expect(delivered.list(T)).toEqual([])
    // Interrupted first: queued again.
    expect(queue.reconcile(T, idle)).toBe(true)
    expect(queue.next(T)?.id).toBe(steer.id)
    expect(queue.unsend(T, steer.id)).toBe(false)
  })

  it('two tabs: only the tab that queued a message sends it, until that tab has gone', () => {
    const storage = new MemoryStorage()
    const clock = { now: 1_000_000 }
    const a = tab(storage, 'a', clock)
    const b = tab(storage, 'b', clock)
    a.heartbeat()
    b.heartbeat()
    const message = a.add(T, 'from a')
    expect(b.list(T).map((m) => m.text)).toEqual(['from a'])
    expect(b.next(T)).toBeNull()
    expect(b.markSending(T, message.id)).toBe(false)
    expect(b.ownerGone('a')).toBe(false)
    // Another tab may still edit or remove it while it waits.
    expect(b.edit(T, message.id, 'from a, edited by b')).toBe(true)

    expect(a.next(T)?.text).toBe('from a, edited by b')
    expect(a.markSending(T, message.id)).toBe(true)
    // b sees it on its way and does not touch it.
    expect(b.reconcile(T, idle)).toBe(false)
    expect(b.list(T)[0]?.state).toBe('sending')

    // a closes without a word; after OWNER_STALE_MS, b adopts what a left.
    a.unsend(T, message.id)
    clock.now += OWNER_STALE_MS + 1
    b.heartbeat()
    expect(b.next(T)?.owner).toBe('b')
    expect(b.markSending(T, message.id)).toBe(true)
    expect(a.markSending(T, message.id)).toBe(false)
  })
})
