/**
 * The environment a model-run command gets, from config.toml's `shell_environment_policy`, following
 * codex's `create_env` step by step and in its order: inherit, default excludes, exclude, set,
 * include_only.
 *
 * It must never read or change `process.env` beyond the `base` it is given, and never add a variable
 * the policy did not ask for: the caller adds its own markers (sandbox, thread ids) afterwards.
 */

export interface ShellEnvironmentPolicy {
  inherit?: 'all' | 'core' | 'none'
  ignore_default_excludes?: boolean
  exclude?: string[]
  include_only?: string[]
  set?: Record<string, string>
}

/** codex's `inherit = "core"` set. */
const CORE_VARIABLES = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'USER', 'USERNAME', 'TMPDIR', 'TEMP', 'TMP']

/** Names that usually hold credentials; dropped unless `ignore_default_excludes`. */
const DEFAULT_EXCLUDES = ['*KEY*', '*SECRET*', '*TOKEN*']

/** A case-insensitive wildcard pattern (`*` any run, `?` one character), as codex's `wildmatch`. */
function globMatcher(pattern: string): RegExp {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.')
  return new RegExp(`^${source}$`, 'i')
}

function matchesAny(name: string, patterns: RegExp[]): boolean {
  return patterns.some((pattern) => pattern.test(name))
}

/**
 * codex's rules, in codex's order. Defaults are codex's config defaults: `inherit = "all"` and
 * `ignore_default_excludes = true` (codex keeps KEY/SECRET/TOKEN variables unless the user turns the
 * filter on with `ignore_default_excludes = false`).
 */
export function shellEnvironment(
  policy: ShellEnvironmentPolicy,
  base: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const inherit = policy.inherit ?? 'all'
  const entries = Object.entries(base).filter((entry): entry is [string, string] => entry[1] !== undefined)

  let env = new Map<string, string>()
  if (inherit === 'all') env = new Map(entries)
  else if (inherit === 'core') {
    // Windows variable names are case-insensitive (`Path`), so match them that way there.
    const windows = process.platform === 'win32'
    const isCore = (name: string): boolean =>
      windows
        ? CORE_VARIABLES.some((core) => core.toLowerCase() === name.toLowerCase())
        : CORE_VARIABLES.includes(name)
    env = new Map(entries.filter(([name]) => isCore(name)))
  }

  if (!(policy.ignore_default_excludes ?? true)) {
    const defaults = DEFAULT_EXCLUDES.map(globMatcher)
    for (const name of [...env.keys()]) if (matchesAny(name, defaults)) env.delete(name)
  }

  const exclude = (policy.exclude ?? []).map(globMatcher)
  if (exclude.length > 0) {
    for (const name of [...env.keys()]) if (matchesAny(name, exclude)) env.delete(name)
  }

  for (const [name, value] of Object.entries(policy.set ?? {})) env.set(name, value)

  const includeOnly = (policy.include_only ?? []).map(globMatcher)
  if (includeOnly.length > 0) {
    for (const name of [...env.keys()]) if (!matchesAny(name, includeOnly)) env.delete(name)
  }

  return Object.fromEntries(env)
}
