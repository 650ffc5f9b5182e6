/**
 * Figure: one very long answer. A turn streams `deltas` deltas of `deltaBytes` bytes (20,000 x 1 KiB,
 * 19.5 MiB of text) from the scripted model server (in its own process) to one websocket client,
 * while a second client of the same core times `thread/loaded/list` round trips back to back (from
 * the first delta to turn/completed). Then:
 * the wall time of the turn (turn/start to turn/completed), the rollout's size next to the text's,
 * and the peak RSS of a fresh core answering `thread/read` (with turns) for that thread over stdio.
 *
 * The same run is made against codex-cli 0.169.0 when it is installed (`node scripts/installCodex.mjs`,
 * or CODEX_BIN=<path>); otherwise the issue's codex numbers stand beside ours. codex-desk is the
 * built bin; BENCH_SOURCE=1 runs src/worker/cli.ts under tsx instead (no build needed), and
 * LONG_ANSWER_CPU_PROF=<dir> profiles the streaming core into that folder.
 *
 * Runs inside `npm run bench` via `longAnswer()`, or alone with `npx tsx bench/longAnswer.ts [deltas]`.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { text, usage } from '../test/support/modelServer'
import { initialize, request, stdioFrames, type FrameChannel } from './lib/clients'
import { startRemoteModelServer, type RemoteModelServer } from './lib/remoteModelServer'
import {
  CODEX,
  CODEX_DESK,
  codexInstalled,
  connectWhenUp,
  freePort,
  peakRssMiB,
  type BenchServer,
} from './lib/servers'
import { makeTempDir, stderrOf, stopChild, withTimeout } from './lib/processes'
import { round, summarize, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface LongAnswerOptions {
  deltas: number
  deltaBytes: number
}

export const LONG_ANSWER_DEFAULTS: LongAnswerOptions = { deltas: 20_000, deltaBytes: 1024 }

/** The issue's codex-cli 0.169.0 figures for 20,000 x 1 KiB, used when codex is not installed. */
const CODEX_ISSUE = { wallMs: 19_000, rolloutMiB: 58.6, readPeakRssMiB: 267, roundTripP50: 1.5 }

const MiB = 1024 * 1024

interface Run {
  wallMs: number
  deltasReceived: number
  textBytes: number
  /** The text as a JSON string: what any JSONL rollout holds per copy of it. */
  textJsonBytes: number
  rolloutBytes: number
  readPeakRssMiB: number
  roundTrips: number[]
}

/** 1 KiB pieces made of counters (a lost or doubled piece changes the text), with JSON escapes. */
export function longAnswerChunks(options: LongAnswerOptions): string[] {
  const filler = 'lorem ipsum dolor sit amet "quoted" \\ back\tslash é '.repeat(64)
  return Array.from({ length: options.deltas }, (_, i) => {
    const head = `<${i.toString(36).padStart(6, '0')}>`
    return head + filler.slice(0, options.deltaBytes - head.length - 2) + '\n'
  })
}

async function findRollout(dir: string, threadId: string): Promise<string | null> {
  if (!existsSync(dir)) return null
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.includes(threadId) && entry.name.endsWith('.jsonl'))
      return join(entry.parentPath, entry.name)
  }
  return null
}

/**
 * `thread/loaded/list` round trips, back to back, until `stop()`: the time another client waits
 * for an answer while the long answer streams.
 */
function pinger(channel: FrameChannel): { record(): void; stop(): Promise<number[]> } {
  const samples: number[] = []
  let recording = false
  let id = 1000
  let t0 = 0
  let stopped = false
  let idle: () => void = () => {}
  const sendNext = () => {
    t0 = performance.now()
    channel.send(`{"id":${++id},"method":"thread/loaded/list","params":{}}`)
  }
  channel.handler = (frame) => {
    const t1 = performance.now()
    if (!frame.startsWith(`{"id":${id},`)) return
    if (recording) samples.push(t1 - t0)
    if (stopped) idle()
    else sendNext()
  }
  sendNext()
  return {
    /** From now on (the first delta): what the turn's start-up costs is not the stream's. */
    record: () => {
      recording = true
    },
    stop: () => {
      stopped = true
      return withTimeout(
        new Promise<void>((resolve) => (idle = resolve)),
        30_000,
        'the last round trip',
      ).then(() => samples)
    },
  }
}

