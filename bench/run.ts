/**
 * `npm run bench`: measures the built app-server against the targets and codex-cli 0.169.0's
 * numbers: cold start, request round trip, broadcast lag with a stalled client, idle RSS, thread
 * persistence, `thread/list` over stdio, streaming throughput to one client, and `thread/resume` of
 * a large thread, one very long answer (time, rollout size, read-back RSS, other clients' round
 * trips), what a tool call adds to a turn, what an expired ChatGPT token adds, and the UI in
 * Chromium (load, streaming on screen, reconnect, bundle size). Prints a table, then one JSON line
 * per figure, and writes everything to bench/results/latest.json.
 * A figure that fails is reported with its error and the run goes on; the exit code is then 1.
 * BENCH_PIN=off lets the kernel place the round-trip peers (see lib/affinity.ts).
 * BENCH_ONLY=word,word runs only the steps with a figure whose name contains one of the words
 * (e.g. `BENCH_ONLY=cold_start,big_thread`).
 */
import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { AUTH_BENCH_DEFAULTS, authRefresh } from './auth'
import { BROADCAST_DEFAULTS, broadcastLag } from './broadcast'
import { coldStarts } from './coldStart'
import { FILE_SEARCH_DEFAULTS, fileSearch } from './fileSearch'
import { BIG_THREAD_DEFAULTS, bigThread } from './bigThread'
import { BIN, REPO_ROOT, sweepSync } from './lib/processes'
import type { Figure } from './lib/stats'
import { table } from './lib/table'
import { LONG_ANSWER_DEFAULTS, longAnswer } from './longAnswer'
import { idleRss } from './rss'
import { roundTripPort, roundTripStdio, roundTripWs } from './roundTrip'
import { STREAMING_DEFAULTS, streamingDeltas } from './streaming'
import { SUBSCRIBER_DEFAULTS, subscriberMemory } from './subscribers'
import { benchThreadList } from './threadList'
import { THREAD_LIST_WIRE_DEFAULTS, threadListWire } from './threadListWire'
import { THREAD_RESUME_DEFAULTS, threadResume } from './threadResume'
import { TOOL_BENCH_DEFAULTS, toolCalls } from './tools'
import { TURN_MEMORY_DEFAULTS, turnMemory } from './turnMemory'
import { UI_BENCH_DEFAULTS, uiFigures } from './ui'

/**
 * The whole run takes several minutes here (the long answer, streaming, broadcast and subscriber
 * figures run codex too); past this something hangs.
 */
const WATCHDOG_MS = 1_800_000

const COLD = { warmup: 2, runs: 20 }
const ROUND_TRIP = { warmup: 200, count: 2_000, rounds: 4 }
const BROADCAST = BROADCAST_DEFAULTS
const RSS = { connections: 50, settleMs: 1_000 }
const STREAMING = STREAMING_DEFAULTS
const RESUME = THREAD_RESUME_DEFAULTS
const THREAD_LIST_WIRE = THREAD_LIST_WIRE_DEFAULTS
const TOOLS = TOOL_BENCH_DEFAULTS
const UI = UI_BENCH_DEFAULTS
const LONG_ANSWER = LONG_ANSWER_DEFAULTS
const BIG_THREAD = BIG_THREAD_DEFAULTS

interface Step {
  /** Names of the figures the step produces, for the error rows if it fails. */
  names: string[]
  run: () => Promise<Figure | Figure[]>
}

