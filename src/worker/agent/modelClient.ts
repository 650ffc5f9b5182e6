/**
 * The model client: streams one Responses API call (`POST {baseUrl}/responses`, `stream: true`) and
 * hands the agent loop typed events. The official `openai` SDK sends the request; the body is read
 * by our linear SSE decoder (./sseDecoder: the SDK's parser rescans an unfinished event on every
 * chunk, quadratic in a 20 MiB closing event, and never lets other connections in). The retry policy is ours (the SDK runs with `maxRetries: 0`) so it is exact, observable through
 * `retrying` events, and the same as codex's: request retries with backoff and Retry-After, one
 * auth refresh on 401, stream reconnects on disconnect or idle.
 *
 * It must never log headers or the API key, never keep a connection or timer alive after the
 * iteration ends (completed, failed, aborted, or abandoned by the consumer), and never load the
 * SDK at import time: it costs ~45 ms against a 60 ms cold-start budget.
 */
import type * as OpenAISdk from 'openai'
import type {
  ResponseCreateParamsStreaming,
  ResponseOutputItem,
  ResponseStreamEvent,
} from 'openai/resources/responses/responses'
import type { Logger } from '../util/log'
import { backoffDelayMs as backoffWithJitter } from '../util/retry'
import {
  ModelAbortedError,
  ModelError,
  httpErrorInfo,
  responseFailedError,
  statusFailure,
  statusLine,
  streamFailure,
  type AttemptFailure,
  type RawFailure,
} from './modelErrors'
import { OutputItemKeys } from './outputItems'
import type { ResolvedProvider } from './providers'
import { deferInput, endsOnAbort, withCarriedItems, withStreamedInput } from './requestBody'
import { toModelEvent, UNUSED_EVENTS } from './responseEvents'
import { jsonEvents, SseErrorPayload, sseEvents } from './sseDecoder'

export type { ResponseOutputItem }
// Their home is ./modelErrors; the model client's tests import them from here.

export interface ModelRequest {
  model: string
  instructions?: string
  /** Responses API input items. */
  input: unknown[]
  tools?: unknown[]
  reasoning?: { effort?: string; summary?: string }
  /** Defaults to false: codex-desk keeps history itself. */
  store?: boolean
  parallelToolCalls?: boolean
  /** Merged last, so it can override anything above (e.g. `include`, `prompt_cache_key`). */
  extraBody?: Record<string, unknown>
}

export interface TokenUsage {
  inputTokens: number
  cachedInputTokens: number
  /** protocol.md §5 carries it in every breakdown; 0 when the server does not report it. */
  cacheWriteInputTokens: number
  outputTokens: number
  reasoningOutputTokens: number
  totalTokens: number
}

/**
 * What one model response streams. `outputIndex` is the item's key within one attempt: the server's
 * `output_index` when it sent one, otherwise a negative number of our own (see `OutputItemKeys`), so
 * every event of an item carries the same key whether or not the server numbered its items.
 */
export type ModelEvent =
  | { type: 'created'; responseId: string }
  | { type: 'outputItemAdded'; outputIndex: number; item: ResponseOutputItem }
  | { type: 'textDelta'; itemId: string; outputIndex: number; contentIndex: number; delta: string }
  | {
      type: 'reasoningSummaryDelta'
      itemId: string
      outputIndex: number
      summaryIndex: number
      delta: string
    }
  | {
      type: 'reasoningTextDelta'
      itemId: string
      outputIndex: number
      contentIndex: number
      delta: string
    }
  | { type: 'outputItemDone'; outputIndex: number; item: ResponseOutputItem }
  | { type: 'completed'; responseId: string; usage: TokenUsage | null }
  | {
      type: 'retrying'
      /** `request`: no stream was open. `stream`: discard the failed attempt's partial output. */
      phase: 'request' | 'stream'
      /** 1-based retry number within the phase's budget. */
      attempt: number
      /** The phase's budget: `requestMaxRetries` or `streamMaxRetries`. */
      maxAttempts: number
      delayMs: number
      reason: string
      error: ModelError
    }

export interface ModelAuth {
  /** Extra headers per attempt (e.g. Authorization from ChatGPT tokens); they win over the provider's. */
  headers?(): Promise<Record<string, string>>
  /** Called at most once per stream on a 401; resolve true to retry once with fresh headers. */
  onUnauthorized?(): Promise<boolean>
}

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>

export interface ModelClientOptions {
  log: Logger
  auth?: ModelAuth
  /** Injected by tests; must reject promptly when `signal` aborts. */
  sleep?: Sleep
  /** Jitter source, in [0, 1). */
  random?: () => number
}

