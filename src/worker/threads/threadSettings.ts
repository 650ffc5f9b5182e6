/**
 * What a thread runs with: the effective config, overridden by what the thread was started,
 * resumed or last turned with (sticky overrides, persisted as `thread_settings` lines), resolved
 * into the values the start/resume/fork responses report and the turn runner uses.
 *
 * It must never persist a value the client did not send: values that come from config follow the
 * config as it changes.
 */
import { resolve as resolvePath } from 'node:path'
import { approvalModeOf, type ApprovalMode } from './approvalMode'
import { setAt, mergeTables, type Table } from '../config/merge'
import { ConfigToml, resolveConfig, type EffectiveConfig } from '../config/schema'
import { formatZodError, invalidRequest } from '../protocol/errors'
import type { ConfigRequirements } from '../config/requirements'
import type { Thread } from '../protocol/items'
import type { AskForApproval, SandboxMode, SandboxPolicy, ThreadStartResponse } from '../protocol/thread'
import type { ThreadSettings } from './rollout'

export interface ResolvedThreadSettings {
  model: string
  modelProvider: string
  effort: string | null
  summary: string | null
  cwd: string
  approvalPolicy: AskForApproval
  /** How the tools decide to ask: the wire policy, or `on-failure` when it came from config. */
  approvalMode: ApprovalMode
  approvalsReviewer: 'user' | 'auto_review' | 'guardian_subagent'
  sandboxPolicy: SandboxPolicy
  serviceTier: string | null
  baseInstructions: string | null
  developerInstructions: string | null
  modelContextWindow: number | null
  /** The config this thread runs with (the `config` overrides applied). */
  config: EffectiveConfig
}

/** The override params that start, resume and fork share, as validated by their schemas. */
export interface OverrideParams {
  model?: string | null | undefined
  modelProvider?: string | null | undefined
  serviceTier?: string | null | undefined
  cwd?: string | null | undefined
  approvalPolicy?: AskForApproval | null | undefined
  approvalsReviewer?: ResolvedThreadSettings['approvalsReviewer'] | null | undefined
  sandbox?: SandboxMode | null | undefined
  config?: Record<string, unknown> | null | undefined
  baseInstructions?: string | null | undefined
  developerInstructions?: string | null | undefined
  personality?: string | null | undefined
}

/** The config's sandbox mode as the protocol's policy object. */
export function sandboxPolicyFor(mode: SandboxMode, config: EffectiveConfig): SandboxPolicy {
  switch (mode) {
    case 'danger-full-access':
      return { type: 'dangerFullAccess' }
    case 'workspace-write': {
      const w = config.sandbox_workspace_write
      return {
        type: 'workspaceWrite',
        writableRoots: [...(w.writable_roots ?? [])],
        networkAccess: w.network_access ?? false,
        excludeTmpdirEnvVar: w.exclude_tmpdir_env_var ?? false,
        excludeSlashTmp: w.exclude_slash_tmp ?? false,
      }
    }
    default:
      return { type: 'readOnly', networkAccess: false }
  }
}

/**
 * `config.toml`'s `on-failure` is not a protocol value (codex 0.169 rejects it on the wire); it is
 * reported as `on-request`, the policy that asks when the model wants more than the sandbox gives.
 */
function wireApprovalPolicy(policy: EffectiveConfig['approval_policy']): AskForApproval {
  return policy === 'on-failure' ? 'on-request' : policy
}

/** Applies a thread's `config` map (dotted keys, as `-c`) over the merged layers. */
export function configWithOverrides(
  merged: ConfigToml,
  effective: EffectiveConfig,
  overrides: Record<string, unknown> | undefined,
): EffectiveConfig {
  if (!overrides || Object.keys(overrides).length === 0) return effective
  const table: Table = {}
  for (const [key, value] of Object.entries(overrides)) setAt(table, key.split('.'), value)
  const parsed = ConfigToml.safeParse(mergeTables(merged as Table, table), { reportInput: true })
  if (!parsed.success) throw invalidRequest(`invalid config override: ${formatZodError(parsed.error)}`)
  return resolveConfig(parsed.data)
}

const str = (settings: ThreadSettings, key: string): string | undefined => {
  const value = settings[key]
  return typeof value === 'string' ? value : undefined
}

