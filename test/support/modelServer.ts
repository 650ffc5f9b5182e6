/**
 * The scripted Responses API server: the only fake in the test suite, and the model the benchmarks
 * talk to. A real node:http server on 127.0.0.1 that serves `POST /v1/responses` with SSE shaped like
 * OpenAI's (event names, `sequence_number`, `resp_`/`msg_`/`rs_`/`fc_` ids, a final `response.completed`
 * with usage). Each request consumes the next enqueued script; an empty queue answers with text 'ok'.
 * With the `models` option it also answers `GET /v1/models`, as Ollama or an OpenAI proxy would.
 *
 *   const model = await startModelServer()
 *   model.enqueue([reasoning('thinking'), text('Hello world'), usage({ input: 12, output: 3 })])
 *   model.enqueue(httpError(429, undefined, { 'retry-after': '1' }))
 *
 * It must never keep the test process alive: `close()` ends every stream, stall and socket, and every
 * wait it offers has a timeout. Events are generated lazily and written in batches (no timer per
 * delta), so a benchmark can stream 100k deltas.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  /** 0-based position among all requests this server received. */
  index: number
  method: string
  /** Without the query string, e.g. `/v1/responses`. */
  path: string
  query: Record<string, string>
  /** Lower-cased names, as node:http gives them. */
  headers: IncomingHttpHeaders
  /** The parsed JSON body (the raw text when it is not JSON, undefined when empty). */
  body: unknown
  /** `performance.now()` when the request arrived, for timing assertions. */
  receivedAt: number
  /** True once the client closed the connection before the scripted response finished. */
  disconnectedByClient: boolean
}

export interface UsageSpec {
  input: number
  output: number
  cached?: number
  reasoning?: number
  total?: number
}

export type Step =
  | { kind: 'text'; text: string; chunks: string[] }
  | { kind: 'reasoning'; summary: string[][]; encryptedContent?: string }
  | { kind: 'functionCall'; name: string; arguments: string; callId: string; chunks: string[] }
  | { kind: 'usage'; usage: UsageSpec }
  | { kind: 'httpError'; status: number; body: unknown; headers: Record<string, string> }
  | { kind: 'failed'; code: string; message: string }
  | { kind: 'sseError'; code: string | null; message: string }
  | { kind: 'event'; type: string; data: Record<string, unknown> }
  | { kind: 'disconnectAfter'; events: number }
  | { kind: 'endEarly' }
  | { kind: 'stall' }
  | { kind: 'delay'; ms: number }

/** One response: a step, a list of steps, or a function of the request that returns them. */
export type Script = Step | Step[] | ((request: RecordedRequest) => Step | Step[])

export interface ChunkOptions {
  /** A number of roughly equal deltas, or the deltas themselves (they must join to the text). */
  chunks?: number | string[]
}

function splitText(content: string, chunks: number | string[] | undefined): string[] {
  if (Array.isArray(chunks)) {
    if (chunks.join('') !== content) throw new Error('chunks must join to the scripted text')
    return chunks
  }
  if (chunks === undefined) return content.match(/\s*\S+\s*$|\s*\S+/g) ?? (content ? [content] : [])
  const count = Math.max(1, Math.min(Math.floor(chunks), content.length))
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    out.push(
      content.slice(Math.floor((i * content.length) / count), Math.floor(((i + 1) * content.length) / count)),
    )
  }
  return content ? out : []
}

/** An assistant message; by default one delta per word. */
export function text(content: string, options: ChunkOptions = {}): Step {
  return { kind: 'text', text: content, chunks: splitText(content, options.chunks) }
}

/** A reasoning item with one summary part per string. */
export function reasoning(
  summary: string | string[],
  options: ChunkOptions & { encryptedContent?: string } = {},
): Step {
  const parts = (Array.isArray(summary) ? summary : [summary]).map((s) => splitText(s, options.chunks))
  return { kind: 'reasoning', summary: parts, encryptedContent: options.encryptedContent }
}

