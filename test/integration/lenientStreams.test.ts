/**
 * Model streams in the shapes codex's own test fixtures use (codex-rs/core/tests/common/responses.rs):
 * `response.output_item.added` / `.done` without `output_index`, deltas with neither `item_id` nor
 * `output_index`, items that only ever arrive as `.done`. Local Responses servers and proxies send the
 * same shapes; codex accepts them, so codex-desk must stream them through the real core too.
 */
import { describe, expect, it } from 'vitest'
import { event, type Step } from '../support/modelServer'
import { expectCodexShape } from '../support/codexSchema'
import {
  harnessesPerTest,
  startHarness,
  startThread,
  type Harness,
  type TransportKind,
} from '../support/threadHarness'
import type { ServerMessage, TestClient } from '../support/testClient'

const WAIT_MS = 30_000

// The fixture shapes, written out as codex's helpers build them (no output_index, no sequence info).
const messageAdded = (id: string, initial = '') =>
  event('response.output_item.added', {
    item: { type: 'message', role: 'assistant', id, content: [{ type: 'output_text', text: initial }] },
  })
const assistantMessage = (id: string, text: string) =>
  event('response.output_item.done', {
    item: { type: 'message', role: 'assistant', id, content: [{ type: 'output_text', text }] },
  })
const outputTextDelta = (delta: string, extra: Record<string, unknown> = {}) =>
  event('response.output_text.delta', { delta, ...extra })
const reasoningAdded = (id: string) =>
  event('response.output_item.added', { item: { type: 'reasoning', id, summary: [] } })
const reasoningSummaryDelta = (delta: string, extra: Record<string, unknown> = {}) =>
  event('response.reasoning_summary_text.delta', { delta, summary_index: 0, ...extra })
const reasoningDone = (id: string, summary: string[]) =>
  event('response.output_item.done', {
    item: { type: 'reasoning', id, summary: summary.map((text) => ({ type: 'summary_text', text })) },
  })
const functionCallDone = (callId: string, name: string, args: string) =>
  event('response.output_item.done', {
    item: { type: 'function_call', call_id: callId, name, arguments: args },
  })
const responseCompleted = (id: string) =>
  event('response.completed', {
    response: {
      id,
      usage: {
        input_tokens: 0,
        input_tokens_details: null,
        output_tokens: 0,
        output_tokens_details: null,
        total_tokens: 0,
      },
    },
  })

const { disposeAfter } = harnessesPerTest()

interface Params {
  threadId?: string
  turnId?: string
  itemId?: string
  delta?: string
  summaryIndex?: number
  item?: { id: string; type: string; text?: string; summary?: string[] }
  turn?: { id: string; status: string }
}
const paramsOf = (m: ServerMessage) => m.params as Params

/** Runs one turn on a fresh thread with `scripts` as the model's responses; returns what the client saw. */
async function turnWith(
  transport: TransportKind,
  ...scripts: Step[][]
): Promise<{ h: Harness; client: TestClient; seen: ServerMessage[]; status: string }> {
  const h = await startHarness(transport)
  disposeAfter(h)
  const client = await h.connect()
  h.model.enqueue(...scripts)
  const { thread } = await startThread(client, { cwd: h.proc.home })
  const { turn } = await client.request('turn/start', {
    threadId: thread.id,
    input: [{ type: 'text', text: 'go' }],
  })
  const completed = await client.waitForNotification(
    'turn/completed',
    (p) => (p as Params).turn?.id === turn.id,
    WAIT_MS,
  )
  const seen = client.received.filter(
    (m) => m.id === undefined && m.method !== undefined && paramsOf(m).turnId === turn.id,
  )
  for (const m of seen) expectCodexShape('ServerNotification', { method: m.method, params: m.params })
  return { h, client, seen, status: paramsOf(completed).turn?.status ?? '' }
}

const deltasOf = (seen: ServerMessage[], method: string) =>
  seen.filter((m) => m.method === method).map((m) => paramsOf(m))
const completedItems = (seen: ServerMessage[]) =>
  seen.filter((m) => m.method === 'item/completed').map((m) => paramsOf(m).item)

