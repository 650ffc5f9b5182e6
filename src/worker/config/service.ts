/**
 * The live config of a running core: the loaded layers, the problems found in them, the user file
 * watcher, and safe writes. New threads read `current` each time, so they always get the latest
 * config; problems found by a reload go out to every connection as `configWarning`, and the whole
 * current set (possibly empty) to whoever listens to `onDidChangeWarnings`.
 *
 * Writes go to the user `config.toml` only. They validate first, refuse when the file changed since
 * the version the client read, keep comments and formatting, and replace the file atomically
 * (temp file + rename), so a crash or a full disk never leaves a half-written config behind.
 */
import { watch, type FSWatcher } from 'node:fs'
import { join } from 'node:path'
import { Emitter, type Event } from '../util/event'
import type { Logger } from '../util/log'
import type { ConfigWarning } from './diagnostics'
import { enforceRequirements, RequirementsLoader } from './enforce'
import {
  CONFIG_FILE,
  loadConfig,
  MANAGED_CONFIG_FILE,
  sha256,
  SYSTEM_CONFIG_DIR,
  type LayerMetadata,
  type LoadedConfig,
  type LoaderOptions,
} from './loader'
import type { ConfigRequirements, LoadedRequirements } from './requirements'
import type { RequirementsIdentity } from './requirementsCache'

export interface ConfigServiceOptions extends LoaderOptions {
  log: Logger
  /** `--analytics-default-enabled`: analytics on unless a layer says `[analytics] enabled = false`. */
  analyticsDefaultEnabled?: boolean
  /** Watch the home folder for outside edits (default true). */
  watch?: boolean
  /** The signed-in ChatGPT account, for remote requirements (see also `setIdentity`). */
  identity?: () => RequirementsIdentity | undefined
}

export interface ConfigWriteRequest {
  edits: { keyPath: string; value: unknown; mergeStrategy: 'replace' | 'upsert' }[]
  filePath?: string | null | undefined
  expectedVersion?: string | null | undefined
}

export interface ConfigWriteResult {
  status: 'ok' | 'okOverridden'
  version: string
  filePath: string
  overriddenMetadata: { message: string; overridingLayer: LayerMetadata; effectiveValue: unknown } | null
}

export interface AnalyticsSetting {
  enabled: boolean
  origin: LayerMetadata | undefined
}

const WATCHED = new Set([CONFIG_FILE, MANAGED_CONFIG_FILE, 'requirements.toml'])
const RELOAD_DEBOUNCE_MS = 100

const warningKey = (w: ConfigWarning) => `${w.summary}\n${w.details ?? ''}`
/** Everything a client shows of a problem: a moved line is a different problem. */
const shownKey = (w: ConfigWarning) =>
  JSON.stringify([w.summary, w.details ?? null, w.path ?? null, w.range?.start ?? null, w.range?.end ?? null])
const sameSet = (a: readonly ConfigWarning[], b: readonly ConfigWarning[]) =>
  a.length === b.length && a.map(shownKey).join('\n') === b.map(shownKey).join('\n')

export class ConfigService {
  private loaded!: LoadedConfig
  private reqs: LoadedRequirements | undefined
  private flagOrigin: LayerMetadata | undefined
  private readonly requirementsLoader: RequirementsLoader
  private watcher: FSWatcher | undefined
  private reloadTimer: NodeJS.Timeout | undefined
  private writeChain: Promise<unknown> = Promise.resolve()
  private disposed = false
  private readonly _onNewWarnings = new Emitter<ConfigWarning[]>()
  /** Problems that a reload found and that were not there before. */
  readonly onNewWarnings: Event<ConfigWarning[]> = this._onNewWarnings.event
  private readonly _onDidReload = new Emitter<LoadedConfig>()
  readonly onDidReload: Event<LoadedConfig> = this._onDidReload.event
  private readonly _onDidChangeWarnings = new Emitter<readonly ConfigWarning[]>()
  /** The set of problems changed (fixed, moved or new): the whole current set, possibly empty. */
  readonly onDidChangeWarnings: Event<readonly ConfigWarning[]> = this._onDidChangeWarnings.event
  readonly userFile: string
  private identity: (() => RequirementsIdentity | undefined) | undefined

  private constructor(private readonly options: ConfigServiceOptions) {
    this.userFile = join(options.home, CONFIG_FILE)
    this.identity = options.identity
    this.requirementsLoader = new RequirementsLoader({
      home: options.home,
      systemDir: options.systemDir ?? SYSTEM_CONFIG_DIR,
      log: options.log,
      identity: () => this.identity?.(),
    })
  }

