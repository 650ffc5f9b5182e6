/**
 * Figure: streaming throughput to one client, codex-desk beside codex-cli 0.169.0 in the same run
 * (bench/lib/servers.ts). Each server talks to the scripted model server (its own process), which
 * answers one `turn/start` with a single text item of `deltas` deltas; the client counts
 * `item/agentMessage/delta` notifications from the first one to `turn/completed`, checks that they
 * join to the scripted text, and reports the scripted deltas delivered per second (median of the
 * measured turns) over stdio and over a websocket. A server may coalesce deltas (codex may over a
 * websocket): the rate is always the same answer's scripted deltas over the same window, and the
 * number of delta notifications each server actually sent is reported beside it. The servers are
 * interleaved: `rounds` rounds of (codex-desk, codex), each a fresh process with a warm-up turn.
 *
 * The model server's own ceiling is timed too: the same script read by a bare HTTP client in a
 * separate process that only counts delta events. Each figure also carries the CPU the core and the
 * bench process (model server + client) spent per run: a core at ~100% of one CPU is the bottleneck.
 *
 * Runs inside `npm run bench` via `streamingDeltas()`, or alone with `npx tsx bench/streaming.ts`
 * (needs the build). STREAM_CPU_PROF=<dir> runs the core under `--cpu-prof` into that folder.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { text, usage } from '../test/support/modelServer'
import { startRemoteModelServer, type RemoteModelServer } from './lib/remoteModelServer'
import { initialize, request, stdioFrames, type FrameChannel } from './lib/clients'
import { makeTempDir, stderrOf, stopChild, track, withTimeout } from './lib/processes'
import { connectWhenUp, freePort, processTree, serversToCompare, type BenchServer } from './lib/servers'
import { ratioOf, round, summarize, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface StreamingOptions {
  /** Deltas in the one text item of each turn. */
  deltas: number
  /** Measured turns per server, transport and round (after one warm-up turn). */
  runs: number
  /** Rounds of (codex-desk, codex), each server a fresh process per round and transport. */
  rounds: number
}

/**
 * 100,000 deltas per turn. The client must keep up with the core: past 10,000 queued messages the
 * slow-consumer policy disconnects a websocket client, so the model server runs in its own process
 * and the client decodes deltas after the turn.
 */
export const STREAMING_DEFAULTS: StreamingOptions = { deltas: 100_000, runs: 3, rounds: 2 }

/** Both figures must reach 1.5x codex's rate measured in the same run. */
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

/**
 * Cumulative user+system CPU of a process and its children, in ms, from /proc (Linux); NaN
 * elsewhere. The tree, because codex's npm launcher is a node process whose child is the server.
 */
async function cpuMsOf(pid: number | undefined): Promise<number> {
  if (pid === undefined || process.platform !== 'linux') return NaN
  let total = 0
  for (const p of await processTree(pid)) {
    try {
      const stat = await readFile(`/proc/${p}/stat`, 'utf8')
      // Fields after the command name (which may contain spaces): utime is the 14th field overall.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
    } catch {
      if (p === pid) return NaN
    }
  }
  return total
}

const ownCpuMs = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

interface TurnRun {
  /** Delta notifications received (fewer than scripted when the server coalesces). */
  deltas: number
  /** Scripted deltas in the answer. */
  scripted: number
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
 * One turn (its script is already queued): starts the turn and times the deltas. Everything that is not a
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
  // The same answer's scripted deltas over the same window, whether or not the server coalesced.
  const perSecond = (chunks.length / ms) * 1000
  return {
    deltas: received.length,
    scripted: chunks.length,
    ms,
    turnMs: end - sent,
    perSecond,
    coreCpuMs,
    benchCpuMs,
  }
}

