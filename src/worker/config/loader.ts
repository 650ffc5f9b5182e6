/**
 * The layered config loader. Layers, lowest to highest precedence:
 *
 *   system file   /etc/codex-desk/config.toml
 *   user file     $CODEX_DESK_HOME/config.toml
 *   session flags -c key=value, --enable F, --disable F
 *   managed file  $CODEX_DESK_HOME/managed_config.toml
 *   managed prefs macOS defaults domain, key `config_toml_base64` (a base64 TOML document)
 *
 * Managed layers win over everything so administrators can enforce sandbox and approval defaults.
 * A problem in one layer never stops the server: a file that does not parse is ignored as a whole,
 * a key with a bad value or an unknown key is dropped on its own, and each problem becomes a
 * diagnostic that points at the file, line and column. Only a bad `-c` value is fatal, because the
 * user typed it just now and can fix it just as fast (as codex).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ConfigOverrideError, loadTomlParser, type ConfigOverride } from './overrides'
import {
  diagnostic,
  dotted,
  issueMessage,
  loadAst,
  locate,
  offsetOf,
  type ConfigWarning,
  type SchemaIssue,
  type Source,
} from './diagnostics'
import { canonicalJson, deleteAt, leaves, mergeTables, plain, setAt, type Table } from './merge'
import { ConfigToml, resolveConfig, type EffectiveConfig } from './schema'

export const SYSTEM_CONFIG_DIR = '/etc/codex-desk'
export const CONFIG_FILE = 'config.toml'
export const MANAGED_CONFIG_FILE = 'managed_config.toml'
/** The macOS defaults domain administrators push managed preferences to. */
export const MDM_DOMAIN = 'app.codex-desk'
export const MDM_KEY = 'config_toml_base64'
/** How session flags are named in diagnostics (codex's label). */
export const SESSION_FLAGS_LABEL = '--config'

/** Wire names of layers (codex's `ConfigLayerSource`). */
export type LayerSource =
  | { type: 'system'; file: string }
  | { type: 'user'; file: string }
  | { type: 'sessionFlags' }
  | { type: 'legacyManagedConfigTomlFromFile'; file: string }
  | { type: 'legacyManagedConfigTomlFromMdm' }

export interface ConfigLayer {
  name: LayerSource
  /** For people: "user config", "session flags", ... */
  label: string
  /** `sha256:` of the file's bytes (or of the canonical JSON for layers without a file). */
  version: string
  /** The layer's valid settings (bad keys removed). */
  config: ConfigToml
  disabledReason?: string
  /** The file this layer came from, if any, even when it does not exist yet. */
  file?: string
  /** The source text, for diagnostics and writes; undefined when the file does not exist. */
  text?: string
}

export interface LayerMetadata {
  name: LayerSource
  version: string
}

export interface LoadedConfig {
  /** Lowest precedence first. */
  layers: ConfigLayer[]
  merged: ConfigToml
  effective: EffectiveConfig
  /** Dotted key -> the layer its value comes from. */
  origins: Record<string, LayerMetadata>
  problems: ConfigWarning[]
}

export interface LoaderOptions {
  home: string
  systemDir?: string
  overrides?: readonly ConfigOverride[]
  /** Reads the managed-preferences TOML (already base64-decoded); default: `defaults` on macOS. */
  readManagedPreferences?: () => Promise<string | undefined>
}

const EMPTY_SHA256 = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/**
 * Layer fingerprints. `node:crypto` costs 2-3 ms to load, so it is loaded only when there is a
 * non-empty layer to fingerprint (the cold-start budget is 60 ms).
 */
export function sha256(text: string): string {
  if (text === '') return EMPTY_SHA256
  const { createHash } = process.getBuiltinModule('node:crypto')
  return `sha256:${createHash('sha256').update(text).digest('hex')}`
}

/** What loading finds in a home with no config files: the (empty) user layer and the defaults. */
export function emptyConfig(home: string): LoadedConfig {
  const file = join(home, CONFIG_FILE)
  const user = missingFileLayer({ type: 'user', file }, 'user config')
  return { layers: [user], merged: {}, effective: resolveConfig({}), origins: {}, problems: [] }
}

