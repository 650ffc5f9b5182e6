/**
 * One attempt of a model request (modelClient.ts runs the retry policy around it): the HTTP request
 * through the official `openai` SDK and, once it started, its body read by our linear SSE decoder
 * (./sseDecoder) into model events, under an idle timer that counts only the time spent waiting on
 * the network. It yields the attempt's events and returns what happened: completed, a failure to
 * retry (request or stream phase), a 401, or a failure that ends the stream.
 *
 * It never retries or sleeps (that is the client's policy), never logs headers or the API key, and
 * never keeps a connection or timer alive after the attempt ends (completed, failed, aborted, or
 * abandoned by the consumer). It is loaded with the model client but never loads the SDK itself:
 * the caller passes the module in.
 */
import type * as OpenAISdk from 'openai'
import type {
  ResponseCreateParamsStreaming,
  ResponseOutputItem,
  ResponseStreamEvent,
} from 'openai/resources/responses/responses'
import type { Logger } from '../util/log'
import type { ModelAuth, ModelEvent } from './modelClient'
import {
  ModelAbortedError,
  ModelError,
  httpErrorInfo,
  responseFailedError,
  statusFailure,
  streamFailure,
  type AttemptFailure,
  type RawFailure,
} from './modelErrors'
import { OutputItemKeys } from './outputItems'
import type { ResolvedProvider } from './providers'
import { endsOnAbort, withStreamedInput } from './requestBody'
import { toModelEvent, UNUSED_EVENTS } from './responseEvents'
import { jsonEvents, SseErrorPayload, sseEvents } from './sseDecoder'

/** What an attempt needs from the model client. */
export interface AttemptContext {
  readonly provider: ResolvedProvider
  readonly auth: ModelAuth | undefined
  readonly log: Logger
}

// After response.completed the body normally ends at once; waiting briefly for that lets the
// connection go back to the keep-alive pool instead of being torn down.
const COMPLETION_DRAIN_MS = 100
// The SDK refuses to start without a key; keyless providers (ollama, lmstudio) get this placeholder
// and an explicit "no Authorization header".
const NO_KEY = 'codex-desk-no-api-key'

/** "fetch failed: connect ECONNREFUSED 127.0.0.1:9" from an error and its causes. */
export function describeError(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; current && depth < 4; depth++) {
    const message = current instanceof Error ? current.message : String(current)
    if (message && !parts.includes(message)) parts.push(message)
    current = current instanceof Error ? current.cause : undefined
  }
  return parts.join(': ') || 'unknown error'
}

export type Outcome = { kind: 'completed' } | AttemptFailure

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

export function aborted(signal: AbortSignal): ModelAbortedError {
  return new ModelAbortedError(signal.reason)
}

export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(aborted(signal))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(aborted(signal))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

/**
 * One HTTP request and, if it starts, its stream. Yields the attempt's events (and adds each output
 * item it completes to `completedItems`); returns what happened.
 */
export async function* attemptStream(
  context: AttemptContext,
  sdk: typeof OpenAISdk,
  body: ResponseCreateParamsStreaming,
  input: readonly unknown[] | null,
  model: string,
  attempt: number,
  signal: AbortSignal,
  completedItems: ResponseOutputItem[],
): AsyncGenerator<ModelEvent, Outcome, undefined> {
  const logFields = { provider: context.provider.id, model, attempt }
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
      authHeaders = context.auth?.headers ? await raceAbort(context.auth.headers(), signal) : undefined
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
    const client = sdkClient(context.provider, sdk, async (url, init) => {
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
        context.log.debug({ ...logFields, status: failed.raw.status }, 'model request failed')
        return statusFailure(failed.raw)
      }
      context.log.debug({ ...logFields, status: 'connection failed' }, 'model request failed')
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
    context.log.debug({ ...logFields, status: 200 }, 'model stream started')

    // Idle time counts only while waiting on the network, not while the consumer is busy.
    const idleMs = context.provider.streamIdleTimeoutMs
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
        const step = toModelEvent(next.value, items, context.log, logFields)
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
        context.log.debug({ ...logFields, status: 'stream error' }, 'model stream failed')
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
    context.log.debug(
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

function sdkClient(
  provider: ResolvedProvider,
  sdk: typeof OpenAISdk,
  fetchImpl: typeof fetch,
): OpenAISdk.OpenAI {
  const { apiKey, baseUrl, headers, queryParams, streamIdleTimeoutMs } = provider
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