/** One server and transport: a fresh process, one client, one thread, a warm-up turn and `runs` turns. */
async function transportRuns(
  server: BenchServer,
  transport: 'stdio' | 'ws',
  model: RemoteModelServer,
  options: StreamingOptions,
  chunks: string[],
  expected: string,
): Promise<TurnRun[]> {
  const home = makeTempDir(`${server.name}-stream-`)
  const cpuProfDir = (server.name === 'codex-desk' && process.env.STREAM_CPU_PROF) || undefined
  let child: ChildProcessWithoutNullStreams | undefined
  let channel: FrameChannel | undefined
  try {
    await server.configure(home.path, model.url)
    // Every turn's answer is queued before the server starts: the queue is fed over IPC, and on a
    // busy machine a turn's model request could otherwise overtake it.
    for (let i = 0; i <= options.runs; i++)
      model.enqueue([text(expected, { chunks }), usage({ input: 10, output: chunks.length })])
    const url = transport === 'ws' ? `ws://127.0.0.1:${await freePort()}` : null
    child = server.spawn(home.path, url, cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [])
    channel = url ? await connectWhenUp(url, child) : stdioFrames(child)
    await initialize(channel)
    const started = await request(channel, '{"id":1,"method":"thread/start","params":{}}', 1, 20_000)
    const threadId = (started.result as { thread: { id: string } }).thread.id
    const runs: TurnRun[] = []
    for (let i = 0; i <= options.runs; i++) {
      const run = await streamTurn(channel, model, threadId, 2 + i, chunks, expected, child.pid)
      // Every scripted delta reaches a codex-desk client as its own notification.
      if (server.name === 'codex-desk' && run.deltas !== chunks.length)
        throw new Error(`received ${run.deltas} deltas, the model streamed ${chunks.length}`)
      if (i > 0) runs.push(run) // the first turn warms the JIT and the connection pool
    }
    return runs
  } catch (error) {
    const stderr = child ? stderrOf(child).trim() : ''
    if (stderr) (error as Error).message += `\n${server.name} stderr: ${stderr.slice(-2000)}`
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
  codexRuns: TurnRun[] | null,
  ceiling: number,
  deltas: number,
): Figure {
  const rates = runs.map((r) => r.perSecond)
  const s = summarize(rates)
  const codexRate = codexRuns ? median(codexRuns.map((r) => r.perSecond)) : undefined
  const ratio = ratioOf(s.p50, codexRate)
  return {
    bench,
    unit: 'deltas/s',
    value: Math.round(s.p50),
    min: Math.round(s.min),
    max: Math.round(s.max),
    n: s.n,
    target: codexRate === undefined ? null : Math.round(codexRate * TARGET_FACTOR),
    targetStat: codexRate === undefined ? null : 'value',
    atLeast: true,
    codex: codexRate === undefined ? null : { value: Math.round(codexRate) },
    codexFrom: codexRuns ? 'measured' : 'not installed',
    ratio,
    ratioTarget: TARGET_FACTOR,
    ratioAtLeast: true,
    pass: ratio === null ? null : ratio >= TARGET_FACTOR,
    deltas,
    runsPerSecond: rates.map((r) => Math.round(r)),
    ...(codexRuns
      ? {
          codexRunsPerSecond: codexRuns.map((r) => Math.round(r.perSecond)),
          // codex may coalesce deltas: the notifications it actually sent for the same answer.
          codexDeltasSent: median(codexRuns.map((r) => r.deltas)),
          codexCoreCpuUsPerDelta: round(median(codexRuns.map((r) => (r.coreCpuMs * 1000) / r.scripted))),
        }
      : {}),
    medianMs: round(median(runs.map((r) => r.ms))),
    // CPU per run over elapsed: ~1.0 means the core kept one CPU busy the whole time.
    coreCpuShare: round(median(runs.map((r) => r.coreCpuMs / r.turnMs))),
    benchCpuShare: round(median(runs.map((r) => r.benchCpuMs / r.turnMs))),
    coreCpuUsPerDelta: round(median(runs.map((r) => (r.coreCpuMs * 1000) / r.scripted))),
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
    const servers = serversToCompare()
    const runs = new Map<string, TurnRun[]>()
    // Interleaved: a slow minute on the shared machine hits both servers, not one.
    for (let round = 0; round < options.rounds; round++) {
      for (const transport of ['stdio', 'ws'] as const) {
        for (const server of servers) {
          const key = `${server.name}/${transport}`
          const got = await transportRuns(server, transport, model, options, chunks, expected)
          runs.set(key, [...(runs.get(key) ?? []), ...got])
        }
      }
    }
    const figure = (transport: 'stdio' | 'ws') =>
      throughputFigure(
        `stream_deltas_${transport}`,
        runs.get(`codex-desk/${transport}`) ?? [],
        runs.get(`codex/${transport}`) ?? null,
        ceiling,
        options.deltas,
      )
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
      figure('stdio'),
      figure('ws'),
    ]
  } finally {
    await model.close()
  }
}

// `npx tsx bench/streaming.ts [deltas] [runs] [rounds]`: the figures on their own, one JSON line each.
runStandalone(import.meta.url, () =>
  streamingDeltas({
    deltas: Number(process.argv[2]) || STREAMING_DEFAULTS.deltas,
    runs: Number(process.argv[3]) || STREAMING_DEFAULTS.runs,
    rounds: Number(process.argv[4]) || STREAMING_DEFAULTS.rounds,
  }),
)
