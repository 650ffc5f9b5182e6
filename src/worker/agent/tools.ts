/**
 * The seam between the turn runner and the tools the model may call. The runner asks the host for
 * the tool specs of each request and hands every function call to `call` with the turn's services
 * (items, server requests, the turn's diff); the result goes back to the model as a
 * `function_call_output`. A tool never touches connections or the rollout directly: it goes
 * through the services, so persist-before-publish and the thread's status stay the runner's.
 */
import type { ThreadItem } from '../protocol/items'
import type {
  NotificationParams,
  ServerNotificationMethod,
  ServerRequestMethod,
  ServerRequestParams,
  ServerRequestResponse,
} from '../protocol/registry'
import { ServerRequestError } from '../transport/serverRequestApi'
import type { LiveThread } from '../threads/liveThread'
import type { ResolvedThreadSettings } from '../threads/threadSettings'
import type { Delivery } from '../transport/outboundRouter'
import type { Logger } from '../util/log'
import { webSearchToolSpec } from './webSearch'

export interface ToolCall {
  name: string
  callId: string
  /** The raw JSON argument string the model produced. */
  arguments: string
  /** The namespace tool the function belongs to (MCP servers: `mcp__<server>`). */
  namespace?: string
}

export interface RequestOptions {
  /** The request is an approval: the thread shows `waitingOnApproval` while it waits. */
  approval?: boolean
  /** No timeout when omitted (codex waits indefinitely for approvals). */
  timeoutMs?: number
}

/** What a tool may do within its turn. */
export interface ToolServices {
  readonly thread: LiveThread
  readonly threadId: string
  readonly turnId: string
  /** Aborts when the turn is interrupted. */
  readonly signal: AbortSignal
  readonly log: Logger
  readonly settings: ResolvedThreadSettings
  /**
   * Persists, then publishes, `item/started`; the item stays open until completed. Like
   * `completeItem` and `request`, it first waits until every streamed delta is published.
   */
  startItem(item: ThreadItem): Promise<void>
  /** Persists, then publishes, `item/completed`. */
  completeItem(item: ThreadItem): Promise<void>
  /** A turn or item event for the thread's subscribers. */
  publish<M extends ServerNotificationMethod>(method: M, params: NotificationParams<M>): Delivery
  /**
   * Streams an open item's text (a command's output): queues `text` for the rollout at `offset` (the
   * characters of this item streamed before it), and runs `publish` (the delta notification) once
   * that write has completed, in order with every other delta of the turn. So a crash keeps all a
   * client saw. Returns a promise to wait on when the producer should slow down, or undefined;
   * throws once a write has failed (nothing after it is published).
   */
  streamText(itemId: string, offset: number, text: string, publish: () => Delivery): Promise<void> | undefined
  /** Shows `waitingOnApproval` before the item an approval is about appears (codex's order). */
  markWaitingOnApproval(): void
  /**
   * A server request to the thread's subscribers (first answer wins). It is cancelled when the
   * turn is interrupted, and replayed to a client that resumes the thread meanwhile.
   */
  request<M extends ServerRequestMethod>(
    method: M,
    params: ServerRequestParams<M>,
    options?: RequestOptions,
  ): Promise<ServerRequestResponse<M>>
  /** Ends the turn as interrupted (the user answered `cancel`). */
  cancelTurn(): void
  /** One value per turn and key, made by `create` on first use (the turn's diff tracker). */
  turnScoped<T>(key: object, create: () => T): T
}

/** What goes back to the model: a plain string, or content items. */
export type ToolOutput = string | unknown[]

export interface ToolHost {
  /** Responses API tool definitions for the thread's next request. */
  specs(thread: LiveThread, settings: ResolvedThreadSettings): unknown[]
  call(call: ToolCall, services: ToolServices): Promise<ToolOutput>
  /** Releases what the tools hold (child processes, timers). */
  dispose?(): void
}

export const NO_TOOLS: ToolHost = {
  specs: () => [],
  call: async (call) => `unsupported call: ${call.name}`,
}

/** One tool of the built-in set. */
export interface Tool {
  readonly name: string
  /** The definition sent to the model, or null when the tool is off for this thread. */
  spec(thread: LiveThread, settings: ResolvedThreadSettings): unknown
  call(call: ToolCall, services: ToolServices): Promise<ToolOutput>
}

/** Routes calls by name over a set of tools; an unknown name gets codex's answer. */
export class ToolRouter implements ToolHost {
  private readonly byName = new Map<string, Tool>()

  constructor(
    tools: readonly Tool[],
    /** Tools that come with the thread (dynamic tools), looked up after the built-ins. */
    private readonly extra?: ToolHost,
  ) {
    for (const tool of tools) this.byName.set(tool.name, tool)
  }

  specs(thread: LiveThread, settings: ResolvedThreadSettings): unknown[] {
    const specs: unknown[] = []
    for (const tool of this.byName.values()) {
      const spec = tool.spec(thread, settings)
      if (spec) specs.push(spec)
    }
    // A client's tool named like a built-in is shadowed: the model must not see one name twice.
    for (const spec of this.extra?.specs(thread, settings) ?? []) {
      const name = (spec as { name?: unknown }).name
      if (typeof name !== 'string' || !this.byName.get(name)?.spec(thread, settings)) specs.push(spec)
    }
    // The provider's hosted web search comes last, as in codex's requests (agent/webSearch.ts).
    const webSearch = webSearchToolSpec(settings.config, settings.sandboxPolicy)
    if (webSearch) specs.push(webSearch)
    return specs
  }

  call(call: ToolCall, services: ToolServices): Promise<ToolOutput> {
    const tool = this.byName.get(call.name)
    if (tool && tool.spec(services.thread, services.settings)) return tool.call(call, services)
    return (this.extra ?? NO_TOOLS).call(call, services)
  }
}

type ApprovalMethod = 'item/commandExecution/requestApproval' | 'item/fileChange/requestApproval'

/**
 * Asks the subscribers to approve and returns their decision. An answer that is a JSON-RPC error,
 * or not a valid decision, counts as `decline`: a broken client must not run anything, nor fail the
 * turn. An interrupt still ends the wait with its error.
 */
export async function requestDecision<M extends ApprovalMethod>(
  services: ToolServices,
  method: M,
  params: ServerRequestParams<M>,
): Promise<ServerRequestResponse<M>['decision'] | 'decline'> {
  try {
    return (await services.request(method, params, { approval: true })).decision
  } catch (error) {
    if (!(error instanceof ServerRequestError)) throw error
    services.log.warn(
      { threadId: services.threadId, method, error },
      'an approval answer was not usable; declining',
    )
    return 'decline'
  }
}

/** Parses a call's JSON arguments; a parse failure becomes a message for the model. */
export function parseArguments(
  call: ToolCall,
): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: call.arguments.trim() === '' ? {} : JSON.parse(call.arguments) }
  } catch (error) {
    return { ok: false, message: `failed to parse function arguments: ${(error as Error).message}` }
  }
}
