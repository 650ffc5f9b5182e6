/**
 * Figures: what an expired ChatGPT token costs a turn, over stdio against the built `codex-desk
 * app-server` and the scripted model server. The bench client logs in with `chatgptAuthTokens` and
 * answers every `account/chatgptAuthTokens/refresh` at once, so the figure is the core's own cost:
 * the 401, the server request and its answer, and the retried model request.
 *
 * - `auth_turn_chatgpt_baseline`: a one-reply turn with ChatGPT tokens.
 * - `auth_turn_401_refresh`: the same turn whose first model request gets 401.
 * - `auth_refresh_8_concurrent_turns`: eight threads hit 401 at once; the time until all eight
 *   turns completed, and how many refresh requests the client saw (one is right).
 *
 * Runs inside `npm run bench` via `authRefresh()`, or alone with `npx tsx bench/auth.ts`.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { startModelServer, text, unauthorized, type RecordedRequest } from '../test/support/modelServer'
import { stdioCore, type FrameChannel } from './lib/clients'
import { makeTempDir, stopChild, withTimeout } from './lib/processes'
import { latencyFigure, p95, percentile, round, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'

export interface AuthBenchOptions {
  runs: number
  warmup: number
}

export const AUTH_BENCH_DEFAULTS: AuthBenchOptions = { runs: 20, warmup: 3 }

const CONCURRENT = 8

let issued = 0
/** A fresh JWT-shaped access token (the core reads its claims; nothing checks a signature). */
function token(): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return [
    part({ alg: 'none' }),
    part({ n: ++issued, 'https://api.openai.com/auth': { chatgpt_account_id: 'acct_bench' } }),
    'c2ln',
  ].join('.')
}

/** Answers refresh requests with a new token (counting them) and hands every other frame on. */
function refreshingChannel(channel: FrameChannel): {
  refreshes: () => number
  setHandler: (handler: (frame: string) => void) => void
} {
  let refreshes = 0
  let handler: (frame: string) => void = () => {}
  channel.handler = (frame) => {
    if (frame.includes('"method":"account/chatgptAuthTokens/refresh"') && frame.startsWith('{"id":')) {
      refreshes++
      const id = (JSON.parse(frame) as { id: number }).id
      channel.send(JSON.stringify({ id, result: { accessToken: token(), chatgptAccountId: 'acct_bench' } }))
      return
    }
    handler(frame)
  }
  return { refreshes: () => refreshes, setHandler: (h) => (handler = h) }
}

/** Starts a turn on each thread; resolves with the time until every one of them completed. */
function timedTurns(
  channel: FrameChannel,
  route: ReturnType<typeof refreshingChannel>,
  firstId: number,
  threadIds: string[],
): Promise<number> {
  const waiting = new Set(threadIds)
  const t0 = performance.now()
  const done = new Promise<number>((resolve, reject) => {
    route.setHandler((frame) => {
      if (frame.startsWith('{"id":') && frame.includes(',"error":{')) reject(new Error(frame.slice(0, 300)))
      if (!frame.startsWith('{"method":"turn/completed"')) return
      if (!frame.includes('"status":"completed"')) reject(new Error(`turn failed: ${frame.slice(0, 600)}`))
      for (const id of waiting) if (frame.includes(id)) waiting.delete(id)
      if (waiting.size === 0) resolve(performance.now() - t0)
    })
  })
  threadIds.forEach((threadId, i) =>
    channel.send(
      JSON.stringify({
        id: firstId + i,
        method: 'turn/start',
        params: { threadId, input: [{ type: 'text', text: 'go' }] },
      }),
    ),
  )
  return withTimeout(done, 15_000, `${threadIds.length} turn(s)`)
}

function median(samples: number[]): number {
  return percentile(Float64Array.from(samples).sort(), 50)
}

