/**
 * Command output a client saw survives a crash: the scripted model runs a slow, chatty command
 * through `shell_command`, the core is SIGKILLed after a random number of output deltas, and after a
 * restart `thread/read` shows the command's output starting with everything the client was sent.
 * Also: a command's streamed output is written once, as it streams, and equals the item's output.
 */
import { readFile } from 'node:fs/promises'
import { afterAll, describe, expect, it } from 'vitest'
import type { ThreadItem, Turn } from '../../src/worker/protocol/items'
import { decodeLines } from '../../src/worker/threads/rollout'
import { makeTempDir } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import { functionCall, text } from '../support/modelServer'
import type { TestClient } from '../support/testClient'
import { startHarness, startThread, type Harness, type TransportKind } from '../support/threadHarness'

const KILLS = 3
const LINES = 2000
/** One line at a time with a pause, so the kill lands while the command is still printing. */
const COMMAND = `for i in $(seq 1 ${LINES}); do echo line-$i; sleep 0.005; done`
const FULL = Array.from({ length: LINES }, (_, i) => `line-${i + 1}\n`).join('')

const harnesses: Harness[] = []
const cleanups: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const h of harnesses.splice(0)) await h.dispose().catch(() => undefined)
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

/** The output a client accumulated from the command's deltas. */
function seenOutput(client: TestClient, itemId: string): string {
  let seen = ''
  for (const m of client.received) {
    const p = m.params as { itemId?: string; delta?: string } | undefined
    if (m.method === 'item/commandExecution/outputDelta' && p?.itemId === itemId) seen += p.delta
  }
  return seen
}

function commandItem(turn: Turn | undefined, id: string) {
  return turn?.items.find(
    (i): i is Extract<ThreadItem, { type: 'commandExecution' }> =>
      i.type === 'commandExecution' && i.id === id,
  )
}

const threadParams = { approvalPolicy: 'never', sandbox: 'danger-full-access' }

describe.each<TransportKind>(['stdio', 'ws'])('command output after a crash (%s)', (transport) => {
  it(`thread/read shows at least the command output a client saw, for ${KILLS} SIGKILLs`, async () => {
    const dir = await makeTempDir('codex-desk-crash-output-')
    cleanups.push(() => dir.remove())
    const home = dir.path
    let previous: { threadId: string; callId: string; seen: string } | null = null
    for (let run = 0; run <= KILLS; run++) {
      const h = await startHarness(transport, { home })
      harnesses.push(h)
      const client = await h.connect(`run-${run}`)
      if (previous) {
        // The restarted core reads the killed turn from disk.
        const result = await client.request('thread/read', {
          threadId: previous.threadId,
          includeTurns: true,
        })
        expectCodexShape('ThreadReadResponse', result)
        const turn = result.thread.turns.at(-1)
        expect(turn?.status).toBe('interrupted')
        const item = commandItem(turn, previous.callId)
        expect(item?.status).not.toBe('inProgress')
        const read = item?.aggregatedOutput ?? ''
        expect(previous.seen.length).toBeGreaterThan(0)
        expect(read.startsWith(previous.seen)).toBe(true)
        expect(FULL.startsWith(read)).toBe(true)
      }
      if (run === KILLS) break

      const { thread } = await startThread(client, threadParams)
      const callId = `call_lines_${run}`
      h.model.enqueue(
        functionCall({ name: 'shell_command', callId, arguments: { command: COMMAND, timeout_ms: 120_000 } }),
      )
      h.model.enqueue(text('done'))
      const killAfter = 1 + Math.floor(Math.random() * 200)
      let count = 0
      await client.request('turn/start', {
        threadId: thread.id,
        input: [{ type: 'text', text: `run ${run}` }],
      })
      await client.waitForNotification(
        'item/commandExecution/outputDelta',
        () => ++count >= killAfter,
        60_000,
      )
      h.proc.child.kill('SIGKILL')
      await h.proc.exited
      // Frames the core sent before it died still arrive; the connection then closes.
      await client.waitForClose()
      const seen = seenOutput(client, callId)
      // The kill landed while the command was printing.
      expect(seen.length).toBeLessThan(FULL.length)
      expect(FULL.startsWith(seen)).toBe(true)
      previous = { threadId: thread.id, callId, seen }
      harnesses.splice(harnesses.indexOf(h), 1)
      await h.model.close()
    }
  }, 300_000)
})

describe('streamed command output in the rollout', () => {
  it('writes each piece of output once as it streams, and the item holds what streamed', async () => {
    const h = await startHarness('ws')
    harnesses.push(h)
    const client = await h.connect()
    const { thread } = await startThread(client, threadParams)
    const callId = 'call_short'
    const command = 'for i in $(seq 1 50); do echo row-$i; sleep 0.002; done'
    h.model.enqueue(functionCall({ name: 'shell_command', callId, arguments: { command } }))
    h.model.enqueue(text('done'))
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'rows' }],
    })
    await client.waitForNotification(
      'turn/completed',
      (p) => (p as { turn: { id: string } }).turn.id === turn.id,
      60_000,
    )
    const expected = Array.from({ length: 50 }, (_, i) => `row-${i + 1}\n`).join('')
    const seen = seenOutput(client, callId)
    expect(seen).toBe(expected)
    const completed = client.received.find(
      (m) => m.method === 'item/completed' && (m.params as { item: { id: string } }).item.id === callId,
    )
    expectCodexShape('ItemCompletedNotification', completed?.params)
    expect((completed?.params as { item: { aggregatedOutput: string } }).item.aggregatedOutput).toBe(seen)
    // Every delta precedes the item's end.
    const order = client.received.map((m) => m.method)
    expect(order.lastIndexOf('item/commandExecution/outputDelta')).toBeLessThan(
      client.received.indexOf(completed as never),
    )
    const { lines, problems } = decodeLines(await readFile(thread.path as string, 'utf8'))
    expect(problems).toEqual([])
    const deltas = lines.filter(
      (l) => l.type === 'item_text_delta' && (l.payload as { itemId: string }).itemId === callId,
    )
    expect(deltas.map((l) => (l.payload as { text: string }).text).join('')).toBe(expected)
    expect(lines.filter((l) => l.type === 'item_checkpoint')).toEqual([])
  }, 120_000)
})
