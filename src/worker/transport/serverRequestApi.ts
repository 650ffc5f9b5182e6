/**
 * What the layers below server/ (threads, agent, auth) see of server->client requests: the errors a
 * request can end with, the options of one send, and the narrow sender interface that
 * server/serverRequests.ts's `ServerRequestBroker` implements. Keeping these here lets those layers
 * ask a client something without importing server/. It must never depend on server/.
 */
import type { ServerRequestMethod, ServerRequestParams, ServerRequestResponse } from '../protocol/registry'
import type { ConnectionId } from './connection'

/** The client answered with a JSON-RPC error. */
export class ServerRequestError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message)
    this.name = 'ServerRequestError'
  }
}

export class ServerRequestTimeoutError extends Error {
  constructor(
    readonly method: string,
    readonly timeoutMs: number,
  ) {
    super(`${method} request timed out after ${timeoutMs / 1000}s`)
    this.name = 'ServerRequestTimeoutError'
  }
}

export class ServerRequestCancelledError extends Error {
  constructor(readonly method: string) {
    super(`${method} request was cancelled`)
    this.name = 'ServerRequestCancelledError'
  }
}

export interface SendOptions {
  /** No timeout when omitted (codex waits indefinitely for approvals). */
  timeoutMs?: number
  signal?: AbortSignal
}

/** Sends server->client requests and replays pending ones; implemented by `ServerRequestBroker`. */
export interface ServerRequestSender {
  send<M extends ServerRequestMethod>(
    targets: Iterable<ConnectionId>,
    method: M,
    params: ServerRequestParams<M>,
    options?: SendOptions,
  ): { id: number; response: Promise<ServerRequestResponse<M>> }
  /** Re-sends a pending request, with its original id, to one more connection (thread resume). */
  replay(id: number, connectionId: ConnectionId): boolean
}
