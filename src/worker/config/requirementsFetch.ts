/**
 * The network half of the remote requirements source (requirementsCache.ts adds the signed disk
 * cache on top): one GET of the document at `[requirements] url` with the signed-in ChatGPT
 * account's token, retried with backoff (or the server's Retry-After) on network errors, 429 and
 * 5xx, and checked to parse before it is accepted.
 *
 * It must never send the access token anywhere but the configured URL, and never over plain http
 * to another machine; it must never write the token (or anything derived from it) to the log.
 */
import type { Logger } from '../util/log'
import { backoffDelayMs, parseRetryAfter } from '../util/retry'
import { loadRequirementsParser, parseRequirements } from './requirements'

/** A Retry-After beyond this is not worth blocking startup for; the stale cache covers the gap. */
const MAX_RETRY_AFTER_MS = 30_000
/** Requirements are a few lines of TOML; anything this large is not a requirements document. */
const MAX_BODY_BYTES = 1024 * 1024

export interface RequirementsIdentity {
  userId: string
  accountId: string
  accessToken: string
}

export interface RemoteRequirementsOptions {
  homeDir: string
  url: string
  /** How long a fetched document is trusted without refetching. */
  ttlMs?: number
  /** Per attempt, headers and body included. */
  fetchTimeoutMs?: number
  maxAttempts?: number
  /** The first retry delay; it doubles per attempt, with jitter. */
  backoffMs?: number
  log: Logger
  /** The signed-in ChatGPT account, or undefined (API key or signed out). */
  identity: () => RequirementsIdentity | undefined
  now?: () => number
}

type FetchOutcome =
  { ok: true; contents: string | null } | { ok: false; reason: string; retry: boolean; retryAfterMs?: number }

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}

export function describeError(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } }
  if (e.name === 'TimeoutError') return 'the request timed out'
  const cause = e.cause?.code ?? e.cause?.message
  return cause ? `${e.message ?? String(error)} (${cause})` : (e.message ?? String(error))
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export abstract class RequirementsFetch {
  private readonly fetchTimeoutMs: number
  private readonly maxAttempts: number
  private readonly backoffMs: number
  protected readonly now: () => number

  constructor(protected readonly options: RemoteRequirementsOptions) {
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 15_000
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3)
    this.backoffMs = options.backoffMs ?? 500
    this.now = options.now ?? Date.now
  }

  get url(): string {
    return this.options.url
  }

  protected get log(): Logger {
    return this.options.log
  }

  protected async contentsProblems(contents: string | null): Promise<string[]> {
    if (contents === null) return []
    await loadRequirementsParser()
    const { problems } = parseRequirements(contents, { kind: 'remote', path: this.url })
    return problems.map((p) => p.detail ?? p.message)
  }

  // The network -------------------------------------------------------------------------------

  protected async fetchWithRetries(
    identity: RequirementsIdentity,
  ): Promise<{ ok: true; contents: string | null } | { ok: false; reason: string }> {
    let url: URL
    try {
      url = new URL(this.url)
    } catch {
      return { ok: false, reason: 'the requirements url is not a valid URL' }
    }
    // The request carries the user's access token: never in the clear to another machine.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
      return { ok: false, reason: 'the requirements url must use https' }
    }
    let outcome: FetchOutcome = { ok: false, reason: 'no attempt was made', retry: false }
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      outcome = await this.attempt(url, identity)
      if (outcome.ok) {
        this.log.info({ url: this.url, attempt }, 'fetched the remote requirements')
        return outcome
      }
      if (!outcome.retry || attempt === this.maxAttempts) break
      // A server's Retry-After takes precedence over our own backoff.
      const delayMs =
        outcome.retryAfterMs ?? backoffDelayMs(attempt, { baseMs: this.backoffMs, capMs: MAX_RETRY_AFTER_MS })
      this.log.info(
        { url: this.url, attempt, maxAttempts: this.maxAttempts, delayMs, reason: outcome.reason },
        'requirements fetch failed; retrying',
      )
      await sleep(delayMs)
    }
    return { ok: false, reason: outcome.ok ? 'unreachable' : outcome.reason }
  }

  private async attempt(url: URL, identity: RequirementsIdentity): Promise<FetchOutcome> {
    let response: Response
    let body: string
    try {
      response = await fetch(url, {
        method: 'GET',
        headers: {
          Authorization: `Bearer ${identity.accessToken}`,
          'ChatGPT-Account-Id': identity.accountId,
          Accept: 'application/toml, text/plain',
        },
        // Covers the body too: a server that sends headers and then stalls still times out.
        signal: AbortSignal.timeout(this.fetchTimeoutMs),
      })
      body = await response.text()
    } catch (error) {
      return { ok: false, reason: describeError(error), retry: true }
    }

    const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`
    if (response.status === 429 || response.status >= 500) {
      const retryAfterMs = parseRetryAfter(response.headers, MAX_RETRY_AFTER_MS, this.now())
      return {
        ok: false,
        reason: status,
        retry: true,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      }
    }
    if (!response.ok) return { ok: false, reason: status, retry: false }
    if (response.status === 204 || body.trim() === '') return { ok: true, contents: null }
    // An invalid document is the server's mistake, not a transient one: no retry, and not cached.
    if (Buffer.byteLength(body) > MAX_BODY_BYTES) {
      return { ok: false, reason: `the response is larger than ${MAX_BODY_BYTES} bytes`, retry: false }
    }
    const problems = await this.contentsProblems(body)
    if (problems.length > 0) {
      return {
        ok: false,
        reason: `the server sent invalid requirements: ${problems.join('; ')}`,
        retry: false,
      }
    }
    return { ok: true, contents: body }
  }
}