async function runOnce(
  server: BenchServer,
  model: RemoteModelServer,
  chunks: string[],
  full: string,
): Promise<Run> {
  const home = makeTempDir(`${server.name}-long-answer-`)
  let child: ChildProcessWithoutNullStreams | undefined
  let reader: ChildProcessWithoutNullStreams | undefined
  try {
    await server.configure(home.path, model.url)
    // Queued before the server starts: the enqueue travels over IPC, and a fast server's model
    // request could otherwise overtake it (and get the model server's default answer).
    model.enqueue([text(full, { chunks }), usage({ input: 10, output: chunks.length })])
    const url = `ws://127.0.0.1:${await freePort()}`
    const prof = process.env.LONG_ANSWER_CPU_PROF
    child = server.spawn(home.path, url, prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [])
    const streamer = await connectWhenUp(url, child)
    const other = await connectWhenUp(url, child)
    await initialize(streamer)
    await initialize(other)
    const started = await request(streamer, '{"id":1,"method":"thread/start","params":{}}', 1, 20_000)
    const threadId = (started.result as { thread: { id: string } }).thread.id
    let deltas = 0
    let turnId: string | null = null
    const ping = pinger(other)
    const done = new Promise<number>((resolve, reject) => {
      streamer.handler = (frame) => {
        if (frame.startsWith('{"method":"item/agentMessage/delta"')) {
          if (deltas++ === 0) ping.record()
          return
        }
        const message = JSON.parse(frame) as {
          id?: number
          method?: string
          error?: { message: string }
          result?: { turn: { id: string } }
          params?: { turn?: { id: string; status: string; error: { message: string } | null } }
        }
        if (message.id === 2) {
          if (message.error) reject(new Error(`turn/start failed: ${message.error.message}`))
          else turnId = message.result?.turn.id ?? null
        } else if (message.method === 'turn/completed') {
          const turn = message.params?.turn
          if (turnId !== null && turn?.id !== turnId) return
          if (turn?.status !== 'completed')
            reject(new Error(`turn ended ${turn?.status}: ${turn?.error?.message}`))
          else resolve(performance.now())
        }
      }
    })
    const sent = performance.now()
    streamer.send(
      JSON.stringify({
        id: 2,
        method: 'turn/start',
        params: { threadId, input: [{ type: 'text', text: 'long' }] },
      }),
    )
    const end = await withTimeout(done, 300_000, `turn/completed after ${chunks.length} deltas`)
    const roundTrips = await ping.stop()
    // codex-desk must deliver every delta; codex's count is reported (its websocket may coalesce).
    if (server.name === 'codex-desk' && deltas !== chunks.length)
      throw new Error(`received ${deltas} deltas, the model streamed ${chunks.length}`)
    streamer.close()
    other.close()
    await stopChild(child, 10_000)
    const rollout = await findRollout(server.sessions(home.path), threadId)
    if (!rollout) throw new Error(`no rollout for thread ${threadId} under ${server.sessions(home.path)}`)
    const rolloutBytes = (await stat(rollout)).size

    // Read it back in a fresh process: the peak RSS of answering thread/read with its turns.
    reader = server.spawn(home.path, null)
    const channel = stdioFrames(reader)
    await initialize(channel)
    const read = await request(
      channel,
      JSON.stringify({ id: 3, method: 'thread/read', params: { threadId, includeTurns: true } }),
      3,
      120_000,
    )
    const readPeakRssMiB = await peakRssMiB(reader.pid as number)
    const turns = (read.result as { thread: { turns: { items: { type: string; text?: string }[] }[] } })
      .thread.turns
    const answer = turns.at(-1)?.items.find((item) => item.type === 'agentMessage')?.text
    if (server.name === 'codex-desk' && answer?.length !== full.length)
      throw new Error(`thread/read shows ${answer?.length} characters of ${full.length}`)
    return {
      wallMs: end - sent,
      deltasReceived: deltas,
      textBytes: Buffer.byteLength(full),
      textJsonBytes: Buffer.byteLength(JSON.stringify(full)),
      rolloutBytes,
      readPeakRssMiB,
      roundTrips,
    }
  } catch (error) {
    const stderr = [child, reader]
      .map((c) => (c ? stderrOf(c).trim() : ''))
      .join('\n')
      .trim()
    if (stderr) (error as Error).message += `\n${server.name} stderr: ${stderr.slice(-2000)}`
    throw error
  } finally {
    if (child) await stopChild(child)
    if (reader) await stopChild(reader)
    await home.remove()
  }
}

