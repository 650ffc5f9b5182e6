/**
 * The params codex 0.169 takes that codex-desk accepts without acting on, per method, and the
 * debug log that notes each of them once per process (never per request: a client like the TUI
 * sends several of them on every call). README lists the same fields for users.
 *
 * It must never reject anything: a field listed here is one the schema already accepted.
 */
import type { Logger } from '../util/log'

export const IGNORED_PARAMS = {
  'thread/start': [
    'serviceName',
    'sessionStartSource',
    'permissions',
    'runtimeWorkspaceRoots',
    'environments',
    'selectedCapabilityRoots',
    'daybreakEnabled',
    'multiAgentMode',
    'allowProviderModelFallback',
    'experimentalRawEvents',
    'mockExperimentalField',
  ],
  'thread/resume': ['history', 'path', 'initialTurnsPage', 'permissions', 'runtimeWorkspaceRoots'],
  'thread/fork': [
    'beforeTurnId',
    'path',
    'permissions',
    'runtimeWorkspaceRoots',
    'attachToSource',
    'deferGoalContinuation',
    'experimentalDisablePredictionMcp',
    'experimentalPredictionMode',
  ],
  'turn/start': [
    'serviceTierForTurn',
    'cyberAccessProgram',
    'turnTrigger',
    'parentTurnId',
    'rootTurnId',
    'toolOutput',
    'environments',
    'permissions',
    'runtimeWorkspaceRoots',
    'additionalContext',
    'responsesapiClientMetadata',
    'responsesapiClientMetadataPatch',
    'multiAgentMode',
  ],
  'thread/settings/update': ['environments', 'permissions', 'multiAgentMode'],
} as const

const logged = new Set<string>()

/**
 * Logs, at debug and once per method and field for the life of the process, each listed param the
 * request carries. Null, omitted and `false` values count as not sent.
 */
export function logIgnoredParams(
  log: Logger,
  method: keyof typeof IGNORED_PARAMS,
  params: object,
  fields: readonly string[] = IGNORED_PARAMS[method],
): void {
  for (const field of fields) {
    const value: unknown = (params as Record<string, unknown>)[field]
    if (value === undefined || value === null || value === false) continue
    const key = `${method}.${field}`
    if (logged.has(key)) continue
    logged.add(key)
    log.debug({ method, field }, `${key} is accepted and ignored: codex-desk does not implement it`)
  }
}
