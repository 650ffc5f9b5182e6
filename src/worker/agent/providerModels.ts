/**
 * The models a provider serves, from `GET {base_url}/models` (Ollama, LM Studio, any OpenAI-compatible
 * proxy): asked only for providers other than the built-in `openai` one, with the headers the model
 * client would send, a short timeout, and a brief cache (failures too, so a dead server does not slow
 * every listing). A failure leaves the provider's models out and is logged.
 *
 * It must never log headers or keys, never throw to its caller, and never keep a timer or a request
 * alive past its timeout.
 */
import type { EffectiveConfig } from '../config/schema'
import type { Logger } from '../util/log'
import type { ModelAuth } from './modelClient'
import { resolveProvider, type ResolvedProvider } from './providers'

/** The account's part in authorising a request (auth/authManager.ts's `forModelRequest`). */
export interface ProviderAuth {
  forModelRequest(provider: ResolvedProvider): { provider: ResolvedProvider; auth?: ModelAuth }
}

export interface ProviderModelsOptions {
  log: Logger
  /** For the whole request, body included. Default 3 s. */
  timeoutMs?: number
  /** How long a successful answer is reused. Default 60 s. */
  ttlMs?: number
  /** How long a failure is remembered before the provider is asked again. Default 10 s. */
  failureTtlMs?: number
  now?: () => number
}

export interface ProviderModelsQuery {
  config: EffectiveConfig
  providerId: string
  env: NodeJS.ProcessEnv
  auth?: ProviderAuth
  /** The originator and User-Agent headers every upstream request carries. */
  upstreamHeaders?: Record<string, string>
}

interface Cached {
  at: number
  ok: boolean
  ids: string[]
}

/** A generous bound: proxies in front of many vendors list a few hundred. */
const MAX_MODELS = 1000

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** Model ids from an OpenAI-style `{data: [{id}]}`, or a `{models: [...]}` / bare list of ids or objects. */
export function modelIdsOf(body: unknown): string[] | undefined {
  const list = isRecord(body)
    ? Array.isArray(body.data)
      ? body.data
      : Array.isArray(body.models)
        ? body.models
        : undefined
    : Array.isArray(body)
      ? body
      : undefined
  if (!list) return undefined
  const ids = new Set<string>()
  for (const item of list) {
    const candidates =
      typeof item === 'string' ? [item] : isRecord(item) ? [item.id, item.slug, item.model, item.name] : []
    const id = candidates.find((c): c is string => typeof c === 'string' && c.trim() !== '')
    if (id) ids.add(id.trim())
    if (ids.size >= MAX_MODELS) break
  }
  return [...ids]
}

export class ProviderModels {
  private readonly cache = new Map<string, Cached>()
  private readonly inflight = new Map<string, Promise<Cached>>()
  private readonly timeoutMs: number
  private readonly ttlMs: number
  private readonly failureTtlMs: number
  private readonly now: () => number

  constructor(private readonly options: ProviderModelsOptions) {
    this.timeoutMs = options.timeoutMs ?? 3_000
    this.ttlMs = options.ttlMs ?? 60_000
    this.failureTtlMs = options.failureTtlMs ?? 10_000
    this.now = options.now ?? Date.now
  }

  /** The provider's model ids, or none (the built-in openai provider, or any failure). */
  async list(query: ProviderModelsQuery): Promise<string[]> {
    if (query.providerId === 'openai') return []
    const log = this.options.log
    let provider: ResolvedProvider
    let auth: ModelAuth | undefined
    try {
      const config = { ...query.config, model_provider: query.providerId }
      provider = resolveProvider(config, query.env, { accountMayAuthenticate: query.auth !== undefined })
      if (query.upstreamHeaders)
        provider = { ...provider, headers: { ...query.upstreamHeaders, ...provider.headers } }
      const chosen = query.auth ? query.auth.forModelRequest(provider) : { provider }
      provider = chosen.provider
      auth = chosen.auth
    } catch (error) {
      log.warn({ provider: query.providerId, error: messageOf(error) }, 'cannot list the provider models')
      return []
    }
    const key = `${provider.id}\n${provider.baseUrl}`
    const cached = this.cache.get(key)
    if (cached && this.now() - cached.at < (cached.ok ? this.ttlMs : this.failureTtlMs)) return cached.ids
    let pending = this.inflight.get(key)
    if (!pending) {
      pending = this.fetchIds(provider, auth).finally(() => this.inflight.delete(key))
      this.inflight.set(key, pending)
    }
    const result = await pending
    this.cache.set(key, result)
    return result.ids
  }

  private async fetchIds(provider: ResolvedProvider, auth: ModelAuth | undefined): Promise<Cached> {
    const log = this.options.log
    const url = new URL(`${provider.baseUrl}/models`)
    for (const [name, value] of Object.entries(provider.queryParams)) url.searchParams.set(name, value)
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), this.timeoutMs)
    const fields = { provider: provider.id, url: `${provider.baseUrl}/models` }
    try {
      // As the model client sends them: the key as a bearer token, the provider's own headers over
      // it, and the account's per-request headers (ChatGPT tokens, a saved key) over everything.
      const headers = new Headers({ accept: 'application/json' })
      if (provider.apiKey) headers.set('authorization', `Bearer ${provider.apiKey}`)
      for (const [name, value] of Object.entries(provider.headers)) headers.set(name, value)
      const extra = auth?.headers ? await auth.headers() : {}
      for (const [name, value] of Object.entries(extra)) headers.set(name, value)
      const response = await fetch(url, { headers, signal: controller.signal })
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined)
        log.warn({ ...fields, status: response.status }, 'the provider did not list its models')
        return { at: this.now(), ok: false, ids: [] }
      }
      const ids = modelIdsOf(await response.json())
      if (!ids) {
        log.warn(fields, 'the provider answered its model list without one')
        return { at: this.now(), ok: false, ids: [] }
      }
      log.debug({ ...fields, count: ids.length }, 'listed the provider models')
      return { at: this.now(), ok: true, ids }
    } catch (error) {
      const reason = controller.signal.aborted ? `no answer within ${this.timeoutMs} ms` : messageOf(error)
      log.warn({ ...fields, error: reason }, 'the provider did not list its models')
      return { at: this.now(), ok: false, ids: [] }
    } finally {
      clearTimeout(timer)
    }
  }
}

/** "fetch failed: connect ECONNREFUSED 127.0.0.1:9" from an error and its cause. */
function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : ''
  return `${error.message}${cause}`
}
