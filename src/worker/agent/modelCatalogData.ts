/**
 * The built-in model catalog: the OpenAI models codex 0.169.0 knows, as data. Every value was read
 * from real codex 0.169.0 (`model/list` with and without `includeHidden` in an empty CODEX_HOME, and
 * the context windows from the catalog its binary carries, confirmed by the `modelContextWindow` its
 * turns report). Order is codex's listing order (its catalog priority).
 *
 * Data only: no logic, no I/O. When codex's catalog changes, re-measure and edit here.
 */

export type InputModality = 'text' | 'image' | 'audio'
export type MultiAgentVersion = 'disabled' | 'v1' | 'v2'

export interface CatalogServiceTier {
  readonly id: string
  readonly name: string
  readonly description: string
}

export interface CatalogUpgrade {
  readonly model: string
  readonly upgradeCopy: string | null
  readonly modelLink: string | null
  readonly migrationMarkdown: string | null
  readonly retirementAt: number | null
}

export interface CatalogEntry {
  /** The slug, sent as `model` in model requests; codex's `id` and `model` are both this. */
  readonly id: string
  readonly displayName: string
  readonly description: string
  /** Listed only with `includeHidden`. */
  readonly hidden: boolean
  /** Effort names, in codex's order; their descriptions are in `REASONING_EFFORT_DESCRIPTIONS`. */
  readonly efforts: readonly string[]
  readonly defaultReasoningEffort: string
  readonly inputModalities: readonly InputModality[]
  readonly multiAgentVersion: MultiAgentVersion | null
  readonly additionalSpeedTiers: readonly string[]
  readonly serviceTiers: readonly CatalogServiceTier[]
  readonly defaultServiceTier: string | null
  readonly modelSpecialty: string | null
  readonly availabilityNux: string | null
  readonly upgrade: CatalogUpgrade | null
  /** Tokens, before the effective-percentage factor. */
  readonly contextWindow: number
  /** The most `model_context_window` may raise it to. */
  readonly maxContextWindow: number
  readonly effectiveContextWindowPercent: number
}

/** codex's descriptions of each effort level, the same for every model that offers it. */
export const REASONING_EFFORT_DESCRIPTIONS: Readonly<Record<string, string>> = {
  low: 'Fast responses with lighter reasoning',
  medium: 'Balances speed and reasoning depth for everyday tasks',
  high: 'Greater reasoning depth for complex problems',
  xhigh: 'Extra high reasoning depth for complex problems',
  max: 'Maximum reasoning depth for the hardest problems',
  ultra: 'Maximum reasoning with automatic task delegation',
}

/** What codex assumes for a model its catalog does not know (`model_info_from_slug`). */
export const FALLBACK_CONTEXT = {
  contextWindow: 272_000,
  maxContextWindow: 272_000,
  effectiveContextWindowPercent: 95,
} as const

const ALL_EFFORTS = ['low', 'medium', 'high', 'xhigh', 'max', 'ultra'] as const
const UP_TO_MAX = ['low', 'medium', 'high', 'xhigh', 'max'] as const
const TEXT_AND_IMAGE = ['text', 'image'] as const
const FAST = ['fast'] as const
const fastTier = (description: string): CatalogServiceTier[] => [
  { id: 'priority', name: 'Fast', description },
]

const upgradeTo = (model: string, migrationMarkdown: string): CatalogUpgrade => ({
  model,
  upgradeCopy: null,
  modelLink: null,
  migrationMarkdown,
  retirementAt: null,
})
const TO_GPT_6_SOL = upgradeTo(
  'gpt-6-sol',
  'Meet GPT-6 Sol\n\nOur latest Sol is more intelligent and more efficient so your usage limits go ' +
    'further. This model is a great daily driver for complex tasks, especially coding.\n',
)
const TO_GPT_6_LUNA = upgradeTo(
  'gpt-6-luna',
  'Meet GPT-6 Luna\n\nOur latest Luna is significantly more efficient, so your usage limits go even ' +
    "further. Reach for it for any job that doesn't require frontier intelligence.\n",
)

const LISTED = {
  hidden: false,
  inputModalities: TEXT_AND_IMAGE,
  additionalSpeedTiers: FAST,
  defaultServiceTier: null,
  modelSpecialty: null,
  availabilityNux: null,
  upgrade: null,
  contextWindow: 272_000,
  maxContextWindow: 872_000,
  effectiveContextWindowPercent: 95,
} as const

