/**
 * The reusable protocol test client. It speaks over any channel (stdio child, websocket,
 * MessagePort, in-memory), buffers everything it receives, and offers `request`,
 * `waitForResponse`, `waitForNotification` and `waitForServerRequest`, each with a timeout.
 * Every server message is checked against the wire rules (no `jsonrpc`, `emittedAtMs` on
 * notifications) and the registry's schemas; violations fail the wait that sees them.
 */
import {
  clientRequests,
  serverNotifications,
  type ClientRequestMethod,
  type ParamsIn,
  type ResultOf,
  type ServerNotificationMethod,
} from '../../src/worker/protocol/registry'
import type { InitializeResponse } from '../../src/worker/protocol/initialize'
import type { ErrorObject, RequestId } from '../../src/worker/protocol/jsonrpc'
import type { ClientChannel } from '../../src/worker/protocol/client'
import type { CloseInfo } from '../../src/worker/transport/types'

/** The same text-frame channel the app's AppServerClient speaks over. */
export type { ClientChannel }

export interface ServerMessage {
  id?: RequestId | null
  method?: string
  params?: unknown
  result?: unknown
  error?: ErrorObject
  emittedAtMs?: number
  [key: string]: unknown
}

export class RpcResponseError extends Error {
  constructor(readonly error: ErrorObject) {
    super(`${error.code}: ${error.message}`)
  }
}

interface Waiter {
  match: (m: ServerMessage) => boolean
  resolve: (m: ServerMessage) => void
}

/**
 * How long a test waits for something that should happen. Generous on purpose: the suite must pass
 * on a busy two-core machine, and a wait that ends early only turns a slow run into a failure. A
 * wait that proves something does NOT happen must not use this; it waits on a later event instead.
 */
export const WAIT_MS = 60_000

export class TestClient {
  /** Every message received, in order. */
  readonly received: ServerMessage[] = []
  /** Wire-rule violations seen so far (tests assert this stays empty). */
  readonly violations: string[] = []
  private readonly unclaimed: ServerMessage[] = []
  private waiters: Waiter[] = []
  private nextId = 1000
  private closeInfo: CloseInfo | undefined
  private readonly closeWaiters: ((info: CloseInfo) => void)[] = []

  constructor(
    readonly channel: ClientChannel,
    readonly timeoutMs = WAIT_MS,
  ) {
    channel.onFrame((frame) => this.receive(frame))
    channel.onClose((info) => {
      this.closeInfo = info
      for (const w of this.closeWaiters.splice(0)) w(info)
    })
  }

  get closed(): CloseInfo | undefined {
    return this.closeInfo
  }

  sendRaw(frame: string): void {
    this.channel.send(frame)
  }

  send(message: object): void {
    this.channel.send(JSON.stringify(message))
  }

  /** Sends a request and resolves with its response message (result or error), unchecked. */
  async call(method: string, params?: unknown, id: RequestId = this.nextId++): Promise<ServerMessage> {
    this.send(params === undefined ? { id, method } : { id, method, params })
    return this.waitForResponse(id)
  }

  /** A typed request: resolves with the validated result, rejects with RpcResponseError. */
  async request<M extends ClientRequestMethod>(
    method: M,
    params: ParamsIn<M>,
    id?: RequestId,
  ): Promise<ResultOf<M>> {
    const response = await this.call(method, params, id)
    if (response.error) throw new RpcResponseError(response.error)
    const parsed = clientRequests[method].result.safeParse(response.result)
    if (!parsed.success)
      throw new Error(`${method} result does not match the registry: ${parsed.error.message}`)
    return response.result as ResultOf<M>
  }

  async initialize(
    name = 'test_client',
    capabilities?: { experimentalApi?: boolean; optOutNotificationMethods?: string[] },
  ): Promise<InitializeResponse> {
    const result = await this.request('initialize', {
      clientInfo: { name, title: 'Test Client', version: '0.0.1' },
      ...(capabilities ? { capabilities } : {}),
    })
    this.send({ method: 'initialized' })
    return result
  }

  waitForResponse(id: RequestId, timeoutMs = this.timeoutMs): Promise<ServerMessage> {
    return this.waitFor(
      (m) => m.id === id && (m.result !== undefined || m.error !== undefined) && m.method === undefined,
      `response to id ${JSON.stringify(id)}`,
      timeoutMs,
    )
  }

  waitForNotification(
    method: ServerNotificationMethod | string,
    predicate: (params: unknown) => boolean = () => true,
    timeoutMs = this.timeoutMs,
  ): Promise<ServerMessage> {
    return this.waitFor(
      (m) => m.method === method && m.id === undefined && predicate(m.params),
      `notification ${method}`,
      timeoutMs,
    )
  }

  waitForServerRequest(method: string, timeoutMs = this.timeoutMs): Promise<ServerMessage> {
    return this.waitFor(
      (m) => m.method === method && m.id !== undefined,
      `server request ${method}`,
      timeoutMs,
    )
  }

  waitForClose(timeoutMs = this.timeoutMs): Promise<CloseInfo> {
    if (this.closeInfo) return Promise.resolve(this.closeInfo)
    return withTimeout(
      new Promise<CloseInfo>((r) => this.closeWaiters.push(r)),
      timeoutMs,
      'connection close',
    )
  }

  close(): void {
    this.channel.close()
  }

  private waitFor(
    match: (m: ServerMessage) => boolean,
    what: string,
    timeoutMs: number,
  ): Promise<ServerMessage> {
    const index = this.unclaimed.findIndex(match)
    if (index !== -1) return Promise.resolve(this.unclaimed.splice(index, 1)[0] as ServerMessage)
    let waiter: Waiter | undefined
    const promise = new Promise<ServerMessage>((resolve) => {
      waiter = { match, resolve }
      this.waiters.push(waiter)
    })
    return withTimeout(promise, timeoutMs, what, () => {
      this.waiters = this.waiters.filter((w) => w !== waiter)
    }).then((m) => {
      if (this.violations.length) throw new Error(`wire rule violations: ${this.violations.join('; ')}`)
      return m
    })
  }

  private receive(frame: string): void {
    let message: ServerMessage
    try {
      message = JSON.parse(frame) as ServerMessage
    } catch {
      this.violations.push(`not JSON: ${frame.slice(0, 200)}`)
      return
    }
    this.check(message)
    this.received.push(message)
    const waiter = this.waiters.find((w) => w.match(message))
    if (waiter) {
      this.waiters = this.waiters.filter((w) => w !== waiter)
      waiter.resolve(message)
    } else {
      this.unclaimed.push(message)
    }
  }

  private check(message: ServerMessage): void {
    if ('jsonrpc' in message) this.violations.push('server sent a `jsonrpc` member')
    if (message.method !== undefined && message.id === undefined) {
      if (typeof message.emittedAtMs !== 'number')
        this.violations.push(`${message.method} has no emittedAtMs`)
      const schema = (serverNotifications as Record<string, { safeParse(v: unknown): { success: boolean } }>)[
        message.method
      ]
      if (schema && !schema.safeParse(message.params).success) {
        this.violations.push(`${message.method} params do not match the registry`)
      }
    }
  }
}

export function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onTimeout?: () => void,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.()
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`))
    }, ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}
