/**
 * Figure: memory over many turns. One thread, `turns` turns back to back, each answered by the
 * scripted model with a unique `answerBytes` answer (streamed in `chunks` deltas), against the
 * built codex-desk core and codex-cli 0.169.0's native `codex app-server` in the same run, over a
 * websocket and over stdio. The resident memory (VmRSS, what top shows) is read every `every` turns
 * right after `turn/completed`; the figure is its growth from turn `from` to the last turn, and the
 * peak (VmHWM) at the end, each the median over `runs` runs (ours then codex's, back to back).
 *
 * Every turn's answer is checked (bench/lib/turnAnswers.ts): the scripted model answers a request
 * by the question it carries (`question N [server transport run]`), so a retried request gets its
 * own turn's answer again instead of the next turn's, and at the end the thread is read back live
 * and from disk by a fresh server: each turn must be completed and hold its own answer exactly
 * once. A problem is printed per turn (what the client saw: notifications, `error` retry notices,
 * status; what the model server got: requests, dropped ones) and fails the growth figure
 * (`answersLost`, `retriedTurns`, and codex's). TURN_MEMORY_FAULTS=`reset:7,stall:11,slow:13:50`
 * breaks the first request of every n-th turn on purpose (a dropped connection mid-answer, a
 * stream silent after the answer, slow events), with TURN_MEMORY_IDLE_MS=<ms> as both servers'
 * stream idle timeout (a stall needs a short one).
 *
 * Bench-only probes of codex-desk (never the product path):
 * - TURN_MEMORY_HEAP=1 starts it with `--inspect=127.0.0.1:0` and, at each sample, reads V8's heap
 *   used through the inspector, before and after a full GC (`retainedMiB`: what the thread keeps),
 *   and process.memoryUsage() after it; TURN_MEMORY_VERBOSE=1 prints each sample on stderr.
 * - TURN_MEMORY_SNAPSHOTS=<dir> adds `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=<dir>` and
 *   writes a heap snapshot at turn `from` and at the last turn (compare them by constructor).
 * - TURN_MEMORY_NODE_ARGS="--flag ..." adds node flags to codex-desk (to measure a V8 setting).
 * - TURN_MEMORY_SAMPLING=<file.heapprofile> writes a sampling heap profile, from turn `from` to the
 *   end, of what survives a scavenge (collected only by a mark-compact, or kept): what grows RSS.
 * - TURN_MEMORY_TRACE=<file> keeps a websocket run's stdout (with `--trace-gc`, the GC trace).
 * - BENCH_SOURCE=1 runs src/worker/cli.ts under tsx (no build), as the other benches.
 *
 * Runs inside `npm run bench` via `turnMemory()`, or alone:
 * `npx tsx bench/turnMemory.ts [runs] [turns] [transports=ws,stdio]`.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile, readlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startModelServer, type ModelServer } from '../test/support/modelServer'
import { initialize, request, stdioFrames, type FrameChannel } from './lib/clients'
import { makeTempDir, rssOf, stderrOf, stopChild } from './lib/processes'
import {
  CODEX,
  CODEX_DESK,
  codexInstalled,
  connectWhenUp,
  freePort,
  peakRssMiB,
  type BenchServer,
} from './lib/servers'
import { ratioOf, round, summarize, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'
import { readThread, runTurn } from './lib/benchTurns'
import { Inspector } from './lib/inspector'
import { parseFaults, question, TurnAnswers, type Lost } from './lib/turnAnswers'

export type Transport = 'ws' | 'stdio'

export interface TurnMemoryOptions {
  turns: number
  /** The turn growth is measured from (the thread is "warm" by then). */
  from: number
  /** Sample every this many turns (the curve). */
  every: number
  answerBytes: number
  chunks: number
  runs: number
  transports: Transport[]
}

export const TURN_MEMORY_DEFAULTS: TurnMemoryOptions = {
  turns: 200,
  from: 50,
  every: 10,
  answerBytes: 5 * 1024,
  chunks: 25,
  runs: 1,
  transports: ['ws', 'stdio'],
}

const MiB = 1024 * 1024

interface Sample {
  turn: number
  rssMiB: number
  /** codex-desk with TURN_MEMORY_HEAP=1: V8 heap used, before and after a full GC. */
  heapUsedMiB?: number
  retainedMiB?: number
  /** With TURN_MEMORY_HEAP=1: process.memoryUsage() after that full GC. */
  usage?: Record<string, number>
}

