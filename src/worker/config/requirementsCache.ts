/**
 * The remote requirements source: the document at config `[requirements] url`, fetched with the
 * signed-in ChatGPT account, cached on disk under an HMAC so restarts and offline starts keep the
 * administrator's restrictions. ./requirements parses and composes what `load()` returns.
 *
 * It must never send the access token anywhere but the configured URL, and never over plain http
 * to another machine; it must never write the token (or anything derived from it) to the cache or
 * the log; and it must never trust a cache that fails a check: such a cache is refetched (an
 * expired but otherwise valid one is kept only as the fallback when every fetch fails).
 *
 * Threat model of the signed cache:
 * - The signature is HMAC-SHA256 under a per-installation random key ($home/requirements-cache.key).
 *   It stops casual edits: a user who hand-edits the cache to loosen restrictions gets a refetch.
 *   It does not stop a determined local user, who can read their own key file and re-sign, or
 *   patch the app; requirements enforced on the user's own machine cannot defend against that, and
 *   the server side must not rely on them.
 * - The key file is created 0600 (exclusively, so two processes do not race to different keys), so
 *   other local users cannot read it to forge a cache for this user. Looser permissions found on
 *   an existing key are logged and tightened.
 * - The payload names the user and account it was fetched for, so a cache from one account is
 *   never applied to another account signed in on the same installation.
 * - `expiresAt` is signed too, so a cache cannot be kept alive by editing its expiry. An expired
 *   cache is only used when the network fails, and then says so ('stale-cache').
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, mkdir, open, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../util/atomicWrite'
import type { Logger } from '../util/log'
import { backoffDelayMs, parseRetryAfter } from '../util/retry'
import { loadRequirementsParser, parseRequirements } from './requirements'

export const REQUIREMENTS_CACHE_FILE = 'requirements-cache.json'
export const REQUIREMENTS_KEY_FILE = 'requirements-cache.key'

const KEY_BYTES = 32
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

export type RemoteRequirementsSource = 'cache' | 'network' | 'stale-cache' | 'none'

export interface RemoteRequirementsResult {
  /** The TOML text, or null when there are no remote requirements. */
  contents: string | null
  source: RemoteRequirementsSource
  problems: string[]
}

export interface CachePayload {
  contents: string | null
  fetchedAt: number
  expiresAt: number
  userId: string
  accountId: string
}

interface CacheFile {
  payload: CachePayload
  signature: string
}

type FetchOutcome =
  { ok: true; contents: string | null } | { ok: false; reason: string; retry: boolean; retryAfterMs?: number }

function isPayload(value: unknown): value is CachePayload {
  if (typeof value !== 'object' || value === null) return false
  const p = value as Record<string, unknown>
  return (
    (typeof p.contents === 'string' || p.contents === null) &&
    Number.isFinite(p.fetchedAt) &&
    Number.isFinite(p.expiresAt) &&
    typeof p.userId === 'string' &&
    typeof p.accountId === 'string'
  )
}

const sign = (key: Buffer, payload: unknown): Buffer =>
  createHmac('sha256', key).update(JSON.stringify(payload)).digest()

function verify(key: Buffer, payload: unknown, signature: unknown): boolean {
  if (typeof signature !== 'string') return false
  const expected = sign(key, payload)
  const given = Buffer.from(signature, 'base64')
  return given.length === expected.length && timingSafeEqual(given, expected)
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}

function describeError(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } }
  if (e.name === 'TimeoutError') return 'the request timed out'
  const cause = e.cause?.code ?? e.cause?.message
  return cause ? `${e.message ?? String(error)} (${cause})` : (e.message ?? String(error))
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
const iso = (ms: number) => new Date(ms).toISOString()

export class RemoteRequirements {
  private readonly cachePath: string
  private readonly keyPath: string
  private readonly ttlMs: number
  private readonly fetchTimeoutMs: number
  private readonly maxAttempts: number
  private readonly backoffMs: number
  private readonly now: () => number
  private inflight: Promise<RemoteRequirementsResult> | undefined

