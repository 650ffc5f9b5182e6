/** What a request handler receives besides its params, and the handler types built from the registry. */
import { experimentalRequired } from '../protocol/errors'
import type { RequestId } from '../protocol/jsonrpc'
import type { ClientRequestMethod, ParamsOf, ResultOf } from '../protocol/registry'
import type { Connection } from '../transport/connection'
import type { Logger } from '../util/log'

export interface RequestContext {
  readonly connection: Connection
  readonly requestId: RequestId
  /** Fires when the connection closes. */
  readonly signal: AbortSignal
  readonly log: Logger
  /** Runs `fn` right after the response has been queued for this connection. */
  afterResponse(fn: () => void): void
}

export type Handler<M extends ClientRequestMethod> = (
  params: ParamsOf<M>,
  ctx: RequestContext,
) => ResultOf<M> | Promise<ResultOf<M>>

export type HandlerMap = { [M in ClientRequestMethod]: Handler<M> }

/**
 * The reusable experimental gate: throws `<descriptor> requires experimentalApi capability` unless
 * the connection opted in. Handlers call it for experimental enum variants and nested fields.
 */
export function requireExperimental(connection: Connection, descriptor: string): void {
  if (!connection.experimentalApi) throw experimentalRequired(descriptor)
}
