/**
 * The two halves of every retry loop that talks HTTP: how long a server asked us to wait
 * (`retry-after-ms`, `Retry-After` as seconds or an HTTP date) and exponential backoff with jitter.
 * Callers pass their own caps: a model turn may wait a minute, start-up work much less.
 */

export interface HeaderSource {
  get(name: string): string | null
}

/** The wait a server asked for, at most `capMs`; undefined when absent or unreadable. */
export function parseRetryAfter(
  headers: HeaderSource | undefined,
  capMs: number,
  now: number = Date.now(),
): number | undefined {
  if (!headers) return undefined
  const ms = headers.get('retry-after-ms')?.trim()
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.min(Math.round(Number(ms)), capMs)
  const value = headers.get('retry-after')?.trim()
  if (!value) return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Math.min(Math.round(Number(value) * 1000), capMs)
  // An HTTP date always has a weekday or month name; this keeps `-1` from parsing as a year.
  const date = /[a-z]/i.test(value) ? Date.parse(value) : NaN
  if (Number.isNaN(date)) return undefined
  return Math.min(Math.max(0, date - now), capMs)
}

/**
 * Backoff before retry `retry` (1-based): `baseMs` x 2^(retry-1), at most `capMs`, with ±`jitter`
 * (a fraction, default 0.1) so clients that failed together do not retry in lockstep.
 */
export function backoffDelayMs(
  retry: number,
  policy: { baseMs: number; capMs: number; jitter?: number },
  random: () => number = Math.random,
): number {
  const base = Math.min(policy.baseMs * 2 ** Math.max(0, retry - 1), policy.capMs)
  const jitter = policy.jitter ?? 0.1
  return Math.round(Math.min(base * (1 + jitter * (2 * random() - 1)), policy.capMs))
}
