/**
 * What the code answering one client request receives besides its params: the connection, the
 * request id, a signal that fires when the connection closes, a logger and a hook that runs after
 * the response is queued. It lives here, below threads/ and agent/, so they can take it without
 * importing server/; server/context.ts builds it and re-exports it. It must never depend on server/.
 */
import type { RequestId } from '../protocol/jsonrpc'
import type { Logger } from '../util/log'
import type { Connection } from './connection'

export interface RequestContext {
  readonly connection: Connection
  readonly requestId: RequestId
  /** Fires when the connection closes. */
  readonly signal: AbortSignal
  readonly log: Logger
  /** Runs `fn` right after the response has been queued for this connection. */
  afterResponse(fn: () => void): void
}
