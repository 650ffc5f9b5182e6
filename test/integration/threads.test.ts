import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { conversationOf } from '../support/agentContext'
import { uuidv7 } from '../../src/worker/util/uuid'
import { REPO_ROOT } from '../support/appServerProcess'
import { connectWebSocket } from '../support/channels'
import { stall, text } from '../support/modelServer'
import { WAIT_MS, type TestClient } from '../support/testClient'
import {
  harnessesPerTest,
  methodsFor,
  runTurn,
  startThread,
  type Harness,
  type HarnessOptions,
  type TransportKind,
} from '../support/threadHarness'

const { harness, restartable } = harnessesPerTest()

async function twoClients(options: HarnessOptions = {}) {
  const h = await harness('ws', options)
  return { h, a: await h.connect('client_a'), b: await h.connect('client_b') }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const quiet = (ms = 200) => new Promise((resolve) => setTimeout(resolve, ms))
const forThread = (threadId: string) => (p: unknown) => (p as { threadId?: string }).threadId === threadId
const forTurn = (turnId: string) => (p: unknown) => (p as { turn: { id: string } }).turn.id === turnId
const startedIs = (threadId: string) => (p: unknown) =>
  (p as { thread: { id: string } }).thread.id === threadId
const isStatus = (threadId: string, type: string) => (p: unknown) =>
  forThread(threadId)(p) && (p as { status: { type: string } }).status.type === type

/** The params of every `method` notification the client received (for one thread, if given). */
function notes(client: TestClient, method: string, threadId?: string): Record<string, unknown>[] {
  return client.received
    .filter((m) => m.method === method && m.id === undefined)
    .map((m) => m.params as Record<string, unknown>)
    .filter((p) => threadId === undefined || forThread(threadId)(p))
}

/** Sends a request that must fail with -32600; returns the message. */
async function errorOf(client: TestClient, method: string, params: unknown): Promise<string> {
  const response = await client.call(method, params)
  expect(response.error?.code, JSON.stringify(response)).toBe(-32600)
  return response.error?.message ?? ''
}

function rollouts(dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.jsonl'))
}

/** Every page of a thread/list query (ids), checking that no id repeats across pages. */
async function listIds(client: TestClient, params: Record<string, unknown> = {}, limit = 2) {
  const ids: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 50; page++) {
    const res: { data: { id: string }[]; nextCursor: string | null } = await client.request('thread/list', {
      ...params,
      limit,
      cursor,
    } as never)
    expect(res.data.length).toBeLessThanOrEqual(limit)
    ids.push(...res.data.map((t) => t.id))
    cursor = res.nextCursor
    if (cursor === null) break
  }
  expect(new Set(ids).size).toBe(ids.length)
  return ids
}

/** The texts of a model request's input items (user and assistant messages). */
function inputTexts(h: Harness, index: number): string[] {
  return conversationOf(h.model.requests[index])
    .filter((i) => i.content)
    .map((i) => (i.content ?? []).map((c) => c.text).join(''))
}

