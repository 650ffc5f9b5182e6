/**
 * Config-area request handlers: `config/read`, `config/value/write`, `config/batchWrite` and
 * `configRequirements/read`. The ConfigService does the work; this file maps it to codex's shapes.
 */
import { invalidRequest } from '../protocol/errors'
import type { ConfigService } from '../config/service'
import type { Handler } from './context'

/** Keys codex's `Config` always carries (null when unset), so clients written for codex find them. */
const CODEX_CONFIG_KEYS = [
  'model',
  'review_model',
  'model_context_window',
  'model_auto_compact_token_limit',
  'model_provider',
  'approval_policy',
  'sandbox_mode',
  'sandbox_workspace_write',
  'forced_chatgpt_workspace_id',
  'forced_login_method',
  'web_search',
  'tools',
  'profile',
  'instructions',
  'developer_instructions',
  'compact_prompt',
  'model_reasoning_effort',
  'model_reasoning_summary',
  'model_verbosity',
  'analytics',
] as const

export interface ConfigHandlerDeps {
  config: ConfigService
}

export function configHandlers(deps: ConfigHandlerDeps): {
  'config/read': Handler<'config/read'>
  'config/value/write': Handler<'config/value/write'>
  'config/batchWrite': Handler<'config/batchWrite'>
  'configRequirements/read': Handler<'configRequirements/read'>
} {
  const { config } = deps
  return {
    'config/read': (params) => {
      const { merged, origins, layers } = config.current
      const analytics = config.analytics
      const out: Record<string, unknown> = { profiles: {} }
      for (const key of CODEX_CONFIG_KEYS) out[key] = null
      Object.assign(out, merged)
      // Analytics show their effective value (flag and default included), with where it comes from.
      out.analytics = { ...merged.analytics, enabled: analytics.enabled }
      const allOrigins = { ...origins }
      if (analytics.origin) allOrigins['analytics.enabled'] = analytics.origin
      return {
        config: out,
        origins: allOrigins,
        ...(params.includeLayers
          ? {
              layers: [...layers].reverse().map((layer) => ({
                name: layer.name,
                version: layer.version,
                config: layer.config as Record<string, unknown>,
                ...(layer.disabledReason ? { disabledReason: layer.disabledReason } : {}),
              })),
            }
          : {}),
      }
    },
    'config/value/write': (params) => {
      if (params.value === undefined) throw invalidRequest('Invalid request: missing field `value`')
      return config.write({
        edits: [{ keyPath: params.keyPath, value: params.value, mergeStrategy: params.mergeStrategy }],
        filePath: params.filePath,
        expectedVersion: params.expectedVersion,
      })
    },
    'config/batchWrite': (params) => {
      const missing = params.edits.findIndex((e) => e.value === undefined)
      if (missing >= 0)
        throw invalidRequest(`Invalid request: missing field \`value\` at \`edits[${missing}]\``)
      return config.write({
        edits: params.edits.map((e) => ({
          keyPath: e.keyPath,
          value: e.value,
          mergeStrategy: e.mergeStrategy,
        })),
        filePath: params.filePath,
        expectedVersion: params.expectedVersion,
      })
    },
    'configRequirements/read': () => ({
      requirements: config.requirements(),
      supportsIndependentSpeedModes: true,
    }),
  }
}
