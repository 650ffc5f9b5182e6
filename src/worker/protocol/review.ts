/**
 * `review/start` (a code review run as a turn of its own) and `thread/shellCommand` (a command the
 * user runs in a thread, the TUI's `!cmd`). Shapes follow codex 0.169.0's generated schema
 * (ReviewStartParams / ReviewStartResponse, ThreadShellCommandParams / ThreadShellCommandResponse).
 * `delivery: "detached"` is accepted beyond 0.169 (which only knows `inline`), as earlier codex
 * versions did: the review runs on a new thread forked from the given one. Runtime-free.
 */
import * as z from 'zod/mini'
import { Turn } from './items'
import type { ClientRequestSpecs } from './spec'

export const ReviewTarget = z.discriminatedUnion('type', [
  /** The working tree: staged, unstaged and untracked files. */
  z.object({ type: z.literal('uncommittedChanges') }),
  /** The current branch against a base branch (from their merge base). */
  z.object({ type: z.literal('baseBranch'), branch: z.string() }),
  /** What one commit introduced; `title` is a label for UIs (the commit's subject). */
  z.object({ type: z.literal('commit'), sha: z.string(), title: z.nullish(z.string()) }),
  /** Free-form instructions. */
  z.object({ type: z.literal('custom'), instructions: z.string() }),
])
export type ReviewTarget = z.infer<typeof ReviewTarget>

export const ReviewDelivery = z.enum(['inline', 'detached'])
export type ReviewDelivery = z.infer<typeof ReviewDelivery>

export const ReviewStartParams = z.object({
  threadId: z.string(),
  target: ReviewTarget,
  delivery: z.nullish(ReviewDelivery),
})
export type ReviewStartParams = z.infer<typeof ReviewStartParams>

/** `reviewThreadId`: the given thread (inline) or the new review thread (detached). */
export const ReviewStartResponse = z.object({ turn: Turn, reviewThreadId: z.string() })
export type ReviewStartResponse = z.infer<typeof ReviewStartResponse>

export const ThreadShellCommandParams = z.object({
  threadId: z.string(),
  /** A script for the user's shell (pipes, redirects and quoting kept). Runs outside the sandbox. */
  command: z.string(),
  /** Defaults to one hour; 0 times out at once. */
  timeoutMs: z.nullish(z.number()),
})
export type ThreadShellCommandParams = z.infer<typeof ThreadShellCommandParams>

export const ThreadShellCommandResponse = z.object({})
export type ThreadShellCommandResponse = z.infer<typeof ThreadShellCommandResponse>

export const reviewRequests = {
  'review/start': { params: ReviewStartParams, result: ReviewStartResponse },
  'thread/shellCommand': { params: ThreadShellCommandParams, result: ThreadShellCommandResponse },
} as const satisfies ClientRequestSpecs
