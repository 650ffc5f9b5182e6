/** Config-area shapes: `config/read`, `config/value/write`, `config/batchWrite`, `configRequirements/read` (protocol.md §9, §11). Runtime-free. */
import * as z from 'zod/mini'

export const ConfigLayerSource = z.union([
  z.object({ type: z.literal('mdm'), domain: z.string(), key: z.string() }),
  z.object({ type: z.literal('system'), file: z.string() }),
  z.object({ type: z.literal('user'), file: z.string() }),
  z.object({ type: z.literal('project'), dotCodexFolder: z.string() }),
  z.object({ type: z.literal('sessionFlags') }),
  z.object({ type: z.literal('legacyManagedConfigTomlFromFile'), file: z.string() }),
  z.object({ type: z.literal('legacyManagedConfigTomlFromMdm') }),
])

export const ConfigLayerMetadata = z.object({ name: ConfigLayerSource, version: z.string() })

export const ConfigLayer = z.object({
  name: ConfigLayerSource,
  version: z.string(),
  config: z.record(z.string(), z.unknown()),
  disabledReason: z.optional(z.string()),
})

export const ConfigReadParams = z.object({
  includeLayers: z._default(z.boolean(), false),
  /** Accepted for compatibility; codex-desk has no project layers, so it does not change the result. */
  cwd: z.nullish(z.string()),
})

export const ConfigReadResponse = z.object({
  /** The merged layers, snake_case as in config.toml; known keys that no layer sets are null. */
  config: z.record(z.string(), z.unknown()),
  origins: z.record(z.string(), ConfigLayerMetadata),
  layers: z.optional(z.array(ConfigLayer)),
})

export const MergeStrategy = z.enum(['replace', 'upsert'])

export const ConfigEdit = z.object({
  keyPath: z.string(),
  /** Any JSON value; `null` removes the key. Required (checked by the handler: zod treats unknown as optional). */
  value: z.unknown(),
  mergeStrategy: MergeStrategy,
})

export const ConfigValueWriteParams = z.object({
  keyPath: z.string(),
  value: z.unknown(),
  mergeStrategy: MergeStrategy,
  filePath: z.nullish(z.string()),
  expectedVersion: z.nullish(z.string()),
})

export const ConfigBatchWriteParams = z.object({
  edits: z.array(ConfigEdit),
  filePath: z.nullish(z.string()),
  expectedVersion: z.nullish(z.string()),
  reloadUserConfig: z.optional(z.boolean()),
})

export const ConfigWriteResponse = z.object({
  status: z.enum(['ok', 'okOverridden']),
  version: z.string(),
  filePath: z.string(),
  overriddenMetadata: z.nullable(
    z.object({ message: z.string(), overridingLayer: ConfigLayerMetadata, effectiveValue: z.unknown() }),
  ),
})

/** Codex's `config_write_error_code` values, sent in `error.data`. */
export const CONFIG_WRITE_ERROR_CODES = [
  'configLayerReadonly',
  'configVersionConflict',
  'configValidationError',
  'configPathNotFound',
  'configSchemaUnknownKey',
  'userLayerNotFound',
] as const
export type ConfigWriteErrorCode = (typeof CONFIG_WRITE_ERROR_CODES)[number]

export const ConfigRequirements = z.object({
  allowedApprovalPolicies: z.nullable(z.array(z.string())),
  allowedSandboxModes: z.nullable(z.array(z.string())),
  allowedLoginMethods: z.nullable(z.array(z.string())),
  featureRequirements: z.nullable(z.record(z.string(), z.boolean())),
  enforceResidency: z.nullable(z.literal('us')),
})

export const ConfigRequirementsReadResponse = z.object({
  requirements: z.nullable(ConfigRequirements),
  supportsIndependentSpeedModes: z.optional(z.boolean()),
})