interface Run {
  samples: Sample[]
  growthMiB: number
  peakMiB: number
  msPerTurn: number
  retainedGrowthMiB?: number
  /** Turns whose answer is missing, wrong or doubled (in thread/read or the rollout). */
  lost?: Lost[]
  /** Requests the model server got beyond one per turn, and the turns they were for. */
  retries?: { turns: number; requests: number }
}

/** TURN_MEMORY_IDLE_MS: the stream idle timeout both servers get (a stall fault needs a short one). */
async function setIdleTimeout(home: string, ms: number): Promise<void> {
  const file = join(home, 'config.toml')
  const config = await readFile(file, 'utf8')
  await writeFile(file, config.replace(/^stream_idle_timeout_ms = \d+$/m, `stream_idle_timeout_ms = ${ms}`))
}

/**
 * The process that serves: CODEX_BIN may be the npm package's `codex.js`, a Node wrapper that spawns
 * the native binary, whose memory is then the one to read (not the wrapper's).
 */
async function serverPid(child: ChildProcessWithoutNullStreams, server: BenchServer): Promise<number> {
  let pid = child.pid as number
  if (server.name !== 'codex') return pid
  const deadline = Date.now() + 10_000
  for (;;) {
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => '')
    if (!/\/(node|env)[^/]*$/.test(exe)) return pid
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => ''))
      .trim()
      .split(/\s+/)
      .filter(Boolean)
    if (children.length === 1) pid = Number(children[0])
    else if (Date.now() > deadline) throw new Error(`the codex wrapper ${pid} started no single server`)
    else await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function connect(
  server: BenchServer,
  home: string,
  transport: Transport,
  nodeArgs: string[],
): Promise<{ child: ChildProcessWithoutNullStreams; channel: FrameChannel }> {
  if (transport === 'stdio') {
    const child = server.spawn(home, null, nodeArgs)
    return { child, channel: stdioFrames(child) }
  }
  const url = `ws://127.0.0.1:${await freePort()}`
  const child = server.spawn(home, url, nodeArgs)
  // Nothing reads a websocket server's stdout: drain it (a full pipe would stall the server), into
  // TURN_MEMORY_TRACE=<file> when set (with TURN_MEMORY_NODE_ARGS=--trace-gc, the GC trace).
  const trace = process.env.TURN_MEMORY_TRACE
  if (trace && server.name === 'codex-desk') child.stdout.pipe(createWriteStream(trace))
  else child.stdout.resume()
  return { child, channel: await connectWhenUp(url, child) }
}

