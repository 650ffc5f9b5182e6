/**
 * The renderer's runtime-free store (src/renderer/state): what the thread view would show after a
 * sequence of notifications and responses, and which changes it reports to the views.
 */
import { describe, expect, it } from 'vitest'
import type { ThreadItem, Turn } from '../../src/worker/protocol/items'
import {
  badgeOf,
  connectionText,
  parentThreadIdOf,
  threadTitle,
  turnStatusText,
} from '../../src/renderer/state/model'
import { RECONNECT_BACKOFF } from '../../src/renderer/session'
import { DeskStore, type Change } from '../../src/renderer/state/store'
import { backoffDelayMs } from '../../src/worker/util/retry'
import { agentMessage, thread } from '../support/threadFixtures'

function turn(id: string, items: ThreadItem[], status: Turn['status'] = 'inProgress'): Turn {
  return {
    id,
    rootTurnId: null,
    items,
    itemsView: 'full',
    status,
    error: null,
    startedAt: null,
    completedAt: null,
    durationMs: null,
  }
}

const userMessage = (id: string, text: string): ThreadItem => ({
  type: 'userMessage',
  id,
  clientId: null,
  content: [{ type: 'text', text, text_elements: [] }],
})

/** A store with thread T open (snapshot applied) and every change recorded. */
function openStore(turns: Turn[] = []) {
  const store = new DeskStore()
  const changes: Change[] = []
  store.subscribe((change) => changes.push(change))
  store.openThread('T')
  store.applyThreadSnapshot(thread('T', 100, { turns }))
  changes.length = 0
  return { store, changes }
}

const delta = (itemId: string, text: string, turnId = 'u1') => ({
  threadId: 'T',
  turnId,
  itemId,
  delta: text,
})

function texts(store: DeskStore): string[] {
  return (store.state.view?.turns ?? []).flatMap((t) =>
    t.items.map((item) => (item.type === 'agentMessage' ? item.text : item.type)),
  )
}

describe('renderer store: streaming', () => {
  it('accumulates agent message deltas and reports each as an append of that item', () => {
    const { store, changes } = openStore([turn('u1', [agentMessage('m1', '')])])
    for (const piece of ['Hel', 'lo', ', ', 'world']) {
      store.applyNotification('item/agentMessage/delta', delta('m1', piece))
    }
    expect(texts(store)).toEqual(['Hello, world'])
    expect(changes).toEqual(Array(4).fill({ kind: 'append', turnId: 'u1', itemId: 'm1' }))
  })

  it('replaces the streamed text with the final text of item/completed', () => {
    const { store, changes } = openStore([turn('u1', [agentMessage('m1', '')])])
    store.applyNotification('item/agentMessage/delta', delta('m1', 'Hello wrold'))
    store.applyNotification('item/completed', {
      threadId: 'T',
      turnId: 'u1',
      item: agentMessage('m1', 'Hello world'),
      completedAtMs: 1,
    })
    expect(texts(store)).toEqual(['Hello world'])
    expect(changes.at(-1)).toEqual({ kind: 'item', turnId: 'u1', itemId: 'm1' })
  })

  it('creates an item that the snapshot left out when its deltas arrive without item/started', () => {
    const { store, changes } = openStore([turn('u1', [userMessage('q', 'hi')])])
    store.applyNotification('item/agentMessage/delta', delta('m9', 'late '))
    store.applyNotification('item/agentMessage/delta', delta('m9', 'text'))
    store.applyNotification('item/commandExecution/outputDelta', delta('c1', 'out\n'))
    expect(texts(store)).toEqual(['userMessage', 'late text', 'commandExecution'])
    const command = store.state.view?.turns[0]?.itemById.get('c1')
    expect(command?.type === 'commandExecution' && command.aggregatedOutput).toBe('out\n')
    expect(changes.slice(0, 2)).toEqual([
      { kind: 'item', turnId: 'u1', itemId: 'm9' },
      { kind: 'append', turnId: 'u1', itemId: 'm9' },
    ])
  })

  it('creates the turn when an event names one the view does not have yet', () => {
    const { store } = openStore()
    store.applyNotification('item/started', {
      threadId: 'T',
      turnId: 'u2',
      item: userMessage('q2', 'again'),
      startedAtMs: 1,
    })
    expect(store.state.view?.turns.map((t) => [t.id, t.status, t.items.length])).toEqual([
      ['u2', 'inProgress', 1],
    ])
  })

  it('builds reasoning summaries part by part, and re-renders the item when an earlier part grows', () => {
    const { store, changes } = openStore([turn('u1', [])])
    const part = (summaryIndex: number, text: string) =>
      store.applyNotification('item/reasoning/summaryTextDelta', { ...delta('r1', text), summaryIndex })
    part(0, 'First')
    store.applyNotification('item/reasoning/summaryPartAdded', {
      threadId: 'T',
      turnId: 'u1',
      itemId: 'r1',
      summaryIndex: 1,
    })
    part(1, 'Second')
    part(0, ' part')
    const item = store.state.view?.turns[0]?.itemById.get('r1')
    expect(item?.type === 'reasoning' && item.summary).toEqual(['First part', 'Second'])
    expect(changes.map((c) => c.kind)).toEqual(['item', 'append', 'item', 'append', 'item'])
  })

  it('ignores turn and item events of threads other than the open one', () => {
    const { store, changes } = openStore([turn('u1', [agentMessage('m1', 'a')])])
    store.applyNotification('item/agentMessage/delta', { ...delta('m1', 'zzz'), threadId: 'OTHER' })
    store.applyNotification('turn/started', { threadId: 'OTHER', turn: turn('x', []) })
    expect(texts(store)).toEqual(['a'])
    expect(changes).toEqual([])
  })
})

