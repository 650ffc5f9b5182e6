/**
 * The live config of a running core: the loaded layers, the problems found in them, the user file
 * watcher, and safe writes. New threads read `current` each time, so they always get the latest
 * config; problems found by a reload go out to every connection as `configWarning`.
 *
 * Writes go to the user `config.toml` only. They validate first, refuse when the file changed since
 * the version the client read, keep comments and formatting, and replace the file atomically
 * (temp file + rename), so a crash or a full disk never leaves a half-written config behind.
 */
import { randomBytes } from 'node:crypto'
import { watch, type FSWatcher } from 'node:fs'
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { ErrorCode, RpcError } from '../protocol/errors'
import type { ConfigWriteErrorCode } from '../protocol/config'
import { Emitter, type Event } from '../util/event'
import type { Logger } from '../util/log'
import { dotted, issueMessage, type ConfigWarning, type SchemaIssue } from './diagnostics'
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
import { checkWriteAgainst, enforceRequirements, RequirementsLoader } from './enforce'
import { getAt, plain } from './merge'
import type { ConfigRequirements, LoadedRequirements } from './requirements'
import type { RequirementsIdentity } from './requirementsCache'
import { loadTomlParser } from './overrides'
import { ConfigToml } from './schema'
import type { TomlEdit } from './tomlEdit'

export interface ConfigServiceOptions extends LoaderOptions {
  log: Logger
  /** `--analytics-default-enabled`: analytics on unless a layer says `[analytics] enabled = false`. */
  analyticsDefaultEnabled?: boolean
  /** Watch the home folder for outside edits (default true). */
  watch?: boolean
  /** The signed-in ChatGPT account, for remote requirements (the accounts work provides it). */
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

export const writeError = (code: ConfigWriteErrorCode, message: string): RpcError =>
  new RpcError(ErrorCode.InvalidRequest, message, { config_write_error_code: code })

const warningKey = (w: ConfigWarning) => `${w.summary}\n${w.details ?? ''}`

export class ConfigService {
  private loaded!: LoadedConfig
  private reqs: LoadedRequirements | undefined
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
  readonly userFile: string

  private constructor(private readonly options: ConfigServiceOptions) {
    this.userFile = join(options.home, CONFIG_FILE)
    this.requirementsLoader = new RequirementsLoader({
      home: options.home,
      systemDir: options.systemDir ?? SYSTEM_CONFIG_DIR,
      log: options.log,
      ...(options.identity ? { identity: options.identity } : {}),
    })
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
      return {
        enabled: true,
        origin: { name: { type: 'sessionFlags' }, version: sha256('--analytics-default-enabled') },
      }
    }
    return { enabled: false, origin: undefined }
  }

  async reload(reason: string): Promise<void> {
    if (this.disposed) return
    const before = new Set(this.loaded.problems.map(warningKey))
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
  }

  write(request: ConfigWriteRequest): Promise<ConfigWriteResult> {
    // One write at a time: each sees the file the previous one left.
    const run = this.writeChain.then(() => this.writeNow(request))
    this.writeChain = run.catch(() => undefined)
    return run
  }

