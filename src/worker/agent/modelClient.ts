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
import type { ResponseCreateParamsStreaming, ResponseOutputItem } from 'openai/resources/responses/responses'
import type { Logger } from '../util/log'
import { backoffDelayMs as backoffWithJitter } from '../util/retry'
import { aborted, attemptStream, describeError, raceAbort } from './modelAttempt'
import { ModelAbortedError, ModelError, httpErrorInfo, statusLine } from './modelErrors'
import type { ResolvedProvider } from './providers'
import { deferInput, withCarriedItems } from './requestBody'

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
      /**
       * A stream retry carries what the broken attempt completed. Its function calls go only with
       * their outputs: the consumer runs them while it handles this event and hands each output here.
       */
      carry(output: unknown): void
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
      const context = { provider: this.provider, auth: this.auth, log: this.log }
      const outcome = yield* attemptStream(
        context,
        sdk,
        body,
        input,
        request.model,
        attempt,
        signal,
        completedItems,
      )
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
      const outputs: unknown[] = []
      yield {
        type: 'retrying',
        phase,
        attempt: retry,
        maxAttempts: budget,
        delayMs,
        reason: error.message,
        error,
        carry: (output) => void outputs.push(output),
      }
      // As codex resends its history: what the model already said (and the calls it made, with
      // their outputs) is not asked for again.
      if (phase === 'stream') input = withCarriedItems(input, completedItems.splice(0), outputs)
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
}
