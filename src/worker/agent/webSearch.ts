/**
 * Web search as codex 0.169 offers it: the Responses API's hosted `web_search` tool in the model
 * request (the provider runs the search), and the `webSearch` thread item clients see when the
 * model's stream carries a `web_search_call` output item.
 *
 * Mode, as codex resolves it: `web_search = "disabled" | "cached" | "indexed" | "live"` wins; unset,
 * `[features] web_search_cached = true` means cached, then `web_search_request = true` live, and
 * otherwise cached, or live when the sandbox is danger-full-access. `cached` sends
 * `external_web_access: false`. `[tools.web_search]` adds `context_size`, `allowed_domains` and
 * `location`; a boolean there is accepted and ignored, as codex 0.169 does.
 *
 * It must never run a search itself or send anything but the tool definition.
 */
import type { SandboxPolicy } from '../protocol/thread'
import type { ThreadItem } from '../protocol/items'

export type WebSearchMode = 'disabled' | 'cached' | 'indexed' | 'live'

const MODES: readonly string[] = ['disabled', 'cached', 'indexed', 'live']

function table(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined
}

/** The mode for a thread's config (config.toml keys, loose) and sandbox policy. */
export function webSearchMode(config: object, sandboxPolicy: SandboxPolicy): WebSearchMode {
  const keys = config as Record<string, unknown>
  const explicit = keys.web_search
  if (typeof explicit === 'string' && MODES.includes(explicit)) return explicit as WebSearchMode
  const features = table(keys.features) ?? {}
  if (features.web_search_cached === true) return 'cached'
  if (features.web_search_request === true) return 'live'
  return sandboxPolicy.type === 'dangerFullAccess' ? 'live' : 'cached'
}

/** The hosted tool's definition for the request, or null when web search is disabled. */
export function webSearchToolSpec(
  config: object,
  sandboxPolicy: SandboxPolicy,
): Record<string, unknown> | null {
  const mode = webSearchMode(config, sandboxPolicy)
  if (mode === 'disabled') return null
  const spec: Record<string, unknown> = { type: 'web_search', external_web_access: mode !== 'cached' }
  if (mode === 'indexed') spec.indexed_web_access = true
  const options = table(table((config as Record<string, unknown>).tools)?.web_search)
  if (options) {
    const domains = options.allowed_domains
    if (Array.isArray(domains) && domains.every((d) => typeof d === 'string'))
      spec.filters = { allowed_domains: domains }
    const location = table(options.location)
    if (location) {
      const place: Record<string, unknown> = { type: 'approximate' }
      for (const field of ['country', 'region', 'city', 'timezone'])
        if (typeof location[field] === 'string') place[field] = location[field]
      spec.user_location = place
    }
    if (typeof options.context_size === 'string') spec.search_context_size = options.context_size
  }
  return spec
}

type WireAction =
  | { type: 'search'; query?: string | null; queries?: string[] | null }
  | { type: 'openPage'; url?: string | null }
  | { type: 'findInPage'; url?: string | null; pattern?: string | null }
  | { type: 'other' }

/** A Responses API `web_search_call` action as the thread item's action (camelCase types). */
function actionOf(raw: unknown): WireAction {
  const action = table(raw)
  const text = (value: unknown): string | null => (typeof value === 'string' ? value : null)
  switch (action?.type) {
    case 'search': {
      const queries = Array.isArray(action.queries)
        ? action.queries.filter((q): q is string => typeof q === 'string')
        : null
      return { type: 'search', query: text(action.query), queries }
    }
    case 'open_page':
      return { type: 'openPage', url: text(action.url) }
    case 'find_in_page':
      return { type: 'findInPage', url: text(action.url), pattern: text(action.pattern) }
    default:
      return { type: 'other' }
  }
}

/** The query a client shows: the search's query (or first of its queries), else the page's URL. */
function queryOf(action: WireAction): string {
  switch (action.type) {
    case 'search':
      return action.query ?? action.queries?.[0] ?? ''
    case 'openPage':
      return action.url ?? ''
    case 'findInPage':
      return action.pattern ?? action.url ?? ''
    default:
      return ''
  }
}

/**
 * The `webSearch` item for a `web_search_call` output item: while it runs codex shows an empty
 * query and action `other`; once done, the query and the action the provider reported.
 */
export function webSearchItem(output: unknown, id: string, done: boolean): ThreadItem {
  const action = done ? actionOf(table(output)?.action) : ({ type: 'other' } as const)
  return { type: 'webSearch', id, query: queryOf(action), action, results: null } as unknown as ThreadItem
}