async function runOnce(
  server: BenchServer,
  model: ModelServer,
  transport: Transport,
  options: TurnMemoryOptions,
  answers: TurnAnswers,
  tag: string,
): Promise<Run> {
  const key = `${server.name} ${transport} ${tag}`
  const home = makeTempDir(`${server.name}-turn-memory-`)
  const ours = server.name === 'codex-desk'
  const nodeArgs: string[] = []
  const sampling = ours ? process.env.TURN_MEMORY_SAMPLING : undefined
  const heap = ours && (process.env.TURN_MEMORY_HEAP === '1' || sampling !== undefined)
  const snapshots = ours ? process.env.TURN_MEMORY_SNAPSHOTS : undefined
  if (ours && process.env.TURN_MEMORY_NODE_ARGS)
    nodeArgs.push(...process.env.TURN_MEMORY_NODE_ARGS.split(/\s+/).filter(Boolean))
  if (heap) nodeArgs.push('--inspect=127.0.0.1:0')
  if (snapshots) nodeArgs.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snapshots}`)
  let child: ChildProcessWithoutNullStreams | undefined
  let inspector: Inspector | undefined
  try {
    await server.configure(home.path, model.url)
    const idle = process.env.TURN_MEMORY_IDLE_MS
    if (idle) await setIdleTimeout(home.path, Number(idle))
    const connected = await connect(server, home.path, transport, nodeArgs)
    child = connected.child
    const { channel } = connected
    if (heap) inspector = await Inspector.attach(child)
    await initialize(channel)
    // After initialize: by then a wrapper has surely started the server it runs.
    const pid = await serverPid(child, server)
    const started = await request(channel, '{"id":1,"method":"thread/start","params":{}}', 1, 20_000)
    const threadId = (started.result as { thread: { id: string } }).thread.id
    const samples: Sample[] = []
    const t0 = performance.now()
    for (let turn = 1; turn <= options.turns; turn++) {
      await runTurn(channel, threadId, 100 + turn, question(turn, key), answers.saw(key, turn))
      if (inspector && sampling && turn === options.from)
        // What survives a scavenge (promoted, or collected only by a mark-compact): the RSS growth.
        await inspector.call('HeapProfiler.startSampling', {
          samplingInterval: 4096,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: false,
        })
      if (turn % options.every !== 0 && turn !== 1) continue
      const sample: Sample = { turn, rssMiB: round((await rssOf(pid)) / MiB) }
      if (inspector && !sampling) {
        sample.heapUsedMiB = round(await inspector.heapUsedMiB())
        await inspector.call('HeapProfiler.collectGarbage')
        sample.retainedMiB = round(await inspector.heapUsedMiB())
        sample.usage = await inspector.memoryUsage()
        if (process.env.TURN_MEMORY_VERBOSE === '1') console.error(JSON.stringify(sample))
      }
      if (snapshots && (turn === options.from || turn === options.turns)) {
        child.kill('SIGUSR2')
        // The snapshot is written synchronously on the main thread: the next answer waits for it.
        await request(channel, '{"id":2,"method":"thread/loaded/list","params":{}}', 2, 120_000)
      }
      samples.push(sample)
    }
    const msPerTurn = (performance.now() - t0) / options.turns
    if (inspector && sampling) {
      const { profile } = (await inspector.call('HeapProfiler.stopSampling')) as { profile: unknown }
      await writeFile(sampling, JSON.stringify(profile))
    }
    const at = (turn: number) => samples.find((s) => s.turn === turn)
    // Fewer turns than `from` (a short run with faults): the growth is taken from the first sample.
    const first = at(options.from) ?? (samples[0] as Sample)
    const last = at(options.turns) ?? (samples.at(-1) as Sample)
    const run: Run = {
      samples,
      growthMiB: round(last.rssMiB - first.rssMiB),
      peakMiB: round(await peakRssMiB(pid)),
      msPerTurn: round(msPerTurn),
    }
    if (first.retainedMiB !== undefined && last.retainedMiB !== undefined)
      run.retainedGrowthMiB = round(last.retainedMiB - first.retainedMiB)
    // Every turn's answer, as the server reads the thread back and as a fresh one reads it from disk.
    const readTurns = await readThread(channel, threadId)
    channel.close()
    await stopChild(child)
    run.lost = answers.check(key, options.turns, 'live thread/read', readTurns)
    const again = await connect(server, home.path, 'stdio', [])
    child = again.child
    await initialize(again.channel)
    const storedTurns = await readThread(again.channel, threadId)
    again.channel.close()
    run.lost.push(...answers.check(key, options.turns, 'thread/read from disk', storedTurns))
    run.retries = answers.retries(key)
    if (run.lost.length > 0)
      console.error(`${key}: ${run.lost.length} answer problem(s):\n${JSON.stringify(run.lost, null, 1)}`)
    return run
  } catch (error) {
    if (child) (error as Error).message += `\n${server.name} stderr: ${stderrOf(child).slice(-2000)}`
    throw error
  } finally {
    inspector?.close()
    if (child) await stopChild(child)
    await home.remove()
  }
}

function median(values: number[]): number {
  return round(summarize(values).p50)
}

function spread(values: number[]): [number, number] {
  const s = summarize(values)
  return [round(s.min), round(s.max)]
}

function figures(transport: Transport, options: TurnMemoryOptions, ours: Run[], theirs: Run[]): Figure[] {
  const measured = theirs.length > 0
  const codexFrom = measured ? 'measured' : 'not installed'
  const growth = median(ours.map((r) => r.growthMiB))
  const theirGrowth = measured ? median(theirs.map((r) => r.growthMiB)) : undefined
  const peak = median(ours.map((r) => r.peakMiB))
  const theirPeak = measured ? median(theirs.map((r) => r.peakMiB)) : undefined
  const curve = (runs: Run[]) =>
    runs
      .at(-1)
      ?.samples.map((s) => `${s.turn}:${s.rssMiB}`)
      .join(' ')
  // A growth at or below a few MiB is noise in RSS: the ratio then compares against 1 MiB at least.
  const growthRatio = ratioOf(
    Math.max(growth, 0),
    theirGrowth === undefined ? undefined : Math.max(theirGrowth, 1),
  )
  const retained = ours.flatMap((r) => (r.retainedGrowthMiB === undefined ? [] : [r.retainedGrowthMiB]))
  const span = `${options.from}_to_${options.turns}`
  const count = (runs: Run[], of: (run: Run) => number) => runs.reduce((sum, run) => sum + of(run), 0)
  const lost = count(ours, (r) => r.lost?.length ?? 0)
  return [
    {
      bench: `turn_memory_growth_${span}_${transport}`,
      unit: 'MiB',
      value: growth,
      n: ours.length,
      target: theirGrowth ?? null,
      targetStat: measured ? 'value' : null,
      codex: measured ? { value: theirGrowth } : null,
      ratio: growthRatio,
      ratioTarget: 1,
      // A turn whose answer was lost fails the figure, whatever the memory says.
      pass: lost > 0 ? false : measured ? growthRatio !== null && growthRatio <= 1 : null,
      spread: spread(ours.map((r) => r.growthMiB)),
      answersLost: lost,
      ...(measured ? { codexAnswersLost: count(theirs, (r) => r.lost?.length ?? 0) } : {}),
      retriedTurns: count(ours, (r) => r.retries?.turns ?? 0),
      ...(measured ? { codexRetriedTurns: count(theirs, (r) => r.retries?.turns ?? 0) } : {}),
      ...(measured ? { codexSpread: spread(theirs.map((r) => r.growthMiB)) } : {}),
      ...(retained.length > 0 ? { retainedHeapGrowthMiB: median(retained) } : {}),
      msPerTurn: median(ours.map((r) => r.msPerTurn)),
      ...(measured ? { codexMsPerTurn: median(theirs.map((r) => r.msPerTurn)) } : {}),
      curve: curve(ours),
      ...(measured ? { codexCurve: curve(theirs) } : {}),
      answerBytes: options.answerBytes,
      codexFrom,
    },
    {
      bench: `turn_memory_peak_${options.turns}_turns_${transport}`,
      unit: 'MiB',
      value: peak,
      n: ours.length,
      target: theirPeak ?? null,
      targetStat: measured ? 'value' : null,
      codex: measured ? { value: theirPeak } : null,
      ratio: ratioOf(peak, theirPeak),
      ratioTarget: 1,
      pass: measured ? peak <= (theirPeak as number) : null,
      spread: spread(ours.map((r) => r.peakMiB)),
      ...(measured ? { codexSpread: spread(theirs.map((r) => r.peakMiB)) } : {}),
      codexFrom,
    },
  ]
}

export async function turnMemory(options: TurnMemoryOptions = TURN_MEMORY_DEFAULTS): Promise<Figure[]> {
  // Each request is answered by the turn it asks about, so a retried request gets its turn's answer
  // again (bench/lib/turnAnswers.ts); its recorded body (the whole history) is dropped.
  const answers = new TurnAnswers(
    options.answerBytes,
    options.chunks,
    parseFaults(process.env.TURN_MEMORY_FAULTS),
  )
  const model = await startModelServer({ defaultScript: answers.script })
  try {
    const out: Figure[] = []
    for (const transport of options.transports) {
      const ours: Run[] = []
      const theirs: Run[] = []
      // Interleaved: each run measures codex-desk, then codex, back to back.
      for (let i = 0; i < options.runs; i++) {
        ours.push(await runOnce(CODEX_DESK, model, transport, options, answers, `run ${i}`))
        model.requests.splice(0)
        if (codexInstalled()) {
          theirs.push(await runOnce(CODEX, model, transport, options, answers, `run ${i}`))
          model.requests.splice(0)
        }
      }
      out.push(...figures(transport, options, ours, theirs))
    }
    return out
  } finally {
    await model.close()
  }
}

// `npx tsx bench/turnMemory.ts [runs] [turns] [transports]`: the figures on their own.
runStandalone(import.meta.url, () =>
  turnMemory({
    ...TURN_MEMORY_DEFAULTS,
    runs: Number(process.argv[2]) || TURN_MEMORY_DEFAULTS.runs,
    turns: Number(process.argv[3]) || TURN_MEMORY_DEFAULTS.turns,
    transports: process.argv[4]
      ? (process.argv[4].split(',') as Transport[])
      : TURN_MEMORY_DEFAULTS.transports,
  }),
)
