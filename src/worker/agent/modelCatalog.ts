/**
 * The model catalog as codex-desk answers it: the built-in OpenAI models (modelCatalogData.ts), the
 * configured model even when the catalog lacks it, and the models a provider's `/models` lists, as
 * codex's wire `Model`s; plus the context window a turn reports for a model.
 *
 * Pure: no I/O, no clock. It must never invent facts about a model it does not know beyond what codex
 * itself assumes for unknown models (its fallback metadata).
 */
import { invalidRequest, type RpcError } from '../protocol/errors'
import type { Model, ModelListResponse } from '../protocol/models'
import {
  FALLBACK_CONTEXT,
  MODEL_CATALOG,
  REASONING_EFFORT_DESCRIPTIONS,
  type CatalogEntry,
} from './modelCatalogData'

/** codex's default effort for a model whose metadata names none (`ReasoningEffort::default()`). */
const FALLBACK_EFFORT = 'medium'

export function findCatalogModel(id: string): CatalogEntry | undefined {
  return MODEL_CATALOG.find((entry) => entry.id === id)
}

/**
 * The context window a turn reports (`modelContextWindow`), as codex computes it: the catalog's
 * window, or `model_context_window` capped at the model's maximum, times the model's effective
 * percentage (95 for every model codex 0.169.0 knows, and for unknown ones), rounded down.
 * gpt-6.1-sol: 272000 x 95% = 258400; an unknown model gets codex's fallback 272000 the same way.
 */
export function effectiveContextWindow(model: string, configured?: number | null): number {
  const entry = findCatalogModel(model) ?? FALLBACK_CONTEXT
  const window =
    configured !== undefined && configured !== null
      ? Math.min(configured, entry.maxContextWindow)
      : entry.contextWindow
  return Math.floor((window * entry.effectiveContextWindowPercent) / 100)
}

function fromCatalog(entry: CatalogEntry): Omit<Model, 'isDefault'> {
  return {
    id: entry.id,
    model: entry.id,
    upgrade: entry.upgrade?.model ?? null,
    upgradeInfo: entry.upgrade ? { ...entry.upgrade } : null,
    availabilityNux: entry.availabilityNux !== null ? { message: entry.availabilityNux } : null,
    displayName: entry.displayName,
    description: entry.description,
    modelSpecialty: entry.modelSpecialty,
    hidden: entry.hidden,
    supportedReasoningEfforts: entry.efforts.map((reasoningEffort) => ({
      reasoningEffort,
      description: REASONING_EFFORT_DESCRIPTIONS[reasoningEffort] ?? '',
    })),
    defaultReasoningEffort: entry.defaultReasoningEffort,
    inputModalities: [...entry.inputModalities],
    supportsPersonality: false,
    multiAgentVersion: entry.multiAgentVersion,
    additionalSpeedTiers: [...entry.additionalSpeedTiers],
    serviceTiers: entry.serviceTiers.map((tier) => ({ ...tier })),
    defaultServiceTier: entry.defaultServiceTier,
    availableAccessPrograms: null,
  }
}

/** A model known only by its id (the configured one, or one a provider lists): codex's fallback metadata. */
function unknownModel(id: string): Omit<Model, 'isDefault'> {
  return {
    id,
    model: id,
    upgrade: null,
    upgradeInfo: null,
    availabilityNux: null,
    displayName: id,
    description: '',
    modelSpecialty: null,
    hidden: false,
    supportedReasoningEfforts: [],
    defaultReasoningEffort: FALLBACK_EFFORT,
    inputModalities: ['text', 'image'],
    supportsPersonality: false,
    multiAgentVersion: null,
    additionalSpeedTiers: [],
    serviceTiers: [],
    defaultServiceTier: null,
    availableAccessPrograms: null,
  }
}

export interface CatalogSources {
  /** The model `model/list` marks `isDefault`: config's `model` (or codex-desk's default). */
  defaultModel: string
  /** Listed (after the catalog) when the catalog lacks it; null when listing another provider. */
  configuredModel: string | null
  /** What the provider's `/models` answered, in its order (empty when not asked or it failed). */
  providerModels: readonly string[]
  includeHidden: boolean
}

/** Every model `model/list` reports: the catalog, then the configured model, then the provider's. */
export function listModels(sources: CatalogSources): Model[] {
  const seen = new Set<string>()
  const out: Model[] = []
  const add = (model: Omit<Model, 'isDefault'>) => {
    if (seen.has(model.id)) return
    seen.add(model.id)
    if (model.hidden && !sources.includeHidden) return
    out.push({ ...model, isDefault: model.id === sources.defaultModel })
  }
  for (const entry of MODEL_CATALOG) add(fromCatalog(entry))
  if (sources.configuredModel) add(unknownModel(sources.configuredModel))
  for (const id of sources.providerModels) add(unknownModel(id))
  return out
}

/**
 * One page, as codex pages `model/list`: no `limit` means everything; a `limit` of 0 means 1; the
 * cursor is the offset of the next item; a cursor past the end is an error, one at the end an empty page.
 */
export function pageOf(
  models: readonly Model[],
  cursor: string | null | undefined,
  limit: number | null | undefined,
): ModelListResponse {
  const total = models.length
  if (total === 0) return { data: [], nextCursor: null }
  const size = Math.min(Math.max(limit ?? total, 1), total)
  let start = 0
  if (cursor !== null && cursor !== undefined) {
    // Rust's usize parse: ASCII digits with an optional leading '+', nothing else.
    if (!/^\+?\d+$/.test(cursor) || !Number.isSafeInteger(Number(cursor)))
      throw invalidRequest(`invalid cursor: ${cursor}`)
    start = Number(cursor)
  }
  if (start > total) throw invalidRequest(`cursor ${start} exceeds total models ${total}`)
  const end = Math.min(start + size, total)
  return { data: models.slice(start, end), nextCursor: end < total ? String(end) : null }
}

/** codex's answer when `modelProvider` names a provider that is not configured. */
export function providerNotConfigured(provider: string): RpcError {
  return invalidRequest(
    `This chat uses model provider \u201c${provider}\u201d, which is no longer configured. ` +
      `Restore this provider\u2019s configuration to continue.`,
    { type: 'modelProviderNotConfigured', modelProvider: provider },
  )
}
