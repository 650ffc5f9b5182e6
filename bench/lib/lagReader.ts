/**
 * Delivery-lag readers for the broadcast figure: small child processes, each holding a few
 * websocket connections on raw TCP sockets, so that the clients measure the server and not
 * themselves (one Node process decoding nine sockets with `ws` had GC pauses of up to 22 ms, as
 * large as the tail it was meant to time).
 *
 * A reader does the least it can per frame: it takes the clock once per socket read, before any
 * parsing, reads into one reused buffer (no allocation per read, so no GC while it times), walks
 * the websocket frame headers in the bytes it got, and pulls the stamps
 * (`<seq>@<ms>|`, see pacedModelServer.ts) out of a delta notification's bytes without decoding
 * them to a string or parsing JSON. Lag is that read's time minus the stamp, both read from
 * CLOCK_MONOTONIC (`process.hrtime`), which every process on the machine shares. Each socket checks
 * that every stamp arrives exactly once and in order; the arrays go to the parent at the end.
 *
 * With `handshake`, a socket initializes and resumes the thread first (the app-servers); without,
 * it only upgrades (the bare relay of floorRelay.ts). Bench only: it never runs in the product.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { track, withTimeout } from './processes'

const SCRIPT = String.raw`
const net = require('node:net')
const { PerformanceObserver } = require('node:perf_hooks')
const now = () => { const t = process.hrtime(); return t[0] * 1e3 + t[1] / 1e6 }
const PREFIX = Buffer.from('{"method":"item/agentMessage/delta"')
const FIELD = Buffer.from('"delta":"')
const AT = 64, BAR = 124, QUOTE = 34, DOT = 46
/** The longest GC pause that began once the sockets were ready (entries arrive late: by start time). */
let gcMaxMs = 0
let timedFrom = Infinity
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.startTime >= timedFrom) gcMaxMs = Math.max(gcMaxMs, e.duration)
}).observe({ entryTypes: ['gc'] })

/** One client frame: FIN, the given opcode, masked with a zero key (so the payload is as is). */
function clientFrame(opcode, payload) {
  const n = payload.length
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10
  const f = Buffer.alloc(head + 4 + n)
  f[0] = 0x80 | opcode
  if (head === 2) f[1] = 0x80 | n
  else if (head === 4) { f[1] = 0x80 | 126; f.writeUInt16BE(n, 2) }
  else { f[1] = 0x80 | 127; f.writeUInt32BE(Math.floor(n / 2 ** 32), 2); f.writeUInt32BE(n >>> 0, 6) }
  payload.copy(f, head + 4)
  return f
}

/** A number written in ASCII between [from, to) (digits and one dot), without making a string. */
function numberAt(p, from, to) {
  let v = 0, scale = 0
  for (let i = from; i < to; i++) {
    const c = p[i]
    if (c === DOT) scale = 1
    else { v = v * 10 + (c - 48); if (scale) scale *= 10 }
  }
  return scale ? v / scale : v
}

const sockets = []
let count = 0

/** Every socket of this process reads into this one buffer (net's onread): no allocation per read. */
const READ = Buffer.allocUnsafe(256 * 1024)

