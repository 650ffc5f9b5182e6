/**
 * The renderer's connection and state layer (DeskSession + DeskStore over its websocket channel)
 * against a real core and the scripted model: a streamed turn as the thread view would hold it, a
 * reconnect in the middle of a turn (close the socket, reconnect, resume) ending with the exact
 * text and no doubled item, and approval prompts answered here, elsewhere, and across a reconnect.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { openWebSocket, type WebSocketLike } from '../../src/renderer/channels'
import { DeskSession, OPEN_THREAD_KEY, type KeyValueStorage } from '../../src/renderer/session'
import { DeskStore, type Change } from '../../src/renderer/state/store'
import { delayMs, functionCall, stall, text } from '../support/modelServer'
import type { TestClient } from '../support/testClient'
import { startHarness, type Harness } from '../support/threadHarness'

const APPROVALS = 'approval_policy = "untrusted"\nsandbox_mode = "workspace-write"'

let h: Harness | undefined
const sessions: DeskSession[] = []
afterEach(async () => {
  for (const session of sessions.splice(0)) session.dispose()
  await h?.dispose()
  h = undefined
})

function memoryStorage(): KeyValueStorage & { map: Map<string, string> } {
  const map = new Map<string, string>()
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
    removeItem: (key) => void map.delete(key),
  }
}

interface Desk {
  store: DeskStore
  session: DeskSession
  sockets: WebSocket[]
  changes: Change[]
  storage: ReturnType<typeof memoryStorage>
}

/** A session as the page runs it, over the `ws` package instead of the browser's WebSocket. */
function desk(harness: Harness, storage = memoryStorage()): Desk {
  const store = new DeskStore()
  const changes: Change[] = []
  store.subscribe((change) => changes.push(change))
  const sockets: WebSocket[] = []
  const session = new DeskSession({
    store,
    storage,
    clientVersion: '0.0.0-test',
    backoff: { baseMs: 50, capMs: 400 },
    staleApprovalGraceMs: 300,
    openChannel: () =>
      openWebSocket(harness.proc.url as string, ['codex-desk'], (url, protocols) => {
        const socket = new WebSocket(url, protocols)
        sockets.push(socket)
        return socket as unknown as WebSocketLike
      }),
  })
  sessions.push(session)
  session.start()
  return { store, session, sockets, changes, storage }
}

async function connected(d: Desk): Promise<void> {
  await expect.poll(() => d.store.state.connection.state, { timeout: 10_000 }).toBe('connected')
}

function agentTexts(store: DeskStore): string[] {
  return (store.state.view?.turns ?? []).flatMap((t) =>
    t.items.flatMap((item) => (item.type === 'agentMessage' ? [item.text] : [])),
  )
}

function itemIds(store: DeskStore): string[] {
  return (store.state.view?.turns ?? []).flatMap((t) => t.items.map((item) => `${item.type}:${item.id}`))
}

const lastTurnStatus = (store: DeskStore) => store.state.view?.turns.at(-1)?.status

const WORDS = Array.from({ length: 150 }, (_, i) => `w${i}`).join(' ')

