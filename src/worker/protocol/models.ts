/**
 * Model catalog shapes: `model/list`, `modelProvider/capabilities/read` (codex 0.169.0's
 * ModelListParams/Response and ModelProviderCapabilitiesRead*). Runtime-free.
 */
import * as z from 'zod/mini'
import type { ClientRequestSpecs, NotificationSpecs } from './spec'

const U32_MAX = 4_294_967_295

export const ModelListParams = z.object({
  /** Opaque: codex-desk's cursors are the decimal offset of the next item, as codex's are. */
  cursor: z.nullish(z.string()),
  limit: z.nullish(z.int().check(z.nonnegative(), z.maximum(U32_MAX))),
  includeHidden: z.nullish(z.boolean()),
  /** A configured provider id; the default is config's `model_provider`. */
  modelProvider: z.nullish(z.string()),
})
export type ModelListParams = z.infer<typeof ModelListParams>

export const ReasoningEffortOption = z.object({
  reasoningEffort: z.string().check(z.minLength(1)),
  description: z.string(),
})

export const ModelServiceTier = z.object({ id: z.string(), name: z.string(), description: z.string() })

export const ModelUpgradeInfo = z.object({
  model: z.string(),
  upgradeCopy: z.nullable(z.string()),
  modelLink: z.nullable(z.string()),
  migrationMarkdown: z.nullable(z.string()),
  retirementAt: z.nullable(z.int()),
})

export const Model = z.object({
  id: z.string(),
  model: z.string(),
  upgrade: z.nullable(z.string()),
  upgradeInfo: z.nullable(ModelUpgradeInfo),
  availabilityNux: z.nullable(z.object({ message: z.string() })),
  displayName: z.string(),
  description: z.string(),
  modelSpecialty: z.nullable(z.string()),
  hidden: z.boolean(),
  supportedReasoningEfforts: z.array(ReasoningEffortOption),
  defaultReasoningEffort: z.string().check(z.minLength(1)),
  inputModalities: z.array(z.enum(['text', 'image', 'audio'])),
  supportsPersonality: z.boolean(),
  multiAgentVersion: z.nullable(z.enum(['disabled', 'v1', 'v2'])),
  additionalSpeedTiers: z.array(z.string()),
  serviceTiers: z.array(ModelServiceTier),
  defaultServiceTier: z.nullable(z.string()),
  availableAccessPrograms: z.nullable(
    z.object({ cyber: z.array(z.enum(['standard', 'daybreakBlue', 'daybreakRed'])) }),
  ),
  isDefault: z.boolean(),
})
export type Model = z.infer<typeof Model>

export const ModelListResponse = z.object({
  data: z.array(Model),
  nextCursor: z.nullable(z.string()),
})
export type ModelListResponse = z.infer<typeof ModelListResponse>

/** codex takes no params (an object is still required); unknown keys are dropped. */
export const ModelProviderCapabilitiesReadParams = z.object({})

export const ModelProviderCapabilitiesReadResponse = z.object({
  imageGeneration: z.boolean(),
  webSearch: z.boolean(),
})

export const modelRequests = {
  'model/list': { params: ModelListParams, result: ModelListResponse },
  'modelProvider/capabilities/read': {
    params: ModelProviderCapabilitiesReadParams,
    result: ModelProviderCapabilitiesReadResponse,
  },
} as const satisfies ClientRequestSpecs
export const modelNotifications = {} as const satisfies NotificationSpecs
