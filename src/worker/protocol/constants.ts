/**
 * Plain values of the protocol that code on the start path needs (the experimental gates of
 * thread/start, thread/fork and server requests, the sandbox policy test), kept apart from the zod
 * schemas: importing this module builds no schema, so the registry's schemas can load on first use
 * instead of before the first `initialize` answer (docs/architecture.md, start-up budget). The
 * schema modules re-export these. Runtime-free, and it must never import a schema at runtime.
 */
import type { SandboxPolicy } from './thread'

/** Experimental booleans of thread/start, gated only when `true` (server/thread.ts checks them). */
export const THREAD_START_EXPERIMENTAL_FLAGS = [
  'allowProviderModelFallback',
  'experimentalRawEvents',
] as const

/** Experimental booleans of thread/fork, gated only when `true` (server/thread.ts checks them). */
export const THREAD_FORK_EXPERIMENTAL_FLAGS = [
  'attachToSource',
  'deferGoalContinuation',
  'experimentalDisablePredictionMcp',
  'experimentalPredictionMode',
] as const

/**
 * Fields of server requests that only connections with `capabilities.experimentalApi` receive; the
 * broker strips them for the others, as codex does.
 */
export const SERVER_REQUEST_EXPERIMENTAL_FIELDS: Readonly<Record<string, readonly string[]>> = {
  'item/commandExecution/requestApproval': ['availableDecisions', 'additionalPermissions'],
}

/** True when the policy confines nothing here (dangerFullAccess, or a sandbox someone else runs). */
export function isUnrestricted(policy: SandboxPolicy): boolean {
  return policy.type === 'dangerFullAccess' || policy.type === 'externalSandbox'
}
