/**
 * AppServerClient: the client side of the protocol, typed from the registry, over any channel that
 * carries text frames (a MessagePort in the app, a websocket in a browser, a pipe in tests). The
 * main process's token owner and the renderer use it. Runtime-free: no node: or electron imports.
 *
 * Every wait has a timeout; results, server requests and the notifications someone listens to are
 * validated against the registry before anyone sees them. A server request may stay unanswered as
 * long as its handler likes (an approval waits for a person); once the server reports it resolved
 * (`serverRequest/resolved`: answered on another connection, or cleared) or the connection closes,
 * the handler's signal aborts and no reply is sent. It must never log a message's content
 * (requests carry tokens).
 */
import { RpcError } from './errors'
import type { InitializeParams, InitializeResponse } from './initialize'
import { classify, type ErrorObject, type RequestId } from './jsonrpc'
import {
  clientRequests,
  serverNotifications,
  serverRequests,
  type ClientRequestMethod,
  type NotificationParams,
  type ParamsIn,
  type ResultOf,
  type ServerNotificationMethod,
  type ServerRequestMethod,
  type ServerRequestResponse,
} from './registry'
import type * as z from 'zod/mini'

/** A text-frame channel: one JSON message per frame. */
export interface ClientChannel {
  send(frame: string): void
  onFrame(listener: (frame: string) => void): void
  onClose(listener: (info: { code: number; reason: string }) => void): void
  close(): void
}

/** The server answered a request with a JSON-RPC error (`code`, `message`, `data`). */
export { RpcError }

export interface Disposable {
  dispose(): void
}

/** What a server-request handler throws to answer with a specific JSON-RPC error. */
export class RequestHandlerError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
    this.name = 'RequestHandlerError'
  }
}

export interface AppServerClientOptions {
  /** Per request unless the call says otherwise (default 30 s). */
  requestTimeoutMs?: number
}

export interface RequestOptions {
  timeoutMs?: number
  signal?: AbortSignal
}

export interface ResultOptions<R> extends RequestOptions {
  /**
   * Called with the validated result while its response frame is handled, before any later frame
   * reaches a listener. The promise settles a microtask later, after frames that arrived in the
   * same batch, so a caller that applies a snapshot in frame order (thread/resume, then live
   * events) does it here. If it throws, the request rejects with that error.
   */
  onResult?: (result: R) => void
}

/** What a server-request handler gets besides the params. */
export interface ServerRequestContext {
  /** The id as the server sent it: the same on every connection and on a replay after a resume. */
  id: RequestId
  /**
   * Aborts when the server reports the request resolved (`serverRequest/resolved`) or the
   * connection closes. After that the client sends no reply, whatever the handler returns.
   */
  signal: AbortSignal
}

interface PendingRequest {
  method: ClientRequestMethod
  onResult?: (result: unknown) => void
  resolve(result: unknown): void
  reject(error: Error): void
}

type NotificationListener = (params: unknown) => void
type RequestHandler = (params: unknown, context: ServerRequestContext) => Promise<unknown> | unknown

const INTERNAL_ERROR = -32603
const METHOD_NOT_FOUND = -32601
const REQUEST_RESOLVED: ServerNotificationMethod = 'serverRequest/resolved'

export class AppServerClient {
  private nextId = 1
  private readonly pending = new Map<RequestId, PendingRequest>()
  private readonly notificationListeners = new Map<string, Set<NotificationListener>>()
  private readonly requestHandlers = new Map<string, RequestHandler>()
  /** Server requests whose handler has not returned yet, by id. */
  private readonly unanswered = new Map<RequestId, AbortController>()
  private readonly closeListeners = new Set<(info: { code: number; reason: string }) => void>()
  private closeInfo: { code: number; reason: string } | undefined
  private readonly requestTimeoutMs: number

  constructor(
    private readonly channel: ClientChannel,
    options: AppServerClientOptions = {},
  ) {
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000
    channel.onFrame((frame) => this.receive(frame))
    channel.onClose((info) => this.closed(info))
  }

  /** Set once the channel closed; every later request fails at once. */
  get closedWith(): { code: number; reason: string } | undefined {
    return this.closeInfo
  }

  /** `initialize` followed by the `initialized` notification. */
  async initialize(params: InitializeParams, options?: RequestOptions): Promise<InitializeResponse> {
    const result = await this.request('initialize', params, options)
    this.channel.send(JSON.stringify({ method: 'initialized' }))
    return result
  }

  request<M extends ClientRequestMethod>(
    method: M,
    params: ParamsIn<M>,
    options: ResultOptions<ResultOf<M>> = {},
  ): Promise<ResultOf<M>> {
    if (this.closeInfo) return Promise.reject(this.closedError())
    const id = this.nextId++
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs
    return new Promise<ResultOf<M>>((resolve, reject) => {
      const onAbort = () => settle(() => reject(new Error(`${method} was aborted`)))
      const timer = setTimeout(
        () => settle(() => reject(new Error(`${method} timed out after ${timeoutMs} ms`))),
        timeoutMs,
      )
      const settle = (fn: () => void) => {
        if (!this.pending.delete(id)) return
        clearTimeout(timer)
        options.signal?.removeEventListener('abort', onAbort)
        fn()
      }
      this.pending.set(id, {
        method,
        ...(options.onResult ? { onResult: options.onResult as (result: unknown) => void } : {}),
        resolve: (result) => settle(() => resolve(result as ResultOf<M>)),
        reject: (error) => settle(() => reject(error)),
      })
      if (options.signal?.aborted) return onAbort()
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const message: Record<string, unknown> = { id, method }
      if (params !== undefined) message.params = params
      this.channel.send(JSON.stringify(message))
    })
  }

