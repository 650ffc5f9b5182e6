/**
 * The broadcast figure's floor: the least a server can do between the paced model server and the
 * websocket readers. A bare Node process accepts websocket upgrades on raw TCP, and on `go` posts
 * one request to the model server, parses each SSE event (one JSON.parse, as a server must) and
 * writes each text delta as an `item/agentMessage/delta` notification frame to every connection
 * (one encoded Buffer for all), then `turn/completed`. No rollout, no protocol, no slow-consumer
 * bound: a paused connection just buffers. Lag measured through it is what the method itself
 * (model server, kernel, readers, machine) costs, so a reader of the figure sees what it can resolve.
 * Bench only: it never runs in the product.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { QUIET_GC } from './lagReader'
import { track, withTimeout } from './processes'

const SCRIPT = String.raw`
const net = require('node:net')
const http = require('node:http')
const { createHash } = require('node:crypto')
const sockets = []
function frame(text) {
  const n = Buffer.byteLength(text)
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10
  const f = Buffer.allocUnsafe(head + n)
  f[0] = 0x81
  if (head === 2) f[1] = n
  else if (head === 4) { f[1] = 126; f.writeUInt16BE(n, 2) }
  else { f[1] = 127; f.writeUInt32BE(Math.floor(n / 2 ** 32), 2); f.writeUInt32BE(n >>> 0, 6) }
  f.write(text, head, 'utf8')
  return f
}
function broadcast(text) {
  const f = frame(text)
  for (const s of sockets) s.write(f)
}
const server = net.createServer((tcp) => {
  tcp.setNoDelay(true)
  let head = ''
  tcp.on('error', () => {})
  tcp.on('data', function onHead(chunk) {
    head += chunk.toString('latin1')
    const end = head.indexOf('\r\n\r\n')
    if (end === -1) return
    tcp.off('data', onHead)
    tcp.resume()
    const key = /sec-websocket-key: *(\S+)/i.exec(head)[1]
    const accept = createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')
    tcp.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: ' + accept + '\r\n\r\n')
    sockets.push(tcp)
  })
})
function go(modelUrl) {
  const req = http.request(modelUrl + '/responses', { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
    res.setEncoding('utf8')
    let buf = ''
    res.on('data', (chunk) => {
      buf += chunk
      let at
      while ((at = buf.indexOf('\n\n')) !== -1) {
        const event = buf.slice(0, at)
        buf = buf.slice(at + 2)
        const data = event.indexOf('data: ')
        if (data === -1) continue
        const e = JSON.parse(event.slice(data + 6))
        if (e.type === 'response.output_text.delta')
          broadcast('{"method":"item/agentMessage/delta","params":{"threadId":"t","turnId":"u","itemId":"' +
            e.item_id + '","delta":' + JSON.stringify(e.delta) + '}}')
        else if (e.type === 'response.completed') {
          broadcast('{"method":"turn/completed","params":{"threadId":"t","turn":{"id":"u"}}}')
          process.stdout.write('{"done":true}\n')
        }
      }
    })
  })
  req.end('{}')
}
let line = ''
process.stdin.setEncoding('utf8').on('data', (chunk) => {
  line += chunk
  let at
  while ((at = line.indexOf('\n')) !== -1) {
    const m = JSON.parse(line.slice(0, at))
    line = line.slice(at + 1)
    if (m.go) go(m.go)
  }
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ url: 'ws://127.0.0.1:' + server.address().port }) + '\n')
})
`

export interface FloorRelay {
  readonly url: string
  /** Streams the model server's next answer to every connection; resolves once it has completed. */
  go(modelUrl: string): Promise<void>
  close(): Promise<void>
}

export async function startFloorRelay(): Promise<FloorRelay> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [...QUIET_GC, '-e', SCRIPT], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  track(child)
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  // stdout: the URL line, then one `{"done":true}` line per completed answer.
  let completed: (() => void)[] = []
  const url = await withTimeout(
    new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c
        let at
        while ((at = out.indexOf('\n')) !== -1) {
          const line = JSON.parse(out.slice(0, at)) as { url?: string; done?: boolean }
          out = out.slice(at + 1)
          if (line.url) resolve(line.url)
          if (line.done) completed.shift()?.()
        }
      })
      child.once('exit', (code) => reject(new Error(`the floor relay exited with ${code}: ${stderr}`)))
    }),
    10_000,
    'the floor relay',
  )
  return {
    url,
    go: (modelUrl) => {
      const done = new Promise<void>((resolve) => (completed = [...completed, resolve]))
      child.stdin.write(JSON.stringify({ go: modelUrl }) + '\n')
      return withTimeout(done, 120_000, 'the floor relay answer')
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGKILL')
      }),
  }
}