/** A file layer whose file does not exist (or cannot be read: then `disabledReason` says why). */
function missingFileLayer(
  name: LayerSource & { file: string },
  label: string,
  disabledReason?: string,
): ConfigLayer {
  return {
    name,
    label,
    version: sha256(''),
    config: {},
    file: name.file,
    ...(disabledReason ? { disabledReason } : {}),
  }
}

export async function loadConfig(options: LoaderOptions): Promise<LoadedConfig> {
  const systemDir = options.systemDir ?? SYSTEM_CONFIG_DIR
  const problems: ConfigWarning[] = []
  const layers: ConfigLayer[] = []
  const userFile = join(options.home, CONFIG_FILE)

  const system = await fileLayer(
    { type: 'system', file: join(systemDir, CONFIG_FILE) },
    'system config',
    problems,
  )
  if (system.text !== undefined) layers.push(system)
  // The user layer is listed even when the file does not exist: it is the one writes go to.
  layers.push(await fileLayer({ type: 'user', file: userFile }, 'user config', problems))
  if (options.overrides?.length) layers.push(await sessionFlagsLayer(options.overrides, problems))
  const managedFile = join(options.home, MANAGED_CONFIG_FILE)
  const managed = await fileLayer(
    { type: 'legacyManagedConfigTomlFromFile', file: managedFile },
    'managed config',
    problems,
  )
  if (managed.text !== undefined) layers.push(managed)
  const prefs = await (options.readManagedPreferences ?? readMacManagedPreferences)()
  if (prefs !== undefined) {
    const source = { path: `${MDM_DOMAIN}/${MDM_KEY}`, text: prefs }
    layers.push(
      await textLayer(
        { type: 'legacyManagedConfigTomlFromMdm' },
        'managed preferences',
        source,
        null,
        problems,
      ),
    )
  }

  let merged: Table = {}
  const origins: Record<string, LayerMetadata> = {}
  for (const layer of layers) {
    merged = mergeTables(merged, layer.config)
    for (const [path] of leaves(layer.config)) {
      const key = path.join('.')
      // A higher layer that replaces a table with a value takes the whole subtree's origin.
      for (const existing of Object.keys(origins))
        if (existing.startsWith(`${key}.`)) delete origins[existing]
      origins[key] = { name: layer.name, version: layer.version }
    }
  }
  return { layers, merged, effective: resolveConfig(merged), origins, problems }
}

async function fileLayer(name: LayerSource & { file: string }, label: string, problems: ConfigWarning[]) {
  let text: string | undefined
  try {
    text = await readFile(name.file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      problems.push({
        summary: `Cannot read the ${label}; it is ignored.`,
        details: `${name.file}: ${(error as Error).message}`,
        path: name.file,
        range: null,
      })
      return missingFileLayer(name, label, (error as Error).message)
    }
  }
  if (text === undefined) return missingFileLayer(name, label)
  return textLayer(name, label, { path: name.file, text }, name.file, problems)
}

async function textLayer(
  name: LayerSource,
  label: string,
  source: Source,
  file: string | null,
  problems: ConfigWarning[],
): Promise<ConfigLayer> {
  const base = { name, label, version: sha256(source.text), text: source.text, ...(file ? { file } : {}) }
  const parse = await loadTomlParser()
  let value: Table
  try {
    value = plain(parse(source.text))
  } catch (error) {
    const e = error as Error & {
      line?: number
      column?: number
      location?: { start: { line: number; column: number } }
    }
    const line = e.line ?? e.location?.start.line ?? 1
    const column = e.column ?? e.location?.start.column ?? 1
    const at = offsetOf(source.text, line, column)
    const message = e.message.replace(/\.$/, '')
    problems.push(
      diagnostic(
        `Invalid configuration in the ${label}; the whole file is ignored.`,
        source,
        { start: at, end: at },
        message,
        file,
      ),
    )
    return { ...base, config: {}, disabledReason: message }
  }
  const config = await validateLayer(value, source, label, file, problems)
  return { ...base, config }
}

/**
 * Validates one layer; every bad or unknown key becomes a diagnostic and is removed, and the rest of
 * the layer applies.
 */
