/**
 * What a client asks about the workspace's extensions and capabilities: skills, hooks, plugins,
 * apps, MCP server status, collaboration modes, experimental features, permission profiles,
 * external agent config, rate limits. Shapes follow codex 0.169.0; where codex-desk never has an
 * entry of some kind (plugins, apps, hooks, import candidates) the list's element type is `never`,
 * so the types themselves say those lists stay empty. Runtime-free.
 */
import * as z from 'zod/mini'
import type { ClientRequestSpecs, NotificationSpecs } from './spec'

const nullableString = z.nullable(z.string())
const cwds = z.nullish(z.array(z.string()))
/** Paged lists take an opaque cursor (codex: a decimal offset) and a page size. */
const paging = {
  cursor: z.nullish(z.string()),
  limit: z.nullish(z.int().check(z.nonnegative())),
}

// ---------------------------------------------------------------------------------------------
// Skills

export const SkillScope = z.enum(['user', 'repo', 'system', 'admin'])
export type SkillScope = z.infer<typeof SkillScope>

export const SkillMetadata = z.object({
  name: z.string(),
  description: z.string(),
  /** `metadata.short-description` of the front matter; omitted when there is none (as codex). */
  shortDescription: z.optional(nullableString),
  /** The SKILL.md file, symlinks resolved. */
  path: z.string(),
  scope: SkillScope,
  enabled: z.boolean(),
  pluginId: nullableString,
})
export type SkillMetadata = z.infer<typeof SkillMetadata>

export const SkillErrorInfo = z.object({ path: z.string(), message: z.string() })
export type SkillErrorInfo = z.infer<typeof SkillErrorInfo>

export const SkillsListEntry = z.object({
  cwd: z.string(),
  skills: z.array(SkillMetadata),
  errors: z.array(SkillErrorInfo),
})
export type SkillsListEntry = z.infer<typeof SkillsListEntry>

export const SkillsListParams = z.object({
  /** Empty or missing: the server's working directory. */
  cwds: z.optional(z.array(z.string())),
  forceReload: z.optional(z.boolean()),
})
export const SkillsListResponse = z.object({ data: z.array(SkillsListEntry) })

/** An invalidation signal: re-run `skills/list`. */
export const SkillsChangedNotification = z.object({})

// ---------------------------------------------------------------------------------------------
// Hooks, plugins, apps: codex-desk has none of them

export const HooksListParams = z.object({
  cwds: z.optional(z.array(z.string())),
  threadId: z.nullish(z.string()),
})
export const HooksListEntry = z.object({
  cwd: z.string(),
  hooks: z.array(z.never()),
  warnings: z.array(z.string()),
  errors: z.array(z.object({ path: z.string(), message: z.string() })),
})
export const HooksListResponse = z.object({ data: z.array(HooksListEntry) })

export const PluginListParams = z.object({
  cwds,
  forceRefetch: z.optional(z.boolean()),
  marketplaceKinds: z.nullish(z.array(z.string())),
})
export const PluginListResponse = z.object({
  marketplaces: z.array(z.never()),
  marketplaceLoadErrors: z.array(z.never()),
  featuredPluginIds: z.array(z.string()),
})
export const PluginInstalledParams = z.object({
  cwds,
  installSuggestionPluginNames: z.nullish(z.array(z.string())),
})
export const PluginInstalledResponse = z.object({
  marketplaces: z.array(z.never()),
  marketplaceLoadErrors: z.array(z.never()),
})

export const AppsListParams = z.object({
  ...paging,
  forceRefetch: z.optional(z.boolean()),
  threadId: z.nullish(z.string()),
})
export const AppsListResponse = z.object({ data: z.array(z.never()), nextCursor: nullableString })

// ---------------------------------------------------------------------------------------------
// Modes, features, permission profiles

