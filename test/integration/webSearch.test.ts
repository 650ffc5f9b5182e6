/**
 * Web search against the real core and the scripted model: the hosted `web_search` tool in the
 * request exactly as codex 0.169 sends it for each mode, absent when disabled, and a
 * `web_search_call` in the model's stream shown as a `webSearch` item.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { event, text } from '../support/modelServer'
import { expectCodexShape } from '../support/codexSchema'
import { runTurn, startHarness, startThread, type Harness } from '../support/threadHarness'

let harness: Harness | undefined
afterEach(async () => {
  await harness?.dispose()
  harness = undefined
})

async function toolsSent(config: string): Promise<unknown[]> {
  harness = await startHarness('stdio', { config })
  const client = await harness.connect()
  const { thread } = await startThread(client)
  await runTurn(client, thread.id, 'hi')
  const body = harness.model.requests.at(-1)?.body as { tools?: { type: string }[] }
  return body.tools ?? []
}

const webSearchOf = (tools: unknown[]): unknown[] =>
  tools.filter((tool) => (tool as { type: string }).type === 'web_search')

describe('the web search tool offered to the model', () => {
  it('is the cached search by default', async () => {
    const tools = await toolsSent('')
    expect(webSearchOf(tools)).toEqual([{ type: 'web_search', external_web_access: false }])
    expect(tools.at(-1)).toEqual({ type: 'web_search', external_web_access: false })
  })

  it('is the live search with web_search = "live", with the [tools.web_search] options', async () => {
    const tools = await toolsSent(
      [
        'web_search = "live"',
        '[tools.web_search]',
        'context_size = "high"',
        'allowed_domains = ["example.com"]',
        'location = { country = "US", city = "SF" }',
      ].join('\n'),
    )
    expect(webSearchOf(tools)).toEqual([
      {
        type: 'web_search',
        external_web_access: true,
        filters: { allowed_domains: ['example.com'] },
        user_location: { type: 'approximate', country: 'US', city: 'SF' },
        search_context_size: 'high',
      },
    ])
  })

  it('is live when the older web_search_request feature flag asks for it', async () => {
    const tools = await toolsSent('[features]\nweb_search_request = true')
    expect(webSearchOf(tools)).toEqual([{ type: 'web_search', external_web_access: true }])
  })

  it('is absent with web_search = "disabled"', async () => {
    const tools = await toolsSent('web_search = "disabled"\nsandbox_mode = "danger-full-access"')
    expect(webSearchOf(tools)).toEqual([])
    expect(tools.length).toBeGreaterThan(0)
  })
})

describe.each(['stdio', 'ws'] as const)('a web search in the model stream over %s', (transport) => {
  it('becomes a webSearch item with its query and action', async () => {
    harness = await startHarness(transport, { config: 'web_search = "live"' })
    const client = await harness.connect()
    const { thread } = await startThread(client)
    harness.model.enqueue([
      event('response.output_item.added', {
        output_index: 0,
        item: { type: 'web_search_call', id: 'ws_1', status: 'in_progress' },
      }),
      event('response.web_search_call.searching', { output_index: 0, item_id: 'ws_1' }),
      event('response.output_item.done', {
        output_index: 0,
        item: {
          type: 'web_search_call',
          id: 'ws_1',
          status: 'completed',
          action: { type: 'search', query: 'weather sf', queries: ['weather sf'] },
        },
      }),
      text('Sunny.'),
    ])
    await runTurn(client, thread.id, 'weather?')
    const started = await client.waitForNotification(
      'item/started',
      (p) => (p as { item: { type: string } }).item.type === 'webSearch',
    )
    const completed = await client.waitForNotification(
      'item/completed',
      (p) => (p as { item: { type: string } }).item.type === 'webSearch',
    )
    for (const m of [started, completed])
      expectCodexShape('ServerNotification', { method: m.method, params: m.params })
    expect((started.params as { item: unknown }).item).toMatchObject({
      type: 'webSearch',
      id: 'ws_1',
      query: '',
      action: { type: 'other' },
    })
    expect((completed.params as { item: unknown }).item).toMatchObject({
      type: 'webSearch',
      id: 'ws_1',
      query: 'weather sf',
      action: { type: 'search', query: 'weather sf', queries: ['weather sf'] },
    })
    // The thread keeps it: thread/read shows the item in the turn.
    const read = await client.request('thread/read', { threadId: thread.id, includeTurns: true })
    const items = read.thread.turns.flatMap((turn) => turn.items)
    expect(items.find((item) => item.type === 'webSearch')).toMatchObject({ query: 'weather sf' })
    // As codex does, the next request gives the model its search back.
    await runTurn(client, thread.id, 'and tomorrow?')
    const input = (harness.model.requests.at(-1)?.body as { input: { type: string }[] }).input
    expect(input).toContainEqual({
      type: 'web_search_call',
      id: 'ws_1',
      status: 'completed',
      action: { type: 'search', query: 'weather sf', queries: ['weather sf'] },
    })
  })
})