function openSocket(url, index) {
  const u = new URL(url)
  const s = {
    index, tcp: null, rest: null, frags: null, upgraded: false, head: '', onUpgrade: null,
    lags: new Float64Array(count).fill(NaN), next: 0, error: null, deltas: 0,
    completed: false, waiting: null, maxReadMs: 0, reads: 0,
  }
  sockets.push(s)
  return new Promise((resolve, reject) => {
    s.onUpgrade = resolve
    const tcp = net.connect({
      port: Number(u.port), host: u.hostname,
      onread: { buffer: READ, callback: (n, buf) => { onRead(s, buf, n); return true } },
    })
    s.tcp = tcp
    tcp.setNoDelay(true)
    tcp.on('error', reject)
    tcp.on('connect', () => tcp.write('GET / HTTP/1.1\r\nHost: ' + u.host + '\r\nUpgrade: websocket\r\n' +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'))
  })
}

function onRead(s, buf, n) {
  const t = now()
  if (!s.upgraded) {
    s.head += buf.toString('latin1', 0, n)
    const end = s.head.indexOf('\r\n\r\n')
    if (end === -1) return
    if (!/^HTTP\/1\.1 101/.test(s.head)) return s.tcp.destroy(new Error('upgrade refused: ' + s.head.split('\r\n')[0]))
    s.upgraded = true
    s.onUpgrade()
    const after = Buffer.from(s.head.slice(end + 4), 'latin1')
    if (after.length) frames(s, after, 0, after.length, t)
    return
  }
  if (s.rest) {
    // A frame was cut by the last read: join it with this one (rare; copies, since READ is reused).
    const joined = Buffer.concat([s.rest, buf.subarray(0, n)])
    s.rest = null
    frames(s, joined, 0, joined.length, t)
  } else frames(s, buf, 0, n, t)
  const spent = now() - t
  s.reads++
  if (spent > s.maxReadMs) s.maxReadMs = spent
}

/** Walks the frames in buf[at, end), handling each whole one; keeps a copy of a cut one. */
function frames(s, buf, at, end, t) {
  for (;;) {
    if (end - at < 2) break
    const b0 = buf[at], b1 = buf[at + 1]
    let len = b1 & 0x7f, h = 2
    if (len === 126) { if (end - at < 4) break; len = buf.readUInt16BE(at + 2); h = 4 }
    else if (len === 127) {
      if (end - at < 10) break
      len = buf.readUInt32BE(at + 2) * 2 ** 32 + buf.readUInt32BE(at + 6); h = 10
    }
    if (b1 & 0x80) h += 4
    if (end - at < h + len) break
    const from = at + h, to = at + h + len
    at = to
    const opcode = b0 & 0x0f
    if (opcode === 0x9) { s.tcp.write(clientFrame(0xa, Buffer.from(buf.subarray(from, to)))); continue }
    if (opcode === 0x8 || opcode === 0xa) continue
    if (!(b0 & 0x80) || s.frags) {
      (s.frags ??= []).push(Buffer.from(buf.subarray(from, to)))
      if (!(b0 & 0x80)) continue
      const whole = Buffer.concat(s.frags)
      s.frags = null
      message(s, whole, 0, whole.length, t)
    } else message(s, buf, from, to, t)
  }
  s.rest = at < end ? Buffer.from(buf.subarray(at, end)) : null
}

/** One whole message, buf[from, to): a delta's stamps are read from its bytes. */
function message(s, p, from, to, t) {
  if (to - from > PREFIX.length && p.compare(PREFIX, 0, PREFIX.length, from, from + PREFIX.length) === 0) {
    s.deltas++
    const field = p.indexOf(FIELD, from + PREFIX.length)
    if (field === -1 || field >= to) return fail(s, 'a delta without a delta field')
    const start = field + FIELD.length
    const end = p.indexOf(QUOTE, start)
    let i = start
    for (;;) {
      const sep = p.indexOf(AT, i)
      if (sep === -1 || sep >= end) break
      let first = sep
      while (first > start && p[first - 1] >= 48 && p[first - 1] <= 57) first--
      const bar = p.indexOf(BAR, sep)
      if (bar === -1 || bar >= end) break
      const seq = numberAt(p, first, sep)
      if (seq !== s.next) fail(s, 'stamp ' + seq + ' arrived where ' + s.next + ' was due')
      else if (seq < s.lags.length) s.lags[seq] = t - numberAt(p, sep + 1, bar)
      s.next = seq + 1
      i = bar + 1
    }
    return
  }
  const text = p.toString('utf8', from, to)
  if (text.includes('"method":"turn/completed"')) { s.completed = true; maybeDone() }
  if (s.waiting && text.startsWith('{"id":' + s.waiting.id + ',')) {
    const w = s.waiting
    s.waiting = null
    if (text.startsWith('{"id":' + w.id + ',"error"')) w.reject(new Error(text))
    else w.resolve()
  }
}

function fail(s, why) { if (!s.error) s.error = why }

function send(s, json) { s.tcp.write(clientFrame(1, Buffer.from(json))) }

function call(s, id, json) {
  return new Promise((resolve, reject) => { s.waiting = { id, resolve, reject }; send(s, json) })
}

function maybeDone() {
  if (!sockets.every((s) => s.completed)) return
  process.send({
    type: 'done',
    sockets: sockets.map((s) => ({ index: s.index, lags: s.lags, error: s.error, deltas: s.deltas,
      next: s.next, maxReadMs: s.maxReadMs, reads: s.reads })),
    gcMaxMs,
  })
}

// Warm the frame and stamp parsing on made-up deltas before any socket, so that its first
// compiles do not land in the timed stream.
{
  const pad = 'x'.repeat(180)
  const one = (i) => {
    const text = '{"method":"item/agentMessage/delta","params":{"threadId":"t","turnId":"u","itemId":"m","delta":"' +
      i + '@' + (1e6 + i).toFixed(3) + '|' + pad + '"}}'
    const n = Buffer.byteLength(text)
    return Buffer.concat([Buffer.from(n < 126 ? [0x81, n] : [0x81, 126, n >> 8, n & 255]), Buffer.from(text)])
  }
  for (let round = 0; round < 4; round++) {
    const batch = Buffer.concat(Array.from({ length: 5000 }, (_, i) => one(i)))
    const dummy = { lags: new Float64Array(5000), next: 0, error: null, deltas: 0, rest: null, frags: null }
    frames(dummy, batch, 0, batch.length, 2e6)
    if (dummy.error || dummy.next !== 5000) throw new Error('reader warm-up: ' + dummy.error)
  }
}

process.on('message', async (m) => {
  try {
    if (m.type === 'connect') {
      count = m.count
      for (const index of m.indexes) {
        await openSocket(m.url, index)
        const s = sockets[sockets.length - 1]
        if (!m.handshake) continue
        await call(s, 0, JSON.stringify({ id: 0, method: 'initialize', params: { clientInfo: { name: 'bench', version: '1' } } }))
        send(s, '{"method":"initialized"}')
        await call(s, 3, JSON.stringify({ id: 3, method: 'thread/resume', params: { threadId: m.threadId } }))
      }
      // Collect what the warm-up and the set-up left, so that no GC falls into the timed turn.
      global.gc()
      timedFrom = performance.now()
      process.send({ type: 'ready' })
    } else if (m.type === 'send') {
      send(sockets[0], m.frame)
    }
  } catch (error) {
    process.send({ type: 'error', message: String(error && error.stack || error) })
  }
})
`

/** What one reading socket saw: a lag per stamp (NaN where none arrived) and its own costs. */
export interface SocketLags {
  /** Which reading client this is (0 sends turn/start). */
  index: number
  lags: Float64Array
  /** The first stamp out of order, if any. */
  error: string | null
  /** Delta notifications received (fewer than stamps when a server coalesces). */
  deltas: number
  /** The stamp due next at the end: `count` when every one arrived. */
  next: number
  /** The longest time the reader spent on one socket read (its own processing). */
  maxReadMs: number
  reads: number
}

export interface ReaderResults {
  sockets: SocketLags[]
  /** The longest GC pause in any reader process during the turn. */
  gcMaxMs: number
}

interface ChildMessage {
  type: 'ready' | 'done' | 'error'
  message?: string
  sockets?: SocketLags[]
  gcMaxMs?: number
}

export interface LagReaders {
  /** Connects `clients` sockets spread over the processes (and resumes `threadId` with `handshake`). */
  connect(url: string, clients: number, count: number, handshake: boolean, threadId?: string): Promise<void>
  /** Sends `frame` on reading client 0. */
  send(frame: string): void
  /** Resolves once every socket has seen turn/completed, with every socket's lags. */
  results(timeoutMs: number): Promise<ReaderResults>
  close(): void
}

/**
 * Node flags for the bench's own helper processes (readers, the paced model server, the floor
 * relay): each allocates a few MiB during a turn, and a young generation that holds it all means no
 * scavenge while deltas are timed, and no GC helper threads waking to compete with the servers.
 * Never given to a server under test.
 */
export const QUIET_GC = ['--min-semi-space-size=32', '--max-semi-space-size=32', '--single-threaded-gc']

/** `processes` reader processes (the fewer, the less they compete with the servers on 2 cores). */
export function startLagReaders(processes: number): LagReaders {
  const children: ChildProcess[] = []
  const inbox: ((m: ChildMessage) => void)[] = []
  const messages: ChildMessage[][] = []
  for (let i = 0; i < processes; i++) {
    // LAG_READER_NODE_ARGS (e.g. "--trace-gc"): more node flags for the readers, to look at their costs.
    const nodeArgs = [
      ...QUIET_GC,
      '--expose-gc',
      ...(process.env.LAG_READER_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ]
    const child = spawn(process.execPath, [...nodeArgs, '-e', SCRIPT], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    })
    track(child)
    messages.push([])
    child.on('message', (m: ChildMessage) => {
      const wait = inbox[i]
      if (wait) {
        delete inbox[i]
        wait(m)
      } else messages[i]?.push(m)
    })
    children.push(child)
  }
  const next = (i: number): Promise<ChildMessage> =>
    new Promise((resolve, reject) => {
      const queued = messages[i]?.shift()
      if (queued) return resolve(queued)
      const child = children[i] as ChildProcess
      const onExit = (code: number | null) => reject(new Error(`a lag reader exited with ${code}`))
      child.once('exit', onExit)
      inbox[i] = (m) => {
        child.off('exit', onExit)
        resolve(m)
      }
    })
  const expect = async (i: number, type: ChildMessage['type']): Promise<ChildMessage> => {
    const m = await next(i)
    if (m.type === 'error') throw new Error(`lag reader ${i}: ${m.message}`)
    if (m.type !== type) throw new Error(`lag reader ${i}: expected ${type}, got ${m.type}`)
    return m
  }
  return {
    async connect(url, clients, count, handshake, threadId) {
      // Round robin: client k lives in process k % processes, so client 0 is process 0's first.
      await Promise.all(
        children.map(async (child, i) => {
          const indexes = Array.from({ length: clients }, (_, k) => k).filter((k) => k % processes === i)
          child.send({ type: 'connect', url, indexes, count, handshake, threadId })
          await withTimeout(expect(i, 'ready'), 30_000, `lag reader ${i} connected`)
        }),
      )
    },
    send: (frame) => void children[0]?.send({ type: 'send', frame }),
    async results(timeoutMs) {
      const all = await withTimeout(
        Promise.all(children.map((_, i) => expect(i, 'done'))),
        timeoutMs,
        'turn/completed at every reading client',
      )
      return {
        sockets: all.flatMap((m) => m.sockets ?? []).sort((a, b) => a.index - b.index),
        gcMaxMs: Math.max(...all.map((m) => m.gcMaxMs ?? 0)),
      }
    },
    close() {
      for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
    },
  }
}
