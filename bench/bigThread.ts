/**
 * Figures: a big thread (about 100 MB of answers) read whole, and its history read page by page,
 * by codex-desk and by codex-cli 0.169.0's native `codex app-server` in the same run.
 *
 * The thread is written by each server itself through real turns with the scripted model server
 * (in its own process): `turns` turns, each answered with `messages` assistant messages of
 * `messageBytes` and as many short reasoning items, so each server reads the rollout it wrote in its
 * own format. Every answer is checked: the turns, the assistant messages and their total length.
 *
 * - `big_thread_read_peak_rss_{stdio,ws}`: a fresh process, `initialize`, one `thread/read` with
 *   `includeTurns: true`; the process's peak resident memory (VmHWM) after the answer arrived.
 * - `big_thread_first_process_peak_rss_{stdio,ws}`: a fresh process doing `thread/list`,
 *   `thread/read` (with turns), `thread/resume`, `thread/read` (with turns): the peak.
 * - `history_page_{turns,items}_{small,big}`: the paginated history of a 2-turn thread and of the
 *   big one (stdio): the first call in a fresh process and warm calls, so the big/small ratio shows
 *   whether a page's cost depends on the thread's size.
 *
 * Runs are interleaved (codex-desk, codex, codex-desk, ...) and repeated `runs` times; each figure
 * is the median with its spread. BIG_THREAD_MB=<n> sizes the thread's text (default 50 MiB: each
 * server's rollout is then about 100 MiB, as both write an answer's text twice); BIG_THREAD_KEEP=<dir>
 * copies the homes there for profiling.
 *
 * Runs inside `npm run bench` via `bigThread()`, or alone with `npx tsx bench/bigThread.ts [MB] [runs]`.
 */
