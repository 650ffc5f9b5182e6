/**
 * Administrator requirements: what users may configure. `requirements.toml` in the system folder and
 * in the codex-desk home, plus an optional remote document (fetched by ./requirementsCache), are
 * validated, composed per field (remote > system file > home file: the administrator's folder wins over
 * the user-writable home) into the wire shape that
 * `configRequirements/read` returns, and checked by thread/start and config writes.
 *
 * It must never treat a broken source as partly valid: a syntax error or an invalid document ignores
 * the whole source and says so, rather than guessing which restrictions the administrator meant.
 * It must never load the TOML parser when there is nothing to parse (cold-start budget).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as z from 'zod/mini'
import { loadTomlParser } from './overrides'

import {
  APPROVAL_POLICIES,
  LOGIN_METHODS,
  SANDBOX_MODES,
  type ApprovalPolicy,
  type LoginMethod,
  type SandboxMode,
} from './schema'

export const REQUIREMENTS_FILE_NAME = 'requirements.toml'
export const DEFAULT_SYSTEM_REQUIREMENTS_DIR = '/etc/codex-desk'

// An empty allow-list would allow nothing, which is never what an administrator means: reject it.
const allowList = <const T extends readonly string[]>(values: T) =>
  z.optional(z.array(z.enum(values)).check(z.minLength(1)))

/** The file, in codex's snake_case names. Unknown keys are errors: a typo must not silently allow. */
export const RequirementsFile = z.strictObject({
  allowed_approval_policies: allowList(APPROVAL_POLICIES),
  allowed_sandbox_modes: allowList(SANDBOX_MODES),
  allowed_login_methods: allowList(LOGIN_METHODS),
  enforce_residency: z.optional(z.literal('us')),
  feature_requirements: z.optional(z.record(z.string(), z.boolean())),
})
export type RequirementsFile = z.infer<typeof RequirementsFile>

/** The wire shape (`configRequirements/read` → `requirements`); null fields are unrestricted. */
export interface ConfigRequirements {
  allowedApprovalPolicies: ApprovalPolicy[] | null
  allowedSandboxModes: SandboxMode[] | null
  allowedLoginMethods: LoginMethod[] | null
  featureRequirements: Record<string, boolean> | null
  enforceResidency: 'us' | null
}

export type RequirementsField = keyof ConfigRequirements
const FIELDS: readonly RequirementsField[] = [
  'allowedApprovalPolicies',
  'allowedSandboxModes',
  'allowedLoginMethods',
  'featureRequirements',
  'enforceResidency',
]

/** What one source sets; a missing field is left to lower-priority sources. */
export type PartialRequirements = { [K in RequirementsField]?: NonNullable<ConfigRequirements[K]> }

export type RequirementsSourceKind = 'system' | 'home' | 'remote'

export interface RequirementsSource {
  kind: RequirementsSourceKind
  /** The file path, or the URL for the remote source. */
  path: string
}

export interface RequirementsProblem {
  /** A complete sentence: what is wrong, where, and that the source is ignored. */
  message: string
  /** Just what is wrong, for callers that say the rest their own way. */
  detail?: string
  /** The file path or URL. */
  path?: string
  /** Where in the document, in the file's own (snake_case) names. */
  keyPath?: (string | number)[]
  /** 1-based, for syntax errors. */
  line?: number
  column?: number
}

export interface ParsedRequirements {
  requirements: PartialRequirements
  problems: RequirementsProblem[]
}

export interface RequirementsSourceStatus extends RequirementsSource {
  /** `invalid` and `unreadable` sources contribute nothing; `problems` says why. */
  status: 'loaded' | 'missing' | 'invalid' | 'unreadable'
  /** The fields this source set (whether or not a higher-priority source overrode them). */
  fields: RequirementsField[]
}

export interface LoadedRequirements {
  /** Null when no source sets anything. */
  requirements: ConfigRequirements | null
  /** Highest priority first: remote (when given), system file, home file. */
  sources: RequirementsSourceStatus[]
  /** Which source each effective field came from, for messages like "set by /etc/...". */
  origins: Partial<Record<RequirementsField, RequirementsSource>>
  problems: RequirementsProblem[]
}

type TomlParse = (text: string) => Record<string, unknown>

let tomlParse: TomlParse | undefined

/**
 * Loads the TOML parser (once). `parseRequirements` is synchronous so that cache validation and the
 * enforcement path stay simple; the async loaders here call this first, and only when they actually
 * have text to parse.
 */
export async function loadRequirementsParser(): Promise<void> {
  tomlParse ??= await loadTomlParser()
}

const describeSource = (source: RequirementsSource): string =>
  source.kind === 'remote' ? `the remote requirements from ${source.path}` : source.path

const IGNORED = 'all requirements from this source are ignored'

function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out ? `.${String(key)}` : String(key)
  return out
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (value instanceof Date) return 'datetime'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'float'
  if (typeof value === 'object') return 'table'
  return typeof value
}