  /** The account that fetches remote requirements from now on (the core's AuthManager). */
  setIdentity(identity: () => RequirementsIdentity | undefined): void {
    this.identity = identity
  }

  /** Config layers plus requirements: problems from both, effective values clamped to what is allowed. */
  private async loadAll(): Promise<LoadedConfig> {
    const config = await loadConfig(this.options)
    const { loaded, problems } = await this.requirementsLoader.load(config)
    this.reqs = loaded
    config.problems.push(...problems, ...enforceRequirements(config, loaded.requirements))
    return config
  }

  /** The composed requirements (`configRequirements/read`), null when no source sets any. */
  requirements(): ConfigRequirements | null {
    return this.reqs?.requirements ?? null
  }

  /** Loads every layer; throws ConfigOverrideError when a `-c` value has the wrong type. */
  static async create(options: ConfigServiceOptions): Promise<ConfigService> {
    const service = new ConfigService(options)
    service.loaded = await service.loadAll()
    for (const p of service.loaded.problems) options.log.warn({ details: p.details }, p.summary)
    if (options.watch !== false) service.startWatching()
    return service
  }

  /** A service over config loaded elsewhere (tests, fixtures); it watches nothing unless asked. */
  static fromLoaded(loaded: LoadedConfig, options: ConfigServiceOptions): ConfigService {
    const service = new ConfigService(options)
    service.loaded = loaded
    if (options.watch === true) service.startWatching()
    return service
  }

  get current(): LoadedConfig {
    return this.loaded
  }

  /** Problems in the config as it is now: each connection hears them right after initialize. */
  get warnings(): readonly ConfigWarning[] {
    return this.loaded.problems
  }

  /** Effective analytics: a layer's `[analytics] enabled` wins; else the flag; else off. */
  get analytics(): AnalyticsSetting {
    const origin = this.loaded.origins['analytics.enabled']
    const fromLayer = this.loaded.merged.analytics?.enabled
    if (fromLayer !== undefined) return { enabled: fromLayer, origin }
    if (this.options.analyticsDefaultEnabled) {
      // Read on every analytics event: fingerprint the flag once, not per call.
      this.flagOrigin ??= { name: { type: 'sessionFlags' }, version: sha256('--analytics-default-enabled') }
      return { enabled: true, origin: this.flagOrigin }
    }
    return { enabled: false, origin: undefined }
  }

  async reload(reason: string): Promise<void> {
    if (this.disposed) return
    const previous = this.loaded.problems
    const before = new Set(previous.map(warningKey))
    let next: LoadedConfig
    try {
      next = await this.loadAll()
    } catch (error) {
      this.options.log.error({ err: error, reason }, 'config reload failed; keeping the previous config')
      return
    }
    if (this.disposed) return
    this.loaded = next
    const fresh = next.problems.filter((p) => !before.has(warningKey(p)))
    this.options.log.info({ reason, problems: next.problems.length }, 'config reloaded')
    for (const p of fresh) this.options.log.warn({ details: p.details }, p.summary)
    this._onDidReload.fire(next)
    if (fresh.length > 0) this._onNewWarnings.fire(fresh)
    if (!sameSet(previous, next.problems)) this._onDidChangeWarnings.fire(next.problems)
  }

  write(request: ConfigWriteRequest): Promise<ConfigWriteResult> {
    // One write at a time: each sees the file the previous one left.
    const run = this.writeChain.then(async () => {
      const { writeConfig } = await import('./write')
      return writeConfig(
        {
          userFile: this.userFile,
          log: this.options.log,
          current: () => this.loaded,
          requirements: () => this.requirements(),
          reload: (reason) => this.reload(reason),
        },
        request,
      )
    })
    this.writeChain = run.catch(() => undefined)
    return run
  }

  private startWatching(): void {
    try {
      this.watcher = watch(this.options.home, { persistent: false }, (_event, filename) => {
        if (filename && !WATCHED.has(filename.toString())) return
        clearTimeout(this.reloadTimer)
        this.reloadTimer = setTimeout(() => void this.reload('file changed'), RELOAD_DEBOUNCE_MS)
      })
      this.watcher.on('error', (error) => this.options.log.warn({ err: error }, 'config watcher stopped'))
    } catch (error) {
      // No home folder yet: nothing to watch until a write creates it.
      this.options.log.debug({ err: error, home: this.options.home }, 'not watching the config folder')
    }
  }

  dispose(): void {
    this.disposed = true
    clearTimeout(this.reloadTimer)
    this.watcher?.close()
    this._onNewWarnings.dispose()
    this._onDidReload.dispose()
    this._onDidChangeWarnings.dispose()
  }
}
