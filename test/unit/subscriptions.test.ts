import { afterEach, describe, expect, it, vi } from 'vitest'
import { ThreadSubscriptions } from '../../src/worker/threads/subscriptions'

afterEach(() => {
  vi.useRealTimers()
})

function setup(delaySecs = 60) {
  vi.useFakeTimers()
  const busy = new Set<string>()
  const unloaded: string[] = []
  const subs = new ThreadSubscriptions({
    delaySecs: () => delaySecs,
    isBusy: (id) => busy.has(id),
    unload: (id) => {
      unloaded.push(id)
      subs.removeThread(id)
    },
  })
  return { subs, busy, unloaded }
}

describe('thread subscriptions', () => {
  it('keeps both maps in step and removes a closed connection from both at once', () => {
    const { subs } = setup()
    expect(subs.subscribe('t1', 1)).toBe(true)
    expect(subs.subscribe('t1', 1)).toBe(false)
    subs.subscribe('t2', 1)
    subs.subscribe('t1', 2)
    expect([...subs.subscribers('t1')]).toEqual([1, 2])
    expect([...subs.threadsOf(1)]).toEqual(['t1', 't2'])
    expect(subs.connectionClosed(1)).toEqual(['t1', 't2'])
    expect([...subs.subscribers('t1')]).toEqual([2])
    expect([...subs.subscribers('t2')]).toEqual([])
    expect([...subs.threadsOf(1)]).toEqual([])
    expect(subs.unsubscribe('t1', 1)).toBe('notSubscribed')
    expect(subs.unsubscribe('t1', 2)).toBe('unsubscribed')
  })

  it('unloads a thread only after the delay with no subscriber and no activity', () => {
    const { subs, unloaded } = setup(60)
    subs.subscribe('t1', 1)
    subs.unsubscribe('t1', 1)
    vi.advanceTimersByTime(59_000)
    expect(unloaded).toEqual([])
    // Coming back cancels the unload; leaving again restarts the full delay.
    subs.subscribe('t1', 2)
    vi.advanceTimersByTime(5_000)
    subs.connectionClosed(2)
    vi.advanceTimersByTime(59_999)
    expect(unloaded).toEqual([])
    vi.advanceTimersByTime(1)
    expect(unloaded).toEqual(['t1'])
  })

  it('never unloads a busy thread, and re-arms when its activity ends', () => {
    const { subs, busy, unloaded } = setup(1)
    subs.subscribe('t1', 1)
    busy.add('t1')
    subs.unsubscribe('t1', 1)
    vi.advanceTimersByTime(10_000)
    expect(unloaded).toEqual([])
    busy.delete('t1')
    subs.activity('t1')
    vi.advanceTimersByTime(999)
    expect(unloaded).toEqual([])
    vi.advanceTimersByTime(1)
    expect(unloaded).toEqual(['t1'])
  })

  it('does not let a stale listener that finishes late clear a newer one', async () => {
    const { subs } = setup()
    const first = subs.attachListener('t1')
    let releaseStale!: () => void
    const staleTask = new Promise<void>((r) => (releaseStale = r)).then(() =>
      subs.detachListener('t1', first),
    )
    // A resume attaches a newer listener while the old task is still winding down.
    const second = subs.attachListener('t1')
    releaseStale()
    expect(await staleTask).toBe(false)
    expect(subs.isCurrentListener('t1', second)).toBe(true)
    expect(subs.detachListener('t1', second)).toBe(true)
    expect(subs.isCurrentListener('t1', second)).toBe(false)
  })
})