describe('renderer session against a real core', () => {
  it('shows a streamed turn exactly: the deltas add up to the final text, one item each', async () => {
    h = await startHarness('ws')
    const d = desk(h)
    await connected(d)
    expect(d.store.state.connection).toMatchObject({ userAgent: expect.stringMatching(/^codex_desk_ui\//) })

    const threadId = await d.session.newThread()
    expect(threadId).toBeTruthy()
    expect(d.store.state.openThreadId).toBe(threadId)
    expect(d.store.listOrder()).toEqual([threadId])
    expect(d.storage.map.get(OPEN_THREAD_KEY)).toBe(threadId)

    const streamed: string[] = []
    d.store.subscribe((change) => {
      if (change.kind === 'append') streamed.push(agentTexts(d.store).at(-1) ?? '')
    })
    h.model.enqueue(text(WORDS, { chunks: 150 }))
    expect(await d.session.sendMessage('stream please')).toBe(true)
    await expect.poll(() => lastTurnStatus(d.store), { timeout: 10_000 }).toBe('completed')

    expect(streamed.length).toBeGreaterThanOrEqual(100)
    expect(streamed.at(-1)).toBe(WORDS)
    expect(agentTexts(d.store)).toEqual([WORDS])
    expect(itemIds(d.store).map((id) => id.split(':')[0])).toEqual(['userMessage', 'agentMessage'])
    await expect.poll(() => d.store.statusOf(threadId as string).type).toBe('idle')
    // The list learned the preview from the user message.
    expect(d.store.state.threads.get(threadId as string)?.preview).toBe('stream please')
  })

  it('sends a message typed while New thread is starting to the new thread, and starts only one', async () => {
    h = await startHarness('ws')
    const d = desk(h)
    await connected(d)
    const first = (await d.session.newThread()) as string
    h.model.enqueue([stall(), text('first')])
    expect(await d.session.sendMessage('keep busy')).toBe(true)
    await h.model.waitForStall(1)
    h.model.enqueue(text('second'))

    // New thread and Send without waiting for thread/start's answer, as a quick user would.
    const starting = d.session.newThread()
    const again = d.session.newThread()
    expect(d.store.state.openThreadId).toBeNull()
    expect(await d.session.sendMessage('to the new one')).toBe(true)
    const second = await starting
    expect(await again).toBe(second)

    expect(second).not.toBe(first)
    expect(d.store.state.openThreadId).toBe(second)
    await expect.poll(() => lastTurnStatus(d.store), { timeout: 10_000 }).toBe('completed')
    expect(agentTexts(d.store)).toEqual(['second'])
    expect(d.store.listOrder()).toEqual([second, first])
    // The first thread's turn got no steered message: its only user input is the first one.
    const other = await h.connect()
    const read = await other.request('thread/read', { threadId: first, includeTurns: true })
    other.close()
    const inputs = read.thread.turns.flatMap((t) => t.items.filter((i) => i.type === 'userMessage'))
    expect(inputs).toHaveLength(1)
  })

  it('reconnects in the middle of a turn and ends with the exact text and no doubled item', async () => {
    h = await startHarness('ws')
    const d = desk(h)
    await connected(d)
    const threadId = (await d.session.newThread()) as string
    h.model.enqueue([delayMs(6), text(WORDS, { chunks: 150 })])
    await d.session.sendMessage('go')
    await expect.poll(() => (agentTexts(d.store)[0] ?? '').length, { timeout: 10_000 }).toBeGreaterThan(40)

    // The socket drops mid-stream (as a sleeping laptop or a slow-consumer close would).
    const states: string[] = []
    d.store.subscribe((c) => c.kind === 'connection' && states.push(d.store.state.connection.state))
    // What the screen held after each delta: the resume snapshot plus the deltas after it, before
    // item/completed could paper over a gap or a doubled piece.
    const streamed: string[] = []
    d.store.subscribe((c) => c.kind === 'append' && streamed.push(agentTexts(d.store)[0] ?? ''))
    d.sockets[0]?.terminate()
    await expect.poll(() => d.sockets.length, { timeout: 10_000 }).toBe(2)
    await connected(d)
    const cutAt = agentTexts(d.store)[0]?.length ?? 0
    await expect.poll(() => lastTurnStatus(d.store), { timeout: 15_000 }).toBe('completed')

    expect(states.slice(0, 2)).toEqual(['reconnecting', 'connected'])
    expect(cutAt).toBeLessThan(WORDS.length)
    expect(streamed.at(-1)).toBe(WORDS)
    expect(d.store.state.view?.threadId).toBe(threadId)
    expect(d.store.state.view?.turns).toHaveLength(1)
    expect(agentTexts(d.store)).toEqual([WORDS])
    const ids = itemIds(d.store)
    expect(ids.map((id) => id.split(':')[0])).toEqual(['userMessage', 'agentMessage'])
    expect(new Set(ids).size).toBe(ids.length)
  })

  it('reopens the remembered thread in a new page (a reload), running turn and all', async () => {
    h = await startHarness('ws')
    const first = desk(h)
    await connected(first)
    const threadId = (await first.session.newThread()) as string
    h.model.enqueue([text('partial answer', { chunks: ['partial ', 'answer'] }), stall()])
    await first.session.sendMessage('go')
    await h.model.waitForStall()
    await expect.poll(() => agentTexts(first.store)).toEqual(['partial answer'])
    first.session.dispose()

    const reloaded = desk(h, first.storage)
    expect(reloaded.store.state.openThreadId).toBe(threadId)
    await connected(reloaded)
    await expect.poll(() => agentTexts(reloaded.store)).toEqual(['partial answer'])
    expect(lastTurnStatus(reloaded.store)).toBe('inProgress')
    expect(reloaded.store.runningTurn()?.id).toBe(reloaded.store.state.view?.turns[0]?.id)
    h.model.release()
    await expect.poll(() => lastTurnStatus(reloaded.store), { timeout: 10_000 }).toBe('completed')
    expect(agentTexts(reloaded.store)).toEqual(['partial answer'])
  })

  it('shows a command prompt, runs the command on Accept, and the output arrives', async () => {
    h = await startHarness('ws', { config: APPROVALS })
    const d = desk(h)
    await connected(d)
    const threadId = (await d.session.newThread()) as string
    h.model.enqueue(
      functionCall({ name: 'shell_command', arguments: { command: "printf 'approved\\n'" }, callId: 'c1' }),
      text('done'),
    )
    await d.session.sendMessage('run it')
    await expect.poll(() => d.store.approvalsFor(threadId).length, { timeout: 10_000 }).toBe(1)
    const [prompt] = d.store.approvalsFor(threadId)
    expect(prompt).toMatchObject({ kind: 'command', command: "printf 'approved\\n'", stale: false })
    await expect
      .poll(() => d.store.statusOf(threadId))
      .toEqual({
        type: 'active',
        activeFlags: ['waitingOnApproval'],
      })

    d.session.answerApproval(prompt!.key, 'accept')
    expect(d.store.approvalsFor(threadId)).toEqual([])
    await expect.poll(() => lastTurnStatus(d.store), { timeout: 10_000 }).toBe('completed')
    const command = d.store.item('c1')?.item
    expect(command).toMatchObject({ type: 'commandExecution', status: 'completed', exitCode: 0 })
    expect(command?.type === 'commandExecution' && command.aggregatedOutput).toContain('approved')
  })

  it('removes a prompt that another client answered, and sends no answer of its own', async () => {
    h = await startHarness('ws', { config: APPROVALS })
    const d = desk(h)
    await connected(d)
    const threadId = (await d.session.newThread()) as string
    const other: TestClient = await h.connect('other_tab')
    await other.request('thread/resume', { threadId })
    h.model.enqueue(
      functionCall({ name: 'shell_command', arguments: { command: 'printf x' }, callId: 'c2' }),
      text('ok'),
    )
    await d.session.sendMessage('go')
    await expect.poll(() => d.store.approvalsFor(threadId).length, { timeout: 10_000 }).toBe(1)
    const request = await other.waitForServerRequest('item/commandExecution/requestApproval')
    other.send({ id: request.id, result: { decision: 'decline' } })

    await expect.poll(() => d.store.approvalsFor(threadId)).toEqual([])
    await expect.poll(() => lastTurnStatus(d.store), { timeout: 10_000 }).toBe('completed')
    expect(d.store.item('c2')?.item).toMatchObject({ status: 'declined' })
    // Too late now: the click finds no waiting request and says so instead of answering.
    d.session.answerApproval(`n:${String(request.id)}`, 'accept')
    expect(d.store.state.notices.at(-1)?.message).toMatch(/cannot be answered right now/)
  })

  it('keeps a prompt across a reconnect (stale, then replayed with the same id) and answers it once', async () => {
    h = await startHarness('ws', { config: APPROVALS })
    const d = desk(h)
    await connected(d)
    const threadId = (await d.session.newThread()) as string
    h.model.enqueue(
      functionCall({ name: 'shell_command', arguments: { command: 'printf again' }, callId: 'c3' }),
      text('after'),
    )
    await d.session.sendMessage('go')
    await expect.poll(() => d.store.approvalsFor(threadId).length, { timeout: 10_000 }).toBe(1)
    const before = d.store.approvalsFor(threadId)[0]!

    const seen: string[] = []
    d.store.subscribe((change) => {
      if (change.kind !== 'approvals') return
      const prompts = d.store.approvalsFor(threadId)
      seen.push(prompts.map((p) => `${String(p.requestId)}${p.stale ? ' stale' : ''}`).join(','))
    })
    d.sockets[0]?.terminate()
    await expect.poll(() => d.sockets.length, { timeout: 10_000 }).toBe(2)
    await connected(d)
    await expect.poll(() => d.store.approvalsFor(threadId)[0]?.stale, { timeout: 10_000 }).toBe(false)
    const after = d.store.approvalsFor(threadId)
    expect(after).toHaveLength(1)
    expect(after[0]?.requestId).toBe(before.requestId)
    // On screen the whole time: disabled while the connection was gone, then live again.
    const id = String(before.requestId)
    expect([...new Set(seen)]).toEqual([`${id} stale`, id])

    d.session.answerApproval(after[0]!.key, 'accept')
    await expect.poll(() => lastTurnStatus(d.store), { timeout: 10_000 }).toBe('completed')
    expect(agentTexts(d.store)).toEqual(['after'])
    expect(d.store.item('c3')?.item).toMatchObject({ status: 'completed' })
  })

  it('says why it cannot connect, and a request made meanwhile fails visibly', async () => {
    h = await startHarness('ws')
    const url = h.proc.url as string
    const port = Number(new URL(url).port)
    await h.proc.dispose()
    const store = new DeskStore()
    const session = new DeskSession({
      store,
      clientVersion: '0.0.0-test',
      backoff: { baseMs: 50, capMs: 100 },
      openChannel: () =>
        openWebSocket(url, ['codex-desk'], (u, p) => new WebSocket(u, p) as unknown as WebSocketLike),
    })
    sessions.push(session)
    session.start()
    await expect.poll(() => store.state.connection.state).toBe('reconnecting')
    expect(store.state.connection).toMatchObject({
      cause: { kind: 'refused', message: expect.stringContaining(`cannot reach ws://127.0.0.1:${port}`) },
    })
    // Requests fail visibly while disconnected instead of hanging.
    expect(await session.sendMessage('hello?')).toBe(false)
    expect(store.state.notices.at(-1)?.message).toBe('Could not send the message: not connected to the core.')
  })
})