const BACKOFF_BASE_MS = 200
const BACKOFF_CAP_MS = 20_000
// After response.completed the body normally ends at once; waiting briefly for that lets the
// connection go back to the keep-alive pool instead of being torn down.
const COMPLETION_DRAIN_MS = 100
// The SDK refuses to start without a key; keyless providers (ollama, lmstudio) get this placeholder
// and an explicit "no Authorization header".
const NO_KEY = 'codex-desk-no-api-key'

let sdkModule: Promise<typeof OpenAISdk> | undefined
const loadSdk = () => (sdkModule ??= import('openai'))

/** Backoff before model request retry `retry` (1-based): 200 ms x 2^(n-1), ±10% jitter, at most 20 s. */
export function backoffDelayMs(retry: number, random: () => number = Math.random): number {
  return backoffWithJitter(retry, { baseMs: BACKOFF_BASE_MS, capMs: BACKOFF_CAP_MS }, random)
}

export const defaultSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })

/** "fetch failed: connect ECONNREFUSED 127.0.0.1:9" from an error and its causes. */
function describeError(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; current && depth < 4; depth++) {
    const message = current instanceof Error ? current.message : String(current)
    if (message && !parts.includes(message)) parts.push(message)
    current = current instanceof Error ? current.cause : undefined
  }
  return parts.join(': ') || 'unknown error'
}

type Outcome = { kind: 'completed' } | AttemptFailure

const streamDisconnected = (reason: string, cause?: unknown) =>
  new ModelError(`stream disconnected before completion: ${reason}`, {
    codexErrorInfo: httpErrorInfo('responseStreamDisconnected', null),
    retryable: true,
    cause,
  })

// eslint-disable-next-line require-yield
async function* noBody(): AsyncGenerator<ResponseStreamEvent, void, undefined> {
  throw new Error('Attempted to iterate over a response with no body')
}

function aborted(signal: AbortSignal): ModelAbortedError {
  return new ModelAbortedError(signal.reason)
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(aborted(signal))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted(signal))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

export class ModelClient {
  private readonly log: Logger
  private readonly auth: ModelAuth | undefined
  private readonly sleep: Sleep
  private readonly random: () => number

  constructor(
    readonly provider: ResolvedProvider,
    options: ModelClientOptions,
  ) {
    this.log = options.log
    this.auth = options.auth
    this.sleep = options.sleep ?? defaultSleep
    this.random = options.random ?? Math.random
  }