export async function authRefresh(options: AuthBenchOptions = AUTH_BENCH_DEFAULTS): Promise<Figure[]> {
  const home = makeTempDir('codex-desk-bench-auth-')
  const model = await startModelServer()
  await writeFile(join(home.path, 'config.toml'), `model = "bench"\nchatgpt_base_url = "${model.url}"\n`)
  const { child, channel } = await stdioCore(home.path)
  const route = refreshingChannel(channel)
  let nextId = 10
  const call = (method: string, params: object): Promise<Record<string, unknown>> => {
    const id = nextId++
    const prefix = `{"id":${id},`
    const response = new Promise<Record<string, unknown>>((resolve, reject) => {
      route.setHandler((frame) => {
        if (!frame.startsWith(prefix)) return
        const message = JSON.parse(frame) as { result?: Record<string, unknown>; error?: { message: string } }
        if (message.error) reject(new Error(`${method} failed: ${message.error.message}`))
        else resolve(message.result ?? {})
      })
    })
    channel.send(JSON.stringify({ id, method, params }))
    return withTimeout(response, 10_000, `the ${method} response`)
  }
  // The model rejects one token (the one the client logged in with last) and accepts every other.
  let rejected = ''
  const byToken = (r: RecordedRequest) =>
    r.headers.authorization === `Bearer ${rejected}` ? unauthorized() : text('ok')
  const login = async () => {
    rejected = token()
    await call('account/login/start', {
      type: 'chatgptAuthTokens',
      accessToken: rejected,
      chatgptAccountId: 'acct_bench',
    })
  }
  try {
    await login()
    const threads: string[] = []
    for (let i = 0; i < CONCURRENT; i++) {
      threads.push(((await call('thread/start', {})).thread as { id: string }).id)
    }
    const first = threads[0] as string
    const rounds = options.warmup + options.runs

    const baseline: number[] = []
    const refreshed: number[] = []
    const concurrent: number[] = []
    const concurrentRefreshes: number[] = []
    let refreshTurnRefreshes = 0
    for (let i = 0; i < rounds; i++) {
      // After a refresh the model accepts the current token: a plain turn.
      model.enqueue(byToken)
      const plain = await timedTurns(channel, route, (nextId += 100), [first])
      await login()
      model.enqueue(byToken, byToken)
      const before = route.refreshes()
      const withRefresh = await timedTurns(channel, route, (nextId += 100), [first])
      refreshTurnRefreshes += route.refreshes() - before
      await login()
      for (let t = 0; t < CONCURRENT * 2; t++) model.enqueue(byToken)
      const beforeAll = route.refreshes()
      const all = await timedTurns(channel, route, (nextId += 100), threads)
      if (i >= options.warmup) {
        baseline.push(plain)
        refreshed.push(withRefresh)
        concurrent.push(all)
        concurrentRefreshes.push(route.refreshes() - beforeAll)
      }
    }
    const refreshesPerTurn = refreshTurnRefreshes / rounds
    const base = median(baseline)
    return [
      latencyFigure('auth_turn_chatgpt_baseline', baseline, null, null, null, {
        p95: p95(baseline),
        measured: 'turn/start to turn/completed with ChatGPT tokens, one model reply',
      }),
      latencyFigure('auth_turn_401_refresh', refreshed, null, null, null, {
        p95: p95(refreshed),
        overBaselineP50: round(median(refreshed) - base),
        refreshesPerTurn,
        measured: 'the same turn whose first model request gets 401: refresh request, answer, retry',
      }),
      latencyFigure(`auth_refresh_${CONCURRENT}_concurrent_turns`, concurrent, null, null, null, {
        p95: p95(concurrent),
        refreshRequests: Math.max(...concurrentRefreshes),
        measured: `${CONCURRENT} threads hit 401 at once: until all ${CONCURRENT} turns completed`,
      }),
    ]
  } finally {
    channel.close()
    await stopChild(child)
    await model.close()
    await home.remove()
  }
}

runStandalone(import.meta.url, () => authRefresh())
