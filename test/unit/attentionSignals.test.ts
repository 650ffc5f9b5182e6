/**
 * The renderer's attention logic on a real DeskStore: the count the title and badge show, a
 * notification for each new approval and each finished turn while the user is away (never while
 * looking), and the keys that answer a prompt.
 */
import { describe, expect, it } from 'vitest'
import { DeskStore } from '../../src/renderer/state/store'
import { titleWithCount, watchAttention, type AttentionNotice } from '../../src/renderer/view/attention'
import { decisionForKey } from '../../src/renderer/view/approvals'

function approval(requestId: number, threadId = 't1') {
  return {
    kind: 'fileChange' as const,
    grantRoot: null,
    requestId,
    threadId,
    turnId: 'turn1',
    itemId: `call_${requestId}`,
    reason: null,
  }
}

function rig(away: { value: boolean }) {
  const store = new DeskStore()
  const counts: number[] = []
  const notices: AttentionNotice[] = []
  watchAttention(store, { setCount: (n) => counts.push(n), notify: (n) => notices.push(n) }, () => away.value)
  return { store, counts, notices }
}

describe('attention signals', () => {
  it('counts the waiting approvals for the title and badge', () => {
    const { store, counts } = rig({ value: false })
    const first = store.addApproval(approval(1))
    store.addApproval(approval(2, 't2'))
    store.removeApproval(first)
    expect(counts).toEqual([0, 1, 2, 1])
    expect(titleWithCount('codex-desk', 2)).toBe('(2) codex-desk')
    expect(titleWithCount('codex-desk', 0)).toBe('codex-desk')
  })

  it('notifies a new approval and a finished turn only while the user is away, once each', () => {
    const away = { value: true }
    const { store, notices } = rig(away)
    store.applyNotification('thread/status/changed', {
      threadId: 't1',
      status: { type: 'active', activeFlags: ['waitingOnApproval'] },
    })
    store.addApproval(approval(1))
    // A replay of the same prompt (after a reconnect) is not a new one.
    store.addApproval(approval(1))
    store.applyNotification('thread/status/changed', { threadId: 't1', status: { type: 'idle' } })
    expect(notices.map((n) => [n.title.split(':')[0], n.body, n.threadId])).toEqual([
      ['Approval needed', 'Apply file changes?', 't1'],
      ['Turn finished', 'The answer is ready.', 't1'],
    ])
    away.value = false
    store.applyNotification('thread/status/changed', {
      threadId: 't1',
      status: { type: 'active', activeFlags: [] },
    })
    store.addApproval(approval(2))
    store.applyNotification('thread/status/changed', { threadId: 't1', status: { type: 'idle' } })
    expect(notices).toHaveLength(2)
  })
})

describe('approval keys', () => {
  const key = (k: string, extra: Partial<KeyboardEvent> = {}) => ({
    key: k,
    code: `Key${k.toUpperCase()}`,
    altKey: false,
    ctrlKey: false,
    metaKey: false,
    shiftKey: false,
    repeat: false,
    ...extra,
  })

  it('maps Y, A and N outside text fields, and only with Alt inside one', () => {
    expect(decisionForKey(key('y'), false)).toBe('accept')
    expect(decisionForKey(key('a'), false)).toBe('acceptForSession')
    expect(decisionForKey(key('n'), false)).toBe('decline')
    expect(decisionForKey(key('y'), true)).toBeNull()
    // macOS types "¥" for Alt+Y: the physical key counts.
    expect(decisionForKey(key('¥', { altKey: true, code: 'KeyY' }), true)).toBe('accept')
    expect(decisionForKey(key('y', { ctrlKey: true }), false)).toBeNull()
    expect(decisionForKey(key('y', { repeat: true }), false)).toBeNull()
    expect(decisionForKey(key('x'), false)).toBeNull()
  })
})
