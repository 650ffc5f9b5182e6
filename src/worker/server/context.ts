/**
 * The handler types built from the registry and the experimental gate handlers call. The request
 * context a handler receives is declared in transport/requestContext.ts (threads/ and agent/ take it
 * too) and re-exported here.
 */
import { experimentalRequired } from '../protocol/errors'
import type { ClientRequestMethod, ParamsOf, ResultOf } from '../protocol/registry'
import type { Connection } from '../transport/connection'
import type { RequestContext } from '../transport/requestContext'

export type { RequestContext }

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
