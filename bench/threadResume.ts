/**
 * Figure: `thread/resume` of a thread with 2,000 items, over stdio against the built
 * `codex-desk app-server`. The thread is made through the real path: a core talking to the scripted
 * model server runs `turns` turns, each answered with reasoning and assistant-message items (the
 * user message makes up the rest), so the rollout on disk is exactly what the core writes. Then:
 *
 * - `thread_resume_2000_items_fresh_process`: a new core per run, `initialize`, then one timed
 *   `thread/resume` (opens the index, reads, decodes and replays the rollout, cold JIT).
 * - `thread_resume_2000_items`: one core; resume (timed), `thread/unsubscribe`, wait for
 *   `thread/closed` (`thread_unload_delay_secs = 0`), so every resume loads the thread again.
 * - `thread_resume_2000_items_rejoin`: the thread stays loaded; resume answers from memory.
 *
 * Round trips are timed from the request write to the arrival of the response's last byte, before
 * the client parses it; the response carries every turn and item.
 *
 * Runs inside `npm run bench` via `threadResume()`, or alone with `npx tsx bench/threadResume.ts`.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { reasoning, startModelServer, text, usage, type Step } from '../test/support/modelServer'
import { modelConfig } from '../test/support/threadHarness'
import { request, stdioCore, timedRequest, type FrameChannel } from './lib/clients'
import { makeTempDir, stopChild, withTimeout } from './lib/processes'
import { latencyFigure, p95, round, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface ThreadResumeOptions {
  /** Items in the thread: one user message per turn, the rest from the model. */
  items: number
  turns: number
  /** Timed resumes per figure (after `warmup` untimed ones, where a process lives that long). */
  runs: number
  warmup: number
}

export const THREAD_RESUME_DEFAULTS: ThreadResumeOptions = { items: 2_000, turns: 10, runs: 10, warmup: 2 }

const TARGET_P50_MS = 50

const PARAGRAPH =
  'The parser reads the header, then each section in order; a section that fails to decode is ' +
  'skipped and reported with its offset, so one bad record never hides the rest of the file. '

/** One model response with `count` items: reasoning and assistant messages, alternating. */
function modelItems(turn: number, count: number): Step[] {
  const steps: Step[] = []
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0)
      steps.push(reasoning(`Turn ${turn}, step ${i}: checking the next section.`, { chunks: 4 }))
    else steps.push(text(`(${turn}.${i}) ${PARAGRAPH}${PARAGRAPH}`, { chunks: 8 }))
  }
  steps.push(usage({ input: 1_000, output: 500 }))
  return steps
}

/** Counts the items of a resumed thread and checks there are as many as the thread was made with. */
function checkItems(result: unknown, expected: number): void {
  const turns = (result as { thread: { turns: { items: unknown[] }[] } }).thread.turns
  const count = turns.reduce((n, turn) => n + turn.items.length, 0)
  if (count !== expected) throw new Error(`thread/resume returned ${count} items, expected ${expected}`)
}

/** Waits for a notification `method` whose params satisfy `match`. */
function notification(channel: FrameChannel, method: string, threadId: string, timeoutMs = 5_000) {
  const seen = new Promise<void>((resolve) => {
    channel.handler = (frame) => {
      if (!frame.includes(`"method":"${method}"`)) return
      const message = JSON.parse(frame) as { params?: { threadId?: string } }
      if (message.params?.threadId !== threadId) return
      channel.handler = () => {}
      resolve()
    }
  })
  return withTimeout(seen, timeoutMs, method)
}

/**
 * `thread/unsubscribe`, then waits for the response and for `thread/closed` (the unload timer fires
 * right after the response with `thread_unload_delay_secs = 0`); one handler sees both.
 */
function unsubscribeAndUnload(channel: FrameChannel, id: number, threadId: string): Promise<void> {
  const prefix = `{"id":${id},`
  let responded = false
  let closed = false
  const done = new Promise<void>((resolve, reject) => {
    channel.handler = (frame) => {
      if (frame.startsWith(prefix)) {
        const message = JSON.parse(frame) as { result?: { status: string }; error?: { message: string } }
        if (message.result?.status !== 'unsubscribed')
          return reject(new Error(`thread/unsubscribe: ${frame.slice(0, 200)}`))
        responded = true
      } else if (frame.includes('"method":"thread/closed"') && frame.includes(threadId)) closed = true
      if (responded && closed) {
        channel.handler = () => {}
        resolve()
      }
    }
  })
  channel.send(JSON.stringify({ id, method: 'thread/unsubscribe', params: { threadId } }))
  return withTimeout(done, 5_000, 'thread/unsubscribe and thread/closed')
}