export const ModeKind = z.enum(['plan', 'default'])
export const CollaborationModeMask = z.object({
  name: z.string(),
  mode: z.nullable(ModeKind),
  model: nullableString,
  reasoning_effort: nullableString,
})
export const CollaborationModeListParams = z.object({})
export const CollaborationModeListResponse = z.object({ data: z.array(CollaborationModeMask) })

export const ExperimentalFeatureStage = z.enum([
  'beta',
  'underDevelopment',
  'stable',
  'deprecated',
  'removed',
])
export const ExperimentalFeature = z.object({
  name: z.string(),
  stage: ExperimentalFeatureStage,
  displayName: nullableString,
  description: nullableString,
  announcement: nullableString,
  enabled: z.boolean(),
  defaultEnabled: z.boolean(),
})
export type ExperimentalFeature = z.infer<typeof ExperimentalFeature>
export const ExperimentalFeatureListParams = z.object({ ...paging, threadId: z.nullish(z.string()) })
export const ExperimentalFeatureListResponse = z.object({
  data: z.array(ExperimentalFeature),
  nextCursor: nullableString,
})

export const PermissionProfileSummary = z.object({
  id: z.string(),
  description: nullableString,
  allowed: z.boolean(),
})
export const PermissionProfileListParams = z.object({ ...paging, cwd: z.nullish(z.string()) })
export const PermissionProfileListResponse = z.object({
  data: z.array(PermissionProfileSummary),
  nextCursor: nullableString,
})

// ---------------------------------------------------------------------------------------------
// External agent config, rate limits, Bedrock

export const ExternalAgentConfigDetectParams = z.object({
  cwds,
  includeHome: z.optional(z.boolean()),
  maxSessionAgeDays: z.nullish(z.int().check(z.nonnegative())),
  maxSessions: z.nullish(z.int().check(z.nonnegative())),
  migrationSource: z.nullish(z.string()),
  source: z.nullish(z.string()),
})
export const ExternalAgentConfigDetectResponse = z.object({
  items: z.array(z.never()),
  connectors: z.array(z.never()),
})

/** codex-desk never answers `account/rateLimits/read` with data (see server/extensions.ts). */
export const GetAccountRateLimitsResponse = z.object({ rateLimits: z.never() })

export const BedrockCheckGovCloudRequirementsParams = z.object({})
export const BedrockCheckGovCloudRequirementsResponse = z.object({
  isGovCloud: z.boolean(),
  shouldWarn: z.boolean(),
})

export const extensionRequests = {
  'skills/list': { params: SkillsListParams, result: SkillsListResponse },
  'hooks/list': { params: HooksListParams, result: HooksListResponse },
  'plugin/list': { params: PluginListParams, result: PluginListResponse },
  'plugin/installed': { params: PluginInstalledParams, result: PluginInstalledResponse },
  'app/list': { params: AppsListParams, result: AppsListResponse },
  'collaborationMode/list': {
    params: CollaborationModeListParams,
    result: CollaborationModeListResponse,
    experimental: true,
  },
  'experimentalFeature/list': {
    params: ExperimentalFeatureListParams,
    result: ExperimentalFeatureListResponse,
  },
  'permissionProfile/list': { params: PermissionProfileListParams, result: PermissionProfileListResponse },
  'externalAgentConfig/detect': {
    params: ExternalAgentConfigDetectParams,
    result: ExternalAgentConfigDetectResponse,
  },
  /** codex's params are nullable (`{excludeResetCreditDetails, supportsLunaReserve}` or null); none matter here. */
  'account/rateLimits/read': { params: null, result: GetAccountRateLimitsResponse },
  'account/bedrock/checkGovCloudRequirements': {
    params: BedrockCheckGovCloudRequirementsParams,
    result: BedrockCheckGovCloudRequirementsResponse,
    experimental: true,
  },
} as const satisfies ClientRequestSpecs

export const extensionNotifications = {
  'skills/changed': SkillsChangedNotification,
} as const satisfies NotificationSpecs
