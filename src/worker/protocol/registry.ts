/**
 * The protocol declared once: every method codex-desk speaks, with zod schemas for its params and
 * result (client requests), its params (notifications) or its params and the client's response
 * (server requests). Handlers, the test client and the renderer's client are typed from here, and
 * the message processor validates against it. A method string is spelled here and nowhere else
 * (other places use these keys, checked by the compiler). Schemas use `zod/mini`, which tree-shakes
 * to a fraction of classic zod's load time (the cold-start budget is 60 ms). Runtime-free.
 */
import type * as z from 'zod/mini'
import type { ClientRequestSpec, ServerRequestSpec } from './spec'
import { modelNotifications, modelRequests } from './models'
import { extensionNotifications, extensionRequests } from './extensions'
import { historyNotifications, historyRequests } from './threadHistory'
import { planNotifications } from './plan'
import { compactRequests } from './compact'
import { deskDiagnosticsNotifications, deskDiagnosticsRequests } from './deskDiagnostics'
import { mcpNotifications, mcpRequests, mcpServerRequests } from './mcp'
import { reviewRequests } from './review'
import { commandExecNotifications, commandExecRequests } from './commandExec'
import { fileSearchNotifications, fileSearchRequests } from './fileSearch'
import {
  AccountLoginCompletedNotification,
  AccountReadParams,
  AccountReadResponse,
  AccountUpdatedNotification,
  CancelLoginAccountParams,
  CancelLoginAccountResponse,
  ChatgptAuthTokensRefreshParams,
  ChatgptAuthTokensRefreshResponse,
  LoginAccountParams,
  LoginAccountResponse,
  LogoutAccountResponse,
} from './account'
import { initializeSpec } from './initialize'
import {
  ConfigBatchWriteParams,
  ConfigReadParams,
  ConfigReadResponse,
  ConfigRequirementsReadResponse,
  ConfigValueWriteParams,
  ConfigWriteResponse,
} from './config'
import { ThreadListResponse } from './items'
import { threadListRequestSpec } from './threadList'
import { ConfigWarningNotification } from './notifications'
import {
  CommandExecutionOutputDeltaNotification,
  CommandExecutionRequestApprovalParams,
  CommandExecutionRequestApprovalResponse,
  DynamicToolCallParams,
  DynamicToolCallResponse,
  FileChangeRequestApprovalParams,
  FileChangeRequestApprovalResponse,
  TurnDiffUpdatedNotification,
} from './tools'
import {
  DeprecationNoticeNotification,
  EmptyResponse,
  THREAD_FORK_EXPERIMENTAL_FIELDS,
  THREAD_RESUME_EXPERIMENTAL_FIELDS,
  THREAD_START_EXPERIMENTAL_FIELDS,
  ThreadArchivedNotification,
  ThreadClosedNotification,
  ThreadForkParams,
  ThreadForkResponse,
  ThreadIdParams,
  ThreadLoadedListParams,
  ThreadLoadedListResponse,
  ThreadNameSetParams,
  ThreadNameUpdatedNotification,
  ThreadReadParams,
  ThreadReadResponse,
  ThreadResumeParams,
  ThreadResumeResponse,
  ThreadSettingsUpdatedNotification,
  ThreadSettingsUpdateParams,
  ThreadStartedNotification,
  ThreadStartParams,
  ThreadStartResponse,
  ThreadStatusChangedNotification,
  ThreadTokenUsageUpdatedNotification,
  ThreadUnarchivedNotification,
  ThreadUnarchiveResponse,
  ThreadUnsubscribeParams,
  ThreadUnsubscribeResponse,
} from './thread'
import {
  AgentMessageDeltaNotification,
  ErrorNotification,
  ItemCompletedNotification,
  ItemStartedNotification,
  ReasoningSummaryPartAddedNotification,
  ReasoningSummaryTextDeltaNotification,
  ReasoningTextDeltaNotification,
  ServerRequestResolvedNotification,
  TURN_START_EXPERIMENTAL_FIELDS,
  TurnCompletedNotification,
  TurnInterruptParams,
  TurnStartedNotification,
  TurnStartParams,
  TurnStartResponse,
  TurnSteerParams,
  TurnSteerResponse,
  WarningNotification,
} from './turn'

export type { ClientRequestSpec, ServerRequestSpec } from './spec'

