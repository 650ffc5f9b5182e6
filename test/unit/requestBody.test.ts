import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deferInput, PIECE_BYTES, withStreamedInput } from '../../src/worker/agent/requestBody'

/** A server that records each request's headers and exact body bytes. */
let server: ReturnType<typeof createServer>
let url = ''
const received: { headers: IncomingHttpHeaders; body: Buffer }[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) })
      res.end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/responses`
})

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

/** What the SDK does with a body: JSON.stringify, then fetch with that string. */
async function send(body: Record<string, unknown>): Promise<{ headers: IncomingHttpHeaders; body: string }> {
  const deferred = deferInput(body)
  const init: RequestInit = {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(deferred.body),
  }
  const response = await fetch(url, deferred.input ? withStreamedInput(init, deferred.input) : init)
  await response.text()
  const last = received.at(-1) as { headers: IncomingHttpHeaders; body: Buffer }
  return { headers: last.headers, body: last.body.toString('utf8') }
}

const conversation = (turns: number) =>
  Array.from({ length: turns }, (_, i) => [
    {
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: `question ${i} "quoted" \\ é 🙂` }],
    },
    {
      type: 'message',
      role: 'assistant',
      content: [{ type: 'output_text', text: `answer ${i} `.repeat(600), annotations: [] }],
    },
  ]).flat()

describe('a model request body sent in pieces', () => {
  it('sends exactly the bytes JSON.stringify gives for the whole body, with their length', async () => {
    const body = {
      model: 'test-model',
      input: conversation(60),
      tools: [{ type: 'function', name: 'shell', parameters: { type: 'object' } }],
      store: false,
      stream: true,
    }
    const expected = JSON.stringify(body)
    expect(Buffer.byteLength(expected)).toBeGreaterThan(4 * PIECE_BYTES)
    const sent = await send(body)
    expect(sent.body).toBe(expected)
    expect(sent.headers['content-length']).toBe(String(Buffer.byteLength(expected)))
    expect(sent.headers['transfer-encoding']).toBeUndefined()
  })

  it('keeps an empty input, an item larger than a piece and values JSON turns into null', async () => {
    for (const input of [
      [],
      [{ type: 'message', text: 'x'.repeat(3 * PIECE_BYTES) }],
      [undefined, 1, 'two'],
    ]) {
      const body = { model: 'm', input, stream: true }
      expect((await send(body)).body).toBe(JSON.stringify(body))
    }
  })

  it('leaves a body without an input array as it is', () => {
    const body = { model: 'm', prompt: 'hi' }
    expect(deferInput(body)).toEqual({ body, input: null })
    const init = { method: 'POST', body: JSON.stringify(body) }
    expect(withStreamedInput(init, [])).toBe(init)
  })
})