/** The thread's settings: sticky overrides first, then its session meta, then the config. */
export function resolveSettings(
  merged: ConfigToml,
  effective: EffectiveConfig,
  sticky: ThreadSettings,
  meta: {
    model: string | null
    modelProvider: string
    reasoningEffort: string | null
    cwd: string
    /** The meta's model, provider and effort were fallbacks (a broken config): use the config's. */
    followConfig?: boolean
  },
): ResolvedThreadSettings {
  const config = configWithOverrides(merged, effective, sticky.config as Record<string, unknown> | undefined)
  const approval = sticky.approvalPolicy as AskForApproval | undefined
  const sandboxPolicy =
    (sticky.sandboxPolicy as SandboxPolicy | undefined) ??
    sandboxPolicyFor((sticky.sandbox as SandboxMode | undefined) ?? config.sandbox_mode, config)
  const follow = meta.followConfig === true
  const metaEffort = follow ? (config.model_reasoning_effort ?? null) : meta.reasoningEffort
  const effort = 'effort' in sticky ? (sticky.effort as string | null) : metaEffort
  return {
    model: str(sticky, 'model') ?? (follow ? null : meta.model) ?? config.model,
    modelProvider: str(sticky, 'modelProvider') ?? (follow ? config.model_provider : meta.modelProvider),
    effort: effort ?? null,
    summary: str(sticky, 'summary') ?? config.model_reasoning_summary ?? null,
    cwd: str(sticky, 'cwd') ?? meta.cwd,
    approvalPolicy: approval ?? wireApprovalPolicy(config.approval_policy),
    approvalMode: approval
      ? approvalModeOf(approval, undefined)
      : approvalModeOf(wireApprovalPolicy(config.approval_policy), config.approval_policy),
    approvalsReviewer:
      (sticky.approvalsReviewer as ResolvedThreadSettings['approvalsReviewer'] | undefined) ?? 'user',
    sandboxPolicy,
    serviceTier: str(sticky, 'serviceTier') ?? null,
    baseInstructions: str(sticky, 'baseInstructions') ?? config.instructions ?? null,
    developerInstructions: str(sticky, 'developerInstructions') ?? config.developer_instructions ?? null,
    modelContextWindow: config.model_context_window ?? null,
    config,
  }
}

/**
 * The sticky overrides a start/resume/fork request carries, in `thread_settings` form. Only what
 * the client sent; `cwd` is made absolute against the server's working directory.
 */
export function overridesFromParams(params: OverrideParams): ThreadSettings {
  const out = pickOverrides(params, [
    'model',
    'modelProvider',
    'serviceTier',
    'cwd',
    'approvalPolicy',
    'approvalsReviewer',
    'sandbox',
    'baseInstructions',
    'developerInstructions',
    'personality',
  ])
  if (params.config && Object.keys(params.config).length > 0) out.config = params.config
  return out
}

/** The named params the client set (not null), in thread_settings form; `cwd` made absolute. */
export function pickOverrides<P extends object>(
  params: P,
  keys: readonly (keyof P & string)[],
): ThreadSettings {
  const out: ThreadSettings = {}
  for (const key of keys) {
    const value: unknown = params[key]
    if (value === undefined || value === null) continue
    out[key] = key === 'cwd' && typeof value === 'string' ? resolvePath(value) : value
  }
  return out
}

/** True when applying `overrides` over `current` changes something. */
export function changesSettings(current: ThreadSettings, overrides: ThreadSettings): boolean {
  return Object.entries(overrides).some(
    ([key, value]) => JSON.stringify(current[key]) !== JSON.stringify(value),
  )
}

/** The start-shaped response (start, resume, fork) for a thread and its settings. */
export function startResponse(thread: Thread, s: ResolvedThreadSettings): ThreadStartResponse {
  return {
    thread,
    model: s.model,
    modelProvider: s.modelProvider,
    serviceTier: s.serviceTier,
    cwd: s.cwd,
    approvalPolicy: s.approvalPolicy,
    approvalsReviewer: s.approvalsReviewer,
    sandbox: s.sandboxPolicy,
    reasoningEffort: s.effort,
    instructionSources: [],
    disabledPluginIds: [],
  }
}

/**
 * codex loads the thread's config before it starts anything, and refuses a provider that neither
 * its built-ins nor `[model_providers]` (with the request's `config` applied) define, rather than
 * starting a thread whose every turn would fail. `builtins` are the built-in provider ids.
 */
export function assertKnownProvider(
  merged: ConfigToml,
  effective: EffectiveConfig,
  params: Pick<OverrideParams, 'modelProvider' | 'config'>,
  builtins: Readonly<Record<string, unknown>>,
): void {
  if ((params.modelProvider === undefined || params.modelProvider === null) && !params.config) return
  const config = configWithOverrides(merged, effective, params.config ?? undefined)
  const id = params.modelProvider ?? config.model_provider
  if (Object.hasOwn(builtins, id) || Object.hasOwn(config.model_providers ?? {}, id)) return
  throw invalidRequest(`failed to load configuration: Model provider \`${id}\` not found`)
}

/** Requirements (requirements.toml, remote) bound the approval policy and sandbox a client asks for. */
export async function checkRequirements(
  requirements: ConfigRequirements | null,
  params: OverrideParams,
): Promise<void> {
  if (!requirements || (!params.approvalPolicy && !params.sandbox)) return
  // Loaded only when requirements exist (the cold-start budget).
  const { checkApprovalPolicy, checkSandboxMode } = await import('../config/requirements')
  const policy = params.approvalPolicy
  const problem =
    (typeof policy === 'string' ? checkApprovalPolicy(requirements, policy) : undefined) ??
    (params.sandbox ? checkSandboxMode(requirements, params.sandbox) : undefined)
  if (problem) throw invalidRequest(problem)
}
