/**
 * What a turn and the code around it agree on: the outcome a turn ends with, what a turn needs from
 * the thread manager (TurnHost), and what a turn that is not a plain model conversation may do
 * (TurnJob, TurnJobContext, SideConversation: review/start, thread/shellCommand).
 *
 * Types only: it must never hold logic or state, so any module may depend on it without pulling in
 * the turn runner.
 */
import type { ThreadItem, TurnError } from '../protocol/items'
import type {
  NotificationParams,
  ServerNotificationMethod,
  ServerRequestMethod,
  ServerRequestParams,
  ServerRequestResponse,
} from '../protocol/registry'
import type { LiveThread } from '../threads/liveThread'
import type { ResolvedThreadSettings } from '../threads/threadSettings'
import type { Delivery } from '../transport/outboundRouter'
import type { Logger } from '../util/log'
import type { ModelClient } from './modelClient'
import type { RequestOptions, ToolHost, ToolServices } from './tools'
import type { TurnRunner } from './turnRunner'

export type TurnOutcome = { status: 'completed' | 'interrupted' } | { status: 'failed'; error: TurnError }

/**
 * A conversation with the model beside the thread's own (a review): its input is its own, what the
 * model answers and the tools return goes to it rather than to the thread's history, and the model's
 * messages are not shown as items (the job shows what it makes of them).
 */
export interface SideConversation {
  input(settings: ResolvedThreadSettings): Promise<unknown[]>
  tools(specs: unknown[]): unknown[]
  remember(item: unknown): void
  /** The settings the conversation runs with (its tools see them too). */
  settings?(thread: ResolvedThreadSettings): ResolvedThreadSettings
}

/** What a turn that is not a plain model conversation (review/start, thread/shellCommand) may do. */
export interface TurnJobContext {
  readonly threadId: string
  readonly turnId: string
  readonly thread: LiveThread
  readonly signal: AbortSignal
  readonly log: Logger
  settings(): ResolvedThreadSettings
  startItem(item: ThreadItem): Promise<void>
  completeItem(item: ThreadItem): Promise<void>
  /** Persists a model input item and adds it to the thread's history. */
  remember(item: unknown): Promise<void>
  /** Samples the model on a side conversation until it stops calling tools. */
  converse(side: SideConversation): Promise<void>
  services(): ToolServices
}

export interface TurnJob {
  run(context: TurnJobContext): Promise<void>
}

/** What a turn needs from the thread manager. */
export interface TurnHost {
  readonly thread: LiveThread
  readonly log: Logger
  tools(): Promise<ToolHost>
  /** A turn or item event for the thread's subscribers. */
  publish<M extends ServerNotificationMethod>(method: M, params: NotificationParams<M>): Delivery
  /** Sets the live status, announcing a change. */
  setActive(): void
  /** Shows `active ["waitingOnApproval"]` (announced once per change). */
  markWaitingOnApproval(): void
  /** A server request to the thread's subscribers; see ToolServices.request. */
  request<M extends ServerRequestMethod>(
    method: M,
    params: ServerRequestParams<M>,
    options: RequestOptions & { signal: AbortSignal },
  ): Promise<ServerRequestResponse<M>>
  settings(): ResolvedThreadSettings
  modelClient(settings: ResolvedThreadSettings): ModelClient
  /** The turn has ended and is persisted; the host publishes the status and `turn/completed`. */
  finished(runner: TurnRunner, outcome: TurnOutcome): void
}