async function validateLayer(
  value: Table,
  source: Source,
  label: string,
  file: string | null,
  problems: ConfigWarning[],
): Promise<ConfigToml> {
  const first = ConfigToml.safeParse(value, { reportInput: true })
  if (first.success) return first.data
  const ast = await loadAst(source.text)
  const spanFor = (path: readonly PropertyKey[], unknownKey: boolean) => {
    const hit = ast ? locate(ast, path as (string | number)[]) : undefined
    return hit ? (unknownKey ? hit.key : hit.value) : undefined
  }
  const where = (span: { start: number } | undefined) =>
    span ? ` (line ${source.text.slice(0, span.start).split('\n').length})` : ''
  const cleaned = structuredClone(value)
  for (const raw of first.error.issues) {
    const issue = raw as unknown as SchemaIssue
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys ?? []) {
        const path = [...issue.path, key]
        const span = spanFor(path, true)
        problems.push(
          diagnostic(
            `Unrecognized setting \`${dotted(path)}\` in the ${label}${where(span)} is ignored.`,
            source,
            span,
            `unknown configuration key \`${dotted(path)}\``,
            file,
          ),
        )
        deleteAt(cleaned, path)
      }
      continue
    }
    const span = spanFor(issue.path, false)
    problems.push(
      diagnostic(
        `Invalid value for \`${dotted(issue.path)}\` in the ${label}; that setting is ignored and the rest of the file applies.`,
        source,
        span,
        issueMessage(issue),
        file,
      ),
    )
    deleteAt(cleaned, issue.path)
  }
  const second = ConfigToml.safeParse(cleaned)
  return second.success ? second.data : {}
}

/** Builds the session-flags layer; a value of the wrong type is fatal (ConfigOverrideError). */
async function sessionFlagsLayer(
  overrides: readonly ConfigOverride[],
  problems: ConfigWarning[],
): Promise<ConfigLayer> {
  const value: Table = {}
  for (const o of overrides) setAt(value, o.path, o.value)
  const version = sha256(canonicalJson(value))
  const name: LayerSource = { type: 'sessionFlags' }
  const result = ConfigToml.safeParse(value, { reportInput: true })
  if (result.success) return { name, label: 'session flags', version, config: result.data }
  const warnings: ConfigWarning[] = []
  const fatal: string[] = []
  for (const raw of result.error.issues) {
    const issue = raw as unknown as SchemaIssue
    const paths =
      issue.code === 'unrecognized_keys' ? (issue.keys ?? []).map((k) => [...issue.path, k]) : [issue.path]
    for (const path of paths) {
      // The last override that sets the path (or a parent of it) is the one to blame.
      const key = dotted(path)
      const o = [...overrides]
        .reverse()
        .find((c) => key === c.path.join('.') || key.startsWith(`${c.path.join('.')}.`))
      const source: Source = { path: SESSION_FLAGS_LABEL, text: o?.source ?? key }
      const eq = source.text.indexOf('=')
      const span =
        o && eq > 0
          ? issue.code === 'unrecognized_keys'
            ? { start: 0, end: eq }
            : {
                start:
                  eq + 1 + (source.text.slice(eq + 1).length - source.text.slice(eq + 1).trimStart().length),
                end: source.text.trimEnd().length,
              }
          : undefined
      if (issue.code === 'unrecognized_keys') {
        warnings.push(
          diagnostic(
            `Unrecognized setting \`${key}\` in the session flags is ignored.`,
            source,
            span,
            `unknown configuration key \`${key}\``,
            null,
          ),
        )
        deleteAt(value, path)
      } else {
        fatal.push(diagnostic('', source, span, issueMessage(issue), null).details ?? '')
      }
    }
  }
  if (fatal.length > 0) throw new ConfigOverrideError(fatal.join('\n'))
  problems.push(...warnings)
  const second = ConfigToml.safeParse(value)
  return { name, label: 'session flags', version, config: second.success ? second.data : {} }
}

/** Managed preferences on macOS: `defaults read <domain> config_toml_base64`; skipped elsewhere. */
export async function readMacManagedPreferences(): Promise<string | undefined> {
  if (process.platform !== 'darwin') return undefined
  const { execFile } = await import('node:child_process')
  const encoded = await new Promise<string | undefined>((resolve) => {
    execFile('defaults', ['read', MDM_DOMAIN, MDM_KEY], { timeout: 5000 }, (error, stdout) =>
      resolve(error ? undefined : stdout.trim()),
    )
  })
  if (!encoded) return undefined
  return Buffer.from(encoded, 'base64').toString('utf8')
}