const STEPS: Step[] = [
  {
    names: ['cold_start_node_baseline', 'cold_start_stdio', 'cold_start_ws'],
    run: () => coldStarts(COLD),
  },
  { names: ['roundtrip_stdio'], run: () => roundTripStdio(ROUND_TRIP) },
  { names: ['roundtrip_ws'], run: () => roundTripWs(ROUND_TRIP) },
  { names: ['roundtrip_port'], run: () => roundTripPort(ROUND_TRIP) },
  { names: ['broadcast_lag_ws'], run: () => broadcastLag(BROADCAST) },
  {
    names: ['paused_client_rss_growth'],
    run: () => import('./pausedClient').then((m) => m.benchPausedClient()),
  },
  { names: ['rss_ws_0_connections', `rss_ws_${RSS.connections}_idle`], run: () => idleRss(RSS) },
  {
    names: [`rss_ws_${SUBSCRIBER_DEFAULTS.clients}_subscribers_streaming`],
    run: () => subscriberMemory(SUBSCRIBER_DEFAULTS),
  },
  {
    names: [
      'thread_list_first_page',
      'thread_list_first_page_after_write',
      'thread_list_search',
      'thread_index_cold_start',
      'thread_index_rebuild_scan',
      'thread_replay_2000_items',
    ],
    run: () => benchThreadList(),
  },
  {
    names: [
      'thread_list_first_page_stdio',
      'thread_list_search_stdio',
      'thread_list_updated_at_stdio',
      'thread_list_spawn_to_first_list_stdio',
      'thread_list_first_call_stdio',
    ],
    run: () => threadListWire(THREAD_LIST_WIRE),
  },
  {
    names: ['stream_model_server_ceiling', 'stream_deltas_stdio', 'stream_deltas_ws'],
    run: () => streamingDeltas(STREAMING),
  },
  {
    names: [
      'thread_resume_2000_items_fresh_process',
      'thread_resume_2000_items',
      'thread_resume_2000_items_rejoin',
    ],
    run: () => threadResume(RESUME),
  },
  {
    names: [
      'big_thread_read_peak_rss_stdio',
      'big_thread_first_process_peak_rss_stdio',
      'big_thread_read_peak_rss_ws',
      'big_thread_first_process_peak_rss_ws',
      'history_page_turns_small',
      'history_page_turns_big',
      'history_page_items_small',
      'history_page_items_big',
    ],
    run: () => bigThread(BIG_THREAD),
  },
  {
    names: [
      'turn_memory_growth_50_to_200_ws',
      'turn_memory_peak_200_turns_ws',
      'turn_memory_growth_50_to_200_stdio',
      'turn_memory_peak_200_turns_stdio',
    ],
    run: () => turnMemory(TURN_MEMORY_DEFAULTS),
  },
  {
    names: [
      'long_answer_turn',
      'long_answer_rollout',
      'long_answer_read_peak_rss',
      'long_answer_other_client_roundtrip',
    ],
    run: () => longAnswer(LONG_ANSWER),
  },
  {
    names: [
      'tool_turn_baseline',
      'tool_turn_shell_sandboxed',
      'tool_turn_shell_unsandboxed',
      'tool_turn_apply_patch_2000_lines',
    ],
    run: () => toolCalls(TOOLS),
  },
  {
    names: ['file_search_100k_first', 'file_search_100k_warm', 'file_search_100k_session_update'],
    run: () => fileSearch(FILE_SEARCH_DEFAULTS),
  },
  {
    names: ['auth_turn_chatgpt_baseline', 'auth_turn_401_refresh', 'auth_refresh_8_concurrent_turns'],
    run: () => authRefresh(AUTH_BENCH_DEFAULTS),
  },
  {
    names: [
      'ui_load_to_thread_list',
      'ui_stream_render',
      'ui_reconnect_after_core_restart',
      'ui_bundle_gzip',
    ],
    run: () => uiFigures(UI),
  },
]

function failed(bench: string, error: unknown): Figure {
  const message = error instanceof Error ? error.message : String(error)
  return { bench, unit: 'ms', n: 0, target: null, targetStat: null, codex: null, pass: false, error: message }
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim()
  } catch {
    return null
  }
}

async function main(): Promise<number> {
  const startedAt = new Date()
  const figures: Figure[] = []
  const loadBefore = loadavg()[0] as number
  process.stderr.write(`bench: ${BIN} on node ${process.version}, ${cpus().length} cpus\n`)
  // Tails and cold starts move with whatever else the machine runs; say so rather than hide it.
  if (loadBefore > cpus().length / 2) {
    process.stderr.write(`bench: warning: load average ${loadBefore.toFixed(2)}; figures will be noisy\n`)
  }
  const only = process.env.BENCH_ONLY?.split(',').filter(Boolean) ?? []
  const steps = only.length
    ? STEPS.filter((step) => step.names.some((name) => only.some((word) => name.includes(word))))
    : STEPS
  for (const step of steps) {
    const t0 = performance.now()
    process.stderr.write(`bench: ${step.names.join(', ')} ...`)
    try {
      const result = await step.run()
      figures.push(...(Array.isArray(result) ? result : [result]))
      process.stderr.write(` ${((performance.now() - t0) / 1000).toFixed(1)} s\n`)
    } catch (error) {
      process.stderr.write(` failed\n`)
      figures.push(...step.names.map((name) => failed(name, error)))
    }
  }

  const loadAfter = loadavg()[0] as number
  console.log()
  console.log(table(figures))
  console.log(`  load average (1 min): ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after`)
  console.log()
  for (const f of figures) console.log(JSON.stringify(f))

  const resultsDir = join(REPO_ROOT, 'bench/results')
  await mkdir(resultsDir, { recursive: true })
  const report = {
    startedAt: startedAt.toISOString(),
    durationMs: Math.round(Date.now() - startedAt.getTime()),
    commit: gitCommit(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    loadAverage: { before: loadBefore, after: loadAfter },
    settings: {
      COLD,
      ROUND_TRIP,
      BROADCAST,
      RSS,
      STREAMING,
      RESUME,
      THREAD_LIST_WIRE,
      TOOLS,
      UI,
      BIG_THREAD,
    },
    figures,
  }
  await writeFile(join(resultsDir, 'latest.json'), JSON.stringify(report, null, 2) + '\n')
  return figures.some((f) => f.error) ? 1 : 0
}

// Children and temp dirs are released in each step's `finally`; this sweep catches anything a
// crash, a signal or the watchdog left behind.
process.on('exit', sweepSync)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    sweepSync()
    process.exit(130)
  })
}
const watchdog = setTimeout(() => {
  process.stderr.write(`\nbench: still running after ${WATCHDOG_MS / 1000} s; giving up\n`)
  process.exit(1)
}, WATCHDOG_MS)
watchdog.unref()

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`)
    process.exit(1)
  },
)
