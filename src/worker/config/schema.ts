/**
 * The config schema: every key codex-desk reads from `config.toml`, with its type and its default.
 * This file is the single source of truth; the loader validates each layer against `ConfigToml`, the
 * README's key table is checked against `CONFIG_KEYS`, and `CONFIG_DEFAULTS` is validated by the same
 * schema in a test. Key names are codex's, so what a user knows from codex carries over.
 *
 * Every field is optional here because a layer sets only some keys; defaults apply after the layers
 * merge (`resolveConfig`). Schemas use zod/mini, like the protocol, to keep start-up cheap.
 *
 * The other keys codex accepts (./codexKeys) are accepted too: they pass through to `config/read`
 * with a loose type check, and only a key codex would not accept is reported as unknown.
 */
import * as z from 'zod/mini'
import { checkTableKeys, codexSpecs, type CodexSpecs } from './codexKeys'

export const APPROVAL_POLICIES = ['untrusted', 'on-failure', 'on-request', 'never'] as const
export const SANDBOX_MODES = ['read-only', 'workspace-write', 'danger-full-access'] as const
export const LOGIN_METHODS = ['chatgpt', 'api'] as const
/**
 * The efforts the catalog offers. codex 0.169 takes any non-empty string (a new model's effort works
 * before a client knows it), so config does too; these are the documented ones.
 */
export const REASONING_EFFORTS = [
  'none',
  'minimal',
  'low',
  'medium',
  'high',
  'xhigh',
  'max',
  'ultra',
] as const
export const REASONING_SUMMARIES = ['auto', 'concise', 'detailed', 'none'] as const

export type ApprovalPolicy = (typeof APPROVAL_POLICIES)[number]
export type SandboxMode = (typeof SANDBOX_MODES)[number]
export type LoginMethod = (typeof LOGIN_METHODS)[number]

const count = () => z.int().check(z.minimum(0))
const positive = () => z.int().check(z.minimum(1))
const stringMap = () => z.record(z.string(), z.string())
const opt = z.optional
const isTable = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date)
// Run even when another key of the table is bad, so every problem is reported in one pass.
const always = { when: () => true }

/**
 * A table whose keys codex-desk reads are `shape`; every other key codex accepts (`spec`) passes
 * through with its loose check, and any other key is unknown. Typed as the strict object, since
 * code reads only the keys it knows.
 */
function codexTable<S extends z.core.$ZodShape>(shape: S, spec: keyof CodexSpecs) {
  return z.looseObject(shape).check(
    z.superRefine((value, ctx) => {
      if (isTable(value)) checkTableKeys(value, codexSpecs()[spec], [], ctx.issues as never, shape)
    }, always),
  ) as unknown as z.ZodMiniObject<S, z.core.$strict>
}

export const ModelProviderToml = codexTable(
  {
    name: opt(z.string()),
    base_url: opt(z.url()),
    env_key: opt(z.string()),
    env_key_instructions: opt(z.string()),
    /** codex-desk speaks the Responses API only (codex dropped `chat`). */
    wire_api: opt(z.enum(['responses'])),
    requires_openai_auth: opt(z.boolean()),
    http_headers: opt(stringMap()),
    env_http_headers: opt(stringMap()),
    query_params: opt(stringMap()),
    request_max_retries: opt(count()),
    stream_max_retries: opt(count()),
    stream_idle_timeout_ms: opt(positive()),
  },
  'modelProvider',
)

export const SandboxWorkspaceWriteToml = z.strictObject({
  writable_roots: opt(z.array(z.string())),
  network_access: opt(z.boolean()),
  exclude_tmpdir_env_var: opt(z.boolean()),
  exclude_slash_tmp: opt(z.boolean()),
})

export const ShellEnvironmentPolicyToml = codexTable(
  {
    inherit: opt(z.enum(['all', 'core', 'none'])),
    ignore_default_excludes: opt(z.boolean()),
    exclude: opt(z.array(z.string())),
    include_only: opt(z.array(z.string())),
    set: opt(stringMap()),
    experimental_use_profile: opt(z.boolean()),
  },
  'shellEnvironmentPolicy',
)

/** Sub-agents (codex's `[agents]`): how many may run at once per thread tree, and how deep they nest. */
export const AgentsToml = codexTable({ max_threads: opt(positive()), max_depth: opt(positive()) }, 'agents')

/** Feature flags: codex's names only; codex-desk reads `multi_agent`, the rest pass through. */
const FeaturesToml = z
  .record(z.string(), z.unknown())
  .check(
    z.superRefine(
      (value, ctx) => checkTableKeys(value, codexSpecs().features, [], ctx.issues as never),
      always,
    ),
  ) as unknown as z.ZodMiniRecord<z.ZodMiniString, z.ZodMiniBoolean>

