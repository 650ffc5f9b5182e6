/**
 * Figure: streaming throughput to one client. The built `codex-desk app-server` talks to the scripted
 * model server (test/support/modelServer.ts), which answers one `turn/start` with a single text item
 * of `deltas` deltas; the client counts `item/agentMessage/delta` notifications from the first one
 * to `turn/completed`, checks that they join to the scripted text, and reports deltas per second
 * (median of `runs` turns on one thread) over stdio and over a websocket.
 *
 * The model server's own ceiling is timed too: the same script read by a bare HTTP client in a
 * separate process that only counts delta events. Each figure also carries the CPU the core and the
 * bench process (model server + client) spent per run: a core at ~100% of one CPU is the bottleneck.
 *
 * Runs inside `npm run bench` via `streamingDeltas()`, or alone with `npx tsx bench/streaming.ts`
 * (needs the build). STREAM_CPU_PROF=<dir> runs the core under `--cpu-prof` into that folder.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { text, usage } from '../test/support/modelServer'
import { startRemoteModelServer, type RemoteModelServer } from './lib/remoteModelServer'
import { modelConfig } from '../test/support/threadHarness'
import {
  initialize,
  openWebSocket,
  request,
  stdioFrames,
  webSocketFrames,
  type FrameChannel,
} from './lib/clients'
import {
  listeningUrl,
  makeTempDir,
  spawnServer,
  stderrOf,
  stopChild,
  track,
  withTimeout,
} from './lib/processes'
import { round, summarize, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface StreamingOptions {
  /** Deltas in the one text item of each turn. */
  deltas: number
  /** Measured turns per transport (after one warm-up turn). */
  runs: number
}

/**
 * 100,000 deltas per turn. The client must keep up with the core: past 10,000 queued messages the
 * slow-consumer policy disconnects a websocket client, so the model server runs in its own process
 * and the client decodes deltas after the turn.
 */
export const STREAMING_DEFAULTS: StreamingOptions = { deltas: 100_000, runs: 5 }

/** codex-cli 0.169.0 native, deltas/s to one client; the target is 1.5x. */
const CODEX = { stdio: 34_600, ws: 28_200 }
const TARGET_FACTOR = 1.5

/**
 * The scripted text, cut into `count` deltas of 4 characters. Mostly base-36 counters (so a lost,
 * doubled or reordered delta changes the text), with a quote, a newline, a backslash and a
 * non-ASCII character every 50 deltas so JSON escaping is on the path as it is for real output.
 */
export function scriptedDeltas(count: number): string[] {
  const out: string[] = new Array<string>(count)
  for (let i = 0; i < count; i++) out[i] = i % 50 === 49 ? 'é"\n\\' : i.toString(36).padStart(4, '0')
  return out
}

/** Cumulative user+system CPU of a process, in ms, from /proc (Linux); NaN elsewhere. */
async function cpuMsOf(pid: number | undefined): Promise<number> {
  if (pid === undefined || process.platform !== 'linux') return NaN
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces): utime is the 14th field overall.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
  } catch {
    return NaN
  }
}

const ownCpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

interface TurnRun {
  deltas: number
  /** First delta to turn/completed at the client. */
  ms: number
  /** turn/start sent to turn/completed: the window the CPU figures cover. */
  turnMs: number
  perSecond: number
  coreCpuMs: number
  benchCpuMs: number
}

const DELTA_PREFIX = '{"method":"item/agentMessage/delta"'

/**
 * One turn: enqueues the script, starts the turn and times the deltas. Everything that is not a
 * delta or this turn's turn/completed is ignored; a request error or a failed turn throws.
 */
