/**
 * Turns `model_provider` / `[model_providers.<id>]` from the effective config into what the model
 * client needs: base URL, API key, headers, query parameters and retry budgets (codex's keys and
 * defaults, with the built-in `openai`, `ollama` and `lmstudio` providers).
 *
 * It must never log or echo a key's value: errors name the variable to set, not what it held.
 */
import { PROVIDER_DEFAULTS, type EffectiveConfig, type ModelProviderToml } from '../config/schema'
import { ModelError } from './modelErrors'

export interface ResolvedProvider {
  id: string
  name: string
  /** Without a trailing slash; the client appends `/responses`. */
  baseUrl: string
  apiKey: string | undefined
  /** The variable the key came from (for messages), if the provider has one. */
  envKey: string | undefined
  /** `http_headers` plus the set `env_http_headers`. */
  headers: Record<string, string>
  queryParams: Record<string, string>
  requestMaxRetries: number
  streamMaxRetries: number
  streamIdleTimeoutMs: number
  requiresOpenaiAuth: boolean
}

export interface ResolveProviderOptions {
  /**
   * The signed-in account (a saved API key or ChatGPT tokens) may authenticate providers with
   * `requires_openai_auth`, so a missing `env_key` variable is not an error for them.
   */
  accountMayAuthenticate?: boolean
}

export const BUILTIN_PROVIDERS: Readonly<Record<string, ModelProviderToml>> = {
  openai: {
    name: 'OpenAI',
    base_url: 'https://api.openai.com/v1',
    env_key: 'OPENAI_API_KEY',
    requires_openai_auth: true,
  },
  ollama: { name: 'Ollama', base_url: 'http://localhost:11434/v1' },
  lmstudio: { name: 'LM Studio', base_url: 'http://localhost:1234/v1' },
}

const configError = (message: string) => new ModelError(message, { codexErrorInfo: 'other' })

// codex treats a blank variable as unset, so `FOO= codex` does not send an empty bearer token.
const envValue = (env: NodeJS.ProcessEnv, name: string) => {
  const value = env[name]?.trim()
  return value ? value : undefined
}

export function resolveProvider(
  config: EffectiveConfig,
  env: NodeJS.ProcessEnv,
  options: ResolveProviderOptions = {},
): ResolvedProvider {
  const id = config.model_provider
  const builtin = BUILTIN_PROVIDERS[id]
  const user = config.model_providers?.[id]
  if (!builtin && !user) {
    const known = [
      ...new Set([...Object.keys(BUILTIN_PROVIDERS), ...Object.keys(config.model_providers ?? {})]),
    ]
    throw configError(
      `Model provider \`${id}\` not found. Define it under [model_providers.${id}] in config.toml, ` +
        `or use one of: ${known.join(', ')}.`,
    )
  }
  const merged: ModelProviderToml = { ...PROVIDER_DEFAULTS, ...builtin, ...user }
  // codex lets OPENAI_BASE_URL point the built-in provider at a proxy; an explicit base_url wins.
  const baseUrl = (id === 'openai' && !user?.base_url && envValue(env, 'OPENAI_BASE_URL')) || merged.base_url
  if (!baseUrl)
    throw configError(`Model provider \`${id}\` has no base_url; set model_providers.${id}.base_url.`)

  let apiKey: string | undefined
  if (merged.env_key) {
    apiKey = envValue(env, merged.env_key)
    const accountCovers = options.accountMayAuthenticate && (merged.requires_openai_auth ?? false)
    if (!apiKey && !accountCovers) {
      const instructions = merged.env_key_instructions ? ` ${merged.env_key_instructions.trim()}` : ''
      throw configError(
        `Missing environment variable: \`${merged.env_key}\`. Set it to the API key for model provider ` +
          `\`${id}\`.${instructions}`,
      )
    }
  }

  const headers: Record<string, string> = { ...merged.http_headers }
  for (const [header, variable] of Object.entries(merged.env_http_headers ?? {})) {
    const value = envValue(env, variable)
    if (value !== undefined) headers[header] = value
  }

  return {
    id,
    name: merged.name ?? id,
    baseUrl: baseUrl.replace(/\/+$/, ''),
    apiKey,
    envKey: merged.env_key,
    headers,
    queryParams: { ...merged.query_params },
    requestMaxRetries: merged.request_max_retries ?? PROVIDER_DEFAULTS.request_max_retries,
    streamMaxRetries: merged.stream_max_retries ?? PROVIDER_DEFAULTS.stream_max_retries,
    streamIdleTimeoutMs: merged.stream_idle_timeout_ms ?? PROVIDER_DEFAULTS.stream_idle_timeout_ms,
    requiresOpenaiAuth: merged.requires_openai_auth ?? PROVIDER_DEFAULTS.requires_openai_auth,
  }
}
