import { describe, expect, it } from 'vitest'
import type { ThreadItem, Turn } from '../../src/worker/protocol/items'
import { expectCodexShape } from '../support/codexSchema'
import { stall, text } from '../support/modelServer'
import type { TestClient } from '../support/testClient'
import { runTurn, harnessesPerTest, startThread, type Harness } from '../support/threadHarness'

const { harness, restartable } = harnessesPerTest()

const EXPERIMENTAL = { experimentalApi: true }

const texts = (turn: Turn) =>
  turn.items.map((item: ThreadItem) =>
    item.type === 'userMessage'
      ? `user:${(item.content[0] as { text: string }).text}`
      : item.type === 'agentMessage'
        ? `agent:${item.text}`
        : item.type,
  )
const itemText = (entry: { item: ThreadItem }) => texts({ items: [entry.item] } as Turn)[0]
const forThread = (threadId: string) => (p: unknown) => (p as { threadId?: string }).threadId === threadId

/** A thread with three finished turns: "one"/"answer one", ... */
async function threeTurns(client: TestClient, h: Harness) {
  const { thread } = await startThread(client)
  const turnIds: string[] = []
  for (const word of ['one', 'two', 'three']) {
    h.model.enqueue(text(`answer ${word}`))
    turnIds.push((await runTurn(client, thread.id, word)).turnId)
  }
  return { threadId: thread.id, turnIds }
}