async function streamTurn(
  channel: FrameChannel,
  model: RemoteModelServer,
  threadId: string,
  requestId: number,
  chunks: string[],
  expected: string,
  corePid: number | undefined,
): Promise<TurnRun> {
  model.enqueue([text(expected, { chunks }), usage({ input: 10, output: chunks.length })])
  const raw: string[] = []
  let first = 0
  let turnId: string | null = null
  const coreCpu0 = await cpuMsOf(corePid)
  const benchCpu0 = ownCpuMs()
  const sent = performance.now()
  const done = new Promise<number>((resolve, reject) => {
    channel.handler = (frame) => {
      const now = performance.now()
      // Deltas are kept raw and decoded after the turn: a client that parses each one as it
      // arrives falls behind the core, whose slow-consumer policy then disconnects it.
      if (frame.startsWith(DELTA_PREFIX)) {
        if (raw.length === 0) first = now
        raw.push(frame)
        return
      }
      const message = JSON.parse(frame) as {
        id?: number
        method?: string
        params?: { delta?: string; turn?: { id: string; status: string; error: { message: string } | null } }
        result?: { turn: { id: string } }
        error?: { message: string }
      }
      if (message.id === requestId) {
        if (message.error) reject(new Error(`turn/start failed: ${message.error.message}`))
        else turnId = message.result?.turn.id ?? null
      } else if (message.method === 'turn/completed') {
        const turn = message.params?.turn
        if (turnId !== null && turn?.id !== turnId) return
        if (turn?.status !== 'completed')
          reject(new Error(`turn ended ${turn?.status}: ${turn?.error?.message ?? 'no error'}`))
        else resolve(now)
      }
    }
  })
  channel.send(
    JSON.stringify({
      id: requestId,
      method: 'turn/start',
      params: { threadId, input: [{ type: 'text', text: 'stream' }] },
    }),
  )
  const end = await withTimeout(done, 60_000, `turn/completed after ${chunks.length} deltas`)
  channel.handler = () => {}
  const coreCpuMs = (await cpuMsOf(corePid)) - coreCpu0
  const benchCpuMs = ownCpuMs() - benchCpu0
  const received = raw.map((frame) => (JSON.parse(frame) as { params: { delta: string } }).params.delta)
  if (received.length !== chunks.length)
    throw new Error(`received ${received.length} deltas, the model streamed ${chunks.length}`)
  const joined = received.join('')
  if (joined !== expected) {
    let at = 0
    while (at < joined.length && joined[at] === expected[at]) at++
    throw new Error(
      `the deltas do not join to the scripted text: first difference at character ${at} ` +
        `(got ${JSON.stringify(joined.slice(at, at + 16))}, expected ${JSON.stringify(expected.slice(at, at + 16))})`,
    )
  }
  const ms = end - first
  const perSecond = (received.length / ms) * 1000
  return { deltas: received.length, ms, turnMs: end - sent, perSecond, coreCpuMs, benchCpuMs }
}

/** One transport: a core, one client, one thread, a warm-up turn and `runs` measured turns. */
async function transportRuns(
  transport: 'stdio' | 'ws',
  model: RemoteModelServer,
  options: StreamingOptions,
  chunks: string[],
  expected: string,
): Promise<TurnRun[]> {
  const home = makeTempDir()
  const cpuProfDir = process.env.STREAM_CPU_PROF || undefined
  let child: ChildProcessWithoutNullStreams | undefined
  let channel: FrameChannel | undefined
  try {
    await writeFile(join(home.path, 'config.toml'), modelConfig(model.url))
    const args = transport === 'ws' ? ['--listen', 'ws://127.0.0.1:0'] : []
    child = spawnServer(args, home.path, cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [])
    channel =
      transport === 'ws'
        ? webSocketFrames(await openWebSocket(await listeningUrl(child)))
        : stdioFrames(child)
    await initialize(channel)
    const started = await request(channel, '{"id":1,"method":"thread/start","params":{}}', 1, 10_000)
    const threadId = (started.result as { thread: { id: string } }).thread.id
    const runs: TurnRun[] = []
    for (let i = 0; i <= options.runs; i++) {
      const run = await streamTurn(channel, model, threadId, 2 + i, chunks, expected, child.pid)
      if (i > 0) runs.push(run) // the first turn warms the JIT and the connection pool
    }
    return runs
  } catch (error) {
    const stderr = child ? stderrOf(child).trim() : ''
    if (stderr) (error as Error).message += `\ncore stderr: ${stderr.slice(-2000)}`
    throw error
  } finally {
    channel?.close()
    // The core exits through process.exit on SIGTERM, which writes the --cpu-prof; give it time.
    if (child) await stopChild(child, cpuProfDir ? 10_000 : 2_000)
    await home.remove()
  }
}

/** A bare HTTP SSE consumer in its own process: counts delta events, prints `{deltas, ms}`. */
const SSE_CONSUMER = `const http=require('node:http');
const [url,body]=[process.argv[1],process.argv[2]];
const needle='event: response.output_text.delta\\n';
const req=http.request(url,{method:'POST',headers:{'content-type':'application/json'}},(res)=>{
  res.setEncoding('utf8');let deltas=0,first=0,tail='';
  res.on('data',(c)=>{const s=tail+c;let i=s.indexOf(needle);
    while(i!==-1){if(deltas===0)first=performance.now();deltas++;i=s.indexOf(needle,i+needle.length)}
    tail=s.slice(Math.max(0,s.length-needle.length+1))});
  res.on('end',()=>console.log(JSON.stringify({deltas,ms:performance.now()-first})))});
req.end(body)`