export const AnalyticsToml = z.strictObject({
  enabled: opt(z.boolean()),
  /** Where usage events are sent when analytics are on; nothing is sent without one. */
  endpoint: opt(z.url()),
})

export const RequirementsSourceToml = z.strictObject({
  /** Remote requirements document (TOML), fetched with the signed-in account's token. */
  url: opt(z.url()),
  cache_ttl_secs: opt(positive()),
})

export const ConfigToml = codexTable(
  {
    model: opt(z.string()),
    model_provider: opt(z.string()),
    model_providers: opt(z.record(z.string(), ModelProviderToml)),
    model_reasoning_effort: opt(z.string().check(z.minLength(1, 'reasoning effort must not be empty'))),
    model_reasoning_summary: opt(z.enum(REASONING_SUMMARIES)),
    model_context_window: opt(positive()),
    instructions: opt(z.string()),
    developer_instructions: opt(z.string()),
    /** A file (relative to the home) whose text replaces the base instructions; wins over `instructions`. */
    model_instructions_file: opt(z.string()),
    /** Bytes of project AGENTS.md text the model is given (0 turns project files off). */
    project_doc_max_bytes: opt(count()),
    /** Names read in a folder that has no AGENTS.md. */
    project_doc_fallback_filenames: opt(z.array(z.string())),
    approval_policy: opt(z.enum(APPROVAL_POLICIES)),
    sandbox_mode: opt(z.enum(SANDBOX_MODES)),
    sandbox_workspace_write: opt(SandboxWorkspaceWriteToml),
    shell_environment_policy: opt(ShellEnvironmentPolicyToml),
    features: opt(FeaturesToml),
    analytics: opt(AnalyticsToml),
    requirements: opt(RequirementsSourceToml),
    /** One workspace (account) id or several: ChatGPT sign-ins must use one of them. */
    forced_chatgpt_workspace_id: opt(z.union([z.string(), z.array(z.string())])),
    forced_login_method: opt(z.enum(LOGIN_METHODS)),
    chatgpt_base_url: opt(z.url()),
    /** How long a token owner may take to answer `account/chatgptAuthTokens/refresh` (codex: 10 s). */
    auth_refresh_timeout_secs: opt(positive()),
    thread_unload_delay_secs: opt(count()),
    /** How long a client may take to answer a dynamic tool call (`item/tool/call`). */
    dynamic_tool_timeout_secs: opt(positive()),
    agents: opt(AgentsToml),
    notify: opt(z.array(z.string())),
  },
  'config',
)

export type ConfigToml = z.infer<typeof ConfigToml>
export type ModelProviderToml = z.infer<typeof ModelProviderToml>

/** Defaults for the keys that have one; applied after the layers merge. */
export const CONFIG_DEFAULTS = {
  model: 'gpt-5.1-codex',
  model_provider: 'openai',
  model_reasoning_effort: 'medium',
  approval_policy: 'on-request',
  sandbox_mode: 'read-only',
  sandbox_workspace_write: {
    writable_roots: [],
    network_access: false,
    exclude_tmpdir_env_var: false,
    exclude_slash_tmp: false,
  },
  shell_environment_policy: { inherit: 'all', ignore_default_excludes: false },
  features: {},
  analytics: { enabled: false },
  chatgpt_base_url: 'https://chatgpt.com/backend-api/',
  thread_unload_delay_secs: 60,
  auth_refresh_timeout_secs: 10,
  dynamic_tool_timeout_secs: 300,
  agents: { max_threads: 6, max_depth: 1 },
} as const satisfies ConfigToml

/** Per-provider defaults (codex's). */
export const PROVIDER_DEFAULTS = {
  wire_api: 'responses',
  requires_openai_auth: false,
  request_max_retries: 4,
  stream_max_retries: 5,
  stream_idle_timeout_ms: 300_000,
} as const satisfies ModelProviderToml

export const REQUIREMENTS_CACHE_TTL_SECS = 3600

/** Top-level keys, in schema order: the README's key table is checked against this list. */
export const CONFIG_KEYS = Object.keys(ConfigToml.def.shape) as (keyof ConfigToml)[]

type Defaults = typeof CONFIG_DEFAULTS
/** The config after merging and defaults: keys with a default are always present. */
export type EffectiveConfig = Omit<ConfigToml, keyof Defaults> & {
  -readonly [K in keyof Defaults]-?: NonNullable<ConfigToml[K]>
}

/** Merged layers plus defaults (tables merge one level deep for the defaulted tables). */
export function resolveConfig(merged: ConfigToml): EffectiveConfig {
  const out: Record<string, unknown> = { ...CONFIG_DEFAULTS, ...merged }
  for (const key of ['sandbox_workspace_write', 'shell_environment_policy', 'analytics', 'agents'] as const) {
    out[key] = { ...CONFIG_DEFAULTS[key], ...merged[key] }
  }
  return out as EffectiveConfig
}
