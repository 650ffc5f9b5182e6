/**
 * Turns inbound frames into handler calls and replies. It parses and classifies each frame,
 * enforces the connection lifecycle ("Not initialized"), validates params against the registry,
 * applies the experimental gate, bounds in-flight requests per connection (-32001 overloaded), and
 * answers every bad input with a JSON-RPC error instead of closing anything (design rule 6).
 * Requests on one connection run concurrently; their replies go to the (connection, id) they answer.
 * The registry may load on first use (`LazyRegistry`): a new core answers `initialize` and its first
 * `thread/list` from their own early entries, without it; any other request loads it, and requests
 * that arrive while it loads wait for it and are then handled in the order they arrived.
 */
import {
  ErrorCode,
  experimentalRequired,
  formatZodError,
  invalidRequest,
  NOT_INITIALIZED_MESSAGE,
  overloaded,
  RpcError,
} from '../protocol/errors'
import {
  classify,
  nestingBeyond,
  nestingMessage,
  nestsTooDeep,
  type ErrorObject,
  type Incoming,
  type NotificationMessage,
  type RequestMessage,
} from '../protocol/jsonrpc'
import type { ClientRequestSpec } from '../protocol/registry'
import { threadResponsePieces } from '../threads/responsePieces'
import type { Connection } from '../transport/connection'
import type { OutboundRouter } from '../transport/outboundRouter'
import type { Logger } from '../util/log'
import type { RequestContext } from './context'
import type { ServerRequestBroker } from './serverRequests'

/** Loosely typed on purpose: the typed HandlerMap is checked where the server is assembled. */
export type AnyHandler = (params: unknown, ctx: RequestContext) => unknown

export type ProcessorRegistry = Readonly<Record<string, ClientRequestSpec>>

/** What the processor reads of a registry entry: its result schema is for types and tests. */
export type EarlyEntry = Omit<ClientRequestSpec, 'result'>

/**
 * A registry built on first use: its schemas cost more than the rest of a start, while `initialize`
 * and a client's first listing need only their own entries. `early` must hold `initialize`, and
 * each early entry must be the registry's own entry for that method (the same schema objects).
 */
export interface LazyRegistry {
  readonly early: Readonly<Record<string, EarlyEntry>>
  readonly load: () => Promise<ProcessorRegistry>
}

export interface ProcessorOptions {
  registry: ProcessorRegistry | LazyRegistry
  handlers: Readonly<Record<string, AnyHandler>>
  router: OutboundRouter
  broker: ServerRequestBroker
  log: Logger
  /** Requests one connection may have in flight before new ones get -32001. */
  maxInflightPerConnection?: number
  /** The hint sent in `data.retryAfterMs` of an overload error. */
  overloadRetryAfterMs?: number
  /** Told about every request that ends in an error (analytics count them; no params, no content). */
  onRequestError?: (method: string | null, code: number) => void
}

const INITIALIZE = 'initialize'

/** What the lifecycle and experimental checks read of a connection. */
interface Gate {
  readonly initialized: boolean
  readonly experimentalApi: boolean
}

function isLazy(registry: ProcessorRegistry | LazyRegistry): registry is LazyRegistry {
  return typeof registry.load === 'function'
}

export class MessageProcessor {
  private readonly maxInflight: number
  private readonly retryAfterMs: number
  /** The whole registry once loaded (at once when it was given whole). */
  private registry: ProcessorRegistry | undefined
  private registryLoad: Promise<ProcessorRegistry> | undefined
  /** The entries answered before the registry has loaded (none when it was given whole). */
  private readonly early: Readonly<Record<string, EarlyEntry>>
  private knownMethods = ''

  constructor(private readonly options: ProcessorOptions) {
    this.maxInflight = options.maxInflightPerConnection ?? 128
    this.retryAfterMs = options.overloadRetryAfterMs ?? 100
    const registry = options.registry
    if (isLazy(registry)) {
      this.early = registry.early
    } else {
      this.early = {}
      this.useRegistry(registry)
    }
  }

  private useRegistry(registry: ProcessorRegistry): ProcessorRegistry {
    this.registry = registry
    this.knownMethods = Object.keys(registry)
      .map((m) => `\`${m}\``)
      .join(', ')
    return registry
  }

  /** Loads the whole registry; every caller gets the same promise, so waiters resume in order. */
  private loadRegistry(): Promise<ProcessorRegistry> {
    const registry = this.options.registry as LazyRegistry
    return (this.registryLoad ??= registry.load().then((loaded) => this.useRegistry(loaded)))
  }

  /** One inbound frame. Never throws; never waits on outbound delivery. */
  handleFrame(connection: Connection, frame: string): void {
    if (connection.closed) return
    let value: unknown
    try {
      value = JSON.parse(frame)
    } catch (error) {
      this.options.log.warn({ connectionId: connection.id }, 'dropping a message that is not valid JSON')
      this.replyError(connection, null, {
        code: ErrorCode.ParseError,
        message: `Parse error: ${(error as Error).message}`,
      })
      return
    }
    const incoming = classify(value, frame)
    if (nestsTooDeep(value, frame)) {
      // JSON.parse is iterative, but validation, handlers and the rollout writer recurse: a value
      // this deep would end as a stack overflow somewhere inside. codex refuses it at the same depth.
      const id = incoming.kind === 'request' || incoming.kind === 'invalid' ? idOf(incoming) : null
      return this.replyError(connection, id, {
        code: ErrorCode.InvalidRequest,
        message: nestingMessage(frame, nestingBeyond(frame)),
      })
    }
    switch (incoming.kind) {
      case 'request':
        return this.handleRequest(connection, incoming.message)
      case 'notification':
        return this.handleNotification(connection, incoming.message)
      case 'response':
      case 'error':
        return this.options.broker.handleReply(connection, incoming.message)
      case 'invalid':
        return this.replyError(connection, incoming.id, {
          code: ErrorCode.InvalidRequest,
          message: `Invalid request: ${incoming.reason}`,
        })
    }
  }