describe('renderer store: turns', () => {
  it('keeps every item when turn/completed carries only the summary, and takes its status', () => {
    const { store } = openStore([turn('u1', [userMessage('q', 'hi'), agentMessage('m1', 'partial')])])
    store.applyNotification('item/started', {
      threadId: 'T',
      turnId: 'u1',
      item: {
        type: 'commandExecution',
        id: 'c1',
        command: 'ls',
        cwd: '/w',
        processId: null,
        source: 'agent',
        status: 'completed',
        commandActions: [],
        aggregatedOutput: 'a\n',
        exitCode: 0,
        durationMs: 3,
      },
      startedAtMs: 1,
    })
    const summary = {
      ...turn('u1', [agentMessage('m1', 'final')], 'completed'),
      itemsView: 'summary' as const,
    }
    store.applyNotification('turn/completed', { threadId: 'T', turn: summary })
    const view = store.state.view?.turns[0]
    expect(view?.status).toBe('completed')
    expect(texts(store)).toEqual(['userMessage', 'final', 'commandExecution'])
  })

  it('shows a failed turn with its error message, and a retrying error until the turn ends', () => {
    const { store } = openStore([turn('u1', [])])
    const error = {
      message: 'rate limited',
      codexErrorInfo: null,
      additionalDetails: null,
      misalignment: null,
    }
    store.applyNotification('error', { threadId: 'T', turnId: 'u1', error, willRetry: true })
    expect(store.state.view?.turns[0]?.retrying).toBe('rate limited')
    const failed = { ...turn('u1', [], 'failed'), error: { ...error, message: 'stream disconnected' } }
    store.applyNotification('turn/completed', { threadId: 'T', turn: failed })
    const t = store.state.view?.turns[0]
    expect(t?.retrying).toBeNull()
    expect(turnStatusText(t!.status, t!.error?.message)).toBe('failed: stream disconnected')
    expect(turnStatusText('inProgress', null)).toBe('running')
    expect(turnStatusText('interrupted', null)).toBe('interrupted')
  })

  it('drops the answer a retried stream left unfinished, and keeps what was completed', () => {
    const { store } = openStore([turn('u1', [], 'inProgress')])
    const error = {
      message: 'Reconnecting... 1/5',
      codexErrorInfo: null,
      additionalDetails: null,
      misalignment: null,
    }
    const started = (id: string, text: string) =>
      store.applyNotification('item/started', {
        threadId: 'T',
        turnId: 'u1',
        item: agentMessage(id, text),
        startedAtMs: 1,
      })
    started('done', '')
    store.applyNotification('item/completed', {
      threadId: 'T',
      turnId: 'u1',
      item: agentMessage('done', 'first, complete'),
      completedAtMs: 2,
    })
    started('cut', '')
    store.applyNotification('item/agentMessage/delta', {
      threadId: 'T',
      turnId: 'u1',
      itemId: 'cut',
      delta: 'alpha beta g',
    })
    expect(texts(store)).toEqual(['first, complete', 'alpha beta g'])
    store.applyNotification('error', { threadId: 'T', turnId: 'u1', error, willRetry: true })
    expect(texts(store)).toEqual(['first, complete'])
    started('again', '')
    expect(store.state.view?.turns[0]?.items.map((i) => i.id)).toEqual(['done', 'again'])
  })

  it('knows the running turn (for Interrupt) until it completes', () => {
    const { store } = openStore([turn('u1', [], 'completed')])
    expect(store.runningTurn()).toBeUndefined()
    store.applyNotification('turn/started', { threadId: 'T', turn: turn('u2', []) })
    expect(store.runningTurn()?.id).toBe('u2')
    store.applyNotification('turn/completed', { threadId: 'T', turn: turn('u2', [], 'interrupted') })
    expect(store.runningTurn()).toBeUndefined()
  })
})

