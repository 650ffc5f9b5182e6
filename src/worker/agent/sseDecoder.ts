/**
 * A linear server-sent-events decoder for model response bodies. Each arriving chunk is searched
 * for line ends once (from where the last search stopped, never from the start of an unfinished
 * line), a line's pieces are joined and decoded as UTF-8 once, and fields follow the SSE spec:
 * `event`, `data` (several lines joined with "\n"), `id`, `retry`, `:` comments, CR / LF / CRLF line
 * ends and a leading BOM. `sseEvents` reads a body stream through it and gives the event loop a turn
 * every ~1 MiB of input or every few hundred events, so a 20 MiB closing event or a burst of
 * buffered deltas cannot starve other connections.
 *
 * It must never rescan or re-copy bytes it has already passed (a 20 MiB event must cost O(20 MiB)),
 * never decode a partial multi-byte character, and never keep reading once its consumer stops.
 */

export interface SseEvent {
  /** The `event:` field, or 'message' when the event named none. */
  event: string
  data: string
  /** The last event id seen on the stream so far (SSE keeps it across events). */
  id: string
}

/** What the decoder did, for tests that check it stays linear. */
export interface SseDecoderStats {
  /** Bytes examined by line-end searches; at most twice the input (one search for CR, one for LF). */
  scannedBytes: number
  /** Bytes copied to join a line that spanned chunks. */
  copiedBytes: number
}

const LF = 0x0a
const CR = 0x0d
const BOM = '\uFEFF'

export class SseDecoder {
  readonly stats: SseDecoderStats = { scannedBytes: 0, copiedBytes: 0 }
  /** The pieces of the line not yet ended, in arrival order. */
  private pending: Buffer[] = []
  /** A CR ended the last line; an LF that follows it (maybe in the next chunk) belongs to it. */
  private afterCr = false
  private atStart = true
  private eventType = ''
  private data: string[] = []
  private lastId = ''
  /** The `retry:` field's last value, in ms; kept for completeness, reconnect policy is the caller's. */
  retryMs: number | undefined

  /** Feeds one chunk; returns the events it completed. */
  push(chunk: Uint8Array): SseEvent[] {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    const events: SseEvent[] = []
    let pos = 0
    if (this.afterCr && buf.length > 0) {
      this.afterCr = false
      if (buf[0] === LF) pos = 1
    }
    // Next CR / LF at or after `pos`; -1 when none is left in this chunk. Each is searched for
    // again only once `pos` has passed it, so every byte is scanned at most once per terminator.
    let nextCr = -2
    let nextLf = -2
    while (pos < buf.length) {
      if (nextCr !== -1 && nextCr < pos) nextCr = this.search(buf, CR, pos)
      if (nextLf !== -1 && nextLf < pos) nextLf = this.search(buf, LF, pos)
      const end = nextCr === -1 ? nextLf : nextLf === -1 ? nextCr : Math.min(nextCr, nextLf)
      if (end === -1) {
        this.pending.push(buf.subarray(pos))
        break
      }
      this.line(this.take(buf.subarray(pos, end)), events)
      pos = end + 1
      if (buf[end] === CR) {
        if (pos === buf.length) this.afterCr = true
        else if (buf[pos] === LF) pos++
      }
    }
    return events
  }

  /** The stream ended: an event without its closing blank line is dropped, as the spec says. */
  end(): void {
    this.pending = []
    this.data = []
    this.eventType = ''
  }

  private search(buf: Buffer, byte: number, from: number): number {
    const found = buf.indexOf(byte, from)
    this.stats.scannedBytes += (found === -1 ? buf.length : found + 1) - from
    return found
  }

  /** The line's text: its pieces joined once, then decoded once, so split characters survive. */
  private take(tail: Buffer): string {
    if (this.pending.length === 0) return tail.toString('utf8')
    this.pending.push(tail)
    const whole = Buffer.concat(this.pending)
    this.stats.copiedBytes += whole.length
    this.pending = []
    return whole.toString('utf8')
  }