async function modelServerCeiling(
  model: RemoteModelServer,
  chunks: string[],
  expected: string,
): Promise<number[]> {
  const rates: number[] = []
  // One warm-up, then three timed reads of the same script the core gets.
  for (let i = 0; i < 4; i++) {
    model.enqueue([text(expected, { chunks }), usage({ input: 10, output: chunks.length })])
    const child = spawn(
      process.execPath,
      ['-e', SSE_CONSUMER, `${model.url}/responses`, '{"model":"test-model","stream":true}'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    track(child)
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c))
    const code = await withTimeout(
      new Promise<number | null>((resolve) => child.once('exit', resolve)),
      30_000,
      'the bare SSE consumer',
    ).finally(() => child.kill('SIGKILL'))
    if (code !== 0) throw new Error(`the bare SSE consumer exited with ${code}: ${err}`)
    const result = JSON.parse(out) as { deltas: number; ms: number }
    if (result.deltas !== chunks.length)
      throw new Error(`the bare SSE consumer counted ${result.deltas} deltas, expected ${chunks.length}`)
    if (i > 0) rates.push((result.deltas / result.ms) * 1000)
  }
  return rates
}

const median = (values: number[]) => summarize(values).p50

function throughputFigure(
  bench: string,
  runs: TurnRun[],
  codex: number,
  ceiling: number,
  deltas: number,
): Figure {
  const rates = runs.map((r) => r.perSecond)
  const s = summarize(rates)
  const target = Math.round(codex * TARGET_FACTOR)
  return {
    bench,
    unit: 'deltas/s',
    value: Math.round(s.p50),
    min: Math.round(s.min),
    max: Math.round(s.max),
    n: s.n,
    target,
    targetStat: 'value',
    atLeast: true,
    codex: { value: codex },
    pass: s.p50 >= target,
    deltas,
    runsPerSecond: rates.map((r) => Math.round(r)),
    medianMs: round(median(runs.map((r) => r.ms))),
    // CPU per run over elapsed: ~1.0 means the core kept one CPU busy the whole time.
    coreCpuShare: round(median(runs.map((r) => r.coreCpuMs / r.turnMs))),
    benchCpuShare: round(median(runs.map((r) => r.benchCpuMs / r.turnMs))),
    coreCpuUsPerDelta: round(median(runs.map((r) => (r.coreCpuMs * 1000) / r.deltas))),
    modelServerCeiling: Math.round(ceiling),
  }
}

export async function streamingDeltas(options: StreamingOptions = STREAMING_DEFAULTS): Promise<Figure[]> {
  const chunks = scriptedDeltas(options.deltas)
  const expected = chunks.join('')
  // In its own process: the bench process is the client, and a model server sharing its event
  // loop would slow the client down until the core's outbound queue for it overflowed.
  const model = await startRemoteModelServer()
  try {
    const ceilingRates = await modelServerCeiling(model, chunks, expected)
    const ceiling = median(ceilingRates)
    const stdio = await transportRuns('stdio', model, options, chunks, expected)
    const ws = await transportRuns('ws', model, options, chunks, expected)
    return [
      {
        bench: 'stream_model_server_ceiling',
        unit: 'deltas/s',
        value: Math.round(ceiling),
        min: Math.round(Math.min(...ceilingRates)),
        max: Math.round(Math.max(...ceilingRates)),
        n: ceilingRates.length,
        target: null,
        targetStat: null,
        codex: null,
        pass: null,
        deltas: options.deltas,
        measured: 'scripted SSE to a bare node:http consumer in another process',
      },
      throughputFigure('stream_deltas_stdio', stdio, CODEX.stdio, ceiling, options.deltas),
      throughputFigure('stream_deltas_ws', ws, CODEX.ws, ceiling, options.deltas),
    ]
  } finally {
    await model.close()
  }
}

// `npx tsx bench/streaming.ts [deltas] [runs]`: the figures on their own, one JSON line each.
runStandalone(import.meta.url, () =>
  streamingDeltas({
    deltas: Number(process.argv[2]) || STREAMING_DEFAULTS.deltas,
    runs: Number(process.argv[3]) || STREAMING_DEFAULTS.runs,
  }),
)