  onNotification<M extends ServerNotificationMethod>(
    method: M,
    listener: (params: NotificationParams<M>) => void,
  ): Disposable {
    let set = this.notificationListeners.get(method)
    if (!set) this.notificationListeners.set(method, (set = new Set()))
    const entry = listener as NotificationListener
    set.add(entry)
    return { dispose: () => set.delete(entry) }
  }

  /**
   * Answers every server request of one method. The handler's value is the response; a thrown
   * RequestHandlerError becomes that JSON-RPC error, anything else -32603 with its message. Once
   * `context.signal` aborts, nothing is sent.
   */
  handleRequest<M extends ServerRequestMethod>(
    method: M,
    handler: (
      params: z.output<(typeof serverRequests)[M]['params']>,
      context: ServerRequestContext,
    ) => Promise<ServerRequestResponse<M>>,
  ): Disposable {
    const entry = handler as RequestHandler
    this.requestHandlers.set(method, entry)
    return {
      dispose: () => {
        if (this.requestHandlers.get(method) === entry) this.requestHandlers.delete(method)
      },
    }
  }

  onClose(listener: (info: { code: number; reason: string }) => void): Disposable {
    if (this.closeInfo) {
      listener(this.closeInfo)
      return { dispose: () => {} }
    }
    this.closeListeners.add(listener)
    return { dispose: () => this.closeListeners.delete(listener) }
  }

  close(): void {
    this.channel.close()
    this.closed({ code: 1000, reason: 'closed by client' })
  }

  private closedError(): Error {
    const info = this.closeInfo
    return new Error(`the connection to the app server is closed (${info?.code ?? 0} ${info?.reason ?? ''})`)
  }

  private closed(info: { code: number; reason: string }): void {
    if (this.closeInfo) return
    this.closeInfo = info
    const error = this.closedError()
    for (const pending of [...this.pending.values()]) pending.reject(error)
    for (const controller of [...this.unanswered.values()]) controller.abort()
    this.unanswered.clear()
    for (const listener of [...this.closeListeners]) listener(info)
    this.closeListeners.clear()
  }

  private receive(frame: string): void {
    let value: unknown
    try {
      value = JSON.parse(frame)
    } catch {
      return // a frame that is not JSON carries nothing we could act on
    }
    const incoming = classify(value)
    switch (incoming.kind) {
      case 'response': {
        const pending = this.pending.get(incoming.message.id)
        if (!pending) return
        const schema = clientRequests[pending.method].result as z.ZodMiniType
        const parsed = schema.safeParse(incoming.message.result)
        if (!parsed.success) {
          pending.reject(new Error(`invalid ${pending.method} result from the app server`))
          return
        }
        try {
          pending.onResult?.(parsed.data)
        } catch (error) {
          pending.reject(error instanceof Error ? error : new Error(String(error)))
          return
        }
        pending.resolve(parsed.data)
        return
      }
      case 'error': {
        const id = incoming.message.id
        const pending = id === null ? undefined : this.pending.get(id)
        const { code, message, data } = incoming.message.error
        pending?.reject(new RpcError(code, message, data))
        return
      }
      case 'notification': {
        const { method, params } = incoming.message
        if (method === REQUEST_RESOLVED) {
          const requestId = (params as { requestId?: unknown } | undefined)?.requestId
          if (typeof requestId === 'string' || typeof requestId === 'number') {
            this.unanswered.get(requestId)?.abort()
            this.unanswered.delete(requestId)
          }
        }
        const listeners = this.notificationListeners.get(method)
        if (!listeners?.size) return
        const schema = (serverNotifications as Record<string, z.ZodMiniType | undefined>)[method]
        const parsed = schema ? schema.safeParse(params) : { success: true as const, data: params }
        if (!parsed.success) return
        for (const listener of [...listeners]) listener(parsed.data)
        return
      }
      case 'request':
        void this.answer(incoming.message.id, incoming.message.method, incoming.message.params)
        return
      case 'invalid':
        return
    }
  }

  private async answer(id: RequestId, method: string, params: unknown): Promise<void> {
    const controller = new AbortController()
    const reply = (body: { result: unknown } | { error: ErrorObject }) => {
      if (this.unanswered.get(id) === controller) this.unanswered.delete(id)
      if (!this.closeInfo && !controller.signal.aborted) this.channel.send(JSON.stringify({ id, ...body }))
    }
    const handler = this.requestHandlers.get(method)
    const spec = (serverRequests as Record<string, { params: z.ZodMiniType } | undefined>)[method]
    if (!handler || !spec) {
      return reply({ error: { code: METHOD_NOT_FOUND, message: `no handler for ${method}` } })
    }
    const parsed = spec.params.safeParse(params)
    if (!parsed.success) {
      return reply({ error: { code: -32602, message: `invalid ${method} params` } })
    }
    // A replay of a request still waiting here (same id) supersedes the earlier wait.
    this.unanswered.get(id)?.abort()
    this.unanswered.set(id, controller)
    try {
      reply({ result: await handler(parsed.data, { id, signal: controller.signal }) })
    } catch (error) {
      const code = error instanceof RequestHandlerError ? error.code : INTERNAL_ERROR
      reply({ error: { code, message: error instanceof Error ? error.message : String(error) } })
    }
  }
}
