/**
 * Server->client requests: ids from one process-global counter (0, 1, 2, ...), fan-out of one
 * request with one id to several connections, first valid answer wins, a timeout on every wait, and
 * pending requests that survive a disconnect so they can be replayed to a connection that comes
 * back. Answers to unknown ids, or from connections the request was not sent to, are ignored.
 * Experimental fields of a request (`availableDecisions`, ...) go only to connections that opted in
 * to the experimental API; the others get the same request without them.
 */
import type { ErrorMessage, ResponseMessage } from '../protocol/jsonrpc'
import { formatZodError } from '../protocol/errors'
import type {
  serverRequests,
  ServerRequestMethod,
  ServerRequestParams,
  ServerRequestResponse,
} from '../protocol/registry'
import { SERVER_REQUEST_EXPERIMENTAL_FIELDS } from '../protocol/constants'
import type { Connection, ConnectionId } from '../transport/connection'
import type { OutboundRouter } from '../transport/outboundRouter'
import {
  ServerRequestCancelledError,
  ServerRequestError,
  ServerRequestTimeoutError,
  type SendOptions,
  type ServerRequestSender,
} from '../transport/serverRequestApi'
import type { Logger } from '../util/log'

export {
  ServerRequestCancelledError,
  ServerRequestError,
  ServerRequestTimeoutError,
  type SendOptions,
  type ServerRequestSender,
}

type ResponseSchemas = typeof serverRequests

/**
 * The response schemas, from the registry loaded on first use (the registry's schemas are not
 * built before the first `initialize` answer). Loading starts when a request is sent; a reply
 * that arrives before it has finished waits for it.
 */
let responseSchemas: ResponseSchemas | undefined
let responseSchemasLoad: Promise<ResponseSchemas> | undefined
function loadResponseSchemas(): Promise<ResponseSchemas> {
  return (responseSchemasLoad ??= import('../protocol/registry').then(
    (m) => (responseSchemas = m.serverRequests),
  ))
}

interface Pending {
  readonly id: number
  readonly method: ServerRequestMethod
  readonly params: unknown
  readonly targets: Set<ConnectionId>
  settle(outcome: { result: unknown } | { error: Error }): void
}

export class ServerRequestBroker implements ServerRequestSender {
  private nextId = 0
  private readonly pending = new Map<number, Pending>()

  constructor(
    private readonly router: OutboundRouter,
    private readonly log: Logger,
  ) {}

  get pendingCount(): number {
    return this.pending.size
  }

  send<M extends ServerRequestMethod>(
    targets: Iterable<ConnectionId>,
    method: M,
    params: ServerRequestParams<M>,
    options: SendOptions = {},
  ): { id: number; response: Promise<ServerRequestResponse<M>> } {
    const id = this.nextId++
    // A failed load surfaces when the reply arrives (handleReply settles the request with it).
    loadResponseSchemas().catch(() => undefined)
    const response = new Promise<ServerRequestResponse<M>>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined
      const onAbort = () => pending.settle({ error: new ServerRequestCancelledError(method) })
      const pending: Pending = {
        id,
        method,
        params,
        targets: new Set(targets),
        settle: (outcome) => {
          if (!this.pending.delete(id)) return
          if (timer) clearTimeout(timer)
          options.signal?.removeEventListener('abort', onAbort)
          if ('error' in outcome) reject(outcome.error)
          else resolve(outcome.result as ServerRequestResponse<M>)
        },
      }
      this.pending.set(id, pending)
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(
          () => pending.settle({ error: new ServerRequestTimeoutError(method, options.timeoutMs as number) }),
          options.timeoutMs,
        )
      }
      if (options.signal?.aborted) return onAbort()
      options.signal?.addEventListener('abort', onAbort, { once: true })
      this.deliver(pending.targets, id, method, params)
    })
    return { id, response }
  }

  /** Re-sends a pending request, with its original id, to one more connection (thread resume). */
  replay(id: number, connectionId: ConnectionId): boolean {
    const pending = this.pending.get(id)
    if (!pending) return false
    pending.targets.add(connectionId)
    this.deliver([connectionId], pending.id, pending.method, pending.params)
    return true
  }

  /** Sends the request frame, without its experimental fields to connections that did not opt in. */
  private deliver(targets: Iterable<ConnectionId>, id: number, method: string, params: unknown): void {
    const fields = SERVER_REQUEST_EXPERIMENTAL_FIELDS[method]
    if (!fields || !params || typeof params !== 'object') {
      void this.router.request(targets, id, method, params)
      return
    }
    const full: ConnectionId[] = []
    const plain: ConnectionId[] = []
    for (const target of targets) (this.router.get(target)?.experimentalApi ? full : plain).push(target)
    if (full.length > 0) void this.router.request(full, id, method, params)
    if (plain.length > 0) {
      const stripped = Object.fromEntries(
        Object.entries(params as Record<string, unknown>).filter(([key]) => !fields.includes(key)),
      )
      void this.router.request(plain, id, method, stripped)
    }
  }

  handleReply(connection: Connection, message: ResponseMessage | ErrorMessage): void {
    const id = message.id
    const pending = typeof id === 'number' ? this.pending.get(id) : undefined
    if (!pending || !pending.targets.has(connection.id)) {
      this.log.debug(
        { connectionId: connection.id, requestId: id },
        'ignoring a reply to an unknown server request',
      )
      return
    }
    if ('error' in message) {
      const { code, message: text, data } = message.error
      return pending.settle({ error: new ServerRequestError(code, text, data) })
    }
    if (!responseSchemas) {
      void loadResponseSchemas().then(
        () => this.handleReply(connection, message),
        (error: unknown) =>
          pending.settle({ error: error instanceof Error ? error : new Error(String(error)) }),
      )
      return
    }
    const parsed = responseSchemas[pending.method].response.safeParse(message.result, { reportInput: true })
    if (!parsed.success) {
      return pending.settle({
        error: new ServerRequestError(
          -32600,
          `invalid ${pending.method} response: ${formatZodError(parsed.error)}`,
        ),
      })
    }
    pending.settle({ result: parsed.data })
  }

  /** A closed connection no longer answers; the request stays pending for replay. */
  connectionClosed(connectionId: ConnectionId): void {
    for (const pending of this.pending.values()) pending.targets.delete(connectionId)
  }

  /** Settles every pending request with a cancellation (shutdown). */
  cancelAll(): void {
    for (const pending of [...this.pending.values()]) {
      pending.settle({ error: new ServerRequestCancelledError(pending.method) })
    }
  }
}