  constructor(private readonly options: RemoteRequirementsOptions) {
    this.cachePath = join(options.homeDir, REQUIREMENTS_CACHE_FILE)
    this.keyPath = join(options.homeDir, REQUIREMENTS_KEY_FILE)
    this.ttlMs = options.ttlMs ?? 3_600_000
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 15_000
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3)
    this.backoffMs = options.backoffMs ?? 500
    this.now = options.now ?? Date.now
  }

  get url(): string {
    return this.options.url
  }

  /** Concurrent callers share one load (one fetch), so startup and a read do not race. */
  load(): Promise<RemoteRequirementsResult> {
    this.inflight ??= this.loadOnce().finally(() => (this.inflight = undefined))
    return this.inflight
  }

  private get log(): Logger {
    return this.options.log
  }

  private async loadOnce(): Promise<RemoteRequirementsResult> {
    const identity = this.options.identity()
    if (!identity) {
      this.log.debug(
        { url: this.url },
        'remote requirements need a signed-in ChatGPT account; skipping the remote source',
      )
      return { contents: null, source: 'none', problems: [] }
    }

    const problems: string[] = []
    let key: Buffer
    try {
      key = await this.loadKey()
    } catch (error) {
      // Without a key we cannot verify or write a cache, but the network still works.
      const message = `could not prepare the requirements cache key ${this.keyPath}: ${describeError(error)}`
      this.log.warn(message)
      problems.push(message)
      return this.fetchWithoutCache(identity, problems)
    }

    const cached = await this.readCache(key, identity)
    if (cached.fresh) {
      this.log.debug({ url: this.url, expiresAt: iso(cached.fresh.expiresAt) }, 'using cached requirements')
      return { contents: cached.fresh.contents, source: 'cache', problems }
    }

    const fetched = await this.fetchWithRetries(identity)
    if (fetched.ok) {
      await this.writeCache(key, identity, fetched.contents, problems)
      return { contents: fetched.contents, source: 'network', problems }
    }

    const failure = `could not load the remote requirements from ${this.url}: ${fetched.reason}`
    if (cached.stale) {
      const message = `${failure}; using the cached copy that expired at ${iso(cached.stale.expiresAt)}`
      this.log.warn({ url: this.url }, message)
      problems.push(message)
      return { contents: cached.stale.contents, source: 'stale-cache', problems }
    }
    this.log.warn({ url: this.url }, failure)
    problems.push(failure)
    return { contents: null, source: 'none', problems }
  }

  private async fetchWithoutCache(
    identity: RequirementsIdentity,
    problems: string[],
  ): Promise<RemoteRequirementsResult> {
    const fetched = await this.fetchWithRetries(identity)
    if (fetched.ok) return { contents: fetched.contents, source: 'network', problems }
    const failure = `could not load the remote requirements from ${this.url}: ${fetched.reason}`
    this.log.warn({ url: this.url }, failure)
    return { contents: null, source: 'none', problems: [...problems, failure] }
  }

  // The key -----------------------------------------------------------------------------------

  private async loadKey(): Promise<Buffer> {
    await mkdir(this.options.homeDir, { recursive: true })
    try {
      // Exclusive create: if two processes start at once, one key wins and the other reads it.
      const handle = await open(this.keyPath, 'wx', 0o600)
      const key = randomBytes(KEY_BYTES)
      try {
        await handle.writeFile(key)
      } finally {
        await handle.close()
      }
      this.log.debug({ path: this.keyPath }, 'created the requirements cache key')
      return key
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    if (process.platform !== 'win32') {
      const mode = (await stat(this.keyPath)).mode & 0o777
      if (mode & 0o077) {
        this.log.warn(
          { path: this.keyPath, mode: mode.toString(8) },
          'requirements cache key is readable by other users; tightening it to 0600',
        )
        await chmod(this.keyPath, 0o600)
      }
    }
    const key = await readFile(this.keyPath)
    if (key.length === KEY_BYTES) return key
    // Truncated or replaced by something else: any cache signed with it is unverifiable anyway.
    this.log.warn({ path: this.keyPath }, 'requirements cache key is malformed; replacing it')
    const fresh = randomBytes(KEY_BYTES)
    await writeFileAtomic(this.keyPath, fresh, { mode: 0o600 })
    return fresh
  }

  // The cache ---------------------------------------------------------------------------------

  /**
   * `fresh` is usable as is; `stale` passed every check except expiry and is kept for when the
   * network fails. Each rejection is logged with its reason.
   */
  private async readCache(
    key: Buffer,
    identity: RequirementsIdentity,
  ): Promise<{ fresh?: CachePayload; stale?: CachePayload }> {
    let text: string
    try {
      text = await readFile(this.cachePath, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        this.log.debug({ path: this.cachePath }, 'no requirements cache; fetching')
      } else {
        this.log.info(
          { path: this.cachePath, reason: describeError(error) },
          'requirements cache is unreadable; refetching',
        )
      }
      return {}
    }

    let file: Partial<CacheFile>
    try {
      file = JSON.parse(text) as Partial<CacheFile>
      if (typeof file !== 'object' || file === null) throw new Error('not an object')
    } catch {
      this.log.info({ path: this.cachePath }, 'requirements cache is not valid JSON; refetching')
      return {}
    }
    // Verify the exact payload object that was signed before looking at any of its fields.
    if (!verify(key, file.payload, file.signature)) {
      this.log.info({ path: this.cachePath }, 'requirements cache signature does not verify; refetching')
      return {}
    }
    const payload = file.payload
    if (!isPayload(payload)) {
      this.log.info({ path: this.cachePath }, 'requirements cache has an unexpected shape; refetching')
      return {}
    }
    if (payload.userId !== identity.userId || payload.accountId !== identity.accountId) {
      this.log.info({ path: this.cachePath }, 'requirements cache belongs to another account; refetching')
      return {}
    }
    if (!(await this.contentsParse(payload.contents))) {
      this.log.info({ path: this.cachePath }, 'requirements cache contents do not parse; refetching')
      return {}
    }
    // A TTL lowered since the cache was written takes effect at once.
    const expiresAt = Math.min(payload.expiresAt, payload.fetchedAt + this.ttlMs)
    if (this.now() >= expiresAt) {
      this.log.info({ path: this.cachePath }, `requirements cache expired at ${iso(expiresAt)}; refetching`)
      return { stale: { ...payload, expiresAt } }
    }
    return { fresh: payload }
  }

  private async contentsParse(contents: string | null): Promise<boolean> {
    return (await this.contentsProblems(contents)).length === 0
  }

  private async contentsProblems(contents: string | null): Promise<string[]> {
    if (contents === null) return []
    await loadRequirementsParser()
    const { problems } = parseRequirements(contents, { kind: 'remote', path: this.url })
    return problems.map((p) => p.detail ?? p.message)
  }

  private async writeCache(
    key: Buffer,
    identity: RequirementsIdentity,
    contents: string | null,
    problems: string[],
  ): Promise<void> {
    const now = this.now()
    const payload: CachePayload = {
      contents,
      fetchedAt: now,
      expiresAt: now + this.ttlMs,
      userId: identity.userId,
      accountId: identity.accountId,
    }
    const file: CacheFile = { payload, signature: sign(key, payload).toString('base64') }
    try {
      await writeFileAtomic(this.cachePath, JSON.stringify(file) + '\n', { mode: 0o600 })
      this.log.debug(
        { path: this.cachePath, expiresAt: iso(payload.expiresAt) },
        'wrote the requirements cache',
      )
    } catch (error) {
      // The fetched document is still good for this run; the next start simply fetches again.
      const message = `could not write the requirements cache ${this.cachePath}: ${describeError(error)}`
      this.log.warn(message)
      problems.push(message)
    }
  }

  // The network -------------------------------------------------------------------------------

  private async fetchWithRetries(
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