export const clientRequests = {
  initialize: initializeSpec,
  'thread/start': {
    params: ThreadStartParams,
    result: ThreadStartResponse,
    experimentalFields: THREAD_START_EXPERIMENTAL_FIELDS,
  },
  'thread/resume': {
    params: ThreadResumeParams,
    result: ThreadResumeResponse,
    experimentalFields: THREAD_RESUME_EXPERIMENTAL_FIELDS,
  },
  'thread/fork': {
    params: ThreadForkParams,
    result: ThreadForkResponse,
    experimentalFields: THREAD_FORK_EXPERIMENTAL_FIELDS,
  },
  'thread/read': { params: ThreadReadParams, result: ThreadReadResponse },
  'thread/list': { ...threadListRequestSpec, result: ThreadListResponse },
  'thread/loaded/list': { params: ThreadLoadedListParams, result: ThreadLoadedListResponse },
  'thread/unsubscribe': { params: ThreadUnsubscribeParams, result: ThreadUnsubscribeResponse },
  'thread/archive': { params: ThreadIdParams, result: EmptyResponse },
  'thread/unarchive': { params: ThreadIdParams, result: ThreadUnarchiveResponse },
  'thread/name/set': { params: ThreadNameSetParams, result: EmptyResponse },
  'thread/settings/update': { params: ThreadSettingsUpdateParams, result: EmptyResponse, experimental: true },
  'turn/start': {
    params: TurnStartParams,
    result: TurnStartResponse,
    experimentalFields: TURN_START_EXPERIMENTAL_FIELDS,
  },
  'turn/steer': { params: TurnSteerParams, result: TurnSteerResponse },
  'turn/interrupt': { params: TurnInterruptParams, result: EmptyResponse },
  'config/read': { params: ConfigReadParams, result: ConfigReadResponse },
  'config/value/write': { params: ConfigValueWriteParams, result: ConfigWriteResponse },
  'config/batchWrite': { params: ConfigBatchWriteParams, result: ConfigWriteResponse },
  'configRequirements/read': { params: null, result: ConfigRequirementsReadResponse },
  'account/read': { params: AccountReadParams, result: AccountReadResponse },
  'account/login/start': { params: LoginAccountParams, result: LoginAccountResponse },
  'account/login/cancel': { params: CancelLoginAccountParams, result: CancelLoginAccountResponse },
  'account/logout': { params: null, result: LogoutAccountResponse },
  ...modelRequests,
  ...extensionRequests,
  ...historyRequests,
  ...compactRequests,
  ...deskDiagnosticsRequests,
  ...mcpRequests,
  ...reviewRequests,
  ...commandExecRequests,
  ...fileSearchRequests,
} as const satisfies Record<string, ClientRequestSpec>

export const clientNotifications = {
  initialized: null,
} as const satisfies Record<string, z.ZodMiniType | null>

export const serverNotifications = {
  configWarning: ConfigWarningNotification,
  deprecationNotice: DeprecationNoticeNotification,
  'thread/started': ThreadStartedNotification,
  'thread/status/changed': ThreadStatusChangedNotification,
  'thread/closed': ThreadClosedNotification,
  'thread/archived': ThreadArchivedNotification,
  'thread/unarchived': ThreadUnarchivedNotification,
  'thread/name/updated': ThreadNameUpdatedNotification,
  'thread/settings/updated': ThreadSettingsUpdatedNotification,
  'thread/tokenUsage/updated': ThreadTokenUsageUpdatedNotification,
  'turn/started': TurnStartedNotification,
  'turn/completed': TurnCompletedNotification,
  'item/started': ItemStartedNotification,
  'item/completed': ItemCompletedNotification,
  'item/agentMessage/delta': AgentMessageDeltaNotification,
  'item/reasoning/summaryTextDelta': ReasoningSummaryTextDeltaNotification,
  'item/reasoning/summaryPartAdded': ReasoningSummaryPartAddedNotification,
  'item/reasoning/textDelta': ReasoningTextDeltaNotification,
  'item/commandExecution/outputDelta': CommandExecutionOutputDeltaNotification,
  'turn/diff/updated': TurnDiffUpdatedNotification,
  error: ErrorNotification,
  warning: WarningNotification,
  'serverRequest/resolved': ServerRequestResolvedNotification,
  'account/login/completed': AccountLoginCompletedNotification,
  'account/updated': AccountUpdatedNotification,
  ...modelNotifications,
  ...extensionNotifications,
  ...historyNotifications,
  ...planNotifications,
  ...deskDiagnosticsNotifications,
  ...mcpNotifications,
  ...commandExecNotifications,
  ...fileSearchNotifications,
} as const satisfies Record<string, z.ZodMiniType>

export const serverRequests = {
  'account/chatgptAuthTokens/refresh': {
    params: ChatgptAuthTokensRefreshParams,
    response: ChatgptAuthTokensRefreshResponse,
  },
  'item/commandExecution/requestApproval': {
    params: CommandExecutionRequestApprovalParams,
    response: CommandExecutionRequestApprovalResponse,
  },
  'item/fileChange/requestApproval': {
    params: FileChangeRequestApprovalParams,
    response: FileChangeRequestApprovalResponse,
  },
  'item/tool/call': { params: DynamicToolCallParams, response: DynamicToolCallResponse },
  ...mcpServerRequests,
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