export const MODEL_CATALOG: readonly CatalogEntry[] = [
  {
    ...LISTED,
    id: 'gpt-6.1-sol',
    displayName: 'GPT-6.1-Sol',
    description: 'Latest workhorse model for coding and everyday work.',
    efforts: ALL_EFFORTS,
    defaultReasoningEffort: 'low',
    multiAgentVersion: 'v2',
    serviceTiers: fastTier('2x speed, increased usage'),
    availabilityNux:
      'Maximize usage with GPT-6.1 Sol. Try it on complex work for near-Astra performance at a lower cost.',
  },
  {
    ...LISTED,
    id: 'gpt-6-astra',
    displayName: 'GPT-6-Astra',
    description: 'Frontier intelligence for the most demanding work.',
    efforts: ALL_EFFORTS,
    defaultReasoningEffort: 'low',
    multiAgentVersion: 'v2',
    serviceTiers: fastTier('2x speed, increased usage'),
  },
  {
    ...LISTED,
    id: 'gpt-6-sol',
    displayName: 'GPT-6-Sol',
    description: 'Previous generation workhorse model.',
    efforts: ALL_EFFORTS,
    defaultReasoningEffort: 'medium',
    multiAgentVersion: 'v2',
    serviceTiers: fastTier('1.5x speed'),
    defaultServiceTier: 'priority',
  },
  {
    ...LISTED,
    id: 'gpt-6-luna',
    displayName: 'GPT-6-Luna',
    description: 'Fast and affordable model for easier tasks.',
    efforts: UP_TO_MAX,
    defaultReasoningEffort: 'medium',
    multiAgentVersion: 'v2',
    serviceTiers: fastTier('1.5x speed'),
    defaultServiceTier: 'priority',
  },
  {
    ...LISTED,
    id: 'gpt-5.6-sol',
    displayName: 'GPT-5.6-Sol',
    description: 'Older generation workhorse model.',
    efforts: ALL_EFFORTS,
    defaultReasoningEffort: 'low',
    multiAgentVersion: 'v2',
    serviceTiers: fastTier('1.5x speed, increased usage'),
    upgrade: TO_GPT_6_SOL,
  },
  {
    ...LISTED,
    id: 'gpt-6.1-terra',
    displayName: 'GPT-6.1 Terra',
    description: 'GPT-6.1 Terra Codex model.',
    efforts: ALL_EFFORTS,
    defaultReasoningEffort: 'low',
    multiAgentVersion: 'v2',
    serviceTiers: fastTier('1.5x speed'),
    contextWindow: 500_000,
  },
  {
    ...LISTED,
    id: 'gpt-5.6-terra',
    displayName: 'GPT-5.6-Terra',
    description: 'Older balanced model for straightforward work.',
    efforts: ALL_EFFORTS,
    defaultReasoningEffort: 'medium',
    multiAgentVersion: 'v2',
    serviceTiers: fastTier('1.5x speed, increased usage'),
    upgrade: TO_GPT_6_SOL,
  },
  {
    ...LISTED,
    id: 'gpt-5.6-luna',
    displayName: 'GPT-5.6-Luna',
    description: 'Older fast and efficient model.',
    efforts: UP_TO_MAX,
    defaultReasoningEffort: 'medium',
    multiAgentVersion: 'v1',
    serviceTiers: fastTier('1.5x speed, increased usage'),
    upgrade: TO_GPT_6_LUNA,
  },
  {
    ...LISTED,
    id: 'gpt-daybreak-blue-latest',
    displayName: 'Daybreak Blue',
    description: 'Latest frontier agentic coding model for broad defensive cybersecurity work.',
    hidden: true,
    efforts: ALL_EFFORTS,
    defaultReasoningEffort: 'low',
    multiAgentVersion: 'v2',
    additionalSpeedTiers: [],
    serviceTiers: [],
    modelSpecialty: 'cyber',
  },
  {
    ...LISTED,
    id: 'gpt-daybreak-red-latest',
    displayName: 'Daybreak Red',
    description:
      'Cyber-permissive variant of our latest frontier agentic coding model for advanced, authorized ' +
      'cybersecurity research.',
    hidden: true,
    efforts: ALL_EFFORTS,
    defaultReasoningEffort: 'medium',
    multiAgentVersion: 'v2',
    additionalSpeedTiers: [],
    serviceTiers: [],
    modelSpecialty: 'cyber',
    contextWindow: 372_000,
    maxContextWindow: 372_000,
  },
  {
    ...LISTED,
    id: 'gpt-5.5',
    displayName: 'GPT-5.5',
    description: 'Legacy coding model.',
    efforts: ['low', 'medium', 'high', 'xhigh'],
    defaultReasoningEffort: 'medium',
    multiAgentVersion: null,
    serviceTiers: fastTier('1.5x speed, increased usage'),
    upgrade: TO_GPT_6_SOL,
    maxContextWindow: 272_000,
  },
  {
    ...LISTED,
    id: 'codex-auto-review',
    displayName: 'Codex Auto Review',
    description: 'Automatic approval review model for Codex.',
    hidden: true,
    efforts: UP_TO_MAX,
    defaultReasoningEffort: 'medium',
    multiAgentVersion: 'v1',
    serviceTiers: fastTier('1.5x speed, increased usage'),
  },
]
