/**
 * Smaller defects found by the robustness pass (issue 16, item 8), each checked against what codex
 * 0.169.0 does: a 400,000-character config value, request ids beyond 2^53, an unknown model provider
 * or personality at thread/start, and messages nested too deep. Over stdio and websocket.
 */
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { connectWebSocket } from '../support/channels'
import { expectCodexShape } from '../support/codexSchema'
import { startHarness, type Harness, type TransportKind } from '../support/threadHarness'
import type { ServerMessage, TestClient } from '../support/testClient'

const harnesses: Harness[] = []
const closers: (() => void)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) close()
  for (const h of harnesses.splice(0)) await h.dispose()
})

async function start(transport: TransportKind, config?: string): Promise<Harness> {
  const h = await startHarness(transport, config === undefined ? {} : { config })
  harnesses.push(h)
  return h
}

/** An initialized client plus every frame it received, as raw text (to see an id's exact digits). */
async function rawClient(h: Harness): Promise<{ client: TestClient; raw: () => string }> {
  let raw = ''
  if (h.transport === 'stdio') {
    h.proc.child.stdout.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')))
    return { client: await h.connect('defects'), raw: () => raw }
  }
  const { client, ws } = await connectWebSocket(h.proc.url as string)
  closers.push(() => ws.close())
  ws.on('message', (data) => (raw += `${String(data)}\n`))
  await client.initialize('defects')
  return { client, raw: () => raw }
}

/** A frame sent as written, and the reply to `id` (matched on the parsed, possibly rounded, id). */
async function sendRawRequest(
  client: TestClient,
  frame: string,
  id: number | string,
): Promise<ServerMessage> {
  client.sendRaw(frame)
  return client.waitForResponse(id)
}

// 400,000 characters with quotes, backslashes, a tab and non-ASCII text, so escaping is exercised.
const LONG_VALUE = `${'Be brief. "Quote" C:\\path\ttab é 😀 '.repeat(11_429)}end`.slice(0, 400_000)

