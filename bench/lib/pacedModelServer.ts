/**
 * A scripted Responses API server that paces one answer's deltas in real time, in its own process,
 * for figures that time delivery rather than throughput (the broadcast lag with a paused client,
 * many subscribers). Each delta's text carries the model server's clock at the instant it was
 * written (`<seq>@<ms>|`, padded to `bytes` characters), so a client measures lag as its arrival
 * time minus that, with no side channel; a server that coalesces deltas still delivers every stamp.
 * Clock: CLOCK_MONOTONIC in milliseconds (`process.hrtime`), which every process on the machine shares
 * (bench/lib/lagReader.ts reads the same); `performance.timeOrigin` is taken per process and can
 * differ between two processes by more than the lags measured.
 *
 * Answers are queued over stdin (one JSON line each: `{"kind":"text","text":"ok"}` or
 * `{"kind":"paced","count":5000,"perSecond":2000,"bytes":200}`); the first POST to `/responses`
 * takes the first answer, and so on (an empty queue answers "ok"). It writes the same SSE events as
 * test/support/modelServer.ts. Bench only: it never runs in the product.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { QUIET_GC } from './lagReader'
import { track, withTimeout } from './processes'

export type PacedAnswer =
  { kind: 'text'; text: string } | { kind: 'paced'; count: number; perSecond: number; bytes: number }

const SCRIPT = String.raw`
const http = require('node:http')
const queue = []
let responses = 0
let line = ''
process.stdin.setEncoding('utf8').on('data', (chunk) => {
  line += chunk
  let at
  while ((at = line.indexOf('\n')) !== -1) {
    queue.push(JSON.parse(line.slice(0, at)))
    line = line.slice(at + 1)
  }
})
const now = () => { const t = process.hrtime(); return t[0] * 1e3 + t[1] / 1e6 }
function frame(ctx, type, data) {
  return 'event: ' + type + '\ndata: ' + JSON.stringify({ type, ...data, sequence_number: ctx.seq++ }) + '\n\n'
}
function response(ctx, status, output, usage) {
  return { id: ctx.id, object: 'response', created_at: ctx.created, status, error: null,
    incomplete_details: null, instructions: null, model: 'test-model', output,
    parallel_tool_calls: true, reasoning: null, store: false, tool_choice: 'auto', tools: [],
    usage: usage ?? null }
}
function stamp(seq, bytes) {
  const head = seq + '@' + now().toFixed(3) + '|'
  return head.length >= bytes ? head : head + 'x'.repeat(bytes - head.length)
}
function answer(res, script) {
  responses++
  const ctx = { id: 'resp_' + String(responses).padStart(4, '0'), created: Math.floor(Date.now() / 1000), seq: 0 }
  const itemId = 'msg_' + responses + '_0'
  const base = { item_id: itemId, output_index: 0, content_index: 0 }
  const item = { id: itemId, type: 'message', status: 'in_progress', role: 'assistant', content: [] }
  const part = { type: 'output_text', annotations: [], logprobs: [], text: '' }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' })
  res.write(frame(ctx, 'response.created', { response: response(ctx, 'in_progress', []) }) +
    frame(ctx, 'response.in_progress', { response: response(ctx, 'in_progress', []) }) +
    frame(ctx, 'response.output_item.added', { output_index: 0, item }) +
    frame(ctx, 'response.content_part.added', { ...base, part }))
  const texts = []
  const finish = () => {
    const full = texts.join('')
    const donePart = { ...part, text: full }
    const done = { ...item, status: 'completed', content: [donePart] }
    const usage = { input_tokens: 10, input_tokens_details: { cached_tokens: 0 }, output_tokens: texts.length,
      output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 10 + texts.length }
    res.end(frame(ctx, 'response.output_text.done', { ...base, text: full, logprobs: [] }) +
      frame(ctx, 'response.content_part.done', { ...base, part: donePart }) +
      frame(ctx, 'response.output_item.done', { output_index: 0, item: done }) +
      frame(ctx, 'response.completed', { response: response(ctx, 'completed', [done], usage) }))
  }
  const delta = (text) => {
    texts.push(text)
    return frame(ctx, 'response.output_text.delta', { ...base, delta: text, logprobs: [] })
  }
  if (script.kind === 'text') {
    res.write(delta(script.text))
    return finish()
  }
  // Paced: every timer tick writes the deltas due by now, each stamped as it is written.
  const start = now()
  let sent = 0
  const tick = () => {
    if (res.destroyed) return
    const due = Math.min(script.count, Math.floor(((now() - start) * script.perSecond) / 1000) + 1)
    let out = ''
    while (sent < due) out += delta(stamp(sent++, script.bytes))
    if (out) res.write(out)
    if (sent < script.count) setTimeout(tick, 1)
    // http corks a response's writes until the tick ends: building the closing events (the whole
    // text, four times) in this tick would hold the last deltas back with them.
    else setTimeout(finish, 5)
  }
  tick()
}
// Warm the code that builds and stamps deltas before any answer, so its first compiles do not
// land in the timed stream (every figure timing a server here would see them alike).
{
  const ctx = { id: 'warm', created: 0, seq: 0 }
  const base = { item_id: 'warm', output_index: 0, content_index: 0 }
  let size = 0
  for (let i = 0; i < 20000; i++)
    size += frame(ctx, 'response.output_text.delta', { ...base, delta: stamp(i, 200), logprobs: [] }).length
  if (size === 0) throw new Error('unreachable')
}
const server = http.createServer((req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    if (req.method !== 'POST' || !req.url.endsWith('/responses')) {
      res.writeHead(404, { 'content-type': 'application/json' })
      return res.end(JSON.stringify({ error: { message: 'no route', type: 'not_found' } }))
    }
    answer(res, queue.shift() ?? { kind: 'text', text: 'ok' })
  })
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ url: 'http://127.0.0.1:' + server.address().port + '/v1' }) + '\n')
})
`

export interface PacedModelServer {
  readonly url: string
  enqueue(answer: PacedAnswer): void
  close(): Promise<void>
}

export async function startPacedModelServer(): Promise<PacedModelServer> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [...QUIET_GC, '-e', SCRIPT], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  track(child)
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  const url = await withTimeout(
    new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c
        if (out.includes('\n')) resolve((JSON.parse(out) as { url: string }).url)
      })
      child.once('exit', (code) => reject(new Error(`paced model server exited with ${code}: ${stderr}`)))
    }),
    10_000,
    'the paced model server',
  )
  return {
    url,
    enqueue: (answer) => void child.stdin.write(JSON.stringify(answer) + '\n'),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGKILL')
      }),
  }
}