  /** A message too large to read was discarded by the transport. */
  handleOversized(connection: Connection, bytes: number, limit: number): void {
    this.replyError(connection, null, {
      code: ErrorCode.InvalidRequest,
      message: `Invalid request: message of ${bytes} bytes exceeds the limit of ${limit} bytes`,
    })
  }

  private handleRequest(connection: Connection, request: RequestMessage): void {
    if (connection.inflight >= this.maxInflight) {
      this.options.log.warn(
        { connectionId: connection.id, method: request.method },
        'rejecting request: overloaded',
      )
      void this.options.router.respondError(
        connection.id,
        request.id,
        overloaded(this.retryAfterMs).toErrorObject(),
        true,
      )
      return
    }
    connection.inflight++
    void this.run(connection, request).finally(() => connection.inflight--)
  }

  private async run(connection: Connection, request: RequestMessage): Promise<void> {
    const { router } = this.options
    const log = this.options.log
    const started = performance.now()
    const after: (() => void)[] = []
    try {
      // While the registry loads, every request waits for it, early ones too: they resume in the
      // order they arrived, each checked and its handler started before the next resumes, so each
      // sees the connection as it would have without the wait.
      if (!this.registry && (!Object.hasOwn(this.early, request.method) || this.registryLoad))
        await this.loadRegistry()
      const { handler, params } = this.prepare(request, this.registry ?? this.early, connection)
      const ctx: RequestContext = {
        connection,
        requestId: request.id,
        signal: connection.signal,
        log,
        afterResponse: (fn) => after.push(fn),
      }
      const result = await handler(params, ctx)
      // A thread with its turns goes out turn by turn; everything else as one frame.
      const pieces = threadResponsePieces(request.id, result)
      if (pieces) await connection.sendPieces(pieces)
      else await router.respond(connection.id, request.id, result)
      for (const fn of after) fn()
      if (log.isLevelEnabled('debug')) {
        log.debug(
          {
            connectionId: connection.id,
            method: request.method,
            requestId: request.id,
            durationMs: +(performance.now() - started).toFixed(3),
          },
          'request handled',
        )
      }
    } catch (error) {
      const rpc = toRpcError(error)
      if (rpc.code === ErrorCode.Internal) {
        log.error({ connectionId: connection.id, method: request.method, requestId: request.id }, rpc.message)
      } else {
        log.debug(
          { connectionId: connection.id, method: request.method, requestId: request.id, code: rpc.code },
          rpc.message,
        )
      }
      await router.respondError(connection.id, request.id, rpc.toErrorObject())
      const known = Object.hasOwn(this.registry ?? this.early, request.method) ? request.method : null
      this.options.onRequestError?.(known, rpc.code)
    }
  }

  /** Lookup, params, lifecycle and experimental checks, in codex's order: parse first, then lifecycle. */
  private prepare(
    request: RequestMessage,
    registry: Readonly<Record<string, EarlyEntry>>,
    gate: Gate,
  ): { handler: AnyHandler; params: unknown } {
    const { handlers } = this.options
    const method = request.method
    const spec = Object.hasOwn(registry, method) ? registry[method] : undefined
    const handler = Object.hasOwn(handlers, method) ? handlers[method] : undefined
    if (!spec || !handler) {
      throw invalidRequest(
        `Invalid request: unknown variant \`${method}\`, expected one of ${this.knownMethods}`,
      )
    }
    let params: unknown = undefined
    if (spec.params !== null) {
      if (request.params === undefined) throw invalidRequest('Invalid request: missing field `params`')
      const parsed = spec.params.safeParse(request.params, { reportInput: true })
      if (!parsed.success) throw invalidRequest(`Invalid request: ${formatZodError(parsed.error)}`)
      params = parsed.data
    }
    if (method === INITIALIZE) {
      return { handler, params }
    }
    if (!gate.initialized) throw invalidRequest(NOT_INITIALIZED_MESSAGE)
    if (spec.experimental && !gate.experimentalApi) throw experimentalRequired(method)
    // The gate looks at what the client sent, not at the parsed params, which drop unknown keys.
    const sent = request.params
    if (spec.experimentalFields && sent && typeof sent === 'object') {
      for (const field of spec.experimentalFields) {
        const value = (sent as Record<string, unknown>)[field]
        if (value !== undefined && value !== null && !gate.experimentalApi) {
          throw experimentalRequired(`${method}.${field}`)
        }
      }
    }
    return { handler, params }
  }

  private handleNotification(connection: Connection, notification: NotificationMessage): void {
    this.options.log.debug(
      { connectionId: connection.id, method: notification.method },
      connection.initialized ? 'client notification' : 'client notification before initialize',
    )
  }

  private replyError(connection: Connection, id: RequestMessage['id'] | null, error: ErrorObject): void {
    void this.options.router.respondError(connection.id, id, error, true)
  }
}

function idOf(incoming: Incoming & { kind: 'request' | 'invalid' }): RequestMessage['id'] | null {
  return incoming.kind === 'request' ? incoming.message.id : incoming.id
}

function toRpcError(error: unknown): RpcError {
  if (error instanceof RpcError) return error
  const message = error instanceof Error ? error.message : String(error)
  return new RpcError(ErrorCode.Internal, message || 'internal error')
}