describe.each(['stdio', 'ws'] as const)('thread history over %s', (transport) => {
  it('pages turns newest first and back again with cursors, in every items view', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { threadId, turnIds } = await threeTurns(client, h)

    const first = await client.request('thread/turns/list', { threadId, limit: 2 })
    expectCodexShape('ThreadTurnsListResponse', first)
    expect(first.data.map((t) => t.id)).toEqual([turnIds[2], turnIds[1]])
    expect(first.data.map((t) => t.itemsView)).toEqual(['summary', 'summary'])
    expect(texts(first.data[0] as Turn)).toEqual(['user:three', 'agent:answer three'])
    expect(first.nextCursor).not.toBeNull()

    const second = await client.request('thread/turns/list', { threadId, limit: 2, cursor: first.nextCursor })
    expectCodexShape('ThreadTurnsListResponse', second)
    expect(second.data.map((t) => t.id)).toEqual([turnIds[0]])
    expect(second.nextCursor).toBeNull()

    // The backwards cursor names the page's first turn, included, for the other direction.
    const forward = await client.request('thread/turns/list', {
      threadId,
      sortDirection: 'asc',
      cursor: second.backwardsCursor,
      itemsView: 'notLoaded',
    })
    expectCodexShape('ThreadTurnsListResponse', forward)
    expect(forward.data.map((t) => t.id)).toEqual(turnIds)
    expect(forward.data.every((t) => t.items.length === 0 && t.itemsView === 'notLoaded')).toBe(true)

    const full = await client.request('thread/turns/list', { threadId, limit: 1, itemsView: 'full' })
    expect(full.data[0]?.itemsView).toBe('full')
    expect(texts(full.data[0] as Turn)).toEqual(['user:three', 'agent:answer three'])
    expect(full.data[0]?.status).toBe('completed')
  })

  it('pages items oldest first, one turn or all, and reads a stored thread the same after a restart', async () => {
    const { first: h, restart } = await restartable(transport)
    const client = await h.connect()
    const { threadId, turnIds } = await threeTurns(client, h)
    const all = [
      'user:one',
      'agent:answer one',
      'user:two',
      'agent:answer two',
      'user:three',
      'agent:answer three',
    ]

    const page1 = await client.request('thread/items/list', { threadId, limit: 4 })
    expectCodexShape('ThreadItemsListResponse', page1)
    expect(page1.data.map(itemText)).toEqual(all.slice(0, 4))
    expect(page1.data[0]?.turnId).toBe(turnIds[0])
    expect(typeof page1.data[0]?.startedAtMs).toBe('number')
    const page2 = await client.request('thread/items/list', { threadId, limit: 4, cursor: page1.nextCursor })
    expect(page2.data.map(itemText)).toEqual(all.slice(4))
    expect(page2.nextCursor).toBeNull()
    const back = await client.request('thread/items/list', {
      threadId,
      sortDirection: 'desc',
      cursor: page2.backwardsCursor,
    })
    expect(back.data.map(itemText)).toEqual(all.slice(0, 5).reverse())

    const oneTurn = await client.request('thread/items/list', { threadId, turnId: turnIds[1] })
    expectCodexShape('ThreadItemsListResponse', oneTurn)
    expect(oneTurn.data.map(itemText)).toEqual(['user:two', 'agent:answer two'])
    const anchor = oneTurn.data[0]?.item.id as string
    const after = await client.request('thread/items/list', {
      threadId,
      turnId: turnIds[1],
      cursor: { type: 'item', itemId: anchor },
    })
    expect(after.data.map(itemText)).toEqual(['agent:answer two'])

    const loadedTurns = await client.request('thread/turns/list', { threadId, itemsView: 'full' })
    const loadedItems = await client.request('thread/items/list', { threadId })

    // A new process has not loaded the thread: the pages come from the rollout, and agree.
    const h2 = await restart()
    const client2 = await h2.connect()
    const storedTurns = await client2.request('thread/turns/list', { threadId, itemsView: 'full' })
    expectCodexShape('ThreadTurnsListResponse', storedTurns)
    expect(storedTurns.data).toEqual(loadedTurns.data)
    const storedItems = await client2.request('thread/items/list', { threadId })
    expect(storedItems.data).toEqual(loadedItems.data)
    expect(storedItems.nextCursor).toBeNull()
    const cursorPage = await client2.request('thread/items/list', { threadId, cursor: page1.nextCursor })
    expect(cursorPage.data.map(itemText)).toEqual(all.slice(4))
  })

  it('shows the running turn and its streaming item, as thread/read does', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue([text('partial answer'), stall()])
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'go' }],
    })
    await client.waitForNotification('item/agentMessage/delta', forThread(thread.id))
    await h.model.waitForStall(1)

    const turns = await client.request('thread/turns/list', { threadId: thread.id, itemsView: 'full' })
    expectCodexShape('ThreadTurnsListResponse', turns)
    expect(turns.data[0]?.id).toBe(turn.id)
    expect(turns.data[0]?.status).toBe('inProgress')
    const items = await client.request('thread/items/list', { threadId: thread.id })
    expectCodexShape('ThreadItemsListResponse', items)
    expect(items.data.map((e) => e.item.type)).toEqual(['userMessage', 'agentMessage'])
    const read = await client.request('thread/read', { threadId: thread.id, includeTurns: true })
    expect(turns.data[0]?.items.map((i) => i.id)).toEqual(read.thread.turns[0]?.items.map((i) => i.id))

    h.model.release()
    await client.waitForNotification('turn/completed', forThread(thread.id))
  })

  it('answers an empty page for a thread with no turn yet, and refuses a bad cursor', async () => {
    const h = await harness(transport)
    const client = await h.connect('tui', EXPERIMENTAL)
    const { thread } = await startThread(client)
    // codex refuses this ("not materialized yet"); codex-desk has the rollout from thread/start.
    const turns = await client.request('thread/turns/list', { threadId: thread.id, limit: 1 })
    expect(turns).toEqual({ data: [], nextCursor: null, backwardsCursor: null })
    const items = await client.request('thread/items/list', { threadId: thread.id })
    expect(items).toEqual({ data: [], nextCursor: null, backwardsCursor: null })

    const bad = await client.call('thread/turns/list', { threadId: thread.id, cursor: 'garbage' })
    expect(bad.error).toEqual({ code: -32600, message: 'invalid cursor: garbage' })
    const badItems = await client.call('thread/items/list', { threadId: thread.id, cursor: 'garbage' })
    expect(badItems.error).toEqual({ code: -32600, message: 'invalid cursor: garbage' })
    const anchorless = await client.call('thread/items/list', {
      threadId: thread.id,
      cursor: { type: 'item', itemId: 'x' },
    })
    expect(anchorless.error?.code).toBe(-32602)
    const ephemeral = await startThread(client, { ephemeral: true })
    const refused = await client.call('thread/turns/list', { threadId: ephemeral.thread.id })
    expect(refused.error?.message).toBe('ephemeral threads do not support thread/turns/list')

    const terminals = await client.request('thread/backgroundTerminals/list', { threadId: thread.id })
    expectCodexShape('ThreadBackgroundTerminalsListResponse', terminals)
    expect(terminals).toEqual({ data: [], nextCursor: null })
  })

  it('marks a finished turn unread, marks it read on request, and keeps that across a restart', async () => {
    const { first: h, restart } = await restartable(transport)
    const client = await h.connect('tui', EXPERIMENTAL)
    const { thread } = await startThread(client, { threadSource: 'user' })
    h.model.enqueue(text('done'))
    const { turnId } = await runTurn(client, thread.id, 'work')
    const changed = await client.waitForNotification('thread/readState/changed', forThread(thread.id))
    expectCodexShape('ServerNotification', { method: changed.method, params: changed.params })
    const unread = (changed.params as { readState: { revision: string } }).readState
    expect(unread).toMatchObject({ firstUnread: { type: 'turn', turnId } })

    const listed = await client.request('thread/list', {})
    expectCodexShape('ThreadListResponse', listed)
    expect(listed.readStates?.[thread.id]).toEqual(unread)
    const readLoaded = await client.request('thread/read', { threadId: thread.id })
    expectCodexShape('ThreadReadResponse', readLoaded)
    expect(readLoaded.readState).toEqual(unread)

    const stale = await client.call('thread/readState/update', {
      threadId: thread.id,
      operation: { type: 'read' },
      expectedRevision: 'not-the-revision',
    })
    expect(stale.error).toEqual({
      code: -32600,
      message: 'read state changed',
      data: { reason: 'readStateConflict', readState: unread },
    })

    const read = await client.request('thread/readState/update', {
      threadId: thread.id,
      operation: { type: 'read' },
      expectedRevision: unread.revision,
    })
    expectCodexShape('ThreadReadStateUpdateResponse', read)
    expect(read.readState.firstUnread).toBeNull()
    await client.waitForNotification(
      'thread/readState/changed',
      (p) =>
        forThread(thread.id)(p) &&
        (p as { readState: { firstUnread: unknown } }).readState.firstUnread === null,
    )

    const h2 = await restart()
    const client2 = await h2.connect('tui', EXPERIMENTAL)
    const after = await client2.request('thread/list', {})
    expect(after.readStates?.[thread.id]).toEqual(read.readState)
    // A stored thread, not loaded in this process, reads with its read state too.
    const readStored = await client2.request('thread/read', { threadId: thread.id, includeTurns: true })
    expectCodexShape('ThreadReadResponse', readStored)
    expect(readStored.readState).toEqual(read.readState)
    const marked = await client2.request('thread/readState/update', {
      threadId: thread.id,
      operation: { type: 'unread' },
      expectedRevision: read.readState.revision,
    })
    expect(marked.readState.firstUnread).toEqual({ type: 'threadStart' })

    // A thread nothing asked attention for yet has no read state to change.
    const fresh = await startThread(client2)
    const none = await client2.call('thread/readState/update', {
      threadId: fresh.thread.id,
      operation: { type: 'read' },
      expectedRevision: 'x',
    })
    expect(none.error).toEqual({ code: -32600, message: 'thread read state unavailable' })
    const freshRead = await client2.request('thread/read', { threadId: fresh.thread.id })
    expectCodexShape('ThreadReadResponse', freshRead)
    expect(freshRead.readState).toBeNull()
  })

  it('answers a resume with cursors that page back from the newest turn and item', async () => {
    const { first: h, restart } = await restartable(transport)
    const client = await h.connect()
    const { threadId, turnIds } = await threeTurns(client, h)

    // Resumed by another process from the rollout, without turns, as the TUI resumes.
    const h2 = await restart()
    const client2 = await h2.connect()
    const resumed = await client2.request('thread/resume', { threadId, excludeTurns: true })
    expectCodexShape('ThreadResumeResponse', resumed)
    expect(resumed.thread.turns).toEqual([])
    expect(resumed.turnsBackwardsCursor).toEqual(expect.any(String))
    expect(resumed.itemsBackwardsCursor).toEqual(expect.any(String))

    const newest = await client2.request('thread/turns/list', {
      threadId,
      cursor: resumed.turnsBackwardsCursor,
      sortDirection: 'desc',
      limit: 2,
    })
    expectCodexShape('ThreadTurnsListResponse', newest)
    expect(newest.data.map((t) => t.id)).toEqual([turnIds[2], turnIds[1]])
    const older = await client2.request('thread/turns/list', {
      threadId,
      cursor: newest.nextCursor,
      sortDirection: 'desc',
      limit: 2,
    })
    expect(older.data.map((t) => t.id)).toEqual([turnIds[0]])
    expect(older.nextCursor).toBeNull()

    const items = await client2.request('thread/items/list', {
      threadId,
      cursor: resumed.itemsBackwardsCursor,
      sortDirection: 'desc',
      limit: 2,
    })
    expectCodexShape('ThreadItemsListResponse', items)
    expect(items.data.map(itemText)).toEqual(['agent:answer three', 'user:three'])

    // Resuming the loaded thread again, after a new turn, anchors the cursor at that turn.
    h2.model.enqueue(text('answer four'))
    const { turnId: fourth } = await runTurn(client2, threadId, 'four')
    const again = await client2.request('thread/resume', { threadId, excludeTurns: true })
    expectCodexShape('ThreadResumeResponse', again)
    const latest = await client2.request('thread/turns/list', {
      threadId,
      cursor: again.turnsBackwardsCursor,
      sortDirection: 'desc',
      limit: 1,
    })
    expect(latest.data.map((t) => t.id)).toEqual([fourth])
  })

  it('answers a resume of a thread with no turn yet with no cursors', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    const resumed = await client.request('thread/resume', { threadId: thread.id })
    expectCodexShape('ThreadResumeResponse', resumed)
    expect(resumed.turnsBackwardsCursor).toBeNull()
    expect(resumed.itemsBackwardsCursor).toBeNull()
  })

  it('sets, updates and clears a goal, announced to subscribers and kept across a restart', async () => {
    const { first: h, restart } = await restartable(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    const threadId = thread.id
    expect(await client.request('thread/goal/get', { threadId })).toEqual({ goal: null })
    const missing = await client.call('thread/goal/set', { threadId, status: 'paused' })
    expect(missing.error?.message).toBe(`cannot update goal for thread ${threadId}: no goal exists`)
    const empty = await client.call('thread/goal/set', { threadId, objective: ' ' })
    expect(empty.error?.message).toBe('goal objective must not be empty')

    const set = await client.request('thread/goal/set', { threadId, objective: 'Ship it', status: 'paused' })
    expectCodexShape('ThreadGoalSetResponse', set)
    expect(set.goal).toMatchObject({ threadId, objective: 'Ship it', status: 'paused', tokenBudget: null })
    const updated = await client.waitForNotification('thread/goal/updated', forThread(threadId))
    expectCodexShape('ServerNotification', { method: updated.method, params: updated.params })
    const budget = await client.request('thread/goal/set', { threadId, tokenBudget: 1000 })
    expect(budget.goal).toMatchObject({ objective: 'Ship it', status: 'paused', tokenBudget: 1000 })

    const h2 = await restart()
    const client2 = await h2.connect()
    const got = await client2.request('thread/goal/get', { threadId })
    expectCodexShape('ThreadGoalGetResponse', got)
    expect(got.goal).toEqual(budget.goal)
    await client2.request('thread/resume', { threadId })
    expect(await client2.request('thread/goal/clear', { threadId })).toEqual({ cleared: true })
    await client2.waitForNotification('thread/goal/cleared', forThread(threadId))
    expect(await client2.request('thread/goal/clear', { threadId })).toEqual({ cleared: false })
    expect(await client2.request('thread/goal/get', { threadId })).toEqual({ goal: null })
    const unknown = await client2.call('thread/goal/get', {
      threadId: '01a243ab-0346-7b30-a0fe-eee1493f8e5f',
    })
    expect(unknown.error?.message).toBe('thread not found: 01a243ab-0346-7b30-a0fe-eee1493f8e5f')
  })
})