/** Makes the thread through real turns; returns its id and how long that took. */
async function makeThread(
  home: string,
  options: ThreadResumeOptions,
): Promise<{ threadId: string; ms: number }> {
  const t0 = performance.now()
  const model = await startModelServer()
  const perTurn = options.items / options.turns - 1
  if (!Number.isInteger(perTurn) || perTurn < 1) throw new Error('items must be a multiple of turns')
  await writeFile(join(home, 'config.toml'), modelConfig(model.url, 'thread_unload_delay_secs = 0'))
  const writer = await stdioCore(home)
  try {
    const started = await request(writer.channel, '{"id":1,"method":"thread/start","params":{}}', 1)
    const threadId = (started.result as { thread: { id: string } }).thread.id
    for (let turn = 0; turn < options.turns; turn++) {
      model.enqueue(modelItems(turn, perTurn))
      const completed = notification(writer.channel, 'turn/completed', threadId, 30_000)
      writer.channel.send(
        JSON.stringify({
          id: 100 + turn,
          method: 'turn/start',
          params: {
            threadId,
            input: [{ type: 'text', text: `Turn ${turn}: go through the next sections.` }],
          },
        }),
      )
      await completed
    }
    return { threadId, ms: performance.now() - t0 }
  } finally {
    writer.channel.close()
    await stopChild(writer.child)
    await model.close()
  }
}

export async function threadResume(options: ThreadResumeOptions = THREAD_RESUME_DEFAULTS): Promise<Figure[]> {
  const home = makeTempDir('codex-desk-bench-resume-')
  try {
    const { threadId, ms: makeMs } = await makeThread(home.path, options)
    const resumeParams = { threadId }
    let bytes = 0

    // A new process for every run: the first resume after start.
    const fresh: number[] = []
    for (let i = 0; i < options.runs; i++) {
      const { child, channel } = await stdioCore(home.path)
      try {
        const r = await timedRequest(channel, 1, 'thread/resume', resumeParams)
        checkItems(r.result, options.items)
        fresh.push(r.ms)
        bytes = r.bytes
      } finally {
        channel.close()
        await stopChild(child)
      }
    }

    // One process: load, unload, load again.
    const unloaded: number[] = []
    const rejoin: number[] = []
    const { child, channel } = await stdioCore(home.path)
    try {
      let id = 1
      for (let i = 0; i < options.warmup + options.runs; i++) {
        const r = await timedRequest(channel, id++, 'thread/resume', resumeParams)
        checkItems(r.result, options.items)
        if (i >= options.warmup) unloaded.push(r.ms)
        await unsubscribeAndUnload(channel, id++, threadId)
      }
      // Loaded and subscribed: every further resume is a rejoin.
      await timedRequest(channel, id++, 'thread/resume', resumeParams)
      for (let i = 0; i < options.warmup + options.runs; i++) {
        const r = await timedRequest(channel, id++, 'thread/resume', resumeParams)
        checkItems(r.result, options.items)
        if (i >= options.warmup) rejoin.push(r.ms)
      }
    } finally {
      channel.close()
      await stopChild(child)
    }

    const extra = { items: options.items, turns: options.turns, responseBytes: bytes, transport: 'stdio' }
    return [
      latencyFigure('thread_resume_2000_items_fresh_process', fresh, TARGET_P50_MS, 'p50', null, {
        p95: p95(fresh),
        ...extra,
        measured: 'first thread/resume after initialize in a new process',
        threadMadeInMs: round(makeMs),
      }),
      latencyFigure('thread_resume_2000_items', unloaded, TARGET_P50_MS, 'p50', null, {
        p95: p95(unloaded),
        ...extra,
        measured: 'thread/resume of an unloaded thread in a warm process',
      }),
      latencyFigure('thread_resume_2000_items_rejoin', rejoin, TARGET_P50_MS, 'p50', null, {
        p95: p95(rejoin),
        ...extra,
        measured: 'thread/resume of a loaded thread',
      }),
    ]
  } finally {
    await home.remove()
  }
}

// `npx tsx bench/threadResume.ts`: the figures on their own, one JSON line each.
runStandalone(import.meta.url, () => threadResume())
