import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  checkApprovalPolicy,
  checkFeature,
  checkLoginMethod,
  checkSandboxMode,
  composeRequirements,
  firstAllowedApprovalPolicy,
  firstAllowedFeatureValue,
  firstAllowedLoginMethod,
  firstAllowedSandboxMode,
  loadRequirements,
  loadRequirementsParser,
  parseRequirements,
  type ConfigRequirements,
  type RequirementsSource,
} from '../../src/worker/config/requirements'

// Counts imports of the TOML parser, to prove it is not loaded when there is nothing to parse.
const toml = vi.hoisted(() => ({ imports: 0 }))
vi.mock('toml', async (importOriginal) => {
  toml.imports++
  return importOriginal()
})

const FILE: RequirementsSource = { kind: 'system', path: '/etc/codex-desk/requirements.toml' }

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

async function tempDirs(): Promise<{ systemDir: string; homeDir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'codex-desk-requirements-'))
  cleanups.push(() => rm(root, { recursive: true, force: true }))
  const systemDir = join(root, 'etc')
  const homeDir = join(root, 'home')
  await mkdir(systemDir)
  await mkdir(homeDir)
  return { systemDir, homeDir }
}

const requirements = (fields: Partial<ConfigRequirements>): ConfigRequirements => ({
  allowedApprovalPolicies: null,
  allowedSandboxModes: null,
  allowedLoginMethods: null,
  featureRequirements: null,
  enforceResidency: null,
  ...fields,
})

// Runs first: later tests load the parser, and it stays loaded for the rest of the file.
describe('loading without requirements files', () => {
  it('returns null and does not load the TOML parser when no source exists', async () => {
    const dirs = await tempDirs()
    const loaded = await loadRequirements(dirs)
    expect(loaded.requirements).toBeNull()
    expect(loaded.problems).toEqual([])
    expect(loaded.sources.map((s) => [s.kind, s.status])).toEqual([
      ['system', 'missing'],
      ['home', 'missing'],
    ])
    expect(toml.imports).toBe(0)

    const withRemote = await loadRequirements({ ...dirs, remote: { contents: null, source: 'https://x/r' } })
    expect(withRemote.requirements).toBeNull()
    expect(toml.imports).toBe(0)
  })
})

describe('parsing a requirements file', () => {
  beforeAll(async () => {
    await loadRequirementsParser()
  })

  it('reads every field of a valid file into the camelCase wire names', () => {
    const text = [
      'allowed_approval_policies = ["untrusted", "on-request"]',
      'allowed_sandbox_modes = ["read-only", "workspace-write"]',
      'allowed_login_methods = ["chatgpt"]',
      'enforce_residency = "us"',
      '[feature_requirements]',
      'collaboration_modes = false',
    ].join('\n')
    const parsed = parseRequirements(text, FILE)
    expect(parsed.problems).toEqual([])
    expect(parsed.requirements).toEqual({
      allowedApprovalPolicies: ['untrusted', 'on-request'],
      allowedSandboxModes: ['read-only', 'workspace-write'],
      allowedLoginMethods: ['chatgpt'],
      enforceResidency: 'us',
      featureRequirements: { collaboration_modes: false },
    })
    // TOML tables have a null prototype; the wire value must be a plain object.
    expect(Object.getPrototypeOf(parsed.requirements.featureRequirements)).toBe(Object.prototype)
  })

  it('treats an empty file as setting nothing', () => {
    expect(parseRequirements('# nothing yet\n', FILE)).toEqual({ requirements: {}, problems: [] })
  })

  it('reports an unknown key and ignores the whole file', () => {
    const parsed = parseRequirements('allowed_sandbox_modes = ["read-only"]\nallow_everything = true\n', FILE)
    expect(parsed.requirements).toEqual({})
    expect(parsed.problems).toEqual([
      {
        message:
          'invalid requirements in /etc/codex-desk/requirements.toml: unknown key `allow_everything`; all requirements from this source are ignored',
        detail: 'unknown key `allow_everything`',
        path: FILE.path,
        keyPath: ['allow_everything'],
      },
    ])
  })

  it('reports a wrong enum value with the key path of the array element', () => {
    const parsed = parseRequirements('allowed_approval_policies = ["untrusted", "sometimes"]\n', FILE)
    expect(parsed.requirements).toEqual({})
    expect(parsed.problems).toHaveLength(1)
    expect(parsed.problems[0]).toMatchObject({
      path: FILE.path,
      keyPath: ['allowed_approval_policies', 1],
      detail:
        '`allowed_approval_policies[1]` is "sometimes", expected one of `untrusted`, `on-failure`, `on-request`, `never`',
    })
    expect(parsed.problems[0]?.message).toMatch(/all requirements from this source are ignored$/)
  })

  it('reports wrong types, including inside feature_requirements and enforce_residency', () => {
    const parsed = parseRequirements(
      'allowed_login_methods = "chatgpt"\nenforce_residency = "eu"\n[feature_requirements]\nweb_search = 1\n',
      FILE,
    )
    expect(parsed.requirements).toEqual({})
    expect(parsed.problems.map((p) => [p.keyPath, p.detail])).toEqual([
      [['allowed_login_methods'], '`allowed_login_methods` must be array, found string'],
      [['enforce_residency'], '`enforce_residency` is "eu", expected `us`'],
      [
        ['feature_requirements', 'web_search'],
        '`feature_requirements.web_search` must be boolean, found integer',
      ],
    ])
  })

  it('reports a syntax error with its 1-based line and column and ignores the whole file', () => {
    const parsed = parseRequirements(
      'allowed_sandbox_modes = ["read-only"]\nallowed_login_methods = [\n',
      FILE,
    )
    expect(parsed.requirements).toEqual({})
    expect(parsed.problems).toHaveLength(1)
    const problem = parsed.problems[0]!
    expect(problem).toMatchObject({ path: FILE.path, line: 3, column: 1 })
    expect(problem.message).toMatch(
      /^TOML syntax error in \/etc\/codex-desk\/requirements\.toml at line 3, column 1: .+; all requirements from this source are ignored$/,
    )
  })

  it('reports a redefined key, which the parser reports with line and column of its own', () => {
    const parsed = parseRequirements('enforce_residency = "us"\nenforce_residency = "us"\n', FILE)
    expect(parsed.problems[0]).toMatchObject({ line: 2, column: 1 })
  })

  it('rejects an empty allow-list, which would allow nothing', () => {
    const parsed = parseRequirements('allowed_sandbox_modes = []\n', FILE)
    expect(parsed.requirements).toEqual({})
    expect(parsed.problems.map((p) => [p.keyPath, p.detail])).toEqual([
      [
        ['allowed_sandbox_modes'],
        '`allowed_sandbox_modes` is empty: an empty allow-list would allow nothing',
      ],
    ])
  })

  it('names the URL when the remote document is invalid', () => {
    const parsed = parseRequirements('bogus = 1', { kind: 'remote', path: 'https://example.test/req' })
    expect(parsed.problems[0]).toMatchObject({ path: 'https://example.test/req' })
    expect(parsed.problems[0]?.message).toMatch(
      /^invalid requirements in the remote requirements from https:/,
    )
  })
})

