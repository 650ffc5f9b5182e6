/**
 * The remote requirements source: the document at config `[requirements] url`, fetched with the
 * signed-in ChatGPT account, cached on disk under an HMAC so restarts and offline starts keep the
 * administrator's restrictions. ./requirements parses and composes what `load()` returns.
 * The fetch itself (retries, https only, the parse check) is the base class in ./requirementsFetch.
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
import {
  describeError,
  RequirementsFetch,
  type RemoteRequirementsOptions,
  type RequirementsIdentity,
} from './requirementsFetch'

export const REQUIREMENTS_CACHE_FILE = 'requirements-cache.json'
export const REQUIREMENTS_KEY_FILE = 'requirements-cache.key'

const KEY_BYTES = 32

export type { RemoteRequirementsOptions, RequirementsIdentity } from './requirementsFetch'

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

const iso = (ms: number) => new Date(ms).toISOString()

export class RemoteRequirements extends RequirementsFetch {
  private readonly cachePath: string
  private readonly keyPath: string
  private readonly ttlMs: number
  private inflight: Promise<RemoteRequirementsResult> | undefined

  constructor(options: RemoteRequirementsOptions) {
    super(options)
    this.cachePath = join(options.homeDir, REQUIREMENTS_CACHE_FILE)
    this.keyPath = join(options.homeDir, REQUIREMENTS_KEY_FILE)
    this.ttlMs = options.ttlMs ?? 3_600_000
  }

  /** Concurrent callers share one load (one fetch), so startup and a read do not race. */
  load(): Promise<RemoteRequirementsResult> {
    this.inflight ??= this.loadOnce().finally(() => (this.inflight = undefined))
    return this.inflight
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
}
