/**
 * The registry entries a new core answers before the rest of the registry has loaded: `initialize`
 * and `thread/list`, what a client sends first (server/messageProcessor.ts `LazyRegistry`). Each is
 * the registry's own entry for its method without the result schema (registry.ts spreads them).
 *
 * Light on purpose: it must never import a module holding the item, turn or thread schemas, or a
 * new core's first answers would pay for loading them.
 */
import { initializeSpec } from './initialize'
import { threadListRequestSpec } from './threadList'

export const earlyRequests = {
  initialize: initializeSpec,
  'thread/list': threadListRequestSpec,
} as const