describe.each<TransportKind>(['stdio', 'ws'])('threads over %s', (transport) => {
  it('thread/start answers with the thread, then announces it; the rollout exists at once', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const res = await startThread(client, { approvalPolicy: 'never' })
    const { thread } = res
    expect(res).toMatchObject({
      model: 'test-model',
      modelProvider: 'mock',
      cwd: REPO_ROOT,
      approvalPolicy: 'never',
      sandbox: { type: 'readOnly', networkAccess: false },
      instructionSources: [],
      disabledPluginIds: [],
    })
    expect(thread).toMatchObject({
      forkedFromId: null,
      parentThreadId: null,
      preview: '',
      ephemeral: false,
      model: 'test-model',
      modelProvider: 'mock',
      status: { type: 'idle' },
      cwd: REPO_ROOT,
      source: 'vscode',
      name: null,
      turns: [],
    })
    expect(thread.id).toMatch(UUID)
    expect(existsSync(thread.path as string)).toBe(true)
    const started = await client.waitForNotification('thread/started')
    expect(started.params).toMatchObject({ thread: { id: thread.id, status: { type: 'idle' } } })
    const responseAt = client.received.findIndex(
      (m) => (m.result as { thread?: { id: string } } | undefined)?.thread?.id === thread.id,
    )
    expect(responseAt).toBeGreaterThan(0)
    expect(client.received.indexOf(started)).toBeGreaterThan(responseAt)
    await quiet()
    expect(methodsFor(client, thread.id)).toEqual(['thread/started'])
  })

  it('an ephemeral thread has no path and writes nothing under sessions/', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client, { ephemeral: true })
    expect(thread).toMatchObject({ ephemeral: true, path: null })
    await runTurn(client, thread.id, 'hi')
    expect(rollouts(join(h.proc.home, 'sessions'))).toEqual([])
  })

  it('resumes a thread that never ran a turn, also after a restart', async () => {
    const { first, restart } = await restartable(transport)
    const { thread } = await startThread(await first.connect())
    const h = await restart()
    const client = await h.connect()
    const resumed = await client.request('thread/resume', { threadId: thread.id })
    expect(resumed).toMatchObject({ model: 'test-model', modelProvider: 'mock' })
    expect(resumed.thread).toMatchObject({
      id: thread.id,
      path: thread.path,
      turns: [],
      status: { type: 'idle' },
    })
    const { completed } = await runTurn(client, thread.id, 'first words')
    expect(completed.params).toMatchObject({ turn: { status: 'completed' } })
    expect(inputTexts(h, 0)).toEqual(['first words'])
  })

  it('thread/read: with and without turns, live status, and its errors', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    await runTurn(client, thread.id, 'hello')
    const bare = await client.request('thread/read', { threadId: thread.id })
    expect(bare.thread).toMatchObject({
      id: thread.id,
      status: { type: 'idle' },
      preview: 'hello',
      turns: [],
    })
    const full = await client.request('thread/read', { threadId: thread.id, includeTurns: true })
    expect(full.thread.turns.map((t) => t.items.map((i) => i.type))).toEqual([
      ['userMessage', 'agentMessage'],
    ])
    h.model.enqueue([text('slow'), stall()])
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'wait' }],
    })
    await h.model.waitForStall(1, WAIT_MS)
    const running = await client.request('thread/read', { threadId: thread.id, includeTurns: true })
    expect(running.thread.status).toEqual({ type: 'active', activeFlags: [] })
    expect(running.thread.turns[1]).toMatchObject({ id: turn.id, status: 'inProgress' })
    h.model.release()
    await client.waitForNotification('turn/completed', forTurn(turn.id))
    const unknown = uuidv7()
    expect(await errorOf(client, 'thread/read', { threadId: unknown })).toBe(`thread not loaded: ${unknown}`)
    expect(await errorOf(client, 'thread/read', { threadId: 'not-a-uuid' })).toMatch(/^invalid thread id/)
  })

  it('thread/unsubscribe statuses, then the thread unloads after thread_unload_delay_secs', async () => {
    const h = await harness(transport, { config: 'thread_unload_delay_secs = 1' })
    const client = await h.connect()
    const { thread } = await startThread(client)
    const unsubscribe = (threadId: string) => client.request('thread/unsubscribe', { threadId })
    expect(await unsubscribe(thread.id)).toEqual({ status: 'unsubscribed' })
    expect(await unsubscribe(thread.id)).toEqual({ status: 'notSubscribed' })
    expect(await unsubscribe(uuidv7())).toEqual({ status: 'notLoaded' })
    await client.waitForNotification('thread/closed', forThread(thread.id))
    expect(methodsFor(client, thread.id)).toEqual([
      'thread/started',
      'thread/status/changed',
      'thread/closed',
    ])
    expect(notes(client, 'thread/status/changed', thread.id)).toEqual([
      { threadId: thread.id, status: { type: 'notLoaded' } },
    ])
    expect((await client.request('thread/loaded/list', {})).data).not.toContain(thread.id)
    expect(await unsubscribe(thread.id)).toEqual({ status: 'notLoaded' })
  })

  it('rejects bad params with -32600 and a clear message', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    expect(await errorOf(client, 'thread/start', { sandbox: 'workspaceWrite' })).toContain(
      'unknown variant `workspaceWrite`',
    )
    expect(await errorOf(client, 'thread/start', { approvalPolicy: 'on-failure' })).toContain(
      'unknown variant `on-failure`',
    )
    expect(await errorOf(client, 'thread/resume', {})).toContain('missing field `threadId`')
    expect(await errorOf(client, 'thread/list', { sortKey: 'name' })).toContain('unknown variant `name`')
    expect(await errorOf(client, 'thread/loaded/list', undefined)).toBe(
      'Invalid request: missing field `params`',
    )
  })
})