describe('renderer store: rejoin', () => {
  it('replaces the turns with the resume snapshot, so nothing is doubled and the stream continues', () => {
    const { store, changes } = openStore([turn('u1', [userMessage('q', 'go'), agentMessage('m1', '')])])
    store.applyNotification('item/agentMessage/delta', delta('m1', 'one two'))
    // The connection dropped; meanwhile the core streamed on. The resume brings everything so far.
    store.applyThreadSnapshot(
      thread('T', 100, {
        status: { type: 'active', activeFlags: [] },
        turns: [
          turn('u0', [userMessage('q0', 'before')], 'completed'),
          turn('u1', [userMessage('q', 'go'), agentMessage('m1', 'one two three')]),
        ],
      }),
    )
    store.applyNotification('item/agentMessage/delta', delta('m1', ' four'))
    store.applyNotification('item/completed', {
      threadId: 'T',
      turnId: 'u1',
      item: agentMessage('m1', 'one two three four'),
      completedAtMs: 2,
    })
    const view = store.state.view!
    expect(view.turns.map((t) => t.id)).toEqual(['u0', 'u1'])
    expect(texts(store)).toEqual(['userMessage', 'userMessage', 'one two three four'])
    expect(changes).toContainEqual({ kind: 'view' })
  })

  it('does not let the snapshot share objects with the response it came from', () => {
    const message = agentMessage('m1', 'abc')
    const { store } = openStore([turn('u1', [message])])
    store.applyNotification('item/agentMessage/delta', delta('m1', 'd'))
    expect((message as { text: string }).text).toBe('abc')
    expect(texts(store)).toEqual(['abcd'])
  })
})