describe('composing sources', () => {
  it('takes each field from the highest-priority source that sets it: remote, then system, then home', async () => {
    const dirs = await tempDirs()
    await writeFile(
      join(dirs.homeDir, 'requirements.toml'),
      [
        'allowed_approval_policies = ["untrusted"]',
        'allowed_sandbox_modes = ["read-only"]',
        'allowed_login_methods = ["api"]',
        'enforce_residency = "us"',
      ].join('\n'),
    )
    await writeFile(
      join(dirs.systemDir, 'requirements.toml'),
      'allowed_sandbox_modes = ["workspace-write"]\nallowed_login_methods = ["chatgpt"]\n',
    )
    const remote = {
      source: 'https://example.test/requirements',
      contents: 'allowed_login_methods = ["chatgpt", "api"]\n[feature_requirements]\nweb_search = true\n',
    }
    const loaded = await loadRequirements({ ...dirs, remote })
    expect(loaded.problems).toEqual([])
    expect(loaded.requirements).toEqual({
      allowedApprovalPolicies: ['untrusted'],
      allowedSandboxModes: ['workspace-write'],
      allowedLoginMethods: ['chatgpt', 'api'],
      featureRequirements: { web_search: true },
      enforceResidency: 'us',
    })
    expect(loaded.origins).toEqual({
      allowedApprovalPolicies: { kind: 'home', path: join(dirs.homeDir, 'requirements.toml') },
      allowedSandboxModes: { kind: 'system', path: join(dirs.systemDir, 'requirements.toml') },
      allowedLoginMethods: { kind: 'remote', path: remote.source },
      featureRequirements: { kind: 'remote', path: remote.source },
      enforceResidency: { kind: 'home', path: join(dirs.homeDir, 'requirements.toml') },
    })
    expect(loaded.sources.map((s) => [s.kind, s.status, s.fields])).toEqual([
      ['remote', 'loaded', ['allowedLoginMethods', 'featureRequirements']],
      ['system', 'loaded', ['allowedSandboxModes', 'allowedLoginMethods']],
      [
        'home',
        'loaded',
        ['allowedApprovalPolicies', 'allowedSandboxModes', 'allowedLoginMethods', 'enforceResidency'],
      ],
    ])
  })

  it('ignores an invalid source entirely and lets lower-priority sources apply', async () => {
    const dirs = await tempDirs()
    await writeFile(join(dirs.homeDir, 'requirements.toml'), 'allowed_sandbox_modes = ["read-only"]\n')
    await writeFile(
      join(dirs.systemDir, 'requirements.toml'),
      'allowed_sandbox_modes = ["danger-full-access"]\ntypo = 1\n',
    )
    const loaded = await loadRequirements(dirs)
    expect(loaded.requirements).toEqual(requirements({ allowedSandboxModes: ['read-only'] }))
    expect(loaded.sources.map((s) => s.status)).toEqual(['invalid', 'loaded'])
    expect(loaded.problems.map((p) => p.keyPath)).toEqual([['typo']])
  })

  it('reports an unreadable file as a problem but a missing one as nothing', async () => {
    const dirs = await tempDirs()
    // A directory where the file should be cannot be read, whoever runs the test (root included).
    await mkdir(join(dirs.homeDir, 'requirements.toml'))
    const loaded = await loadRequirements(dirs)
    expect(loaded.requirements).toBeNull()
    expect(loaded.sources.map((s) => s.status)).toEqual(['missing', 'unreadable'])
    expect(loaded.problems).toHaveLength(1)
    expect(loaded.problems[0]?.message).toMatch(/^could not read .*requirements\.toml: /)
  })

  it('is null when no source sets anything', () => {
    expect(composeRequirements([{}, {}, {}])).toBeNull()
    expect(composeRequirements([])).toBeNull()
    expect(composeRequirements([{}, { enforceResidency: 'us' }])).toEqual(
      requirements({ enforceResidency: 'us' }),
    )
  })
})