  private line(text: string, events: SseEvent[]): void {
    if (this.atStart) {
      this.atStart = false
      if (text.startsWith(BOM)) text = text.slice(1)
    }
    if (text === '') {
      if (this.data.length > 0) {
        const data = this.data.length === 1 ? (this.data[0] as string) : this.data.join('\n')
        events.push({ event: this.eventType || 'message', data, id: this.lastId })
      }
      this.data = []
      this.eventType = ''
      return
    }
    if (text.charCodeAt(0) === 0x3a) return // ':' starts a comment
    const colon = text.indexOf(':')
    const field = colon === -1 ? text : text.slice(0, colon)
    let value = colon === -1 ? '' : text.slice(colon + 1)
    if (value.charCodeAt(0) === 0x20) value = value.slice(1)
    switch (field) {
      case 'event':
        this.eventType = value
        break
      case 'data':
        this.data.push(value)
        break
      case 'id':
        if (!value.includes('\0')) this.lastId = value
        break
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value)
        break
      default: // unknown fields are ignored
    }
  }
}

export interface SseReadOptions {
  /** Give the event loop a turn after this many input bytes (default 1 MiB). */
  yieldEveryBytes?: number
  /** ... or after this many events (default 256). */
  yieldEveryEvents?: number
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * The events of a body stream. Ends quietly when `signal` aborts (the caller knows why it aborted);
 * other read errors propagate. Stopping the iteration cancels the body.
 */
export async function* sseEvents(
  body: ReadableStream<Uint8Array>,
  signal: AbortSignal,
  options: SseReadOptions = {},
): AsyncGenerator<SseEvent, void, undefined> {
  const yieldBytes = options.yieldEveryBytes ?? 1024 * 1024
  const yieldEvents = options.yieldEveryEvents ?? 256
  const decoder = new SseDecoder()
  const reader = body.getReader()
  let bytes = 0
  let count = 0
  let finished = false
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>
      try {
        chunk = await reader.read()
      } catch (error) {
        if (signal.aborted) return
        throw error
      }
      if (chunk.done) {
        finished = true
        decoder.end()
        return
      }
      bytes += chunk.value.byteLength
      for (const event of decoder.push(chunk.value)) {
        yield event
        if (signal.aborted) return
        if (++count >= yieldEvents) {
          count = 0
          bytes = 0
          await nextTurn()
        }
      }
      if (bytes >= yieldBytes) {
        count = 0
        bytes = 0
        await nextTurn()
      }
      if (signal.aborted) return
    }
  } finally {
    if (!finished) reader.cancel().catch(() => undefined)
    reader.releaseLock()
  }
}

/** An event whose JSON data carries an `error` member (some proxies send failures this way). */
export class SseErrorPayload extends Error {
  readonly code: string | undefined
  constructor(error: unknown) {
    const record = (typeof error === 'object' && error !== null ? error : {}) as Record<string, unknown>
    const message = record.message
    const text = message
      ? typeof message === 'string'
        ? message
        : JSON.stringify(message)
      : JSON.stringify(error)
    super(text || '(no status code or body)')
    this.name = 'SseErrorPayload'
    const code = record.code ?? record.type
    this.code = typeof code === 'string' ? code : undefined
  }
}

/**
 * Each event's data parsed as JSON, as the openai SDK reads a stream: nothing after `[DONE]`, an
 * unparsable event throws its SyntaxError, and data with an `error` member throws `SseErrorPayload`.
 * Events named in `skip` (by their `event:` field) are passed over unparsed: the closing events of a
 * long answer repeat its whole text, and parsing one the caller ignores costs as much as the answer.
 */
export async function* jsonEvents<T>(
  events: AsyncIterable<SseEvent>,
  skip: ReadonlySet<string> = new Set(),
): AsyncGenerator<T, void, undefined> {
  let done = false
  for await (const sse of events) {
    if (done || skip.has(sse.event)) continue // read to the end so the connection can be reused
    if (sse.data.startsWith('[DONE]')) {
      done = true
      continue
    }
    const data = JSON.parse(sse.data) as { error?: unknown } | null
    if (data && data.error) throw new SseErrorPayload(data.error)
    yield data as T
  }
}