/** A function call; `arguments` may be an object (it is JSON-encoded) or the raw string. */
export function functionCall(call: {
  name: string
  arguments: string | Record<string, unknown>
  callId?: string
  chunks?: number | string[]
}): Step {
  const args = typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments)
  return {
    kind: 'functionCall',
    name: call.name,
    arguments: args,
    callId: call.callId ?? `call_${Math.random().toString(36).slice(2, 10)}`,
    chunks: splitText(args, call.chunks ?? 1),
  }
}

/** What the model was given as the output of one function call (`function_call_output`), if anything yet. */
export function functionOutput(requests: readonly RecordedRequest[], callId: string): unknown {
  for (const request of requests) {
    const input = (request.body as { input?: { type: string; call_id?: string; output?: unknown }[] }).input
    const found = input?.find((item) => item.type === 'function_call_output' && item.call_id === callId)
    if (found) return found.output
  }
  return undefined
}

/** The usage reported in `response.completed` (default: input 10, output 5). */
export function usage(spec: UsageSpec): Step {
  return { kind: 'usage', usage: spec }
}

/** An HTTP error instead of a stream. A string body is sent as text, anything else as JSON. */
export function httpError(status: number, body?: unknown, headers: Record<string, string> = {}): Step {
  const fallback = {
    error: { message: `scripted status ${status}`, type: 'scripted_error', param: null, code: null },
  }
  return { kind: 'httpError', status, body: body ?? fallback, headers }
}

