import { describe, expect, it } from 'vitest'
import {
  jsonEvents,
  SseDecoder,
  SseErrorPayload,
  sseEvents,
  type SseEvent,
} from '../../src/worker/agent/sseDecoder'

const utf8 = (text: string) => Buffer.from(text, 'utf8')

function decodeChunks(chunks: Buffer[]): { events: SseEvent[]; decoder: SseDecoder } {
  const decoder = new SseDecoder()
  const events = chunks.flatMap((chunk) => decoder.push(chunk))
  decoder.end()
  return { events, decoder }
}

function bodyOf(chunks: Buffer[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(new Uint8Array(chunk))
      controller.close()
    },
  })
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const value of iterable) out.push(value)
  return out
}

// Comments, a BOM, both line ends, a split multi-byte character, multi-line data, id and retry.
const SAMPLE =
  '\uFEFF: keep-alive\n' +
  'event: response.created\ndata: {"a":1}\n\n' +
  'event: delta\r\ndata: héllo 😀 ok\r\n\r\n' +
  'data: line one\ndata:line two\nid: 7\nretry: 1500\n\n' +
  'event:empty\n\n' +
  'data\n\n' +
  'event: last\rdata: crlf mix\r\r' +
  'data: never finished'
const EXPECTED: SseEvent[] = [
  { event: 'response.created', data: '{"a":1}', id: '' },
  { event: 'delta', data: 'héllo 😀 ok', id: '' },
  { event: 'message', data: 'line one\nline two', id: '7' },
  { event: 'message', data: '', id: '7' },
  { event: 'last', data: 'crlf mix', id: '7' },
]

describe('SSE decoder', () => {
  it('decodes comments, CR, LF and CRLF line ends, multi-line data, ids and retry as the SSE spec says', () => {
    const { events, decoder } = decodeChunks([utf8(SAMPLE)])
    expect(events).toEqual(EXPECTED)
    expect(decoder.retryMs).toBe(1500)
  })

  it('gives the same events wherever the stream is split into two chunks, even inside a character or a CRLF', () => {
    const bytes = utf8(SAMPLE)
    for (let at = 0; at <= bytes.length; at++) {
      const { events } = decodeChunks([bytes.subarray(0, at), bytes.subarray(at)])
      expect(events, `split at byte ${at}`).toEqual(EXPECTED)
    }
  })

  it('gives the same events when every byte arrives in its own chunk', () => {
    const bytes = utf8(SAMPLE)
    const chunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))
    expect(decodeChunks(chunks).events).toEqual(EXPECTED)
  })

  it('decodes a 20 MiB event arriving in 16 KiB chunks while scanning each byte at most twice', () => {
    const text = 'x'.repeat(20 * 1024 * 1024 - 3) + 'é😀'
    const payload = JSON.stringify({ type: 'response.output_text.done', text })
    const bytes = utf8(`event: response.output_text.done\ndata: ${payload}\n\n`)
    const chunks: Buffer[] = []
    // An odd chunk size, so chunk ends fall inside the multi-byte characters at some point.
    for (let i = 0; i < bytes.length; i += 16_381) chunks.push(bytes.subarray(i, i + 16_381))
    const { events, decoder } = decodeChunks(chunks)
    expect(events).toHaveLength(1)
    expect((JSON.parse(events[0]!.data) as { text: string }).text).toBe(text)
    // A decoder that rescans the unfinished event per chunk would scan ~1,300 times the input here.
    expect(decoder.stats.scannedBytes).toBeLessThanOrEqual(2 * bytes.length)
    expect(decoder.stats.copiedBytes).toBeLessThanOrEqual(bytes.length)
  })
})

describe('SSE body reader', () => {
  it('reads the events of a body stream and stops at the end', async () => {
    const bytes = utf8(SAMPLE)
    const chunks = [bytes.subarray(0, 10), bytes.subarray(10, 41), bytes.subarray(41)]
    const events = await collect(sseEvents(bodyOf(chunks), new AbortController().signal))
    expect(events).toEqual(EXPECTED)
  })

  it('lets timers and other I/O run while it works through a burst of buffered events', async () => {
    const event = `event: delta\ndata: ${JSON.stringify({ delta: 'y'.repeat(1024) })}\n\n`
    const chunk = utf8(event.repeat(64))
    const chunks = Array.from({ length: 200 }, () => chunk) // 12,800 events, ~13 MiB, all buffered
    let turns = 0
    const counter = setInterval(() => turns++, 0)
    let count = 0
    try {
      for await (const sse of sseEvents(bodyOf(chunks), new AbortController().signal)) {
        if (sse.event === 'delta') count++
      }
    } finally {
      clearInterval(counter)
    }
    expect(count).toBe(12_800)
    // Without yielding, the interval could not fire once before the loop ends.
    expect(turns).toBeGreaterThan(5)
  })

  it('ends quietly when its signal aborts, and cancels the body', async () => {
    const controller = new AbortController()
    let cancelled = false
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new Uint8Array(utf8('data: one\n\n')))
      },
      cancel() {
        cancelled = true
      },
    })
    const seen: string[] = []
    const reading = (async () => {
      for await (const sse of sseEvents(body, controller.signal)) {
        seen.push(sse.data)
        controller.abort()
      }
    })()
    await reading
    expect(seen).toEqual(['one'])
    expect(cancelled).toBe(true)
  })
})

describe('JSON events', () => {
  async function* from(...data: string[]): AsyncGenerator<SseEvent> {
    for (const d of data) yield { event: 'message', data: d, id: '' }
  }

  it('parses each event, and ignores everything after [DONE]', async () => {
    expect(await collect(jsonEvents(from('{"a":1}', '[DONE]', '{"b":2}')))).toEqual([{ a: 1 }])
  })

  it('throws the error carried in an event, with its code and message', async () => {
    const failing = collect(jsonEvents(from('{"error":{"code":"server_error","message":"boom"}}')))
    await expect(failing).rejects.toBeInstanceOf(SseErrorPayload)
    await expect(failing).rejects.toMatchObject({ code: 'server_error', message: 'boom' })
  })

  it('passes over events named in the skip list without parsing them', async () => {
    async function* named(): AsyncGenerator<SseEvent> {
      yield { event: 'response.output_text.done', data: '{"not json', id: '' }
      yield { event: 'response.completed', data: '{"c":3}', id: '' }
    }
    const skip = new Set(['response.output_text.done'])
    expect(await collect(jsonEvents(named(), skip))).toEqual([{ c: 3 }])
  })

  it('throws on data that is not JSON', async () => {
    await expect(collect(jsonEvents(from('{"a":')))).rejects.toBeInstanceOf(SyntaxError)
  })
})
