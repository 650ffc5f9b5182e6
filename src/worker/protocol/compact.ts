/**
 * `thread/compact/start`: summarizes a thread's context and continues from the summary. Shapes
 * follow codex 0.169.0's generated schema (ThreadCompactStartParams / ThreadCompactStartResponse).
 * The work shows as a turn holding one `contextCompaction` item. Runtime-free.
 */
import * as z from 'zod/mini'
import type { ClientRequestSpecs } from './spec'

export const ThreadCompactStartParams = z.object({ threadId: z.string() })
export type ThreadCompactStartParams = z.infer<typeof ThreadCompactStartParams>

export const ThreadCompactStartResponse = z.object({})
export type ThreadCompactStartResponse = z.infer<typeof ThreadCompactStartResponse>

export const compactRequests = {
  'thread/compact/start': { params: ThreadCompactStartParams, result: ThreadCompactStartResponse },
} as const satisfies ClientRequestSpecs