  private async writeNow(request: ConfigWriteRequest): Promise<ConfigWriteResult> {
    const file = this.userFile
    if (request.filePath && resolve(request.filePath) !== file) {
      throw writeError(
        'configLayerReadonly',
        `Only the user config file (${file}) can be written; ${request.filePath} is read-only.`,
      )
    }
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return ''
      throw error
    })
    const version = sha256(text)
    if (request.expectedVersion && request.expectedVersion !== version) {
      throw writeError(
        'configVersionConflict',
        'Configuration was modified since last read. Fetch latest version and retry.',
      )
    }
    const edits: TomlEdit[] = request.edits.map((edit) => {
      const path = edit.keyPath.split('.')
      if (path.some((part) => part.length === 0)) {
        throw writeError(
          'configValidationError',
          `Invalid configuration: \`${edit.keyPath}\` is not a key path`,
        )
      }
      return { path, value: edit.value, mergeStrategy: edit.mergeStrategy }
    })
    const parse = await loadTomlParser()
    let before: Record<string, unknown>
    try {
      before = plain(parse(text))
    } catch (error) {
      throw writeError(
        'configValidationError',
        `Invalid configuration: ${file} does not parse (${(error as Error).message}); fix it before writing to it`,
      )
    }
    // The editor pulls in a second TOML parser; load it only when someone writes (cold-start budget).
    const { applyEditsToValue, applyTomlEdits, TomlEditError } = await import('./tomlEdit')
    let newText: string
    try {
      const after = applyEditsToValue(before, edits)
      this.validateEdits(after, edits)
      newText = applyTomlEdits(text, edits)
    } catch (error) {
      if (error instanceof TomlEditError) {
        throw writeError('configValidationError', `Invalid configuration: ${error.message}`)
      }
      throw error
    }
    await writeFileAtomic(file, newText)
    this.options.log.info({ file, keys: request.edits.map((e) => e.keyPath) }, 'config written')
    await this.reload('write')
    return {
      status: 'ok',
      version: sha256(newText),
      filePath: file,
      overriddenMetadata: null,
      ...this.overridden(edits),
    }
  }

  /** Rejects edits whose result breaks the schema or the requirements; leaves unrelated old problems alone. */
  private validateEdits(after: Record<string, unknown>, edits: TomlEdit[]): void {
    const touches = (issuePath: readonly PropertyKey[]) =>
      edits.some((e) => {
        const a = e.path
        const b = issuePath.map(String)
        const n = Math.min(a.length, b.length)
        return a.slice(0, n).every((x: string, i: number) => x === b[i])
      })
    const result = ConfigToml.safeParse(after, { reportInput: true })
    if (!result.success) {
      for (const raw of result.error.issues) {
        const issue = raw as unknown as SchemaIssue
        if (issue.code === 'unrecognized_keys') {
          const bad = (issue.keys ?? []).map((k) => [...issue.path, k]).filter(touches)
          if (bad[0])
            throw writeError(
              'configSchemaUnknownKey',
              `Invalid configuration: unknown configuration key \`${dotted(bad[0])}\``,
            )
        } else if (touches(issue.path)) {
          throw writeError('configValidationError', `Invalid configuration: ${issueMessage(issue)}`)
        }
      }
    }
    for (const edit of edits) {
      const problem = checkWriteAgainst(this.requirements(), edit.path, getAt(after, edit.path))
      if (problem) throw writeError('configValidationError', `Invalid configuration: ${problem}`)
    }
  }

  /** `okOverridden` when a layer above the user file decides an edited key. */
  private overridden(edits: TomlEdit[]): Partial<ConfigWriteResult> {
    const { origins, layers, merged } = this.loaded
    for (const edit of edits) {
      const key = edit.path.join('.')
      const deciding = Object.entries(origins).find(
        ([k, origin]) =>
          origin.name.type !== 'user' &&
          origin.name.type !== 'system' &&
          (k === key || k.startsWith(`${key}.`) || key.startsWith(`${k}.`)),
      )
      if (!deciding) continue
      const [decidingKey, origin] = deciding
      const layer = layers.find((l) => l.version === origin.version && l.name.type === origin.name.type)
      const path = decidingKey.length < key.length ? decidingKey.split('.') : edit.path
      return {
        status: 'okOverridden',
        overriddenMetadata: {
          message: `Overridden by ${layer?.label ?? origin.name.type}`,
          overridingLayer: origin,
          effectiveValue: getAt(merged, path) ?? null,
        },
      }
    }
    return {}
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
  }
}

/** Temp file in the same folder, fsync, rename over the target; the old file survives any failure. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true })
  const mode = await stat(file).then(
    (s) => s.mode & 0o777,
    () => 0o600,
  )
  const temp = join(dirname(file), `.${CONFIG_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  try {
    const handle = await open(temp, 'wx', mode)
    try {
      await handle.writeFile(text, 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }
    await chmod(temp, mode)
    await rename(temp, file)
  } catch (error) {
    await unlink(temp).catch(() => undefined)
    const e = error as NodeJS.ErrnoException
    throw new RpcError(
      ErrorCode.Internal,
      `Could not write ${file}: ${e.code === 'ENOSPC' ? 'no space left on device' : e.message}`,
    )
  }
}
