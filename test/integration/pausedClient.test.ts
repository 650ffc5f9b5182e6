/**
 * A websocket subscriber that stops reading mid-turn must cost bounded memory and must not stall or
 * cut the others; subscribers that are all behind but reading slow the turn down instead of being cut.
 * Real CLI child, real sockets, the scripted model server; memory comes from a test-only probe
 * (fixtures/memoryProbe.mjs) that samples the child's live memory after a GC.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { WebSocket } from 'ws'
import { afterEach, describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../support/appServerProcess'
import { text } from '../support/modelServer'
import { startHarness, type Harness } from '../support/threadHarness'
import { withTimeout } from '../support/testClient'

const MiB = 1024 * 1024
const PROBE = pathToFileURL(join(REPO_ROOT, 'test/support/fixtures/memoryProbe.mjs')).href

let harness: Harness | undefined
const sockets: WebSocket[] = []
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate()
  await harness?.dispose()
  harness = undefined
})

/** `count` deltas of `bytes` characters each; every delta starts with its index so order shows. */
function deltas(count: number, bytes: number): string[] {
  const pad = 'x'.repeat(bytes)
  return Array.from({ length: count }, (_, i) => `${i}:${pad}`.slice(0, bytes))
}

type Socket = { pause(): void; resume(): void }
const tcp = (ws: WebSocket) => (ws as unknown as { _socket: Socket })._socket

/**
 * A lean websocket subscriber: it keeps each delta's text and the turn/completed ids and nothing
 * else, so the test process reads as fast as it can (a TestClient validates and keeps every message).
 */
interface Sub {
  ws: WebSocket
  deltas: string[]
  /** Resolves once `count` deltas of the scripted message have arrived. */
  received(count: number): Promise<void>
  request(method: string, params: unknown): Promise<Record<string, unknown>>
  completed(turnId: string): Promise<void>
  closed(): Promise<{ code: number; reason: string }>
}

async function subscriber(h: Harness, threadId?: string): Promise<Sub> {
  const ws = new WebSocket(h.proc.url as string)
  sockets.push(ws)
  await withTimeout(new Promise((r, j) => ws.once('open', r).once('error', j)), 30_000, 'websocket open')
  const deltas: string[] = []
  let firstItem: string | undefined
  let wanted = -1
  let onWanted = () => {}
  const done = new Set<string>()
  const responses = new Map<number, (result: Record<string, unknown>) => void>()
  let onDone = () => {}
  let nextId = 1
  ws.on('message', (data) => {
    const frame = data.toString()
    if (frame.startsWith('{"method":"item/agentMessage/delta"')) {
      const { params } = JSON.parse(frame) as { params: { delta: string; itemId: string } }
      // The scripted message only: if the model stream is retried, its answer is another item.
      if ((firstItem ??= params.itemId) === params.itemId) deltas.push(params.delta)
      if (deltas.length === wanted) onWanted()
      return
    }
    const message = JSON.parse(frame) as {
      id?: number
      method?: string
      result?: Record<string, unknown>
      error?: { message: string }
      params?: { turn?: { id: string } }
    }
    if (message.id !== undefined && message.method === undefined) {
      if (message.error) throw new Error(message.error.message)
      responses.get(message.id)?.(message.result ?? {})
    } else if (message.method === 'turn/completed' && message.params?.turn) {
      done.add(message.params.turn.id)
      onDone()
    }
  })
  const closeInfo = new Promise<{ code: number; reason: string }>((r) =>
    ws.once('close', (code, reason) => r({ code, reason: reason.toString() })),
  )
  const sub: Sub = {
    ws,
    deltas,
    received(count) {
      if (deltas.length >= count) return Promise.resolve()
      wanted = count
      return withTimeout(new Promise<void>((r) => (onWanted = r)), 300_000, `${count} deltas`)
    },
    request(method, params) {
      const id = nextId++
      ws.send(JSON.stringify({ id, method, params }))
      return withTimeout(new Promise((r) => responses.set(id, r)), 60_000, method)
    },
    completed(turnId) {
      const finished = new Promise<void>((resolve) => {
        onDone = () => done.has(turnId) && resolve()
        onDone()
      })
      // Fails as soon as the reader is disconnected instead.
      const cut = closeInfo.then((info) => {
        throw new Error(`a reader was disconnected: ${info.code} ${info.reason}`)
      })
      return withTimeout(Promise.race([finished, cut]), 300_000, 'turn/completed')
    },
    closed: () => withTimeout(closeInfo, 60_000, 'the close'),
  }
  await sub.request('initialize', { clientInfo: { name: 'reader', title: null, version: '0' } })
  ws.send(JSON.stringify({ method: 'initialized' }))
  if (threadId) await sub.request('thread/resume', { threadId })
  return sub
}

