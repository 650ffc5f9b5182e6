/**
 * `-c key=value` session overrides: a dotted key and a TOML value, falling back to the raw string
 * when the value is not TOML (as codex). `--enable F` / `--disable F` are `features.F=true|false`.
 * The config work layers these above the user's files.
 */
export interface ConfigOverride {
  /** The dotted key split into its parts. */
  path: string[]
  value: unknown
  /** As given, for messages. */
  source: string
}

export class ConfigOverrideError extends Error {}

const KEY_PART = /^[A-Za-z0-9_-]+$/

type TomlParse = (text: string) => Record<string, unknown>

/** Loads the TOML parser once, only when a -c override is actually given (cold-start budget). */
export async function loadTomlParser(): Promise<TomlParse> {
  const toml = await import('toml')
  return (toml.default ?? toml).parse as TomlParse
}

export function parseConfigOverride(arg: string, parseToml: TomlParse): ConfigOverride {
  const eq = arg.indexOf('=')
  if (eq <= 0) throw new ConfigOverrideError(`invalid -c override \`${arg}\`: expected key=value`)
  const key = arg.slice(0, eq).trim()
  const raw = arg.slice(eq + 1).trim()
  const path = key.split('.')
  if (path.some((part) => !KEY_PART.test(part))) {
    throw new ConfigOverrideError(
      `invalid -c override \`${arg}\`: \`${key}\` is not a dotted key of bare words`,
    )
  }
  let value: unknown = raw
  try {
    value = parseToml(`value = ${raw}`).value
  } catch {
    // Not TOML: the raw string is the value.
  }
  return { path, value, source: arg }
}

export function featureOverride(feature: string, enabled: boolean): ConfigOverride {
  if (!KEY_PART.test(feature)) throw new ConfigOverrideError(`invalid feature name \`${feature}\``)
  return {
    path: ['features', feature],
    value: enabled,
    source: `${enabled ? '--enable' : '--disable'} ${feature}`,
  }
}
