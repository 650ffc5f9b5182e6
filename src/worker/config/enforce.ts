/**
 * Where requirements meet config: loads the requirement sources (files and the remote document for
 * the signed-in account), turns their problems into located diagnostics, and clamps the effective
 * config to what the administrator allows, with a warning that names the setting and the fallback.
 * It never loosens anything: a setting that breaks a requirement is replaced, never kept.
 */
import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from '../util/log'
import { diagnostic, loadAst, locate, offsetOf, type ConfigWarning } from './diagnostics'
import type { LoadedConfig } from './loader'
import { getAt } from './merge'
import type * as RequirementsModule from './requirements'
import type { ConfigRequirements, LoadedRequirements, RequirementsProblem } from './requirements'
import type { RemoteRequirements, RequirementsIdentity } from './requirementsCache'
import { REQUIREMENTS_CACHE_TTL_SECS } from './schema'

export interface RequirementsLoaderOptions {
  home: string
  systemDir: string
  log: Logger
  identity?: () => RequirementsIdentity | undefined
}

const NO_REQUIREMENTS: LoadedRequirements = { requirements: null, sources: [], origins: {}, problems: [] }

let requirementsModule: typeof RequirementsModule | undefined
async function loadRequirementsModule() {
  requirementsModule ??= await import('./requirements')
  return requirementsModule
}

/** Keeps one RemoteRequirements per configured URL, so its in-flight fetch and cache are reused. */
export class RequirementsLoader {
  private remote: RemoteRequirements | undefined
  private remoteKey = ''

  constructor(private readonly options: RequirementsLoaderOptions) {}

  async load(config: LoadedConfig): Promise<{ loaded: LoadedRequirements; problems: ConfigWarning[] }> {
    const source = config.merged.requirements
    let remote: { contents: string | null; source: string } | undefined
    const problems: ConfigWarning[] = []
    if (source?.url) {
      const ttlMs = (source.cache_ttl_secs ?? REQUIREMENTS_CACHE_TTL_SECS) * 1000
      const key = `${source.url}\n${ttlMs}`
      if (!this.remote || key !== this.remoteKey) {
        const { RemoteRequirements } = await import('./requirementsCache')
        this.remote = new RemoteRequirements({
          homeDir: this.options.home,
          url: source.url,
          ttlMs,
          log: this.options.log,
          identity: this.options.identity ?? (() => undefined),
        })
        this.remoteKey = key
      }
      const result = await this.remote.load()
      for (const message of result.problems) {
        problems.push({ summary: message, details: null, path: null, range: null })
      }
      if (result.source !== 'none') remote = { contents: result.contents, source: source.url }
    }
    // Most installations have no requirements: skip loading the module (and its schema) then.
    const files = [this.options.systemDir, this.options.home].map((d) => join(d, 'requirements.toml'))
    const exists = await Promise.all(
      files.map((f) =>
        access(f).then(
          () => true,
          () => false,
        ),
      ),
    )
    if (!remote && !exists.includes(true)) return { loaded: NO_REQUIREMENTS, problems }
    const requirements = await loadRequirementsModule()
    const loaded = await requirements.loadRequirements({
      systemDir: this.options.systemDir,
      homeDir: this.options.home,
      ...(remote ? { remote } : {}),
    })
    for (const problem of loaded.problems) problems.push(await locateProblem(problem))
    return { loaded, problems }
  }
}

async function locateProblem(problem: RequirementsProblem): Promise<ConfigWarning> {
  const path = problem.path ?? null
  const isFile = path !== null && path.startsWith('/')
  const text = isFile ? await readFile(path, 'utf8').catch(() => undefined) : undefined
  if (text === undefined)
    return { summary: problem.message, details: problem.detail ?? null, path, range: null }
  const source = { path: path as string, text }
  const message = problem.detail ?? problem.message
  if (problem.line !== undefined) {
    const at = offsetOf(text, problem.line, problem.column ?? 1)
    return diagnostic(problem.message, source, { start: at, end: at }, message, path)
  }
  const ast = problem.keyPath ? await loadAst(text) : undefined
  const hit = ast && problem.keyPath ? locate(ast, problem.keyPath) : undefined
  return diagnostic(problem.message, source, hit?.value, message, path)
}

/**
 * Clamps the effective config to the requirements (in place) and says what changed. A value the
 * user did not set (a default) is replaced silently; one they set gets a warning at its origin.
 */
export function enforceRequirements(config: LoadedConfig, req: ConfigRequirements | null): ConfigWarning[] {
  if (!req || !requirementsModule) return []
  const {
    checkApprovalPolicy,
    checkFeature,
    checkSandboxMode,
    firstAllowedApprovalPolicy,
    firstAllowedSandboxMode,
  } = requirementsModule
  const warnings: ConfigWarning[] = []
  const eff = config.effective
  const warn = (key: string, message: string) => {
    const origin = config.origins[key]
    if (!origin) return
    const file = 'file' in origin.name ? origin.name.file : null
    warnings.push({ summary: message, details: null, path: file, range: null })
  }
  const approval = checkApprovalPolicy(req, eff.approval_policy)
  if (approval) {
    const fallback = firstAllowedApprovalPolicy(req, eff.approval_policy)
    warn('approval_policy', `${approval}; using \`${fallback}\` instead.`)
    eff.approval_policy = fallback
  }
  const sandbox = checkSandboxMode(req, eff.sandbox_mode)
  if (sandbox) {
    const fallback = firstAllowedSandboxMode(req, eff.sandbox_mode)
    warn('sandbox_mode', `${sandbox}; using \`${fallback}\` instead.`)
    eff.sandbox_mode = fallback
  }
  for (const [name, required] of Object.entries(req.featureRequirements ?? {})) {
    const set = getAt(config.merged, ['features', name])
    if (typeof set === 'boolean' && set !== required) {
      warn(`features.${name}`, `${checkFeature(req, name, set) ?? ''}.`)
    }
    eff.features = { ...eff.features, [name]: required }
  }
  return warnings
}

/** The refusal for a write that would break a requirement, or undefined. */
export function checkWriteAgainst(
  req: ConfigRequirements | null,
  path: string[],
  value: unknown,
): string | undefined {
  if (!req || !requirementsModule) return undefined
  const { checkApprovalPolicy, checkFeature, checkSandboxMode } = requirementsModule
  const key = path.join('.')
  if (key === 'approval_policy' && typeof value === 'string') return checkApprovalPolicy(req, value)
  if (key === 'sandbox_mode' && typeof value === 'string') return checkSandboxMode(req, value)
  if (path[0] === 'features' && path.length === 2 && typeof value === 'boolean') {
    return checkFeature(req, path[1] as string, value)
  }
  return undefined
}
