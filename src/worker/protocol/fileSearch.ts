/**
 * Fuzzy file search for @-mentions: the one-shot `fuzzyFileSearch` and the session variants
 * (`fuzzyFileSearch/sessionStart|Update|Stop`, notifications `fuzzyFileSearch/sessionUpdated|Completed`).
 * Shapes follow codex 0.169.0's generated schema; result fields are snake_case as codex sends them.
 * The session methods are experimental there, and here. Runtime-free: no `node:` imports.
 */
import * as z from 'zod/mini'
import type { ClientRequestSpecs, NotificationSpecs } from './spec'

export const FuzzyFileSearchResult = z.object({
  root: z.string(),
  path: z.string(),
  match_type: z.enum(['file', 'directory']),
  file_name: z.string(),
  score: z.number(),
  indices: z.nullable(z.array(z.number())),
})
export type FuzzyFileSearchResult = z.infer<typeof FuzzyFileSearchResult>

export const FuzzyFileSearchParams = z.object({
  query: z.string(),
  roots: z.array(z.string()),
  cancellationToken: z.nullish(z.string()),
})
export const FuzzyFileSearchResponse = z.object({ files: z.array(FuzzyFileSearchResult) })

export const FuzzyFileSearchSessionStartParams = z.object({
  sessionId: z.string(),
  roots: z.array(z.string()),
})
export const FuzzyFileSearchSessionUpdateParams = z.object({ sessionId: z.string(), query: z.string() })
export const FuzzyFileSearchSessionStopParams = z.object({ sessionId: z.string() })
export const FuzzyFileSearchEmptyResponse = z.object({})

export const FuzzyFileSearchSessionUpdatedNotification = z.object({
  sessionId: z.string(),
  query: z.string(),
  files: z.array(FuzzyFileSearchResult),
})
export const FuzzyFileSearchSessionCompletedNotification = z.object({ sessionId: z.string() })

export const fileSearchRequests = {
  fuzzyFileSearch: { params: FuzzyFileSearchParams, result: FuzzyFileSearchResponse },
  'fuzzyFileSearch/sessionStart': {
    params: FuzzyFileSearchSessionStartParams,
    result: FuzzyFileSearchEmptyResponse,
    experimental: true,
  },
  'fuzzyFileSearch/sessionUpdate': {
    params: FuzzyFileSearchSessionUpdateParams,
    result: FuzzyFileSearchEmptyResponse,
    experimental: true,
  },
  'fuzzyFileSearch/sessionStop': {
    params: FuzzyFileSearchSessionStopParams,
    result: FuzzyFileSearchEmptyResponse,
    experimental: true,
  },
} as const satisfies ClientRequestSpecs

export const fileSearchNotifications = {
  'fuzzyFileSearch/sessionUpdated': FuzzyFileSearchSessionUpdatedNotification,
  'fuzzyFileSearch/sessionCompleted': FuzzyFileSearchSessionCompletedNotification,
} as const satisfies NotificationSpecs