describe('thread/list as the TUI calls it', () => {
  const SECTION = '01984de2-8f74-7c91-a3b2-5c5e937cf318'
  // The exact params of the TUI's startup and picker calls (codex 0.169.0, recorded).
  const tuiParams = (overrides: Record<string, unknown>) => ({
    currentAccountOnly: true,
    cursor: null,
    limit: 100,
    excludedThreadIds: null,
    sortKey: 'section_position',
    sortDirection: null,
    modelProviders: [],
    sourceKinds: [],
    originators: null,
    archived: false,
    cwd: null,
    useStateDbOnly: true,
    searchTerm: null,
    parentThreadId: null,
    ancestorThreadId: null,
    attachedToThreadId: null,
    ...overrides,
  })

  it('accepts every sort key and the TUI params, with an empty section listing as codex has', async () => {
    const h = await harness('ws')
    const client = await h.connect('tui', EXPERIMENTAL)
    const a = await startThread(client)
    h.model.enqueue(text('hi'))
    await runTurn(client, a.thread.id, 'first')
    const b = await startThread(client)

    const section = await client.request('thread/list', tuiParams({ sectionId: SECTION }) as never)
    expectCodexShape('ThreadListResponse', section)
    expect(section).toEqual({ data: [], readStates: {}, nextCursor: null, backwardsCursor: null })
    const noSection = await client.call('thread/list', { sortKey: 'section_position' })
    expect(noSection.error).toEqual({
      code: -32600,
      message: 'section-position sorting requires a section filter',
    })

    const recent = await client.request(
      'thread/list',
      tuiParams({ sortKey: 'recency_at', limit: 10, sourceKinds: ['exec', 'appServer'] }) as never,
    )
    expectCodexShape('ThreadListResponse', recent)
    expect(recent.data).toEqual([]) // app-server threads list as `vscode`, as in codex
    const picker = await client.request(
      'thread/list',
      tuiParams({ sortKey: 'updated_at', limit: 25, sourceKinds: ['cli', 'vscode'] }) as never,
    )
    expectCodexShape('ThreadListResponse', picker)
    expect(picker.data.map((t) => t.id).sort()).toEqual([a.thread.id, b.thread.id].sort())

    for (const sortKey of ['created_at', 'updated_at', 'recency_at'] as const) {
      const page = await client.request('thread/list', { sortKey, limit: 1 })
      expectCodexShape('ThreadListResponse', page)
      expect(page.data).toHaveLength(1)
      const rest = await client.request('thread/list', { sortKey, limit: 1, cursor: page.nextCursor })
      expect(rest.data).toHaveLength(1)
      expect(rest.data[0]?.id).not.toBe(page.data[0]?.id)
      const back = await client.request('thread/list', {
        sortKey,
        sortDirection: 'asc',
        cursor: rest.backwardsCursor,
      })
      expect(back.data.map((t) => t.id)).toEqual([rest.data[0]?.id, page.data[0]?.id])
    }
    const created = await client.request('thread/list', { sortKey: 'created_at' })
    expect(created.data.map((t) => t.id)).toEqual([b.thread.id, a.thread.id])

    const excluded = await client.request('thread/list', { excludedThreadIds: [b.thread.id] })
    expect(excluded.data.map((t) => t.id)).toEqual([a.thread.id])
    const badExcluded = await client.call('thread/list', { excludedThreadIds: ['nope'] })
    expect(badExcluded.error?.code).toBe(-32602)
    const originators = await client.call('thread/list', { originators: ['codex-tui'] })
    expect(originators.error).toEqual({
      code: -32602,
      message: 'originator filtering is not supported by the local app-server',
    })
    const unsectioned = await client.request('thread/list', { sectionId: null })
    expect(unsectioned.data).toHaveLength(2)
  })

  it('asks for the experimental API only for a lineage, attachment or project filter that is set', async () => {
    const h = await harness('ws')
    const client = await h.connect('plain')
    // The TUI's params send those filters as null: a client without the experimental API may.
    const listed = await client.request('thread/list', tuiParams({ sortKey: 'updated_at' }) as never)
    expectCodexShape('ThreadListResponse', listed)
    for (const field of ['parentThreadId', 'ancestorThreadId', 'attachedToThreadId', 'projectId']) {
      const refused = await client.call('thread/list', { [field]: '01a243a4-2624-7812-a5cf-f86fc033cedd' })
      expect(refused.error).toEqual({
        code: -32600,
        message: `thread/list.${field} requires experimentalApi capability`,
      })
    }
    const attached = await client.call('thread/list', { includeAttachedThreads: true })
    expect(attached.error?.message).toBe(
      'thread/list.includeAttachedThreads requires experimentalApi capability',
    )
  })
})
