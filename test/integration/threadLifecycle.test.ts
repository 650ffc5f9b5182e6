/**
 * In-process lifecycle cases that need fault injection or a forced interleaving: a full disk in the
 * middle of a turn, and a stale unload finishing after the thread was loaded again.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigService } from '../../src/worker/config/service'
import type { AppServer } from '../../src/worker/server/appServer'
import type { RolloutFile } from '../../src/worker/threads/rolloutWriter'
import { silentLogs } from '../../src/worker/util/log'
import { makeTempDir } from '../support/appServerProcess'
import { inProcessServer, memoryClient } from '../support/inProcess'
import { startModelServer, text, type ModelServer } from '../support/modelServer'
import type { TestClient } from '../support/testClient'
import { modelConfig, runTurn } from '../support/threadHarness'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

interface Faults {
  /** Fail the next write whose text contains this. */
  failWriteContaining: string | null
  /** Hold every file close until released. */
  holdClose: Promise<void> | null
}

async function core(faults: Faults): Promise<{ server: AppServer; client: TestClient; model: ModelServer }> {
  const model = await startModelServer()
  cleanups.push(() => model.close())
  const home = await makeTempDir()
  cleanups.push(() => home.remove())
  await writeFile(join(home.path, 'config.toml'), modelConfig(model.url))
  const config = await ConfigService.create({ home: home.path, log: silentLogs.get('config'), watch: false })
  const server = inProcessServer({
    codexHome: home.path,
    config,
    storeOptions: {
      wrapFile: (file): RolloutFile => ({
        ...file,
        write: async (buffer, position) => {
          const needle = faults.failWriteContaining
          if (needle && Buffer.from(buffer).toString('utf8').includes(needle)) {
            faults.failWriteContaining = null
            throw Object.assign(new Error('no space left on device, write'), { code: 'ENOSPC' })
          }
          return file.write(buffer, position)
        },
        close: async () => {
          await faults.holdClose
          return file.close()
        },
      }),
    },
  })
  cleanups.push(() => server.close())
  const { client } = memoryClient(server)
  await client.initialize()
  return { server, client, model }
}

describe('thread lifecycle under faults', () => {
  it('a full disk fails the turn with a clear error; the open item closes with the text clients saw, and the thread keeps working', async () => {
    const faults: Faults = { failWriteContaining: null, holdClose: null }
    const { client, model } = await core(faults)
    const { thread } = await client.request('thread/start', {})
    model.enqueue(text('this answer cannot be saved'))
    faults.failWriteContaining = '"this answer cannot be saved"'
    const { completed } = await runTurn(client, thread.id, 'hi')
    const turn = (completed.params as { turn: { status: string; error: { message: string } } }).turn
    expect(turn.status).toBe('failed')
    expect(turn.error.message).toMatch(/^could not save the thread: .*no space left on device/)
    // The failed write held the model's output item (and, when they were written together, the
    // deltas before it, which were then never sent); the open message still closed (and saved)
    // with exactly the text clients had seen, so nothing a client saw is missing from the rollout.
    const seen = client.received
      .filter((m) => m.method === 'item/agentMessage/delta')
      .map((m) => (m.params as { delta: string }).delta)
      .join('')
    expect(['', 'this answer cannot be saved']).toContain(seen)
    const read = await client.request('thread/read', { threadId: thread.id, includeTurns: true })
    expect(read.thread.turns[0]?.items.map((i) => [i.type, (i as { text?: string }).text])).toEqual([
      ['userMessage', undefined],
      ['agentMessage', seen],
    ])
    model.enqueue(text('saved fine'))
    const next = await runTurn(client, thread.id, 'again')
    expect((next.completed.params as { turn: { status: string } }).turn.status).toBe('completed')
  })

  it('a stale unload that finishes after the thread was loaded again does not clear the new load', async () => {
    let release!: () => void
    const faults: Faults = { failWriteContaining: null, holdClose: null }
    const { server, client, model } = await core(faults)
    const { thread } = await client.request('thread/start', {})
    await client.request('thread/unsubscribe', { threadId: thread.id })
    faults.holdClose = new Promise<void>((resolve) => (release = resolve))
    const { manager } = await server.threadSystem()
    manager.unload(thread.id)
    expect(manager.get(thread.id)).toBeUndefined()
    await expect(client.request('thread/loaded/list', {})).resolves.toEqual({ data: [], nextCursor: null })
    // Resume while the old rollout writer is still closing: the load waits for it, then wins.
    const resumed = client.request('thread/resume', { threadId: thread.id })
    await new Promise((resolve) => setTimeout(resolve, 50))
    faults.holdClose = null
    release()
    const { thread: again } = await resumed
    expect(again.status).toEqual({ type: 'idle' })
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(manager.get(thread.id)).toBeDefined()
    await expect(client.request('thread/loaded/list', {})).resolves.toEqual({
      data: [thread.id],
      nextCursor: null,
    })
    const live = manager.get(thread.id)
    expect(live && manager.subscriptions.isCurrentListener(thread.id, live.generation)).toBe(true)
    model.enqueue(text('still writable'))
    const { completed } = await runTurn(client, thread.id, 'hi')
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    const statuses = client.received
      .filter((m) => m.method === 'thread/status/changed')
      .map((m) => (m.params as { status: { type: string } }).status.type)
    expect(statuses).toEqual(['notLoaded', 'idle', 'active', 'idle'])
    expect(client.received.filter((m) => m.method === 'thread/closed')).toHaveLength(1)
  })
})

describe('pending server requests across a reconnect', () => {
  it('a request survives its only subscriber leaving, and reaches the resuming client right after its response', async () => {
    const faults: Faults = { failWriteContaining: null, holdClose: null }
    const { server, client } = await core(faults)
    const { thread } = await client.request('thread/start', {})
    const { manager } = await server.threadSystem()
    const live = manager.get(thread.id)
    if (!live) throw new Error('not loaded')
    // The tools work sends approvals this way; any registered server request takes the same path.
    const answered = manager.request(live, 'account/chatgptAuthTokens/refresh', {
      reason: 'unauthorized',
      previousAccountId: null,
    })
    const first = await client.waitForServerRequest('account/chatgptAuthTokens/refresh')
    client.close()
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(manager.isBusy(thread.id)).toBe(true)

    const { client: other } = memoryClient(server)
    await other.initialize('other')
    const resumed = await other.call('thread/resume', { threadId: thread.id }, 'resume')
    expect(resumed.error).toBeUndefined()
    const replayed = await other.waitForServerRequest('account/chatgptAuthTokens/refresh')
    expect(replayed.id).toBe(first.id)
    const order = other.received.map((m) => (m.id === 'resume' ? 'response' : m.method))
    expect(order.indexOf('response')).toBeLessThan(order.indexOf('account/chatgptAuthTokens/refresh'))
    other.send({ id: replayed.id, result: { accessToken: 'a.b.c', chatgptAccountId: 'acct' } })
    await expect(answered).resolves.toMatchObject({ chatgptAccountId: 'acct' })
    const resolved = await other.waitForNotification('serverRequest/resolved')
    expect(resolved.params).toEqual({ threadId: thread.id, requestId: first.id })
    expect(manager.isBusy(thread.id)).toBe(false)
  })
})
