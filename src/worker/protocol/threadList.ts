/**
 * The `thread/list` request: its params, the source kinds it filters on, and the early registry
 * entry a new core answers its first listing with before the rest of the registry (and its
 * schemas: items, turns, every other area) has loaded (server/messageProcessor.ts `LazyRegistry`).
 * items.ts re-exports all of it, so importers keep one module for the thread shapes.
 *
 * Runtime-free and light: zod/mini only, and never an import of a schema module (that would bring
 * the whole item and turn schemas back into a core's first listing).
 */
import * as z from 'zod/mini'
import type { SessionSource } from './items'

/** The `thread/list` `sourceKinds` values. */
const SOURCE_KINDS = [
  'cli',
  'vscode',
  'exec',
  'appServer',
  'subAgent',
  'subAgentReview',
  'subAgentCompact',
  'subAgentThreadSpawn',
  'subAgentOther',
  'unknown',
] as const
export type SourceKind = (typeof SOURCE_KINDS)[number]

/** What an omitted or empty `sourceKinds` means: the kinds a person starts threads from. */
export const INTERACTIVE_SOURCE_KINDS: readonly SourceKind[] = [
  'cli',
  'vscode',
  'exec',
  'appServer',
  'unknown',
]

/**
 * The `sourceKinds` bucket of a source. Every sub-agent source also matches plain `subAgent`
 * (see `sourceMatchesKinds`). A `{custom}` source has no kind of its own in codex; it lists as
 * `unknown`.
 */
export function sourceKindOf(source: SessionSource): SourceKind {
  if (typeof source === 'string') return source
  if ('custom' in source) return 'unknown'
  const sub = source.subAgent
  if (sub === 'review') return 'subAgentReview'
  if (sub === 'compact') return 'subAgentCompact'
  if (typeof sub === 'object' && 'thread_spawn' in sub) return 'subAgentThreadSpawn'
  return 'subAgentOther'
}

/** Whether a source passes a `sourceKinds` filter (empty or omitted: the interactive kinds). */
export function sourceMatchesKinds(source: SessionSource, kinds: readonly SourceKind[] | null | undefined) {
  const wanted = kinds && kinds.length > 0 ? kinds : INTERACTIVE_SOURCE_KINDS
  const kind = sourceKindOf(source)
  return wanted.includes(kind) || (kind.startsWith('subAgent') && wanted.includes('subAgent'))
}

/**
 * `section_position` orders threads inside one section; codex refuses it without a `sectionId`.
 * codex-desk has no sections, so that listing is always empty (as codex's is for an empty section).
 */
const SORT_KEYS = ['created_at', 'updated_at', 'recency_at', 'section_position'] as const
export type ThreadSortKey = (typeof SORT_KEYS)[number]

/** Params codex's stable schema lacks: non-null values need `capabilities.experimentalApi`. */
export const THREAD_LIST_EXPERIMENTAL_FIELDS = [
  'parentThreadId',
  'ancestorThreadId',
  'attachedToThreadId',
  'includeAttachedThreads',
  'projectId',
] as const

/** Built on first use: a core's start (its `initialize` answer) does not pay for it. */
const buildThreadListParams = () =>
  z.object({
    /** Opaque; from a previous page's `nextCursor` (or `backwardsCursor` with the other direction). */
    cursor: z.nullish(z.string()),
    /** Default 25, at most 100. */
    limit: z.nullish(z.int().check(z.nonnegative())),
    sortKey: z.nullish(z.enum(SORT_KEYS)),
    sortDirection: z.nullish(z.enum(['asc', 'desc'])),
    modelProviders: z.nullish(z.array(z.string())),
    sourceKinds: z.nullish(z.array(z.enum(SOURCE_KINDS))),
    archived: z.nullish(z.boolean()),
    /** Exact match against the thread's cwd; an array matches any of them. */
    cwd: z.nullish(z.union([z.string(), z.array(z.string())])),
    /** Case-insensitive substring of the name or the preview. */
    searchTerm: z.nullish(z.string()),
    /** Omitted: every section; null: threads in no section (all of codex-desk's); an id: none. */
    sectionId: z.optional(z.nullable(z.string())),
    /** Up to 100 thread ids (UUIDs) left out before the limit applies. */
    excludedThreadIds: z.nullish(z.array(z.string())),
    /** codex's local server refuses a non-empty list (hosted backends only). */
    originators: z.nullish(z.array(z.string())),
    /** Accepted, no effect: codex-desk's index is its only store and threads are not per account. */
    useStateDbOnly: z.nullish(z.boolean()),
    currentAccountOnly: z.nullish(z.boolean()),
    /** Direct children of this thread (sub-agents). */
    parentThreadId: z.nullish(z.string()),
    /** Descendants at any depth, the ancestor itself excluded. */
    ancestorThreadId: z.nullish(z.string()),
    /** Threads attached to this one: codex-desk attaches none, so the list is empty. */
    attachedToThreadId: z.nullish(z.string()),
    includeAttachedThreads: z.nullish(z.boolean()),
    /** Omitted: every project; null: unassigned threads; an id: that project's. */
    projectId: z.optional(z.nullable(z.string())),
  })
export type ThreadListParams = z.infer<ReturnType<typeof buildThreadListParams>>
let threadListParams: ReturnType<typeof buildThreadListParams> | undefined

/** `thread/list`'s registry entry without its result schema (registry.ts adds it). */
export const threadListRequestSpec = {
  get params() {
    return (threadListParams ??= buildThreadListParams())
  },
  experimentalFields: THREAD_LIST_EXPERIMENTAL_FIELDS,
} as const