function figures(ours: Run, theirs: Run | null): Figure[] {
  const rt = summarize(ours.roundTrips)
  const theirRt = theirs ? summarize(theirs.roundTrips) : null
  const codexFrom = theirs ? 'measured' : 'issue'
  const textMiB = round(ours.textBytes / MiB)
  const rolloutMiB = round(ours.rolloutBytes / MiB)
  return [
    {
      bench: 'long_answer_turn',
      unit: 'ms',
      value: Math.round(ours.wallMs),
      n: 1,
      target: null,
      targetStat: null,
      codex: { value: Math.round(theirs?.wallMs ?? CODEX_ISSUE.wallMs) },
      pass: null,
      textMiB,
      deltas: ours.deltasReceived,
      ...(theirs ? { codexDeltasReceived: theirs.deltasReceived } : {}),
      codexFrom,
    },
    {
      bench: 'long_answer_rollout',
      unit: 'MiB',
      value: rolloutMiB,
      n: 1,
      // "At most about 2x the text": twice the text as JSON (quotes and escapes included), plus 10%
      // for the lines' own fields.
      target: round((2.2 * ours.textJsonBytes) / MiB),
      targetStat: 'value',
      codex: { value: theirs ? round(theirs.rolloutBytes / MiB) : CODEX_ISSUE.rolloutMiB },
      pass: ours.rolloutBytes <= 2.2 * ours.textJsonBytes,
      textMiB,
      textJsonMiB: round(ours.textJsonBytes / MiB),
      rolloutToText: round(ours.rolloutBytes / ours.textBytes),
      codexFrom,
    },
    {
      bench: 'long_answer_read_peak_rss',
      unit: 'MiB',
      value: round(ours.readPeakRssMiB),
      n: 1,
      target: theirs ? round(theirs.readPeakRssMiB) : CODEX_ISSUE.readPeakRssMiB,
      targetStat: 'value',
      codex: { value: theirs ? round(theirs.readPeakRssMiB) : CODEX_ISSUE.readPeakRssMiB },
      pass: ours.readPeakRssMiB <= (theirs?.readPeakRssMiB ?? CODEX_ISSUE.readPeakRssMiB),
      codexFrom,
    },
    {
      bench: 'long_answer_other_client_roundtrip',
      unit: 'ms',
      p50: round(rt.p50),
      p99: round(rt.p99),
      min: round(rt.min),
      max: round(rt.max),
      n: rt.n,
      // Few, long round trips hide behind a fast p50: the mean is the wait a client sees on average.
      mean: round(ours.roundTrips.reduce((a, b) => a + b, 0) / Math.max(1, rt.n)),
      // A long answer must not slow other clients: within a few ms, as codex is.
      target: 5,
      targetStat: 'p50',
      codex: theirRt
        ? { p50: round(theirRt.p50), p99: round(theirRt.p99) }
        : { p50: CODEX_ISSUE.roundTripP50 },
      pass: rt.p50 <= 5,
      codexFrom,
    },
  ]
}

export async function longAnswer(options: LongAnswerOptions = LONG_ANSWER_DEFAULTS): Promise<Figure[]> {
  const chunks = longAnswerChunks(options)
  const full = chunks.join('')
  // Each server gets a model server of its own, so nothing of one run can reach the other.
  const run = async (server: BenchServer) => {
    const model = await startRemoteModelServer()
    try {
      return await runOnce(server, model, chunks, full)
    } finally {
      await model.close()
    }
  }
  const ours = await run(CODEX_DESK)
  const theirs = codexInstalled() ? await run(CODEX) : null
  return figures(ours, theirs)
}

// `npx tsx bench/longAnswer.ts [deltas]`: the figures on their own, one JSON line each.
runStandalone(import.meta.url, () =>
  longAnswer({ ...LONG_ANSWER_DEFAULTS, deltas: Number(process.argv[2]) || LONG_ANSWER_DEFAULTS.deltas }),
)