describe.each<TransportKind>(['stdio', 'ws'])(
  'model streams in codex fixture shapes over %s',
  (transport) => {
    it('streams the deltas of a message added without an output index', async () => {
      const { seen, status } = await turnWith(transport, [
        messageAdded('msg_fixture'),
        outputTextDelta('Hello'),
        outputTextDelta(', fixture'),
        outputTextDelta(' world.'),
        assistantMessage('msg_fixture', 'Hello, fixture world.'),
        responseCompleted('resp_fixture'),
      ])
      expect(status).toBe('completed')
      const deltas = deltasOf(seen, 'item/agentMessage/delta')
      expect(deltas.map((d) => d.delta)).toEqual(['Hello', ', fixture', ' world.'])
      expect(new Set(deltas.map((d) => d.itemId))).toEqual(new Set(['msg_fixture']))
      expect(completedItems(seen)).toContainEqual(
        expect.objectContaining({ type: 'agentMessage', id: 'msg_fixture', text: 'Hello, fixture world.' }),
      )
    })

    it('streams reasoning summary deltas, then the message, each to its own item', async () => {
      const { seen, status } = await turnWith(transport, [
        reasoningAdded('rs_fixture'),
        reasoningSummaryDelta('Thinking '),
        reasoningSummaryDelta('it over'),
        reasoningDone('rs_fixture', ['Thinking it over']),
        messageAdded('msg_after'),
        outputTextDelta('Done '),
        outputTextDelta('thinking.'),
        assistantMessage('msg_after', 'Done thinking.'),
        responseCompleted('resp_fixture'),
      ])
      expect(status).toBe('completed')
      const summary = deltasOf(seen, 'item/reasoning/summaryTextDelta')
      expect(summary.map((d) => [d.itemId, d.summaryIndex, d.delta])).toEqual([
        ['rs_fixture', 0, 'Thinking '],
        ['rs_fixture', 0, 'it over'],
      ])
      const text = deltasOf(seen, 'item/agentMessage/delta')
      expect(text.map((d) => [d.itemId, d.delta])).toEqual([
        ['msg_after', 'Done '],
        ['msg_after', 'thinking.'],
      ])
      expect(completedItems(seen)).toEqual([
        expect.objectContaining({ type: 'userMessage' }),
        expect.objectContaining({ type: 'reasoning', id: 'rs_fixture', summary: ['Thinking it over'] }),
        expect.objectContaining({ type: 'agentMessage', id: 'msg_after', text: 'Done thinking.' }),
      ])
    })

    it('streams raw reasoning text as item/reasoning/textDelta and keeps it in the completed item', async () => {
      const { seen, status } = await turnWith(transport, [
        reasoningAdded('rs_raw'),
        event('response.reasoning_text.delta', { delta: 'First, ', content_index: 0 }),
        event('response.reasoning_text.delta', { delta: 'look.', content_index: 0 }),
        reasoningDone('rs_raw', []),
        messageAdded('msg_raw'),
        outputTextDelta('Looked.'),
        assistantMessage('msg_raw', 'Looked.'),
        responseCompleted('resp_raw'),
      ])
      expect(status).toBe('completed')
      const raw = deltasOf(seen, 'item/reasoning/textDelta')
      expect(raw.map((d) => [d.itemId, d.delta])).toEqual([
        ['rs_raw', 'First, '],
        ['rs_raw', 'look.'],
      ])
      for (const m of seen.filter((x) => x.method === 'item/reasoning/textDelta'))
        expectCodexShape('ServerNotification', { method: m.method, params: m.params })
      expect(completedItems(seen)).toContainEqual(
        expect.objectContaining({ type: 'reasoning', id: 'rs_raw', content: ['First, look.'] }),
      )
    })

    it('matches deltas to their item by item_id when two items are open at once', async () => {
      const { seen, status } = await turnWith(transport, [
        reasoningAdded('rs_open'),
        messageAdded('msg_open'),
        outputTextDelta('Answer ', { item_id: 'msg_open' }),
        reasoningSummaryDelta('still thinking', { item_id: 'rs_open' }),
        outputTextDelta('here.', { item_id: 'msg_open' }),
        reasoningDone('rs_open', ['still thinking']),
        assistantMessage('msg_open', 'Answer here.'),
        responseCompleted('resp_fixture'),
      ])
      expect(status).toBe('completed')
      expect(deltasOf(seen, 'item/agentMessage/delta').map((d) => [d.itemId, d.delta])).toEqual([
        ['msg_open', 'Answer '],
        ['msg_open', 'here.'],
      ])
      expect(deltasOf(seen, 'item/reasoning/summaryTextDelta').map((d) => [d.itemId, d.delta])).toEqual([
        ['rs_open', 'still thinking'],
      ])
      const items = completedItems(seen)
      expect(items).toContainEqual(expect.objectContaining({ id: 'msg_open', text: 'Answer here.' }))
      expect(items).toContainEqual(expect.objectContaining({ id: 'rs_open', summary: ['still thinking'] }))
    })

    it('runs a function call and a message that arrive only as finished items', async () => {
      const { h, seen, status } = await turnWith(
        transport,
        [functionCallDone('call_fixture', 'fixture_tool', '{"x":1}'), responseCompleted('resp_one')],
        [assistantMessage('msg_final', 'All finished.'), responseCompleted('resp_two')],
      )
      expect(status).toBe('completed')
      expect(h.model.requests).toHaveLength(2)
      const input = (h.model.requests[1]?.body as { input: Record<string, unknown>[] }).input
      expect(input).toContainEqual(
        expect.objectContaining({ type: 'function_call', call_id: 'call_fixture', name: 'fixture_tool' }),
      )
      expect(input).toContainEqual(
        expect.objectContaining({ type: 'function_call_output', call_id: 'call_fixture' }),
      )
      expect(deltasOf(seen, 'item/agentMessage/delta')).toEqual([])
      expect(completedItems(seen)).toContainEqual(
        expect.objectContaining({ type: 'agentMessage', id: 'msg_final', text: 'All finished.' }),
      )
    })
  },
)
