/**
 * Probe (not a figure): what codex-desk and codex 0.169.0 do when a model stream breaks at a given
 * point and is retried. Prints, per server: the notifications of the turn (deltas counted), the
 * turn's agent messages as thread/read returns them, and every model request's input (roles and
 * text heads). `npx tsx bench/retryProbe.ts <fault>`: fault = `mid` (connection dropped mid-answer),
 * `afterDone` (dropped after the message completed, before response.completed), `stall` (silent
 * after the message, past a 1.5 s idle timeout), `afterCall` (dropped after a completed function
 * call). Both servers get stream_max_retries = 2; codex runs when CODEX_BIN (or .cache) has it.
 * Not part of `npm run bench`: it prints what each server did, for comparison by eye.
 */
import {
  startModelServer,
  text,
  disconnectAfter,
  functionCall,
  stall,
  usage,
} from '../test/support/modelServer'
import { initialize, request, stdioFrames } from './lib/clients'
import { makeTempDir, stopChild, withTimeout } from './lib/processes'
import { CODEX, CODEX_DESK, codexInstalled, type BenchServer } from './lib/servers'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

const fault = process.argv[2] ?? 'afterDone'
const answer = 'alpha beta gamma delta epsilon'

async function probe(server: BenchServer): Promise<void> {
  const model = await startModelServer()
  // text with 5 chunks: created, in_progress, added, part.added, 5 deltas, text.done, part.done, item.done = 12
  const cut = fault === 'mid' ? disconnectAfter(6) : fault === 'stall' ? stall() : disconnectAfter(12)
  if (fault === 'afterCall') {
    const call = functionCall({
      name: 'update_plan',
      arguments: { plan: [{ step: 'probe', status: 'pending' }] },
      callId: 'call_probe1',
    })
    // created, in_progress, added, 1 args delta, args done, item.done = 6
    model.enqueue([call, disconnectAfter(6)])
    model.enqueue([text('second attempt answer', { chunks: 2 })])
    model.enqueue([text('after tool', { chunks: 2 })])
  } else {
    model.enqueue([text(answer, { chunks: 5 }), cut, usage({ input: 1, output: 1 })])
    model.enqueue([text('second attempt answer', { chunks: 2 })])
  }
  const home = makeTempDir(`${server.name}-probe-`)
  await server.configure(home.path, model.url)
  const file = join(home.path, 'config.toml')
  const config = (await readFile(file, 'utf8'))
    .replace(/^stream_max_retries = \d+$/m, 'stream_max_retries = 2')
    .replace(/^request_max_retries = \d+$/m, 'request_max_retries = 2')
    .replace(/^stream_idle_timeout_ms = \d+$/m, 'stream_idle_timeout_ms = 1500')
  await writeFile(file, config)
  const child = server.spawn(home.path, null)
  const channel = stdioFrames(child)
  try {
    await initialize(channel)
    const started = await request(channel, '{"id":1,"method":"thread/start","params":{}}', 1, 20_000)
    const threadId = (started.result as { thread: { id: string } }).thread.id
    const seen: string[] = []
    let deltas = 0
    const done = new Promise<void>((resolve) => {
      channel.handler = (frame) => {
        const m = JSON.parse(frame) as { method?: string; params?: Record<string, unknown> }
        if (m.method === 'item/agentMessage/delta') return void deltas++
        if (!m.method) return
        if (deltas) seen.push(`(${deltas} deltas)`)
        deltas = 0
        const p = m.params ?? {}
        const item = p.item as { type?: string; text?: string } | undefined
        if (m.method.startsWith('item/'))
          seen.push(`${m.method} ${item?.type} ${JSON.stringify(item?.text ?? '')}`)
        else if (m.method === 'error') seen.push(`error ${JSON.stringify(p)}`.slice(0, 300))
        else if (m.method === 'turn/completed')
          seen.push(`turn/completed ${(p.turn as { status: string }).status}`)
        else seen.push(m.method)
        if (m.method === 'turn/completed') resolve()
      }
    })
    channel.send(
      JSON.stringify({
        id: 2,
        method: 'turn/start',
        params: { threadId, input: [{ type: 'text', text: 'hello' }] },
      }),
    )
    await withTimeout(done, 60_000, 'turn/completed')
    await new Promise((r) => setTimeout(r, 300))
    const read = await request(
      channel,
      JSON.stringify({ id: 3, method: 'thread/read', params: { threadId, includeTurns: true } }),
      3,
      20_000,
    )
    const turns = (
      read.result as { thread: { turns: { status: string; items: { type: string; text?: string }[] }[] } }
    ).thread.turns
    console.log(`\n=== ${server.name} (${fault})`)
    for (const line of seen) console.log('  ' + line)
    console.log(
      '  thread/read:',
      JSON.stringify(turns.map((t) => [t.status, t.items.map((i) => `${i.type}:${i.text ?? ''}`)])),
    )
    for (const r of model.requests) {
      const input = (
        (r.body as { input?: { type?: string; role?: string; content?: { text?: string }[] }[] }).input ?? []
      ).map(
        (i) =>
          `${i.role ?? i.type}:${
            Array.isArray(i.content)
              ? i.content
                  .map((c) => c.text ?? '')
                  .join('')
                  .slice(0, 30)
              : JSON.stringify(i).slice(0, 90)
          }`,
      )
      console.log(
        `  request ${r.index}: dropped=${r.disconnectedByClient} input=${JSON.stringify(input.slice(-4))}`,
      )
    }
  } finally {
    channel.close()
    await stopChild(child)
    await model.close()
    await home.remove()
  }
}

void (async () => {
  await probe(CODEX_DESK)
  if (codexInstalled()) await probe(CODEX)
})()
