import { afterEach, describe, expect, it } from 'vitest'
import { stdioChannel, connectWebSocket } from '../support/channels'
import { startFixture, type Fixture } from '../support/fixtureProcess'
import { TestClient, withTimeout } from '../support/testClient'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

const MiB = 1024 * 1024
let fixture: Fixture | undefined
afterEach(async () => {
  await fixture?.dispose()
  fixture = undefined
})

/** Resolves once `client` holds `count` broadcast notifications; returns their indices in order. */
async function collect(client: TestClient, count: number, timeoutMs: number): Promise<number[]> {
  const indices = () =>
    client.received
      .filter((m) => m.method === 'configWarning')
      .map((m) => Number((m.params as { summary: string }).summary))
  await withTimeout(
    new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (indices().length >= count) {
          clearInterval(poll)
          resolve()
        }
      }, 20)
    }),
    timeoutMs,
    `${count} notifications`,
  )
  return indices()
}

const inOrder = (count: number) => Array.from({ length: count }, (_, i) => i)

/** Starts the fixture with a short stall time (the child inherits the environment). */
async function startShortStallFixture(mode: 'ws' | 'stdio'): Promise<Fixture> {
  const saved = process.env.CODEX_DESK_SLOW_CLIENT_STALL_MS
  process.env.CODEX_DESK_SLOW_CLIENT_STALL_MS = '1000'
  try {
    return await startFixture(mode)
  } finally {
    if (saved === undefined) delete process.env.CODEX_DESK_SLOW_CLIENT_STALL_MS
    else process.env.CODEX_DESK_SLOW_CLIENT_STALL_MS = saved
  }
}

describe('slow consumers', () => {
  it('closes a websocket client that stopped reading with 4001 while the others get every notification in order', async () => {
    fixture = await startShortStallFixture('ws')
    const url = fixture.url as string
    const fast = await Promise.all([connectWebSocket(url), connectWebSocket(url)])
    const paused = await connectWebSocket(url)
    for (const { client } of [...fast, paused]) await client.initialize()
    // Stop reading at the TCP level: the kernel buffers fill, then the server's queue does.
    ;(paused.ws as unknown as { _socket: { pause(): void } })._socket.pause()

    const count = 20_000
    fixture.command({ type: 'broadcast', count, bytes: 1024, batch: 100 })
    const done = await fixture.next('broadcastDone', 60_000)
    for (const { client } of fast) expect(await collect(client, count, 30_000)).toEqual(inOrder(count))
    expect(done.peakRss - done.baselineRss).toBeLessThan(64 * MiB)

    // Once it reads again it learns why it was dropped, after what was already on the wire.
    ;(paused.ws as unknown as { _socket: { resume(): void } })._socket.resume()
    const closed = await paused.client.waitForClose(15_000)
    expect(closed.code).toBe(4001)
    expect(closed.reason).toMatch(/^slow consumer: /)
    const got = paused.client.received.filter((m) => m.method === 'configWarning').length
    expect(got).toBeLessThan(count)
    for (const { ws } of [...fast, paused]) ws.terminate()
  })

  it('never drops a stdio client whose pipe is full, and delivers everything once it reads', async () => {
    // Even with a short stall time: stdio blocks, it is never cut.
    fixture = await startShortStallFixture('stdio')
    const child = fixture.child as unknown as ChildProcessWithoutNullStreams
    const client = new TestClient(stdioChannel(child))
    await client.initialize()
    child.stdout.pause()

    const count = 20_000
    fixture.command({ type: 'broadcast', count, bytes: 1024, batch: 100 })
    // The producer is now blocked on the full pipe; the connection must still be there.
    await new Promise((r) => setTimeout(r, 1_000))
    fixture.command({ type: 'stats' })
    const stats = await fixture.next('stats')
    expect(stats.connections).toBe(1)
    expect(client.received.filter((m) => m.method === 'configWarning').length).toBeLessThan(count)

    child.stdout.resume()
    expect(await collect(client, count, 60_000)).toEqual(inOrder(count))
    const done = await fixture.next('broadcastDone', 60_000)
    expect(done.connections).toBe(1)
    expect(done.peakRss - done.baselineRss).toBeLessThan(64 * MiB)
    expect(client.closed).toBeUndefined()
  })
})