describe.each(['stdio', 'ws'] as const)('defects over %s', (transport) => {
  it('writes a 400,000-character config value and reads it back unchanged', async () => {
    const h = await start(transport)
    const client = await h.connect()
    const written = await client.request('config/value/write', {
      keyPath: 'developer_instructions',
      value: LONG_VALUE,
      mergeStrategy: 'replace',
    })
    expectCodexShape('ConfigWriteResponse', written)
    expect(written.status).toBe('ok')
    const read = await client.request('config/read', {})
    expectCodexShape('ConfigReadResponse', read)
    expect(read.config.developer_instructions).toBe(LONG_VALUE)
    // A second write to the same file still edits it in place.
    await client.request('config/value/write', {
      keyPath: 'model_reasoning_effort',
      value: 'high',
      mergeStrategy: 'replace',
    })
    const again = await client.request('config/read', {})
    expect(again.config.developer_instructions).toBe(LONG_VALUE)
    expect(again.config.model_reasoning_effort).toBe('high')
  })

  it('points at the line and column of a mistake that follows a 400,000-character value', async () => {
    const h = await start(
      transport,
      `developer_instructions = "${'x'.repeat(400_000)}"\napproval_policy = "sometimes"`,
    )
    const client = await h.connect()
    const warning = (await client.waitForNotification('configWarning')).params as Record<string, unknown>
    expectCodexShape('ServerNotification', { method: 'configWarning', params: warning })
    // modelConfig puts the extra lines after `model` and `model_provider`: the mistake is on line 4.
    expect(warning.range).toEqual({ start: { line: 4, column: 19 }, end: { line: 4, column: 29 } })
    expect(String(warning.details).split('\n')[0]).toBe(
      `${join(h.proc.home, 'config.toml')}:4:19: unknown variant \`sometimes\`, expected one of \`untrusted\`, \`on-failure\`, \`on-request\`, \`never\` in \`approval_policy\``,
    )
  })

  it('answers integer ids beyond 2^53 with the exact digits the client sent', async () => {
    const h = await start(transport)
    const { client, raw } = await rawClient(h)
    const ok = await sendRawRequest(
      client,
      '{"id":9007199254740993,"method":"config/read","params":{"x":{"id":1}}}',
      // The test client reads ids as JavaScript numbers too: this is 2^53, what the digits round to.
      2 ** 53,
    )
    expect(ok.result).toBeDefined()
    expect(raw()).toContain('{"id":9007199254740993,"result":')
    const failed = await sendRawRequest(client, '{"id":-9223372036854775808,"method":"no/such"}', -(2 ** 63))
    expect(failed.error?.code).toBe(-32600)
    expect(raw()).toContain('{"id":-9223372036854775808,"error":')
    // Ordinary ids are untouched.
    await client.request('config/read', {})
    expect(raw()).not.toContain('9007199254740992')
  })

  it('refuses a thread with a model provider that is not defined, as codex does', async () => {
    const h = await start(transport)
    const client = await h.connect()
    const unknown = await client.call('thread/start', { modelProvider: 'nope' })
    expect(unknown.error).toEqual({
      code: -32600,
      message: 'failed to load configuration: Model provider `nope` not found',
    })
    const viaConfig = await client.call('thread/start', { config: { model_provider: 'nope2' } })
    expect(viaConfig.error?.message).toBe('failed to load configuration: Model provider `nope2` not found')
    // A built-in provider, or one the request itself defines, is fine.
    const builtin = await client.request('thread/start', { modelProvider: 'ollama' })
    expectCodexShape('ThreadStartResponse', builtin)
    expect(builtin.modelProvider).toBe('ollama')
    const defined = await client.request('thread/start', {
      modelProvider: 'mine',
      config: { 'model_providers.mine': { name: 'Mine', base_url: 'http://127.0.0.1:9/v1' } },
    } as never)
    expect(defined.modelProvider).toBe('mine')
    const personality = await client.call('thread/start', { personality: 'x' })
    expect(personality.error?.code).toBe(-32600)
    expect(personality.error?.message).toMatch(
      /^Invalid request: unknown variant `x`.*, expected one of `none`, `friendly`, `pragmatic`$/,
    )
  })

  it('answers a message nested 100,000 levels deep with -32600 and keeps serving', async () => {
    const h = await start(transport)
    const client = await h.connect()
    const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`
    for (const [id, frame] of [
      [7, `{"id":7,"method":"thread/start","params":{"config":${deep}}}`],
      [
        8,
        `{"id":8,"method":"config/value/write","params":{"keyPath":"x","value":${deep},"mergeStrategy":"replace"}}`,
      ],
    ] as const) {
      const reply = await sendRawRequest(client, frame, id)
      expect(reply.error?.code).toBe(-32600)
      expect(reply.error?.message).toBe(
        `Invalid request: the message nests deeper than 127 levels (recursion limit exceeded at line 1 column ${frame.indexOf('{"a":') + 5 * 125 + 1})`,
      )
    }
    // codex's limit exactly: 127 levels are read, 128 are not.
    const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`
    const fits = await sendRawRequest(
      client,
      `{"id":9,"method":"config/read","params":{"x":${nested(125)}}}`,
      9,
    )
    expect(fits.result).toBeDefined()
    const overFrame = `{"id":10,"method":"config/read","params":{"x":${nested(126)}}}`
    const over = await sendRawRequest(client, overFrame, 10)
    // The column of the bracket that opens level 128, as serde_json reports it.
    expect(over.error?.message).toMatch(
      new RegExp(`recursion limit exceeded at line 1 column ${overFrame.indexOf('[') + 126}\\)$`),
    )
    const read = await client.request('config/read', {})
    expectCodexShape('ConfigReadResponse', read)
    expect(client.violations).toEqual([])
  })
})