describe('threads and several connections (ws)', () => {
  it('thread/started reaches every initialized connection; a second one resumes before any turn', async () => {
    const { h, a, b } = await twoClients()
    const raw = (await connectWebSocket(h.proc.url as string)).client
    const { thread } = await startThread(a)
    await b.waitForNotification('thread/started', startedIs(thread.id))
    const resumed = await b.request('thread/resume', { threadId: thread.id })
    expect(resumed.thread).toMatchObject({ id: thread.id, turns: [], status: { type: 'idle' } })
    const { turnId } = await runTurn(a, thread.id, 'hi')
    await b.waitForNotification('turn/completed', forTurn(turnId))
    expect(raw.received).toEqual([])
    raw.close()
  })

  it('turn and item events go to subscribers only; lifecycle events to everyone', async () => {
    const { a, b } = await twoClients()
    const { thread } = await startThread(a)
    await runTurn(a, thread.id, 'one')
    await b.waitForNotification('thread/status/changed', isStatus(thread.id, 'idle'))
    await quiet()
    expect(methodsFor(b, thread.id)).toEqual([
      'thread/started',
      'thread/status/changed',
      'thread/status/changed',
    ])
    await b.request('thread/resume', { threadId: thread.id })
    const { turnId } = await runTurn(a, thread.id, 'two')
    await b.waitForNotification('turn/completed', forTurn(turnId))
    const seenByB = methodsFor(b, thread.id).slice(3)
    expect(seenByB).toEqual(
      expect.arrayContaining(['turn/started', 'item/completed', 'item/agentMessage/delta']),
    )
    expect(seenByB).toEqual(methodsFor(a, thread.id).slice(-seenByB.length))
  })

  it('unloads after the last subscriber disconnects, but not while a turn runs', async () => {
    const { h, a, b } = await twoClients({ config: 'thread_unload_delay_secs = 1' })
    const idle = (await startThread(a)).thread.id
    const busy = (await startThread(a)).thread.id
    h.model.enqueue([text('part'), stall()])
    await a.request('turn/start', { threadId: busy, input: [{ type: 'text', text: 'go' }] })
    await h.model.waitForStall(1, WAIT_MS)
    a.close()
    await b.waitForNotification('thread/closed', forThread(idle))
    expect(notes(b, 'thread/status/changed', idle)).toEqual([
      { threadId: idle, status: { type: 'notLoaded' } },
    ])
    expect(methodsFor(b, idle).slice(-2)).toEqual(['thread/status/changed', 'thread/closed'])
    await quiet(800)
    expect(notes(b, 'thread/closed', busy)).toEqual([])
    expect((await b.request('thread/loaded/list', {})).data).toEqual([busy])
    h.model.release()
    await b.waitForNotification('thread/status/changed', isStatus(busy, 'idle'))
    await b.waitForNotification('thread/closed', forThread(busy))
    expect((await b.request('thread/loaded/list', {})).data).toEqual([])
  })

  it('thread/list: pagination, sorting and every filter, live status across a restart', async () => {
    const { first, restart } = await restartable('ws')
    const a = await first.connect()
    const dir = (name: string) => join(first.proc.home, 'cwd', name)
    for (const name of 'abcd') mkdirSync(dir(name), { recursive: true })
    const specs = [
      { cwd: dir('a') },
      { cwd: dir('b'), name: 'Parser cleanup' },
      { cwd: dir('a'), modelProvider: 'ollama' },
      { cwd: dir('c'), modelProvider: 'ollama', name: 'misc' },
      { cwd: dir('b') },
      { cwd: dir('c') },
      { cwd: dir('d') },
    ]
    const ids: string[] = []
    for (const { name, ...params } of specs) {
      const { thread } = await startThread(a, params)
      ids.push(thread.id)
      if (name) await a.request('thread/name/set', { threadId: thread.id, name })
    }
    const [t0, t1, t2, t3, t4, t5, t6] = ids as [string, string, string, string, string, string, string]
    await runTurn(a, t6, 'hello world')
    await a.request('thread/archive', { threadId: t4 })
    await runTurn(a, t0, 'please fix the PARSER')
    const visible = [t6, t5, t3, t2, t1, t0]
    const sorted = (list: string[]) => [...list].sort()
    expect(await listIds(a)).toEqual(visible)
    expect(await listIds(a, { sortDirection: 'asc' }, 4)).toEqual([...visible].reverse())
    const byUpdate = await listIds(a, { sortKey: 'updated_at' }, 3)
    expect(byUpdate[0]).toBe(t0)
    expect(sorted(byUpdate)).toEqual(sorted(visible))
    expect(await listIds(a, { sortKey: 'updated_at', sortDirection: 'asc' })).toEqual([...byUpdate].reverse())
    expect(await listIds(a, { archived: true })).toEqual([t4])
    expect(await listIds(a, { cwd: dir('a') })).toEqual([t2, t0])
    expect(await listIds(a, { cwd: [dir('b'), dir('c')] })).toEqual([t5, t3, t1])
    expect(await listIds(a, { searchTerm: 'parser' })).toEqual([t1, t0])
    expect(await listIds(a, { sourceKinds: ['vscode'] })).toEqual(visible)
    expect(await listIds(a, { sourceKinds: ['cli'] })).toEqual([])
    expect(await listIds(a, { modelProviders: ['ollama'] })).toEqual([t3, t2])
    expect(await listIds(a, { modelProviders: ['mock', 'nobody'] })).toEqual([t6, t5, t1, t0])
    const page = await a.request('thread/list', { limit: 10 })
    expect(page.data.map((t) => t.status.type)).toEqual(visible.map(() => 'idle'))
    expect(page.data.find((t) => t.id === t0)).toMatchObject({
      preview: 'please fix the PARSER',
      cwd: dir('a'),
    })
    expect(page.data.find((t) => t.id === t3)).toMatchObject({ name: 'misc', modelProvider: 'ollama' })

    const client = await (await restart()).connect()
    await client.request('thread/resume', { threadId: t5 })
    const after = await client.request('thread/list', { limit: 10 })
    expect(after.data.map((t) => [t.id, t.status.type])).toEqual(
      visible.map((id) => [id, id === t5 ? 'idle' : 'notLoaded']),
    )
    expect(after.data.find((t) => t.id === t1)?.name).toBe('Parser cleanup')
  })

  it("a new core's first listing reads the index alone, and a resume sent right behind it finds the thread", async () => {
    const { first, restart } = await restartable('ws')
    const a = await first.connect()
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await startThread(a, {})).thread.id)
    const [t0, t1] = ids as [string, string, string]
    await a.request('thread/name/set', { threadId: t1, name: 'Second' })
    await runTurn(a, t0, 'hello from the first thread')
    const before = await a.request('thread/list', { limit: 10 })

    const client = await (await restart()).connect()
    // Back to back: the first listing (answered before the threads code loads) and a resume.
    const [listed, resumed] = await Promise.all([
      client.request('thread/list', { limit: 10 }),
      client.request('thread/resume', { threadId: t0 }),
    ])
    const shown = (page: typeof listed) => page.data.map(({ status: _, ...thread }) => thread)
    expect(listed.data.map((t) => t.status.type)).toEqual(['notLoaded', 'notLoaded', 'notLoaded'])
    expect(shown(listed)).toEqual(shown(before))
    expect(listed.data.find((t) => t.id === t1)?.name).toBe('Second')
    expect(resumed.thread.id).toBe(t0)
    expect(resumed.thread.turns).toHaveLength(1)
    const after = await client.request('thread/list', { limit: 10 })
    expect(after.data.map((t) => [t.id, t.status.type])).toEqual(
      [...ids].reverse().map((id) => [id, id === t0 ? 'idle' : 'notLoaded']),
    )
  })

  it('thread/name/set broadcasts, shows in read and list, and works on a thread not loaded', async () => {
    const { first, restart } = await restartable('ws')
    const [a, b] = [await first.connect(), await first.connect()]
    const { thread } = await startThread(a)
    const threadId = thread.id
    expect(await a.request('thread/name/set', { threadId, name: 'My thread' })).toEqual({})
    for (const client of [a, b])
      expect((await client.waitForNotification('thread/name/updated', forThread(threadId))).params).toEqual({
        threadId,
        threadName: 'My thread',
      })
    expect((await b.request('thread/read', { threadId })).thread.name).toBe('My thread')
    expect((await b.request('thread/list', {})).data[0]).toMatchObject({ id: threadId, name: 'My thread' })

    const c = await (await restart()).connect()
    await c.request('thread/name/set', { threadId, name: 'Renamed' })
    const renamed = await c.waitForNotification('thread/name/updated', forThread(threadId))
    expect(renamed.params).toEqual({ threadId, threadName: 'Renamed' })
    const read = await c.request('thread/read', { threadId })
    expect(read.thread).toMatchObject({ name: 'Renamed', status: { type: 'notLoaded' } })
    expect((await c.request('thread/list', {})).data[0]?.name).toBe('Renamed')
  })

  it('thread/archive and thread/unarchive', async () => {
    const { h, a, b } = await twoClients()
    const { thread } = await startThread(a)
    const threadId = thread.id
    await runTurn(a, threadId, 'keep me')
    expect(await a.request('thread/archive', { threadId })).toEqual({})
    await b.waitForNotification('thread/archived', forThread(threadId))
    expect(methodsFor(b, threadId).slice(-2)).toEqual(['thread/status/changed', 'thread/archived'])
    expect(notes(b, 'thread/status/changed', threadId).at(-1)).toMatchObject({
      status: { type: 'notLoaded' },
    })
    expect(existsSync(thread.path as string)).toBe(false)
    expect(rollouts(join(h.proc.home, 'archived_sessions')).join()).toContain(threadId)
    expect(await listIds(a, { archived: true })).toEqual([threadId])
    expect(await listIds(a)).toEqual([])
    expect(await errorOf(a, 'thread/resume', { threadId })).toContain('archived')

    const res = await b.request('thread/unarchive', { threadId })
    expect(res.thread).toMatchObject({ id: threadId, preview: 'keep me', status: { type: 'notLoaded' } })
    expect(res.thread.path).toContain(join(h.proc.home, 'sessions'))
    expect(existsSync(res.thread.path as string)).toBe(true)
    await a.waitForNotification('thread/unarchived', forThread(threadId))
    expect(await listIds(a)).toEqual([threadId])
    // Not loaded now: archiving again announces no status change.
    await a.request('thread/archive', { threadId })
    await b.waitForNotification('thread/archived', forThread(threadId))
    expect(methodsFor(b, threadId).slice(-3)).toEqual([
      'thread/archived',
      'thread/unarchived',
      'thread/archived',
    ])
    await a.request('thread/unarchive', { threadId })
    expect((await a.request('thread/resume', { threadId })).thread.turns).toHaveLength(1)
    const unknown = uuidv7()
    expect(await errorOf(a, 'thread/archive', { threadId: unknown })).toBe(
      `no rollout found for thread id ${unknown}`,
    )
  })

  it('thread/fork copies turns and name, subscribes the caller, and carries the history to the model', async () => {
    const { h, a, b } = await twoClients()
    const { thread: source } = await startThread(a)
    await a.request('thread/name/set', { threadId: source.id, name: 'origin' })
    h.model.enqueue(text('one'), text('two'))
    const { turnId: firstTurn } = await runTurn(a, source.id, 'first')
    await runTurn(a, source.id, 'second')

    const fork = await b.request('thread/fork', { threadId: source.id })
    expect(fork.thread.id).not.toBe(source.id)
    expect(fork.thread).toMatchObject({ forkedFromId: source.id, name: 'origin', status: { type: 'idle' } })
    expect(fork.thread.turns.map((t) => t.items.map((i) => i.type))).toEqual([
      ['userMessage', 'agentMessage'],
      ['userMessage', 'agentMessage'],
    ])
    await a.waitForNotification('thread/started', startedIs(fork.thread.id))
    h.model.enqueue(text('three'))
    await runTurn(b, fork.thread.id, 'third')
    expect(inputTexts(h, 2)).toEqual(['first', 'one', 'second', 'two', 'third'])
    expect(methodsFor(a, fork.thread.id)).not.toContain('turn/started')

    const cut = await b.request('thread/fork', { threadId: source.id, lastTurnId: firstTurn })
    expect(cut.thread.turns).toHaveLength(1)
    expect(cut.thread.turns[0]?.items[0]).toMatchObject({ type: 'userMessage' })
    await runTurn(b, cut.thread.id, 'again')
    expect(inputTexts(h, 3)).toEqual(['first', 'one', 'again'])
  })
})