export function unauthorized(message = 'Incorrect API key provided.'): Step {
  return httpError(401, {
    error: { message, type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
  })
}

/** Ends the stream with `response.failed` carrying `{code, message}`. */
export function failed(error: { code: string; message?: string }): Step {
  return { kind: 'failed', code: error.code, message: error.message ?? `scripted failure: ${error.code}` }
}

/** Ends the stream with an `error` event. */
export function sseError(error: { code?: string | null; message: string }): Step {
  return { kind: 'sseError', code: error.code ?? null, message: error.message }
}

/** Any other SSE event, e.g. `response.function_call_arguments.delta` oddities or unknown types. */
export function event(type: string, data: Record<string, unknown> = {}): Step {
  return { kind: 'event', type, data }
}

/** Drops the connection after `events` SSE events (counting `response.created`). */
export function disconnectAfter(events: number): Step {
  return { kind: 'disconnectAfter', events }
}

/** Ends the HTTP response cleanly at this point, without `response.completed`. */
export function endEarly(): Step {
  return { kind: 'endEarly' }
}

/** Holds the stream open here until `release()`, the client disconnects, or `close()`. */
export function stall(): Step {
  return { kind: 'stall' }
}

/** Waits `ms` between each of the following events. */
export function delayMs(ms: number): Step {
  return { kind: 'delay', ms }
}

export const DEFAULT_USAGE: UsageSpec = { input: 10, output: 5 }

export interface ModelServerOptions {
  /** What a request gets when the queue is empty. Default: text 'ok'. */
  defaultScript?: Script
  /**
   * Model ids `GET /v1/models` answers, OpenAI-style (`{object: 'list', data: [{id, ...}]}`).
   * Without it that route is a 404, like every other unscripted route.
   */
  models?: readonly string[]
}

export interface ModelServer {
  /** `http://127.0.0.1:PORT/v1`, a provider base URL. */
  readonly url: string
  readonly port: number
  /** Every request received, in order. */
  readonly requests: RecordedRequest[]
  /** Scripts are consumed one per `POST /v1/responses`, in order. */
  enqueue(...scripts: Script[]): void
  /** Scripts not yet consumed. */
  pending(): number
  waitForRequests(count: number, timeoutMs?: number): Promise<RecordedRequest[]>
  /** Resolves once the request's connection was closed by the client mid-response. */
  waitForDisconnect(index: number, timeoutMs?: number): Promise<RecordedRequest>
  /** Resolves once `count` stall points have been reached in total. */
  waitForStall(count?: number, timeoutMs?: number): Promise<void>
  /** Releases the streams currently stalled. */
  release(): void
  /** Ends every open stream and socket and stops listening. */
  close(): Promise<void>
}

type Control = { stall: true } | { delay: number } | { disconnect: true }
type Emission = string | Control

interface Context {
  request: RecordedRequest
  responseId: string
  createdAt: number
  seq: number
}

const frame = (ctx: Context, type: string, data: Record<string, unknown>) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data, sequence_number: ctx.seq++ })}\n\n`

function usageObject(spec: UsageSpec) {
  return {
    input_tokens: spec.input,
    input_tokens_details: { cached_tokens: spec.cached ?? 0 },
    output_tokens: spec.output,
    output_tokens_details: { reasoning_tokens: spec.reasoning ?? 0 },
    total_tokens: spec.total ?? spec.input + spec.output,
  }
}

function responseObject(
  ctx: Context,
  status: string,
  output: unknown[],
  extra: Record<string, unknown> = {},
) {
  const body = (ctx.request.body ?? {}) as Record<string, unknown>
  return {
    id: ctx.responseId,
    object: 'response',
    created_at: ctx.createdAt,
    status,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    model: body.model ?? 'scripted-model',
    output,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    reasoning: body.reasoning ?? null,
    store: body.store ?? false,
    tool_choice: body.tool_choice ?? 'auto',
    tools: body.tools ?? [],
    usage: null,
    ...extra,
  }
}

/** The SSE for one script, generated lazily; control markers pace the writer. */
function* emissions(ctx: Context, steps: Step[]): Generator<Emission> {
  const usageStep = steps.find((s): s is Extract<Step, { kind: 'usage' }> => s.kind === 'usage')
  const output: unknown[] = []
  const respNo = ctx.responseId.slice('resp_'.length)
  yield frame(ctx, 'response.created', { response: responseObject(ctx, 'in_progress', []) })
  yield frame(ctx, 'response.in_progress', { response: responseObject(ctx, 'in_progress', []) })
  for (const step of steps) {
    const outputIndex = output.length
    switch (step.kind) {
      case 'text': {
        const id = `msg_${respNo}_${outputIndex}`
        const base = { item_id: id, output_index: outputIndex, content_index: 0 }
        const item = {
          id,
          type: 'message',
          status: 'in_progress',
          role: 'assistant',
          content: [] as unknown[],
        }
        yield frame(ctx, 'response.output_item.added', { output_index: outputIndex, item })
        const emptyPart = { type: 'output_text', annotations: [], logprobs: [], text: '' }
        yield frame(ctx, 'response.content_part.added', { ...base, part: emptyPart })
        for (const delta of step.chunks)
          yield frame(ctx, 'response.output_text.delta', { ...base, delta, logprobs: [] })
        yield frame(ctx, 'response.output_text.done', { ...base, text: step.text, logprobs: [] })
        const part = { ...emptyPart, text: step.text }
        yield frame(ctx, 'response.content_part.done', { ...base, part })
        const done = { ...item, status: 'completed', content: [part] }
        output.push(done)
        yield frame(ctx, 'response.output_item.done', { output_index: outputIndex, item: done })
        break
      }
      case 'reasoning': {
        const id = `rs_${respNo}_${outputIndex}`
        yield frame(ctx, 'response.output_item.added', {
          output_index: outputIndex,
          item: { id, type: 'reasoning', summary: [] },
        })
        const summary: { type: 'summary_text'; text: string }[] = []
        for (const [summaryIndex, chunks] of step.summary.entries()) {
          const base = { item_id: id, output_index: outputIndex, summary_index: summaryIndex }
          const full = chunks.join('')
          yield frame(ctx, 'response.reasoning_summary_part.added', {
            ...base,
            part: { type: 'summary_text', text: '' },
          })
          for (const delta of chunks)
            yield frame(ctx, 'response.reasoning_summary_text.delta', { ...base, delta })
          yield frame(ctx, 'response.reasoning_summary_text.done', { ...base, text: full })
          yield frame(ctx, 'response.reasoning_summary_part.done', {
            ...base,
            part: { type: 'summary_text', text: full },
          })
          summary.push({ type: 'summary_text', text: full })
        }
        const done = {
          id,
          type: 'reasoning',
          summary,
          ...(step.encryptedContent !== undefined ? { encrypted_content: step.encryptedContent } : {}),
        }
        output.push(done)
        yield frame(ctx, 'response.output_item.done', { output_index: outputIndex, item: done })
        break
      }
      case 'functionCall': {
        const id = `fc_${respNo}_${outputIndex}`
        const item = {
          id,
          type: 'function_call',
          status: 'in_progress',
          arguments: '',
          call_id: step.callId,
          name: step.name,
        }
        yield frame(ctx, 'response.output_item.added', { output_index: outputIndex, item })
        const base = { item_id: id, output_index: outputIndex }
        for (const delta of step.chunks)
          yield frame(ctx, 'response.function_call_arguments.delta', { ...base, delta })
        yield frame(ctx, 'response.function_call_arguments.done', {
          ...base,
          name: step.name,
          arguments: step.arguments,
        })
        const done = { ...item, status: 'completed', arguments: step.arguments }
        output.push(done)
        yield frame(ctx, 'response.output_item.done', { output_index: outputIndex, item: done })
        break
      }
      case 'event':
        yield frame(ctx, step.type, step.data)
        break
      case 'failed':
        yield frame(ctx, 'response.failed', {
          response: responseObject(ctx, 'failed', output, {
            error: { code: step.code, message: step.message },
          }),
        })
        return
      case 'sseError':
        yield frame(ctx, 'error', { code: step.code, message: step.message, param: null })
        return
      case 'endEarly':
        return
      case 'stall':
        yield { stall: true }
        break
      case 'delay':
        yield { delay: step.ms }
        break
      case 'usage':
      case 'disconnectAfter':
      case 'httpError':
        break
    }
  }
  const usageValue = usageObject(usageStep?.usage ?? DEFAULT_USAGE)
  yield frame(ctx, 'response.completed', {
    response: responseObject(ctx, 'completed', output, { usage: usageValue }),
  })
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string, cancel: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cancel()
      reject(new Error(`model server: timed out after ${ms} ms waiting for ${what}`))
    }, ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const WRITE_BATCH_BYTES = 64 * 1024

export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  const queue: Script[] = []
  const requests: RecordedRequest[] = []
  const waiters = new Set<() => void>()
  const stalled = new Set<() => void>()
  let stallsReached = 0
  let responseCount = 0
  let closing = false
  const notify = () => waiters.forEach((check) => check())
  const defaultScript = options.defaultScript ?? text('ok')

  const waitFor = <T>(what: string, timeoutMs: number, ready: () => T | undefined): Promise<T> => {
    const now = ready()
    if (now !== undefined) return Promise.resolve(now)
    let check = () => {}
    const promise = new Promise<T>((resolve) => {
      check = () => {
        const value = ready()
        if (value === undefined) return
        waiters.delete(check)
        resolve(value)
      }
      waiters.add(check)
    })
    return withTimeout(promise, timeoutMs, what, () => waiters.delete(check))
  }

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    if (!raw) return undefined
    try {
      return JSON.parse(raw)
    } catch {
      return raw
    }
  }

  async function stream(res: ServerResponse, record: RecordedRequest, steps: Step[]): Promise<void> {
    const closed = new Promise<void>((resolve) => res.once('close', resolve))
    const isOpen = () => !res.destroyed && !res.writableEnded && !closing
    const sleep = (ms: number) =>
      Promise.race([new Promise<void>((resolve) => setTimeout(resolve, ms).unref()), closed])
    const disconnectAt = steps.find((s) => s.kind === 'disconnectAfter')?.events
    responseCount += 1
    const ctx: Context = {
      request: record,
      responseId: `resp_${String(responseCount).padStart(4, '0')}`,
      createdAt: Math.floor(Date.now() / 1000),
      seq: 0,
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-request-id': `req_${record.index}`,
    })
    res.flushHeaders()
    let buffer = ''
    let sent = 0
    let delay = 0
    // Batching keeps 100k deltas to a few hundred writes; waiting for 'drain' keeps memory flat.
    const flush = async () => {
      if (!buffer || !isOpen()) return
      const ok = res.write(buffer)
      buffer = ''
      if (!ok) await Promise.race([new Promise((resolve) => res.once('drain', resolve)), closed])
    }
    for (const item of emissions(ctx, steps)) {
      if (!isOpen()) return
      if (typeof item === 'string') {
        buffer += item
        sent += 1
        if (disconnectAt !== undefined && sent >= disconnectAt) {
          const socket = res.socket
          // Destroy only after the events reached the kernel, so the client sees them and then the drop.
          res.write(buffer, () => socket?.destroy())
          return
        }
        if (delay > 0) {
          await flush()
          await sleep(delay)
        } else if (buffer.length >= WRITE_BATCH_BYTES) {
          await flush()
        }
      } else if ('stall' in item) {
        await flush()
        stallsReached += 1
        notify()
        let release = () => {}
        const released = new Promise<void>((resolve) => (release = resolve))
        stalled.add(release)
        await Promise.race([released, closed])
        stalled.delete(release)
      } else if ('delay' in item) {
        delay = item.delay
      }
    }
    await flush()
    if (isOpen()) res.end()
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const record: RecordedRequest = {
      index: requests.length,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: undefined,
      receivedAt: performance.now(),
      disconnectedByClient: false,
    }
    requests.push(record)
    res.once('close', () => {
      if (!res.writableFinished) {
        record.disconnectedByClient = !closing
        notify()
      }
    })
    record.body = await readBody(req)
    notify()
    if (options.models && record.method === 'GET' && record.path.endsWith('/models')) {
      const data = options.models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'scripted' }))
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data }))
      return
    }
    if (record.method !== 'POST' || !record.path.endsWith('/responses')) {
      const body = { error: { message: `no route for ${record.method} ${record.path}`, type: 'not_found' } }
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify(body))
      return
    }
    const script = queue.shift() ?? defaultScript
    const resolved = typeof script === 'function' ? script(record) : script
    const steps = Array.isArray(resolved) ? resolved : [resolved]
    const error = steps.find((s): s is Extract<Step, { kind: 'httpError' }> => s.kind === 'httpError')
    if (error) {
      const isText = typeof error.body === 'string'
      res.writeHead(error.status, {
        'content-type': isText ? 'text/plain; charset=utf-8' : 'application/json',
        'x-request-id': `req_${record.index}`,
        ...error.headers,
      })
      res.end(isText ? (error.body as string) : JSON.stringify(error.body))
      return
    }
    await stream(res, record, steps)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(`model server error: ${String(error)}`)
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    enqueue: (...scripts) => void queue.push(...scripts),
    pending: () => queue.length,
    waitForRequests: (count, timeoutMs = 60_000) =>
      waitFor(`${count} model request(s) (got ${requests.length})`, timeoutMs, () =>
        requests.length >= count ? requests.slice(0, count) : undefined,
      ),
    waitForDisconnect: (index, timeoutMs = 60_000) =>
      waitFor(`the client to disconnect request ${index}`, timeoutMs, () =>
        requests[index]?.disconnectedByClient ? requests[index] : undefined,
      ),
    waitForStall: (count = 1, timeoutMs = 60_000) =>
      waitFor(`${count} stalled stream(s) (got ${stallsReached})`, timeoutMs, () =>
        stallsReached >= count ? true : undefined,
      ).then(() => undefined),
    release: () => {
      for (const release of [...stalled]) release()
    },
    close: async () => {
      closing = true
      for (const release of [...stalled]) release()
      const done = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      await done
    },
  }
}