function describeIssue(issue: z.core.$ZodIssue): { detail: string; keyPath: (string | number)[] }[] {
  const keyPath = issue.path.filter((k): k is string | number => typeof k !== 'symbol')
  const at = formatKeyPath(keyPath)
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        detail: `unknown key \`${formatKeyPath([...keyPath, key])}\``,
        keyPath: [...keyPath, key],
      }))
    case 'invalid_value':
      return [
        {
          detail: `\`${at}\` is ${JSON.stringify(issue.input)}, expected ${issue.values.length > 1 ? 'one of ' : ''}${issue.values
            .map((v) => `\`${String(v)}\``)
            .join(', ')}`,
          keyPath,
        },
      ]
    case 'invalid_type':
      return [{ detail: `\`${at}\` must be ${issue.expected}, found ${typeName(issue.input)}`, keyPath }]
    case 'too_small':
      return [{ detail: `\`${at}\` is empty: an empty allow-list would allow nothing`, keyPath }]
    default:
      return [{ detail: `\`${at}\` is invalid: ${issue.message}`, keyPath }]
  }
}

function toPartial(file: RequirementsFile): PartialRequirements {
  const out: PartialRequirements = {}
  if (file.allowed_approval_policies) out.allowedApprovalPolicies = [...file.allowed_approval_policies]
  if (file.allowed_sandbox_modes) out.allowedSandboxModes = [...file.allowed_sandbox_modes]
  if (file.allowed_login_methods) out.allowedLoginMethods = [...file.allowed_login_methods]
  if (file.enforce_residency) out.enforceResidency = file.enforce_residency
  // TOML tables come back with a null prototype; the wire wants a plain object.
  if (file.feature_requirements) out.featureRequirements = { ...file.feature_requirements }
  return out
}

/**
 * Parses and validates one source. Any problem (syntax or schema) ignores the whole source: the
 * result then sets nothing. Call `loadRequirementsParser()` once before the first call.
 */
export function parseRequirements(text: string, source: RequirementsSource): ParsedRequirements {
  if (!tomlParse) throw new Error('parseRequirements called before loadRequirementsParser()')
  let document: unknown
  try {
    document = tomlParse(text)
  } catch (error) {
    const e = error as {
      message?: string
      line?: number
      column?: number
      location?: { start?: { line?: number; column?: number } }
    }
    const line = e.location?.start?.line ?? e.line
    const column = e.location?.start?.column ?? e.column
    const where =
      line !== undefined ? ` at line ${line}${column !== undefined ? `, column ${column}` : ''}` : ''
    const reason = e.message ?? String(error)
    const problem: RequirementsProblem = {
      message: `TOML syntax error in ${describeSource(source)}${where}: ${reason}; ${IGNORED}`,
      detail: `TOML syntax error${where}: ${reason}`,
      path: source.path,
    }
    if (line !== undefined) problem.line = line
    if (column !== undefined) problem.column = column
    return { requirements: {}, problems: [problem] }
  }
  const result = RequirementsFile.safeParse(document, { reportInput: true })
  if (result.success) return { requirements: toPartial(result.data), problems: [] }
  const problems = result.error.issues
    .flatMap(describeIssue)
    .map(({ detail, keyPath }): RequirementsProblem => ({
      message: `invalid requirements in ${describeSource(source)}: ${detail}; ${IGNORED}`,
      detail,
      path: source.path,
      keyPath,
    }))
  return { requirements: {}, problems }
}

/** Per field, the first (highest-priority) layer that sets it wins; null when nothing is set. */
export function composeRequirements(layers: readonly PartialRequirements[]): ConfigRequirements | null {
  const out: ConfigRequirements = {
    allowedApprovalPolicies: null,
    allowedSandboxModes: null,
    allowedLoginMethods: null,
    featureRequirements: null,
    enforceResidency: null,
  }
  let any = false
  for (const field of FIELDS) {
    const layer = layers.find((l) => l[field] !== undefined)
    if (!layer) continue
    ;(out as unknown as Record<string, unknown>)[field] = layer[field]
    any = true
  }
  return any ? out : null
}

async function readSource(
  source: RequirementsSource,
): Promise<{ text?: string; status: 'missing' | 'unreadable' | 'ok'; problem?: RequirementsProblem }> {
  try {
    return { text: await readFile(source.path, 'utf8'), status: 'ok' }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    // Not having a requirements file is the normal case, not a problem.
    if (code === 'ENOENT' || code === 'ENOTDIR') return { status: 'missing' }
    return {
      status: 'unreadable',
      problem: {
        message: `could not read ${source.path}: ${(error as Error).message}; ${IGNORED}`,
        path: source.path,
      },
    }
  }
}

export interface LoadRequirementsOptions {
  /** Usually DEFAULT_SYSTEM_REQUIREMENTS_DIR; a parameter so tests can use temp folders. */
  systemDir: string
  /** The codex-desk home ($CODEX_DESK_HOME). */
  homeDir: string
  /** The remote document, as RemoteRequirements.load() returned it; `source` is the URL. */
  remote?: { contents: string | null; source: string }
}

