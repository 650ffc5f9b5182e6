/**
 * Figure: peak memory with 200 websocket subscribers of one thread while a turn streams, for
 * codex-desk and codex-cli 0.169.0 in the same run (bench/lib/servers.ts), servers interleaved.
 *
 * Each round spawns the server on a free port, connects `clients` websockets, starts a thread on
 * the first and runs a warm-up turn there, resumes the thread from every other client (see
 * `subscribedClients` in bench/broadcast.ts), then the paced model server streams `count` deltas at
 * `perSecond` to all of them (slow enough that the 200 clients in this one process keep up, so the
 * figure is what the server holds, not a backlog the bench made). The figure is the server's peak resident memory (VmHWM from /proc) at
 * the end of the turn, with its resident memory before the turn beside it. Every client must see
 * the turn complete. With CODEX_BIN pointing at the npm launcher (a node script), the native codex
 * process is found among its children, so the figure is codex's own memory.
 *
 * Runs inside `npm run bench` via `subscriberMemory()`, or alone with `npx tsx bench/subscribers.ts`.
 */
import { readFile } from 'node:fs/promises'
import { runTurn, subscribedClients, type Subscribed } from './broadcast'
import { startPacedModelServer } from './lib/pacedModelServer'
import { withTimeout } from './lib/processes'
import { interleavedRounds, processTree, serverPeakMiB, type BenchServer } from './lib/servers'
import { ratioOf, round, summarize, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface SubscriberOptions {
  clients: number
  count: number
  perSecond: number
  bytes: number
  rounds: number
}

export const SUBSCRIBER_DEFAULTS: SubscriberOptions = {
  clients: 200,
  count: 1_000,
  perSecond: 500,
  bytes: 100,
  rounds: 2,
}

async function currentRssMiB(pid: number): Promise<number> {
  let best = 0
  for (const p of await processTree(pid)) {
    try {
      const status = await readFile(`/proc/${p}/status`, 'utf8')
      const kb = Number(/^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1])
      if (kb / 1024 > best) best = kb / 1024
    } catch {
      // gone meanwhile
    }
  }
  return best
}

interface MemoryRun {
  peakMiB: number
  beforeTurnMiB: number
  turnMs: number
}

async function runOnce(server: BenchServer, options: SubscriberOptions): Promise<MemoryRun> {
  const model = await startPacedModelServer()
  let subscribed: Subscribed | undefined
  try {
    const answer = {
      kind: 'paced',
      count: options.count,
      perSecond: options.perSecond,
      bytes: options.bytes,
    } as const
    subscribed = await subscribedClients(server, model, options.clients, answer)
    const { channels, sockets, threadId, child } = subscribed
    const pid = child.pid as number
    const beforeTurnMiB = await currentRssMiB(pid)
    // Every other client waits for turn/completed on the raw frame (no string per delta): 200
    // clients share this process, and one that falls behind makes the server queue for it.
    const completions = sockets.slice(1).map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.removeAllListeners('message')
          ws.on('message', (data: Buffer) => {
            if (data[11] === 116 /* t */ && data.includes('"method":"turn/completed"')) resolve()
          })
        }),
    )
    const t0 = performance.now()
    await runTurn(channels[0] as (typeof channels)[0], threadId, 10, 'stream')
    await withTimeout(Promise.all(completions), 120_000, `turn/completed at ${options.clients} clients`)
    const turnMs = performance.now() - t0
    return { peakMiB: await serverPeakMiB(pid), beforeTurnMiB, turnMs }
  } finally {
    await subscribed?.dispose()
    await model.close()
  }
}

export async function subscriberMemory(options: SubscriberOptions = SUBSCRIBER_DEFAULTS): Promise<Figure> {
  const runs = await interleavedRounds(options.rounds, (server) => runOnce(server, options))
  const ours = runs.get('codex-desk') ?? []
  const theirs = runs.get('codex')
  const s = summarize(ours.map((r) => r.peakMiB))
  const codexPeak = theirs ? summarize(theirs.map((r) => r.peakMiB)).p50 : undefined
  const ratio = ratioOf(s.p50, codexPeak)
  return {
    bench: `rss_ws_${options.clients}_subscribers_streaming`,
    unit: 'MiB',
    value: round(s.p50),
    min: round(s.min),
    max: round(s.max),
    n: s.n,
    target: codexPeak === undefined ? null : round(codexPeak),
    targetStat: codexPeak === undefined ? null : 'value',
    codex: codexPeak === undefined ? null : { value: round(codexPeak) },
    codexFrom: theirs ? 'measured' : 'not installed',
    ratio,
    ratioTarget: 1,
    pass: ratio === null ? null : ratio <= 1,
    clients: options.clients,
    deltas: options.count,
    perSecond: options.perSecond,
    bytes: options.bytes,
    peaksMiB: ours.map((r) => round(r.peakMiB)),
    beforeTurnMiB: ours.map((r) => round(r.beforeTurnMiB)),
    turnMs: ours.map((r) => Math.round(r.turnMs)),
    ...(theirs
      ? {
          codexPeaksMiB: theirs.map((r) => round(r.peakMiB)),
          codexBeforeTurnMiB: theirs.map((r) => round(r.beforeTurnMiB)),
          codexTurnMs: theirs.map((r) => Math.round(r.turnMs)),
        }
      : {}),
  }
}

// `npx tsx bench/subscribers.ts [rounds]`: the figure on its own.
runStandalone(import.meta.url, async () => [
  await subscriberMemory({
    ...SUBSCRIBER_DEFAULTS,
    rounds: Number(process.argv[2]) || SUBSCRIBER_DEFAULTS.rounds,
  }),
])
