/**
 * Figures: what a tool call costs inside a turn, over stdio against the built `codex-desk
 * app-server` and the scripted model server. Each run is one real turn, timed from the `turn/start`
 * write to the `turn/completed` frame, in which the model calls a tool once and then answers; a
 * tool's cost is its turn's median minus the baseline's (`overBaselineP50`).
 *
 * - `tool_turn_baseline`: the model calls a tool that does not exist (two model round trips, no work).
 * - `tool_turn_shell_sandboxed`: `echo hi` under `workspace-write`, in bubblewrap (or sandbox-exec).
 * - `tool_turn_shell_unsandboxed`: the same under `danger-full-access`.
 * - `tool_turn_apply_patch_2000_lines`: a 10-hunk update of a 2,000-line file, checked, written
 *   atomically, the file's diff in the item and the turn's diff published.
 *
 * Runs inside `npm run bench` via `toolCalls()`, or alone with `npx tsx bench/tools.ts`.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { detectSandbox } from '../src/worker/agent/sandbox/sandbox'
import { functionCall, startModelServer, text, type ModelServer } from '../test/support/modelServer'
import { modelConfig } from '../test/support/threadHarness'
import { request, stdioCore, type FrameChannel } from './lib/clients'
import { makeTempDir, stopChild, withTimeout } from './lib/processes'
import { latencyFigure, p95, percentile, round, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface ToolBenchOptions {
  runs: number
  warmup: number
}

export const TOOL_BENCH_DEFAULTS: ToolBenchOptions = { runs: 20, warmup: 3 }

const FILE_LINES = 2_000
const HUNKS = 10

/** One turn; resolves with the time from the `turn/start` write to the `turn/completed` frame. */
function timedTurn(
  channel: FrameChannel,
  id: number,
  threadId: string,
  itemType: string | null,
): Promise<number> {
  let sawItem = itemType === null
  const t0 = performance.now()
  const done = new Promise<number>((resolve, reject) => {
    channel.handler = (frame) => {
      const now = performance.now()
      if (frame.startsWith(`{"id":${id},"error"`)) reject(new Error(frame.slice(0, 300)))
      if (
        itemType &&
        frame.startsWith('{"method":"item/completed"') &&
        frame.includes(`"type":"${itemType}"`)
      ) {
        if (!frame.includes('"status":"completed"')) reject(new Error(`tool failed: ${frame.slice(0, 600)}`))
        sawItem = true
      }
      if (frame.startsWith('{"method":"turn/completed"') && frame.includes(threadId)) {
        channel.handler = () => {}
        if (!sawItem) reject(new Error(`no ${itemType} item in the turn`))
        else resolve(now - t0)
      }
    }
  })
  channel.send(
    JSON.stringify({ id, method: 'turn/start', params: { threadId, input: [{ type: 'text', text: 'go' }] } }),
  )
  return withTimeout(done, 15_000, `a turn with a ${itemType ?? 'tool'} call`)
}

function median(samples: number[]): number {
  return percentile(Float64Array.from(samples).sort(), 50)
}

async function startThread(channel: FrameChannel, id: number, params: object): Promise<string> {
  const started = await request(channel, JSON.stringify({ id, method: 'thread/start', params }), id)
  return (started.result as { thread: { id: string } }).thread.id
}

/** A file of numbered lines, and a patch that changes `HUNKS` lines spread through it. */
function patchFixture(): { original: string; patch: () => string } {
  const lines = Array.from({ length: FILE_LINES }, (_, i) => `line ${i}: the quick brown fox jumps`)
  let round = 0
  return {
    original: lines.join('\n') + '\n',
    // Each run changes the lines the previous run wrote, so every patch applies to the file as it is.
    patch: () => {
      const from = round++
      const body = ['*** Begin Patch', '*** Update File: big.txt']
      for (let h = 0; h < HUNKS; h++) {
        const at = Math.floor(((h + 0.5) * FILE_LINES) / HUNKS)
        const old = from === 0 ? lines[at] : `line ${at}: edited in round ${from - 1}`
        body.push(
          '@@',
          ` ${lines[at - 1]}`,
          `-${old}`,
          `+line ${at}: edited in round ${from}`,
          ` ${lines[at + 1]}`,
        )
      }
      body.push('*** End Patch')
      return body.join('\n')
    },
  }
}

async function measure(
  channel: FrameChannel,
  model: ModelServer,
  threadId: string,
  itemType: string | null,
  call: () => ReturnType<typeof functionCall>,
  options: ToolBenchOptions,
  firstId: number,
): Promise<number[]> {
  const samples: number[] = []
  for (let i = 0; i < options.warmup + options.runs; i++) {
    model.enqueue(call(), text('ok'))
    const ms = await timedTurn(channel, firstId + i, threadId, itemType)
    if (i >= options.warmup) samples.push(ms)
  }
  return samples
}

export async function toolCalls(options: ToolBenchOptions = TOOL_BENCH_DEFAULTS): Promise<Figure[]> {
  const home = makeTempDir('codex-desk-bench-tools-')
  const model = await startModelServer()
  const project = join(home.path, 'project')
  await mkdir(project)
  const fixture = patchFixture()
  await writeFile(join(project, 'big.txt'), fixture.original)
  await writeFile(join(home.path, 'config.toml'), modelConfig(model.url, 'approval_policy = "never"'))
  const { child, channel } = await stdioCore(home.path)
  try {
    const sandbox = await detectSandbox()
    const sandboxed = await startThread(channel, 1, { cwd: project, sandbox: 'workspace-write' })
    const open = await startThread(channel, 2, { cwd: project, sandbox: 'danger-full-access' })
    const echo = () => functionCall({ name: 'shell_command', arguments: { command: 'echo hi' } })
    const unknown = () => functionCall({ name: 'no_such_tool', arguments: {} })
    const baseline = await measure(channel, model, sandboxed, null, unknown, options, 500)
    const inSandbox = await measure(channel, model, sandboxed, 'commandExecution', echo, options, 1_000)
    const outside = await measure(channel, model, open, 'commandExecution', echo, options, 2_000)
    const patch = () => functionCall({ name: 'apply_patch', arguments: { input: fixture.patch() } })
    const patches = await measure(channel, model, sandboxed, 'fileChange', patch, options, 3_000)
    const base = median(baseline)
    const over = (samples: number[]) => ({ overBaselineP50: round(median(samples) - base) })
    return [
      latencyFigure('tool_turn_baseline', baseline, null, null, null, {
        p95: p95(baseline),
        measured: 'turn/start to turn/completed: the model calls an unknown tool, then answers',
      }),
      latencyFigure('tool_turn_shell_sandboxed', inSandbox, null, null, null, {
        p95: p95(inSandbox),
        ...over(inSandbox),
        sandbox: sandbox.kind,
        measured: 'the same turn running `echo hi` (login shell) under workspace-write',
      }),
      latencyFigure('tool_turn_shell_unsandboxed', outside, null, null, null, {
        p95: p95(outside),
        ...over(outside),
        measured: 'the same under danger-full-access',
      }),
      latencyFigure('tool_turn_apply_patch_2000_lines', patches, null, null, null, {
        p95: p95(patches),
        ...over(patches),
        measured: `the same turn applying a ${HUNKS}-hunk patch to a ${FILE_LINES}-line file`,
      }),
    ]
  } finally {
    channel.close()
    await stopChild(child)
    await model.close()
    await home.remove()
  }
}

runStandalone(import.meta.url, () => toolCalls())