/** The first index where `got` differs from `expected` (or -1): a readable failure. */
function firstDifference(got: string[], expected: string[]): number {
  for (let i = 0; i < Math.max(got.length, expected.length); i++) if (got[i] !== expected[i]) return i
  return -1
}

/** Live memory samples (bytes) the probe wrote, in order. */
async function samples(file: string): Promise<number[]> {
  const lines = (await readFile(file, 'utf8')).trim().split('\n')
  return lines.filter(Boolean).map((line) => Number(line.split(' ')[1]))
}

/** Reads slowly: the socket reads for a moment, then not, over and over, until stopped. */
function throttle(ws: WebSocket, readMs: number, pauseMs: number): () => void {
  let stopped = false
  const step = (reading: boolean) => {
    if (stopped) return
    if (reading) tcp(ws).resume()
    else tcp(ws).pause()
    setTimeout(() => step(!reading), reading ? readMs : pauseMs)
  }
  step(false)
  return () => {
    stopped = true
    tcp(ws).resume()
  }
}

async function startTurn(sub: Sub, threadId: string): Promise<string> {
  const result = await sub.request('turn/start', { threadId, input: [{ type: 'text', text: 'stream' }] })
  return (result.turn as { id: string }).id
}

describe('paused and slow websocket subscribers', () => {
  it('keeps a paused subscriber within bounded memory, delivers every delta to the readers in order, and closes the paused one with 4001 once it has stalled', async () => {
    const probe = join(
      await import('node:os').then((os) => os.tmpdir()),
      `probe-${process.pid}-${Date.now()}`,
    )
    harness = await startHarness('ws', {
      env: {
        NODE_OPTIONS: `--expose-gc --import=${PROBE}`,
        CODEX_DESK_MEMORY_PROBE: probe,
        CODEX_DESK_SLOW_CLIENT_STALL_MS: '3000',
      },
    })
    const count = 50_000
    const parts = deltas(count, 1024)
    harness.model.enqueue(text(parts.join(''), { chunks: parts }))

    const a = await subscriber(harness)
    const threadId = ((await a.request('thread/start', {})).thread as { id: string }).id
    const b = await subscriber(harness, threadId)
    const paused = await subscriber(harness, threadId)
    tcp(paused.ws).pause()

    const before = await samples(probe)
    const baseline = before[before.length - 1] as number
    const turnId = await startTurn(a, threadId)
    await Promise.all([a.received(count), b.received(count)])
    // What streaming cost: the model's closing events (three copies of the whole text, as the
    // Responses API sends them) come after the last delta and are the model client's to bound.
    const streamed = await samples(probe)
    await Promise.all([a.completed(turnId), b.completed(turnId)])

    for (const reader of [a, b]) {
      expect(reader.deltas.length).toBe(count)
      expect(firstDifference(reader.deltas, parts)).toBe(-1)
    }
    const peak = Math.max(...streamed.slice(before.length))
    const endPeak = Math.max(...(await samples(probe)).slice(before.length))
    const textBytes = count * 1024
    console.log(
      `live memory growth while streaming ${((peak - baseline) / MiB).toFixed(1)} MiB, ` +
        `to the end of the turn ${((endPeak - baseline) / MiB).toFixed(1)} MiB (text ${textBytes / MiB} MiB)`,
    )
    expect(peak - baseline).toBeLessThan(textBytes + 64 * MiB)

    // It learns why it was dropped once it reads again, after what was already on the wire.
    tcp(paused.ws).resume()
    const closed = await paused.closed()
    expect(closed.code).toBe(4001)
    expect(closed.reason).toMatch(/^slow consumer: /)
    expect(paused.deltas.length).toBeLessThan(count)
    // What it got before the cut is a prefix of the text: nothing skipped, nothing reordered.
    expect(firstDifference(paused.deltas, parts.slice(0, paused.deltas.length))).toBe(-1)
  }, 360_000)

  it('slows the turn down instead of cutting anyone when every subscriber reads slowly', async () => {
    harness = await startHarness('ws', { env: { CODEX_DESK_SLOW_CLIENT_STALL_MS: '5000' } })
    const count = 20_000
    const parts = deltas(count, 1024)
    harness.model.enqueue(text(parts.join(''), { chunks: parts }))

    const a = await subscriber(harness)
    const threadId = ((await a.request('thread/start', {})).thread as { id: string }).id
    const b = await subscriber(harness, threadId)
    const c = await subscriber(harness, threadId)
    const stops = [a, b, c].map(({ ws }) => throttle(ws, 5, 20))
    try {
      const turnId = await startTurn(a, threadId)
      await Promise.all([a, b, c].map((sub) => sub.completed(turnId)))
    } finally {
      for (const stop of stops) stop()
    }
    for (const sub of [a, b, c]) {
      const at = firstDifference(sub.deltas, parts)
      expect(sub.deltas.length).toBe(count)
      expect(at).toBe(-1)
    }
  }, 360_000)
})