  /**
   * One model response as events. Retries happen inside; a `retrying` event announces each one.
   * Ends after `completed`; throws a `ModelError` on failure and a `ModelAbortedError` on abort.
   */
  async *stream(request: ModelRequest, signal: AbortSignal): AsyncGenerator<ModelEvent, void, undefined> {
    if (signal.aborted) throw aborted(signal)
    const sdk = await raceAbort(loadSdk(), signal)
    const deferred = deferInput(this.body(request))
    const { body } = deferred
    let { input } = deferred
    // Output items a broken stream completed (the turn already has them): the retry carries them.
    const completedItems: ResponseOutputItem[] = []
    const { requestMaxRetries, streamMaxRetries } = this.provider
    let requestRetries = 0
    let streamRetries = 0
    let refreshed = false
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw aborted(signal)
      const outcome = yield* this.attempt(sdk, body, input, request.model, attempt, signal, completedItems)
      if (outcome.kind === 'completed') return
      if (outcome.kind === 'failed') throw outcome.error
      if (outcome.kind === 'unauthorized') {
        if (!refreshed && this.auth?.onUnauthorized) {
          refreshed = true
          let retry: boolean
          try {
            retry = await raceAbort(this.auth.onUnauthorized(), signal)
          } catch (refreshError) {
            if (refreshError instanceof ModelAbortedError || refreshError instanceof ModelError)
              throw refreshError
            // codex reports a failed token refresh as `unauthorized`, with the refresh's own message.
            throw new ModelError(describeError(refreshError), {
              codexErrorInfo: 'unauthorized',
              httpStatusCode: 401,
              cause: refreshError,
            })
          }
          this.log.debug({ provider: this.provider.id, retry }, 'auth refresh after 401')
          if (retry) continue
        }
        throw outcome.error
      }
      const { phase, error } = outcome
      let retry: number
      let budget: number
      if (phase === 'request') {
        budget = requestMaxRetries
        if (requestRetries >= budget) throw this.exhausted(error)
        retry = ++requestRetries
      } else {
        // A stream that got as far as starting earns the next attempt a fresh request budget.
        requestRetries = 0
        budget = streamMaxRetries
        if (streamRetries >= budget) throw error
        retry = ++streamRetries
        // As codex resends its history: what the model already said is not asked for again.
        input = withCarriedItems(input, completedItems.splice(0))
      }
      const delayMs = error.retryAfterMs ?? backoffDelayMs(retry, this.random)
      this.log.info(
        {
          provider: this.provider.id,
          model: request.model,
          phase,
          retry,
          budget,
          delayMs,
          reason: error.message,
        },
        'retrying model request',
      )
      yield {
        type: 'retrying',
        phase,
        attempt: retry,
        maxAttempts: budget,
        delayMs,
        reason: error.message,
        error,
      }
      try {
        await this.sleep(delayMs, signal)
      } catch (sleepError) {
        if (signal.aborted) throw aborted(signal)
        throw sleepError
      }
    }
  }

  private exhausted(last: ModelError): ModelError {
    if (last.httpStatusCode === null) return last // connection failures stay httpConnectionFailed
    return new ModelError(`exceeded retry limit, last status: ${statusLine(last.httpStatusCode)}`, {
      codexErrorInfo: httpErrorInfo('responseTooManyFailedAttempts', last.httpStatusCode),
      httpStatusCode: last.httpStatusCode,
      additionalDetails: last.additionalDetails,
      cause: last,
    })
  }

  private body(request: ModelRequest): ResponseCreateParamsStreaming {
    const store = request.store ?? false
    const body: Record<string, unknown> = { model: request.model, input: request.input, store, stream: true }
    if (request.instructions !== undefined) body.instructions = request.instructions
    if (request.tools?.length) {
      body.tools = request.tools
      body.tool_choice = 'auto'
    }
    if (request.parallelToolCalls !== undefined) body.parallel_tool_calls = request.parallelToolCalls
    if (request.reasoning) {
      body.reasoning = request.reasoning
      // Without storage the next request must carry the reasoning back itself (codex does the same).
      if (!store) body.include = ['reasoning.encrypted_content']
    }
    return { ...body, ...request.extraBody, stream: true } as unknown as ResponseCreateParamsStreaming
  }

  /**
   * One HTTP request and, if it starts, its stream. Yields the attempt's events (and adds each output
   * item it completes to `completedItems`); returns what happened.
   */
  private async *attempt(
    sdk: typeof OpenAISdk,
    body: ResponseCreateParamsStreaming,
    input: readonly unknown[] | null,
    model: string,
    attempt: number,
    signal: AbortSignal,
    completedItems: ResponseOutputItem[],
  ): AsyncGenerator<ModelEvent, Outcome, undefined> {
    const logFields = { provider: this.provider.id, model, attempt }
    const controller = new AbortController()
    const onAbort = () => controller.abort()
    signal.addEventListener('abort', onAbort, { once: true })
    let waiting = false
    let idleFired = false
    let idleTimer: NodeJS.Timeout | undefined
    let drainTimer: NodeJS.Timeout | undefined
    let iterator: AsyncIterator<ResponseStreamEvent> | undefined
    try {
      let authHeaders: Record<string, string> | undefined
      try {
        authHeaders = this.auth?.headers ? await raceAbort(this.auth.headers(), signal) : undefined
      } catch (error) {
        if (signal.aborted) throw aborted(signal)
        if (error instanceof ModelError) return { kind: 'failed', error }
        const message = `could not get credentials for the model request: ${describeError(error)}`
        return {
          kind: 'failed',
          error: new ModelError(message, { codexErrorInfo: 'unauthorized', cause: error }),
        }
      }

      const failed: { raw?: RawFailure } = {}
      const client = this.client(sdk, async (url, init) => {
        const response = await fetch(url, input ? withStreamedInput(init, input) : init)
        if (response.ok) return response
        // Keep the body and headers as sent: the SDK's error reformats the body and drops non-JSON ones.
        const text = await response.text().catch(() => '')
        failed.raw = { status: response.status, headers: response.headers, text }
        return new Response(text, { status: response.status, headers: response.headers })
      })
      let response: Response
      try {
        response = await client.responses
          .create(body, { signal: controller.signal, ...(authHeaders ? { headers: authHeaders } : {}) })
          .asResponse()
      } catch (error) {
        if (signal.aborted) throw aborted(signal)
        if (failed.raw) {
          this.log.debug({ ...logFields, status: failed.raw.status }, 'model request failed')
          return statusFailure(failed.raw)
        }
        this.log.debug({ ...logFields, status: 'connection failed' }, 'model request failed')
        if (error instanceof ModelError) return { kind: 'failed', error }
        const reason =
          error instanceof sdk.APIConnectionTimeoutError ? 'request timed out' : describeError(error)
        const failure = new ModelError(`Connection failed: ${reason}`, {
          codexErrorInfo: httpErrorInfo('httpConnectionFailed', null),
          retryable: true,
          cause: error,
        })
        return { kind: 'retry', phase: 'request', error: failure }
      }
      this.log.debug({ ...logFields, status: 200 }, 'model stream started')

      // Idle time counts only while waiting on the network, not while the consumer is busy.
      const idleMs = this.provider.streamIdleTimeoutMs
      idleTimer = setTimeout(() => {
        if (!waiting) return
        idleFired = true
        controller.abort()
      }, idleMs)
      const events = response.body
        ? jsonEvents<ResponseStreamEvent>(
            sseEvents(endsOnAbort(response.body, controller.signal), controller.signal),
            UNUSED_EVENTS,
          )
        : noBody()
      iterator = events[Symbol.asyncIterator]()
      const items = new OutputItemKeys()
      let completed: Extract<ModelEvent, { type: 'completed' }> | undefined
      try {
        for (;;) {
          waiting = true
          idleTimer.refresh()
          const next = await iterator.next()
          waiting = false
          if (next.done) break
          if (completed) continue // draining the tail so the connection can be reused
          const step = toModelEvent(next.value, items, this.log, logFields)
          if (step !== undefined) {
            if ('kind' in step) return step // a failure the server reported in the stream
            if (step.type === 'completed') {
              completed = step
              waiting = false
              drainTimer = setTimeout(() => controller.abort(), Math.min(COMPLETION_DRAIN_MS, idleMs))
            } else {
              if (step.type === 'outputItemDone') completedItems.push(step.item)
              yield step
            }
          }
          if (signal.aborted) throw aborted(signal)
        }
      } catch (error) {
        if (error instanceof ModelAbortedError) throw error
        waiting = false
        if (signal.aborted) throw aborted(signal)
        if (!completed) {
          // An SSE event whose data carries `error` (some proxies send failures this way).
          if (error instanceof SseErrorPayload) {
            return streamFailure(responseFailedError(error.code, error.message))
          }
          this.log.debug({ ...logFields, status: 'stream error' }, 'model stream failed')
          return { kind: 'retry', phase: 'stream', error: streamDisconnected(describeError(error), error) }
        }
      }
      // The decoder ends the iteration quietly when the request is aborted, so the cause is checked here.
      if (signal.aborted) throw aborted(signal)
      if (completed) {
        yield completed
        return { kind: 'completed' }
      }
      const reason = idleFired
        ? `idle timeout waiting for SSE (no event for ${idleMs} ms)`
        : 'stream closed before response.completed'
      this.log.debug(
        { ...logFields, status: idleFired ? 'idle timeout' : 'closed early' },
        'model stream failed',
      )
      return { kind: 'retry', phase: 'stream', error: streamDisconnected(reason) }
    } finally {
      clearTimeout(idleTimer)
      clearTimeout(drainTimer)
      signal.removeEventListener('abort', onAbort)
      // Closes the connection whenever the attempt ends before its body did (failure, abort, or a
      // consumer that stopped iterating); a no-op once the body is complete.
      controller.abort()
      iterator?.return?.().catch(() => undefined)
    }
  }

  private client(sdk: typeof OpenAISdk, fetchImpl: typeof fetch): OpenAISdk.OpenAI {
    const { apiKey, baseUrl, headers, queryParams, streamIdleTimeoutMs } = this.provider
    const ownAuthorization = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')
    return new sdk.OpenAI({
      apiKey: apiKey ?? NO_KEY,
      // Explicit nulls: the SDK would otherwise read OPENAI_ORG_ID and friends from the environment.
      adminAPIKey: null,
      organization: null,
      project: null,
      webhookSecret: null,
      baseURL: baseUrl,
      defaultHeaders: { ...(apiKey || ownAuthorization ? {} : { Authorization: null }), ...headers },
      defaultQuery: queryParams,
      maxRetries: 0,
      // Covers the wait for response headers only; the body is guarded by the idle timer.
      timeout: streamIdleTimeoutMs,
      logLevel: 'off',
      fetch: fetchImpl,
    })
  }
}
