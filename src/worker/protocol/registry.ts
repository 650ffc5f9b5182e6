/**
 * The protocol declared once: every method codex-desk speaks, with zod schemas for its params and
 * result (client requests), its params (notifications) or its params and the client's response
 * (server requests). Handlers, the test client and the renderer's client are typed from here, and
 * the message processor validates against it. A method string is spelled here and nowhere else
 * (other places use these keys, checked by the compiler). Schemas use `zod/mini`, which tree-shakes
 * to a fraction of classic zod's load time (the cold-start budget is 60 ms). Runtime-free.
 */
import type * as z from 'zod/mini'
import { ChatgptAuthTokensRefreshParams, ChatgptAuthTokensRefreshResponse } from './account'
import { InitializeParams, InitializeResponse } from './initialize'
import {
  ConfigBatchWriteParams,
  ConfigReadParams,
  ConfigReadResponse,
  ConfigRequirementsReadResponse,
  ConfigValueWriteParams,
  ConfigWriteResponse,
} from './config'
import { ConfigWarningNotification } from './notifications'
import { ThreadLoadedListParams, ThreadLoadedListResponse } from './thread'

export interface ClientRequestSpec {
  /** `null` for methods whose params type is null in codex: `params` may then be omitted. */
  readonly params: z.ZodMiniType | null
  readonly result: z.ZodMiniType
  /** The whole method needs `capabilities.experimentalApi`. */
  readonly experimental?: boolean
  /** Params fields that need `capabilities.experimentalApi` when present and not null. */
  readonly experimentalFields?: readonly string[]
}

export interface ServerRequestSpec {
  readonly params: z.ZodMiniType
  readonly response: z.ZodMiniType
  /** Declared (and brokered) but not yet sent by any feature; says which work will send it. */
  readonly notYetSent?: string
}

export const clientRequests = {
  initialize: { params: InitializeParams, result: InitializeResponse },
  'thread/loaded/list': { params: ThreadLoadedListParams, result: ThreadLoadedListResponse },
  'config/read': { params: ConfigReadParams, result: ConfigReadResponse },
  'config/value/write': { params: ConfigValueWriteParams, result: ConfigWriteResponse },
  'config/batchWrite': { params: ConfigBatchWriteParams, result: ConfigWriteResponse },
  'configRequirements/read': { params: null, result: ConfigRequirementsReadResponse },
} as const satisfies Record<string, ClientRequestSpec>

export const clientNotifications = {
  initialized: null,
} as const satisfies Record<string, z.ZodMiniType | null>

export const serverNotifications = {
  configWarning: ConfigWarningNotification,
} as const satisfies Record<string, z.ZodMiniType>

export const serverRequests = {
  'account/chatgptAuthTokens/refresh': {
    params: ChatgptAuthTokensRefreshParams,
    response: ChatgptAuthTokensRefreshResponse,
    notYetSent: 'the accounts work (401 refresh)',
  },
} as const satisfies Record<string, ServerRequestSpec>

export type ClientRequests = typeof clientRequests
export type ClientRequestMethod = keyof ClientRequests
export type ServerNotificationMethod = keyof typeof serverNotifications
export type ServerRequestMethod = keyof typeof serverRequests

type InputOf<S> = S extends z.ZodMiniType ? z.input<S> : undefined
type OutputOf<S> = S extends z.ZodMiniType ? z.output<S> : undefined

/** What a client sends as params. */
export type ParamsIn<M extends ClientRequestMethod> = InputOf<ClientRequests[M]['params']>
/** What a handler receives after validation (defaults applied). */
export type ParamsOf<M extends ClientRequestMethod> = OutputOf<ClientRequests[M]['params']>
export type ResultOf<M extends ClientRequestMethod> = z.output<ClientRequests[M]['result']>
export type NotificationParams<M extends ServerNotificationMethod> = z.input<(typeof serverNotifications)[M]>
export type ServerRequestParams<M extends ServerRequestMethod> = z.input<(typeof serverRequests)[M]['params']>
export type ServerRequestResponse<M extends ServerRequestMethod> = z.output<
  (typeof serverRequests)[M]['response']
>