import { cp } from 'node:fs/promises'
import { join } from 'node:path'
import { reasoning, text, usage, type Step } from '../test/support/modelServer'
import { call, start, stop, writeThread, type Wire } from './bigThreadServer'
import type { FrameChannel } from './lib/clients'
import { makeTempDir } from './lib/processes'
import { startRemoteModelServer } from './lib/remoteModelServer'
import { CODEX_DESK, serverPeakMiB, serversToCompare, type BenchServer } from './lib/servers'
import { besideCodex, latencyFigure, round, summarize, valueFigure, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface BigThreadOptions {
  turns: number
  /** Assistant messages per turn (each with a short reasoning item before it). */
  messages: number
  messageBytes: number
  /** The size of one streamed delta. */
  deltaBytes: number
  /** Fresh-process runs per server and transport. */
  runs: number
  /** Warm history page calls per server. */
  pageCalls: number
}

const MiB = 1024 * 1024

export function bigThreadOptions(totalMiB = 50, runs = 3): BigThreadOptions {
  const turns = 20
  const messages = 10
  return {
    turns,
    messages,
    messageBytes: Math.round((totalMiB * MiB) / (turns * messages)),
    deltaBytes: 64 * 1024,
    runs,
    pageCalls: 20,
  }
}

export const BIG_THREAD_DEFAULTS = bigThreadOptions(Number(process.env.BIG_THREAD_MB) || 50)

const FILLER = 'The reader keeps one turn at a time; a "quoted" word, a tab\tand an é keep the JSON honest. '

/** One message's text: a counter at its head (a lost or doubled message changes the total). */
function messageText(turn: number, message: number, bytes: number): string {
  const head = `<${turn}.${message}> `
  return head + FILLER.repeat(Math.ceil(bytes / FILLER.length)).slice(0, Math.max(0, bytes - head.length))
}

function turnSteps(turn: number, options: BigThreadOptions): Step[] {
  const steps: Step[] = []
  const chunks = Math.max(1, Math.round(options.messageBytes / options.deltaBytes))
  for (let m = 0; m < options.messages; m++) {
    steps.push(reasoning(`Turn ${turn}, part ${m}: reading the next section.`, { chunks: 1 }))
    steps.push(text(messageText(turn, m, options.messageBytes), { chunks }))
  }
  steps.push(usage({ input: 1_000, output: 500 }))
  return steps
}

interface Expected {
  turns: number
  agentMessages: number
  textChars: number
}

function expectedOf(options: BigThreadOptions): Expected {
  let textChars = 0
  for (let t = 0; t < options.turns; t++)
    for (let m = 0; m < options.messages; m++) textChars += messageText(t, m, options.messageBytes).length
  return { turns: options.turns, agentMessages: options.turns * options.messages, textChars }
}

interface ThreadCounts {
  turns: number
  items: number
  agentMessages: number
  textChars: number
}

function countsOf(result: unknown): ThreadCounts {
  const turns = (result as { thread: { turns: { items: { type: string; text?: string }[] }[] } }).thread.turns
  const counts = { turns: turns.length, items: 0, agentMessages: 0, textChars: 0 }
  for (const turn of turns) {
    counts.items += turn.items.length
    for (const item of turn.items) {
      if (item.type !== 'agentMessage') continue
      counts.agentMessages++
      counts.textChars += item.text?.length ?? 0
    }
  }
  return counts
}

/** Throws unless the answer holds the whole thread: every turn, every message, every character. */
function checkWhole(server: BenchServer, what: string, result: unknown, expected: Expected): ThreadCounts {
  const counts = countsOf(result)
  if (
    counts.turns !== expected.turns ||
    counts.agentMessages !== expected.agentMessages ||
    counts.textChars !== expected.textChars
  ) {
    throw new Error(
      `${server.name} ${what}: ${counts.turns} turns, ${counts.agentMessages} messages, ` +
        `${counts.textChars} characters; expected ${expected.turns}, ${expected.agentMessages}, ${expected.textChars}`,
    )
  }
  return counts
}

// ---------------------------------------------------------------------------------------------
// Measurements

interface Prepared {
  server: BenchServer
  home: { path: string; remove(): Promise<void> }
  big: { threadId: string; rolloutBytes: number; ms: number }
  small: { threadId: string; rolloutBytes: number; ms: number }
}

/** Peak RSS of a fresh process answering one whole-thread read. */
async function readPeak(
  p: Prepared,
  wire: Wire,
  expected: Expected,
): Promise<{ mib: number; items: number }> {
  const running = await start(p.server, p.home.path, wire)
  try {
    const result = await call(running.channel, 1, 'thread/read', {
      threadId: p.big.threadId,
      includeTurns: true,
    })
    const counts = checkWhole(p.server, 'thread/read', result, expected)
    return { mib: await serverPeakMiB(running.child.pid as number), items: counts.items }
  } finally {
    await stop(running)
  }
}

/** Peak RSS of a fresh process doing list, read, resume, read. */
async function firstProcessPeak(p: Prepared, wire: Wire, expected: Expected): Promise<number> {
  const running = await start(p.server, p.home.path, wire)
  try {
    const { channel } = running
    const threadId = p.big.threadId
    const list = (await call(channel, 1, 'thread/list', {})) as { data: { id: string }[] }
    if (!list.data.some((t) => t.id === threadId))
      throw new Error(`${p.server.name} thread/list does not show the big thread`)
    checkWhole(
      p.server,
      'thread/read',
      await call(channel, 2, 'thread/read', { threadId, includeTurns: true }),
      expected,
    )
    checkWhole(p.server, 'thread/resume', await call(channel, 3, 'thread/resume', { threadId }), expected)
    checkWhole(
      p.server,
      'thread/read (loaded)',
      await call(channel, 4, 'thread/read', { threadId, includeTurns: true }),
      expected,
    )
    return await serverPeakMiB(running.child.pid as number)
  } finally {
    await stop(running)
  }
}

interface PageTimes {
  turnsFirst: number
  itemsFirst: number
  turnsWarm: number[]
  itemsWarm: number[]
}

async function timed(channel: FrameChannel, id: number, method: string, params: unknown): Promise<number> {
  const t0 = performance.now()
  const result = (await call(channel, id, method, params)) as { data: unknown[] }
  const ms = performance.now() - t0
  if (!Array.isArray(result.data) || result.data.length === 0) throw new Error(`${method}: an empty page`)
  return ms
}

/** The newest 5 turns (summary view) and the newest 20 items of a thread, in a fresh process. */
async function pageTimes(p: Prepared, threadId: string, calls: number): Promise<PageTimes> {
  const running = await start(p.server, p.home.path, 'stdio')
  try {
    const { channel } = running
    const turns = { threadId, limit: 5, sortDirection: 'desc' }
    const items = { threadId, limit: 20, sortDirection: 'desc' }
    let id = 10
    const turnsFirst = await timed(channel, id++, 'thread/turns/list', turns)
    const itemsFirst = await timed(channel, id++, 'thread/items/list', items)
    const turnsWarm: number[] = []
    const itemsWarm: number[] = []
    for (let i = 0; i < calls; i++) {
      turnsWarm.push(await timed(channel, id++, 'thread/turns/list', turns))
      itemsWarm.push(await timed(channel, id++, 'thread/items/list', items))
    }
    return { turnsFirst, itemsFirst, turnsWarm, itemsWarm }
  } finally {
    await stop(running)
  }
}

// ---------------------------------------------------------------------------------------------
// Figures

const progress = (line: string) => process.stderr.write(`bigThread: ${line}\n`)

const median = (samples: number[]) => summarize(samples).p50

function memoryFigure(bench: string, ours: number[], theirs: number[] | null, extra: object): Figure {
  const figure = besideCodex({ ...valueFigure(bench, ours, { ...extra }), unit: 'MiB' }, ours, theirs)
  // The target is codex's own peak in the same run.
  const target = figure.codex?.value ?? null
  return { ...figure, target, targetStat: target === null ? null : 'value' }
}

function pageFigure(bench: string, ours: number[], theirs: number[] | null, extra: object): Figure {
  return besideCodex(latencyFigure(bench, ours, null, null, null, { ...extra }), ours, theirs)
}

export async function bigThread(options: BigThreadOptions = BIG_THREAD_DEFAULTS): Promise<Figure[]> {
  const servers = serversToCompare()
  const expected = expectedOf(options)
  const prepared: Prepared[] = []
  try {
    for (const server of servers) {
      const home = makeTempDir(`${server.name}-big-thread-`)
      const model = await startRemoteModelServer()
      try {
        await server.configure(home.path, model.url)
        progress(`${server.name}: writing the big thread`)
        const big = await writeThread(server, home.path, model, options.turns, (t) => turnSteps(t, options))
        const small = await writeThread(server, home.path, model, 2, (t) => [
          reasoning(`Small turn ${t}.`, { chunks: 1 }),
          text(messageText(t, 0, 2_000), { chunks: 4 }),
          usage({ input: 10, output: 10 }),
        ])
        progress(`${server.name}: written in ${Math.round(big.ms)} ms, ${round(big.rolloutBytes / MiB)} MiB`)
        prepared.push({ server, home, big, small })
      } catch (error) {
        await home.remove()
        throw error
      } finally {
        await model.close()
      }
    }

    const read: Record<string, Record<Wire, number[]>> = {}
    const first: Record<string, Record<Wire, number[]>> = {}
    const items: Record<string, number> = {}
    for (const p of prepared) {
      read[p.server.name] = { stdio: [], ws: [] }
      first[p.server.name] = { stdio: [], ws: [] }
    }
    // Interleaved: one run of each server on each wire, then the next run.
    for (let run = 0; run < options.runs; run++) {
      for (const wire of ['stdio', 'ws'] as const) {
        for (const p of prepared) {
          const r = await readPeak(p, wire, expected)
          progress(`${p.server.name} ${wire} run ${run}: read ${round(r.mib)} MiB`)
          read[p.server.name]![wire].push(r.mib)
          items[p.server.name] = r.items
          first[p.server.name]![wire].push(await firstProcessPeak(p, wire, expected))
        }
      }
    }
    const pages: Record<string, { small: PageTimes[]; big: PageTimes[] }> = {}
    for (const p of prepared) pages[p.server.name] = { small: [], big: [] }
    for (let run = 0; run < options.runs; run++) {
      for (const p of prepared) {
        pages[p.server.name]!.small.push(await pageTimes(p, p.small.threadId, options.pageCalls))
        pages[p.server.name]!.big.push(await pageTimes(p, p.big.threadId, options.pageCalls))
      }
    }

    const ours = prepared.find((p) => p.server === CODEX_DESK) as Prepared
    const theirs = prepared.find((p) => p.server !== CODEX_DESK) ?? null
    const describe = {
      textMiB: round(expected.textChars / MiB),
      turns: options.turns,
      rolloutMiB: round(ours.big.rolloutBytes / MiB),
      items: items['codex-desk'],
      ...(theirs ? { codexRolloutMiB: round(theirs.big.rolloutBytes / MiB), codexItems: items.codex } : {}),
    }
    const figures: Figure[] = []
    for (const wire of ['stdio', 'ws'] as const) {
      figures.push(
        memoryFigure(
          `big_thread_read_peak_rss_${wire}`,
          read['codex-desk']![wire],
          theirs ? read.codex![wire] : null,
          {
            ...describe,
            measured: 'VmHWM of a fresh process after thread/read includeTurns of the whole thread',
          },
        ),
        memoryFigure(
          `big_thread_first_process_peak_rss_${wire}`,
          first['codex-desk']![wire],
          theirs ? first.codex![wire] : null,
          { ...describe, measured: 'VmHWM of a fresh process after list, read, resume, read' },
        ),
      )
    }
    for (const kind of ['turns', 'items'] as const) {
      for (const size of ['small', 'big'] as const) {
        const pick = (name: string) => {
          const runs = pages[name]![size]
          return {
            warm: runs.flatMap((r) => (kind === 'turns' ? r.turnsWarm : r.itemsWarm)),
            first: runs.map((r) => (kind === 'turns' ? r.turnsFirst : r.itemsFirst)),
          }
        }
        const o = pick('codex-desk')
        const c = theirs ? pick('codex') : null
        const thread = size === 'small' ? ours.small : ours.big
        figures.push(
          pageFigure(`history_page_${kind}_${size}`, o.warm, c?.warm ?? null, {
            firstCallMs: round(median(o.first)),
            ...(c ? { codexFirstCallMs: round(median(c.first)) } : {}),
            rolloutMiB: round(thread.rolloutBytes / MiB),
            measured: `thread/${kind}/list, newest ${kind === 'turns' ? '5 turns' : '20 items'}, warm, stdio`,
          }),
        )
      }
    }
    return figures
  } finally {
    for (const p of prepared) {
      // BIG_THREAD_KEEP=<dir>: a copy of each home, to profile a server by hand.
      const keep = process.env.BIG_THREAD_KEEP
      if (keep) {
        await cp(p.home.path, join(keep, p.server.name), { recursive: true })
        progress(`${p.server.name} home copied to ${join(keep, p.server.name)} (thread ${p.big.threadId})`)
      }
      await p.home.remove()
    }
  }
}

// `npx tsx bench/bigThread.ts [MB] [runs]`: the figures on their own, one JSON line each.
runStandalone(import.meta.url, () =>
  bigThread(bigThreadOptions(Number(process.argv[2]) || 50, Number(process.argv[3]) || 3)),
)