describe('enforcement', () => {
  const req = requirements({
    allowedApprovalPolicies: ['untrusted', 'on-request'],
    allowedSandboxModes: ['read-only', 'workspace-write'],
    allowedLoginMethods: ['chatgpt'],
    featureRequirements: { collaboration_modes: false, web_search: true },
  })

  it('refuses a disallowed approval policy and names the allowed ones', () => {
    expect(checkApprovalPolicy(req, 'never')).toBe(
      "approval policy `never` is not allowed by your administrator's requirements; allowed: `untrusted`, `on-request`",
    )
    expect(checkApprovalPolicy(req, 'on-request')).toBeUndefined()
  })

  it('refuses a disallowed sandbox mode and names the allowed ones', () => {
    expect(checkSandboxMode(req, 'danger-full-access')).toBe(
      "sandbox mode `danger-full-access` is not allowed by your administrator's requirements; allowed: `read-only`, `workspace-write`",
    )
    expect(checkSandboxMode(req, 'read-only')).toBeUndefined()
  })

  it('refuses a disallowed login method and names the allowed ones', () => {
    expect(checkLoginMethod(req, 'api')).toBe(
      "login method `api` is not allowed by your administrator's requirements; allowed: `chatgpt`",
    )
    expect(checkLoginMethod(req, 'chatgpt')).toBeUndefined()
  })

  it('refuses a feature value other than the required one', () => {
    expect(checkFeature(req, 'collaboration_modes', true)).toBe(
      "enabling feature `collaboration_modes` is not allowed by your administrator's requirements; it must stay disabled",
    )
    expect(checkFeature(req, 'web_search', false)).toBe(
      "disabling feature `web_search` is not allowed by your administrator's requirements; it must stay enabled",
    )
    expect(checkFeature(req, 'collaboration_modes', false)).toBeUndefined()
    expect(checkFeature(req, 'unlisted', true)).toBeUndefined()
    // Inherited object properties are not requirements.
    expect(checkFeature(req, 'toString', true)).toBeUndefined()
  })

  it('allows everything when there are no requirements or a field is unset', () => {
    expect(checkApprovalPolicy(null, 'never')).toBeUndefined()
    expect(checkSandboxMode(requirements({}), 'danger-full-access')).toBeUndefined()
    expect(checkLoginMethod(null, 'api')).toBeUndefined()
    expect(checkFeature(null, 'collaboration_modes', true)).toBeUndefined()
  })

  it('falls back from a disallowed default to the first allowed value', () => {
    expect(firstAllowedApprovalPolicy(req, 'never')).toBe('untrusted')
    expect(firstAllowedApprovalPolicy(req, 'on-request')).toBe('on-request')
    expect(firstAllowedSandboxMode(req, 'danger-full-access')).toBe('read-only')
    expect(firstAllowedSandboxMode(null, 'danger-full-access')).toBe('danger-full-access')
    expect(firstAllowedLoginMethod(req, 'api')).toBe('chatgpt')
    expect(firstAllowedFeatureValue(req, 'collaboration_modes', true)).toBe(false)
    expect(firstAllowedFeatureValue(req, 'unlisted', true)).toBe(true)
  })
})
