/**
 * Dynamic tools (protocol.md §7): tools a client declares on `thread/start` and serves itself.
 * Validation follows codex's rules and messages (threads/dynamicToolSpecs.ts, re-exported here, as
 * thread/start validates in the threads layer); the specs are stored with the thread (its session
 * meta) so they survive resume and restart. A model call becomes a `dynamicToolCall` item and an
 * `item/tool/call` request to the thread's subscribers; the answer goes back to the model shaped as
 * codex shapes it.
 *
 * It must never let a client that does not answer hang the turn: every call has a timeout.
 */
import type { DynamicToolCallItem } from '../protocol/items'
import { DynamicToolCallResult, type DynamicToolContentItem, type DynamicToolSpec } from '../protocol/tools'
import { ServerRequestError, ServerRequestTimeoutError } from '../transport/serverRequestApi'
import type { LiveThread } from '../threads/liveThread'
import { parseArguments, type ToolCall, type ToolHost, type ToolOutput, type ToolServices } from './tools'

export { validateDynamicTools } from '../threads/dynamicToolSpecs'

/** The thread's dynamic tools as a tool host (after the built-ins in the router). */
export const dynamicToolHost: ToolHost = {
  specs: (thread) =>
    thread.dynamicTools
      .filter((tool) => !tool.deferLoading)
      .map((tool) => ({
        type: 'function',
        name: tool.name,
        description: tool.description,
        strict: false,
        parameters: tool.inputSchema,
      })),
  call: (call, services) => callDynamicTool(call, services),
}

function findTool(thread: LiveThread, name: string): DynamicToolSpec | undefined {
  return thread.dynamicTools.find((tool) => tool.name === name)
}

async function callDynamicTool(call: ToolCall, services: ToolServices): Promise<ToolOutput> {
  const tool = findTool(services.thread, call.name)
  if (!tool) return `unsupported call: ${call.name}`
  const parsed = parseArguments(call)
  const args = parsed.ok ? parsed.value : call.arguments
  const started = Date.now()
  const item: DynamicToolCallItem = {
    type: 'dynamicToolCall',
    id: call.callId,
    namespace: tool.namespace,
    tool: tool.name,
    arguments: args,
    status: 'inProgress',
    contentItems: null,
    success: null,
    durationMs: null,
  }
  await services.startItem(item)
  // config `dynamic_tool_timeout_secs`: a client that never answers must not hang the turn.
  const timeoutMs = services.settings.config.dynamic_tool_timeout_secs * 1000
  let outcome: { contentItems: DynamicToolContentItem[]; success: boolean } | { failure: string }
  try {
    const response = await services.request(
      'item/tool/call',
      {
        threadId: services.threadId,
        turnId: services.turnId,
        callId: call.callId,
        namespace: tool.namespace,
        tool: tool.name,
        arguments: args,
      },
      { timeoutMs },
    )
    const result = DynamicToolCallResult.safeParse(response)
    outcome = result.success ? result.data : { failure: 'dynamic tool response was invalid' }
  } catch (error) {
    if (services.signal.aborted) throw error
    if (error instanceof ServerRequestTimeoutError) {
      outcome = { failure: `dynamic tool request timed out after ${timeoutMs / 1000}s` }
    } else if (error instanceof ServerRequestError) {
      outcome = { failure: 'dynamic tool request failed' }
    } else {
      throw error
    }
    services.log.warn({ threadId: services.threadId, tool: tool.name, error }, 'dynamic tool call failed')
  }
  const success = 'failure' in outcome ? false : outcome.success
  const contentItems =
    'failure' in outcome ? [{ type: 'inputText' as const, text: outcome.failure }] : outcome.contentItems
  await services.completeItem({
    ...item,
    status: success ? 'completed' : 'failed',
    contentItems,
    success,
    durationMs: Date.now() - started,
  })
  return 'failure' in outcome ? outcome.failure : modelOutput(outcome.contentItems)
}

const IMAGE_OMITTED = 'image content omitted because it could not be processed'

/** codex's shaping: one text item is a plain string, otherwise Responses input parts. `success` is not sent. */
export function modelOutput(items: readonly DynamicToolContentItem[]): ToolOutput {
  const only = items.length === 1 ? items[0] : undefined
  if (only?.type === 'inputText') return only.text
  return items.map((item) => {
    switch (item.type) {
      case 'inputText':
        return { type: 'input_text', text: item.text }
      case 'inputImage':
        return usableImageUrl(item.imageUrl)
          ? { type: 'input_image', image_url: item.imageUrl }
          : { type: 'input_text', text: IMAGE_OMITTED }
      case 'inputAudio':
        return { type: 'input_text', text: 'audio content omitted because it is not supported' }
    }
  })
}

/** An http(s) URL, or a base64 image data URL whose payload decodes. */
function usableImageUrl(url: string): boolean {
  if (/^https?:\/\//i.test(url)) return true
  const match = /^data:image\/[a-z0-9.+-]+;base64,([A-Za-z0-9+/]+={0,2})$/i.exec(url)
  return !!match && (match[1] as string).length % 4 === 0
}