export async function loadRequirements(options: LoadRequirementsOptions): Promise<LoadedRequirements> {
  const files: RequirementsSource[] = [
    { kind: 'system', path: join(options.systemDir, REQUIREMENTS_FILE_NAME) },
    { kind: 'home', path: join(options.homeDir, REQUIREMENTS_FILE_NAME) },
  ]
  const reads = await Promise.all(files.map(readSource))
  const entries: { source: RequirementsSource; text?: string; status: RequirementsSourceStatus['status'] }[] =
    []
  const problems: RequirementsProblem[] = []
  if (options.remote) {
    const source: RequirementsSource = { kind: 'remote', path: options.remote.source }
    const contents = options.remote.contents
    entries.push(
      contents === null ? { source, status: 'missing' } : { source, text: contents, status: 'loaded' },
    )
  }
  files.forEach((source, i) => {
    const read = reads[i]!
    if (read.problem) problems.push(read.problem)
    entries.push({
      source,
      ...(read.text !== undefined ? { text: read.text } : {}),
      status: read.status === 'ok' ? 'loaded' : read.status,
    })
  })

  if (entries.some((e) => e.text !== undefined)) await loadRequirementsParser()
  const layers: PartialRequirements[] = []
  const sources: RequirementsSourceStatus[] = []
  for (const entry of entries) {
    let layer: PartialRequirements = {}
    let status = entry.status
    if (entry.text !== undefined) {
      const parsed = parseRequirements(entry.text, entry.source)
      problems.push(...parsed.problems)
      layer = parsed.requirements
      if (parsed.problems.length > 0) status = 'invalid'
    }
    layers.push(layer)
    sources.push({ ...entry.source, status, fields: FIELDS.filter((f) => layer[f] !== undefined) })
  }

  const origins: LoadedRequirements['origins'] = {}
  for (const field of FIELDS) {
    const index = layers.findIndex((l) => l[field] !== undefined)
    if (index !== -1) origins[field] = entries[index]!.source
  }
  return { requirements: composeRequirements(layers), sources, origins, problems }
}

// Enforcement. Each check returns an error message for the caller to send (or undefined when the
// value is allowed), so thread/start and config writes word the refusal the same way.

const BY_ADMIN = "is not allowed by your administrator's requirements"
const quoteList = (values: readonly string[]): string => values.map((v) => `\`${v}\``).join(', ')

function checkAllowed(what: string, allowed: readonly string[] | null | undefined, value: string) {
  if (!allowed || allowed.includes(value)) return undefined
  return `${what} \`${value}\` ${BY_ADMIN}; allowed: ${quoteList(allowed)}`
}

export function checkApprovalPolicy(req: ConfigRequirements | null, value: string): string | undefined {
  return checkAllowed('approval policy', req?.allowedApprovalPolicies, value)
}

export function checkSandboxMode(req: ConfigRequirements | null, value: string): string | undefined {
  return checkAllowed('sandbox mode', req?.allowedSandboxModes, value)
}

export function checkLoginMethod(req: ConfigRequirements | null, value: string): string | undefined {
  return checkAllowed('login method', req?.allowedLoginMethods, value)
}

/** A feature named in `feature_requirements` must have exactly the required value. */
export function checkFeature(
  req: ConfigRequirements | null,
  name: string,
  enabled: boolean,
): string | undefined {
  const required = requiredFeatureValue(req, name)
  if (required === undefined || required === enabled) return undefined
  return `${enabled ? 'enabling' : 'disabling'} feature \`${name}\` ${BY_ADMIN}; it must stay ${required ? 'enabled' : 'disabled'}`
}

/** The value the administrator requires for a feature, or undefined when it is the user's choice. */
export function requiredFeatureValue(req: ConfigRequirements | null, name: string): boolean | undefined {
  const features = req?.featureRequirements
  return features && Object.hasOwn(features, name) ? features[name] : undefined
}

// Fallbacks for a disallowed effective default (not for an explicit user choice, which is refused):
// the preferred value when allowed, else the first allowed value, so administrators list their
// preferred default first.

function firstAllowed<T extends string>(allowed: readonly T[] | null | undefined, preferred: T): T {
  return !allowed || allowed.length === 0 || allowed.includes(preferred) ? preferred : allowed[0]!
}

export function firstAllowedApprovalPolicy(
  req: ConfigRequirements | null,
  preferred: ApprovalPolicy,
): ApprovalPolicy {
  return firstAllowed(req?.allowedApprovalPolicies, preferred)
}

export function firstAllowedSandboxMode(req: ConfigRequirements | null, preferred: SandboxMode): SandboxMode {
  return firstAllowed(req?.allowedSandboxModes, preferred)
}

export function firstAllowedLoginMethod(req: ConfigRequirements | null, preferred: LoginMethod): LoginMethod {
  return firstAllowed(req?.allowedLoginMethods, preferred)
}

/** The feature's value after requirements: the required value when one is set, else `enabled`. */
export function firstAllowedFeatureValue(
  req: ConfigRequirements | null,
  name: string,
  enabled: boolean,
): boolean {
  return requiredFeatureValue(req, name) ?? enabled
}