describe('renderer store: approvals', () => {
  const command = (requestId: number | string) => ({
    kind: 'command' as const,
    requestId,
    threadId: 'T',
    turnId: 'u1',
    itemId: 'call_1',
    reason: 'needs write access',
    command: 'touch a',
    cwd: '/w',
  })

  it('shows a replayed request (same id) once, in place, and no longer stale', () => {
    const { store } = openStore([turn('u1', [])])
    store.addApproval(command(7))
    store.addApproval({ ...command(8), itemId: 'call_2' })
    store.connectionLost()
    expect([...store.state.approvals.values()].map((a) => a.stale)).toEqual([true, true])
    store.addApproval(command(7))
    const approvals = store.approvalsFor('T')
    expect(approvals.map((a) => [a.requestId, a.stale])).toEqual([
      [7, false],
      [8, true],
    ])
    // A string id "7" is another request than the integer 7.
    store.addApproval(command('7'))
    expect(store.approvalsFor('T')).toHaveLength(3)
  })

  it('removes a prompt when serverRequest/resolved names it', () => {
    const { store, changes } = openStore([turn('u1', [])])
    store.addApproval(command(3))
    store.addApproval({ ...command(4), itemId: 'call_2' })
    store.applyNotification('serverRequest/resolved', { threadId: 'T', requestId: 3 })
    expect(store.approvalsFor('T').map((a) => a.requestId)).toEqual([4])
    expect(changes.filter((c) => c.kind === 'approvals')).toHaveLength(3)
  })

  it('drops stale prompts that the resumed thread no longer waits for', () => {
    const { store } = openStore([turn('u1', [])])
    store.addApproval(command(5))
    store.connectionLost()
    store.applyThreadSnapshot(
      thread('T', 100, { status: { type: 'active', activeFlags: ['waitingOnApproval'] } }),
    )
    expect(store.approvalsFor('T')).toHaveLength(1)
    store.applyThreadSnapshot(thread('T', 100, { status: { type: 'idle' } }))
    expect(store.approvalsFor('T')).toEqual([])
  })

  it('after a reconnect forgets stale prompts of threads that are not open (they replay when opened)', () => {
    const { store } = openStore([turn('u1', [])])
    store.addApproval(command(1))
    store.addApproval({ ...command(2), threadId: 'OTHER' })
    store.connectionLost()
    store.dropStaleApprovals({ except: 'T' })
    expect([...store.state.approvals.values()].map((a) => [a.threadId, a.stale])).toEqual([['T', true]])
  })

  it('clears the prompts of a turn that completed', () => {
    const { store } = openStore([turn('u1', [])])
    store.addApproval(command(5))
    store.applyNotification('turn/completed', { threadId: 'T', turn: turn('u1', [], 'interrupted') })
    expect(store.approvalsFor('T')).toEqual([])
  })
})

describe('renderer store: thread list', () => {
  it('lists newest first, adds started threads on top, and drops archived ones', () => {
    const store = new DeskStore()
    store.replaceThreadList([thread('a', 10), thread('c', 30), thread('b', 20)], 'cursor-1')
    expect(store.listOrder()).toEqual(['c', 'b', 'a'])
    expect(store.state.moreThreadsCursor).toBe('cursor-1')
    store.applyNotification('thread/started', { thread: thread('d', 40) })
    store.applyNotification('thread/started', {
      thread: thread('child', 50, {
        parentThreadId: 'd',
        source: { subAgent: { thread_spawn: { parent_thread_id: 'd', depth: 1 } } },
      }),
    })
    expect(store.listOrder()).toEqual(['d', 'c', 'b', 'a'])
    expect(store.thread('child')?.parentThreadId).toBe('d')
    store.applyNotification('thread/archived', { threadId: 'c' })
    expect(store.listOrder()).toEqual(['d', 'b', 'a'])
    // Same second: the later UUIDv7 (greater id) is newer.
    store.addThreadPage([thread('b2', 20)], null)
    expect(store.listOrder()).toEqual(['d', 'b2', 'b', 'a'])
    expect(store.state.moreThreadsCursor).toBeNull()
  })

  it('follows thread/status/changed and thread/name/updated for listed and unlisted threads', () => {
    const store = new DeskStore()
    store.replaceThreadList([thread('a', 10, { preview: 'fix the build' })], null)
    store.applyNotification('thread/status/changed', {
      threadId: 'a',
      status: { type: 'active', activeFlags: ['waitingOnApproval'] },
    })
    store.applyNotification('thread/status/changed', { threadId: 'ghost', status: { type: 'systemError' } })
    expect(badgeOf(store.statusOf('a'))).toEqual({
      status: 'waitingOnApproval',
      label: 'waiting for approval',
    })
    expect(badgeOf(store.statusOf('ghost')).status).toBe('systemError')
    expect(threadTitle(store.thread('a'))).toBe('fix the build')
    store.applyNotification('thread/name/updated', { threadId: 'a', threadName: 'Build fix' })
    expect(threadTitle(store.thread('a'))).toBe('Build fix')
  })

  it('fills an empty preview from the first user message the view sees', () => {
    const store = new DeskStore()
    store.replaceThreadList([thread('T', 10)], null)
    store.openThread('T')
    store.applyThreadSnapshot(thread('T', 10))
    expect(threadTitle(store.thread('T'))).toBe('New thread')
    store.applyNotification('item/started', {
      threadId: 'T',
      turnId: 'u1',
      item: userMessage('q', 'Write the release notes'),
      startedAtMs: 1,
    })
    expect(threadTitle(store.state.threads.get('T'))).toBe('Write the release notes')
  })

  it('closes the view when the open thread is archived', () => {
    const { store } = openStore()
    store.applyNotification('thread/archived', { threadId: 'T' })
    expect(store.state.openThreadId).toBeNull()
    expect(store.state.view).toBeNull()
  })
})

describe('renderer model', () => {
  it('maps every thread status to its badge', () => {
    expect(
      [
        { type: 'idle' as const },
        { type: 'active' as const, activeFlags: [] },
        { type: 'active' as const, activeFlags: ['waitingOnUserInput' as const] },
        { type: 'active' as const, activeFlags: ['waitingOnApproval' as const] },
        { type: 'systemError' as const },
        { type: 'notLoaded' as const },
      ].map((status) => badgeOf(status)),
    ).toEqual([
      { status: 'idle', label: 'idle' },
      { status: 'active', label: 'running' },
      { status: 'active', label: 'running' },
      { status: 'waitingOnApproval', label: 'waiting for approval' },
      { status: 'systemError', label: 'error' },
      { status: 'notLoaded', label: 'idle' },
    ])
  })

  it('titles a thread by name, else preview, else New thread', () => {
    expect(threadTitle({ name: '  Named ', preview: 'p' })).toBe('Named')
    expect(threadTitle({ name: null, preview: 'the preview' })).toBe('the preview')
    expect(threadTitle({ name: '', preview: '  ' })).toBe('New thread')
    expect(threadTitle(undefined)).toBe('New thread')
  })

  it("finds a sub-agent's parent from parentThreadId or its spawn source", () => {
    expect(parentThreadIdOf({ parentThreadId: 'P', source: 'vscode' })).toBe('P')
    expect(
      parentThreadIdOf({
        parentThreadId: null,
        source: { subAgent: { thread_spawn: { parent_thread_id: 'Q', depth: 1 } } },
      }),
    ).toBe('Q')
    expect(parentThreadIdOf({ parentThreadId: null, source: { subAgent: 'review' } })).toBeNull()
  })

  it('words the connection states as docs/renderer.md says', () => {
    expect(connectionText({ state: 'connecting' })).toBe('Connecting…')
    expect(connectionText({ state: 'connected', userAgent: 'ua' })).toBe('Connected')
    expect(
      connectionText({
        state: 'reconnecting',
        cause: { kind: 'refused', message: 'no route' },
        retryInMs: 250,
      }),
    ).toBe('Cannot connect to the core: no route. Retrying in 1 s…')
    expect(
      connectionText({
        state: 'reconnecting',
        cause: { kind: 'lost', code: 1006, reason: '' },
        retryInMs: 4100,
      }),
    ).toBe('Disconnected from the core (1006). Reconnecting in 5 s…')
    expect(
      connectionText({
        state: 'reconnecting',
        cause: { kind: 'lost', code: 1013, reason: 'slow consumer' },
        retryInMs: 1000,
      }),
    ).toBe('Disconnected from the core (1013 slow consumer). Reconnecting in 1 s…')
  })

  it('reconnects after 250 ms doubling to 5 s, the jitter never past 5 s', () => {
    const retry = (n: number, random: number) => backoffDelayMs(n, RECONNECT_BACKOFF, () => random)
    expect([1, 2, 3, 4, 5, 6, 10].map((n) => retry(n, 0.5))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000])
    expect(retry(1, 0)).toBe(188)
    expect(retry(1, 1)).toBe(313)
    expect(retry(6, 0)).toBe(3750)
    expect(retry(1000, 1)).toBe(5000)
  })
})
