import { mkdirSync, realpathSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeTempDir } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import type { TestClient } from '../support/testClient'
import { startHarness, type Harness, type TransportKind } from '../support/threadHarness'

const skill = (name: string, description: string) =>
  `---\nname: ${name}\ndescription: ${description}\n---\n\n# ${name}\n`

const RICH_CONFIG = `
[features]
multi_agent = false

[mcp_servers.docs]
command = "docs-server"
args = ["--stdio"]

[mcp_servers.search]
url = "https://mcp.example.com/v1/mcp"
bearer_token_env_var = "SEARCH_TOKEN"

[mcp_servers.archived]
command = "old-server"
enabled = false

[[hooks.PreToolUse]]
matcher = "Bash"
[[hooks.PreToolUse.hooks]]
type = "command"
command = "echo checked"
`

const HOME_FILES = {
  'skills/review/SKILL.md': skill('review', 'Review a change\n  carefully and say what breaks'),
  'skills/tools/format/SKILL.md':
    '---\nname: format\ndescription: |-\n  Format the code\nmetadata:\n  short-description: Formatter\n---\n',
  'skills/broken/SKILL.md': '---\nname: broken\n---\n',
  'skills/.hidden/SKILL.md': skill('hidden', 'never listed'),
  'hooks.json': '{"hooks":{"Stop":[{"hooks":[{"type":"command","command":"echo stop"}]}]}}',
  'requirements.toml': 'allowed_sandbox_modes = ["read-only", "workspace-write"]\n',
}

/** A repository with skills at its root and in a subfolder, and a cwd two folders down. */
function makeRepo(root: string): { repo: string; cwd: string } {
  const repo = realpathSync(root)
  const write = (path: string, text: string) => {
    mkdirSync(join(repo, path, '..'), { recursive: true })
    writeFileSync(join(repo, path), text)
  }
  mkdirSync(join(repo, '.git'))
  write('.codex/skills/deploy/SKILL.md', skill('deploy', 'Deploy the app'))
  write('pkg/.codex/skills/pkg-test/SKILL.md', skill('pkg-test', 'Test this package'))
  write('.agents/skills/triage/SKILL.md', skill('triage', 'Triage issues'))
  write('pkg/.codex/skills/bad-yaml/SKILL.md', '---\nname: "bad\ndescription: x\n---\n')
  mkdirSync(join(repo, 'pkg/src'), { recursive: true })
  return { repo, cwd: join(repo, 'pkg/src') }
}

describe.each<TransportKind>(['stdio', 'ws'])('capabilities over %s', (transport) => {
  let h: Harness
  let client: TestClient
  let home: string
  let repo: string
  let cwd: string
  const tmp: { remove(): Promise<void> }[] = []

  beforeAll(async () => {
    const dir = await makeTempDir('codex-desk-repo-')
    tmp.push(dir)
    ;({ repo, cwd } = makeRepo(dir.path))
    h = await startHarness(transport, { config: RICH_CONFIG, files: HOME_FILES })
    home = realpathSync(h.proc.home)
    client = await h.connect('extensions_test', { experimentalApi: true })
  }, 30_000)

  afterAll(async () => {
    await h?.dispose()
    for (const dir of tmp) await dir.remove()
  })

  it('lists user skills and the repository skills from the cwd up to the repository root', async () => {
    const result = await client.request('skills/list', { cwds: [cwd], forceReload: true })
    expectCodexShape('SkillsListResponse', result)
    const [entry] = result.data
    expect(result.data).toHaveLength(1)
    expect(entry?.cwd).toBe(cwd)
    expect(entry?.skills.map((s) => [s.scope, s.name, s.path])).toEqual([
      ['repo', 'deploy', join(repo, '.codex/skills/deploy/SKILL.md')],
      ['repo', 'pkg-test', join(repo, 'pkg/.codex/skills/pkg-test/SKILL.md')],
      ['repo', 'triage', join(repo, '.agents/skills/triage/SKILL.md')],
      ['user', 'format', join(home, 'skills/tools/format/SKILL.md')],
      ['user', 'review', join(home, 'skills/review/SKILL.md')],
    ])
    const review = entry?.skills.find((s) => s.name === 'review')
    expect(review).toEqual({
      name: 'review',
      description: 'Review a change carefully and say what breaks',
      path: join(home, 'skills/review/SKILL.md'),
      scope: 'user',
      enabled: true,
      pluginId: null,
    })
    expect(entry?.skills.find((s) => s.name === 'format')?.shortDescription).toBe('Formatter')
  })

  it('reports each broken SKILL.md with its path while the other skills still list', async () => {
    const result = await client.request('skills/list', { cwds: [cwd, repo] })
    expectCodexShape('SkillsListResponse', result)
    const [nested, top] = result.data
    const errors = [
      { path: join(home, 'skills/broken/SKILL.md'), message: 'missing field `description`' },
      {
        path: join(repo, 'pkg/.codex/skills/bad-yaml/SKILL.md'),
        message:
          'invalid YAML: found unexpected end of stream at line 2 column 15, while scanning a quoted scalar at line 1 column 7',
      },
    ]
    expect(nested?.errors).toEqual(errors.sort((a, b) => (a.path < b.path ? -1 : 1)))
    // From the repository root, the subfolder's skills (and its broken one) are out of reach.
    expect(top?.cwd).toBe(repo)
    expect(top?.skills.map((s) => s.name)).toEqual(['deploy', 'triage', 'format', 'review'])
    expect(top?.errors.map((e) => e.path)).toEqual([join(home, 'skills/broken/SKILL.md')])
  })

  it('sends skills/changed when a skill is added to a listed folder, and the next listing has it', async () => {
    await client.request('skills/list', { cwds: [cwd], forceReload: true })
    mkdirSync(join(home, 'skills/release'))
    writeFileSync(join(home, 'skills/release/SKILL.md'), skill('release', 'Cut a release'))
    const changed = await client.waitForNotification('skills/changed', undefined, 15_000)
    expectCodexShape('ServerNotification', { method: changed.method, params: changed.params })
    expect(changed.params).toEqual({})
    const result = await client.request('skills/list', { cwds: [cwd] })
    expect(result.data[0]?.skills.map((s) => s.name)).toContain('release')
  }, 20_000)

  it('lists the configured MCP servers, with why the ones that cannot start did not', async () => {
    const result = await client.request('mcpServerStatus/list', {})
    expectCodexShape('ListMcpServerStatusResponse', result)
    expect(result.nextCursor).toBeNull()
    expect(result.data.map((s) => [s.name, s.runtimeStatus, s.authStatus, s.httpOrigin])).toEqual([
      ['archived', 'disabled', 'unsupported', null],
      ['docs', 'failed', 'unsupported', null],
      ['search', 'failed', 'bearerToken', 'https://mcp.example.com'],
    ])
    for (const server of result.data) expect(server.tools).toEqual({})
    expect(result.data.map((s) => s.toolsError)).toEqual([
      null,
      expect.stringContaining('docs-server'),
      "MCP startup failed: Environment variable SEARCH_TOKEN for MCP server 'search' is not set",
    ])
    const first = await client.request('mcpServerStatus/list', { limit: 2 })
    expect([first.data.map((s) => s.name), first.nextCursor]).toEqual([['archived', 'docs'], '2'])
    const rest = await client.request('mcpServerStatus/list', { limit: 2, cursor: '2' })
    expect([rest.data.map((s) => s.name), rest.nextCursor]).toEqual([['search'], null])
    const one = await client.request('mcpServerStatus/list', { serverName: 'docs' })
    expect(one.data.map((s) => s.name)).toEqual(['docs'])
    const bad = await client.call('mcpServerStatus/list', { cursor: 'x' })
    expect(bad.error).toEqual({ code: -32600, message: 'invalid cursor: x' })
  })

  it('reports the feature flags codex-desk acts on, as config sets them', async () => {
    const result = await client.request('experimentalFeature/list', {})
    expectCodexShape('ExperimentalFeatureListResponse', result)
    expect(result).toEqual({
      data: [
        {
          name: 'multi_agent',
          stage: 'stable',
          displayName: null,
          description: null,
          announcement: null,
          enabled: false,
          defaultEnabled: true,
        },
      ],
      nextCursor: null,
    })
  })

  it('lists no hooks and warns about the configured hooks that codex-desk does not run', async () => {
    const result = await client.request('hooks/list', { cwds: [cwd, repo], threadId: null })
    expectCodexShape('HooksListResponse', result)
    expect(result.data.map((e) => [e.cwd, e.hooks, e.errors])).toEqual([
      [cwd, [], []],
      [repo, [], []],
    ])
    expect(result.data[0]?.warnings).toEqual([
      `codex-desk does not run lifecycle hooks; the hooks in ${join(h.proc.home, 'config.toml')} are ignored.`,
      `codex-desk does not run lifecycle hooks; the hooks in ${join(h.proc.home, 'hooks.json')} are ignored.`,
    ])
  })

  it('offers the sandbox modes as permission profiles, allowed as the requirements say', async () => {
    const result = await client.request('permissionProfile/list', {})
    expectCodexShape('PermissionProfileListResponse', result)
    expect(result).toEqual({
      data: [
        { id: ':read-only', description: null, allowed: true },
        { id: ':workspace', description: null, allowed: true },
        { id: ':danger-full-access', description: null, allowed: false },
      ],
      nextCursor: null,
    })
  })

  it('answers the capabilities codex-desk lacks with empty, valid results', async () => {
    const plugins = await client.request('plugin/list', { cwds: [cwd] })
    expectCodexShape('PluginListResponse', plugins)
    expect(plugins).toEqual({ marketplaces: [], marketplaceLoadErrors: [], featuredPluginIds: [] })
    const installed = await client.request('plugin/installed', {
      cwds: [cwd],
      installSuggestionPluginNames: null,
    })
    expectCodexShape('PluginInstalledResponse', installed)
    expect(installed).toEqual({ marketplaces: [], marketplaceLoadErrors: [] })
    const apps = await client.request('app/list', {})
    expectCodexShape('AppsListResponse', apps)
    expect(apps).toEqual({ data: [], nextCursor: null })
    const external = await client.request('externalAgentConfig/detect', { includeHome: true })
    expectCodexShape('ExternalAgentConfigDetectResponse', external)
    expect(external).toEqual({ items: [], connectors: [] })
    const gov = await client.request('account/bedrock/checkGovCloudRequirements', {})
    expectCodexShape('BedrockCheckGovCloudRequirementsResponse', gov)
    expect(gov).toEqual({ isGovCloud: false, shouldWarn: false })
    const modes = await client.request('collaborationMode/list', {})
    expectCodexShape('CollaborationModeListResponse', modes)
    expect(modes).toEqual({
      data: [{ name: 'Default', mode: 'default', model: null, reasoning_effort: null }],
    })
  })

  it('refuses rate limits as codex does without an account, and with an API key', async () => {
    const none = await client.call('account/rateLimits/read')
    expect(none.error).toEqual({
      code: -32600,
      message: 'codex account authentication required to read rate limits',
    })
    await client.request('account/login/start', { type: 'apiKey', apiKey: 'sk-test-extensions' })
    const apiKey = await client.call('account/rateLimits/read', null)
    expect(apiKey.error).toEqual({
      code: -32600,
      message: 'chatgpt authentication required to read rate limits',
    })
  })
})

describe('capabilities with a plain config', () => {
  let h: Harness
  let client: TestClient

  beforeAll(async () => {
    h = await startHarness('stdio')
    client = await h.connect('plain_client')
  }, 30_000)
  afterAll(() => h?.dispose())

  it('lists no MCP servers, no hook warnings, and multi_agent on by default', async () => {
    const mcp = await client.request('mcpServerStatus/list', { detail: 'toolsAndAuthOnly' })
    expectCodexShape('ListMcpServerStatusResponse', mcp)
    expect(mcp).toEqual({ data: [], nextCursor: null })
    const hooks = await client.request('hooks/list', { cwds: [] })
    expectCodexShape('HooksListResponse', hooks)
    expect(hooks.data).toEqual([{ cwd: process.cwd(), hooks: [], warnings: [], errors: [] }])
    const features = await client.request('experimentalFeature/list', { limit: 1 })
    expect(features.data.map((f) => [f.name, f.enabled])).toEqual([['multi_agent', true]])
    const profiles = await client.request('permissionProfile/list', {})
    expect(profiles.data.every((p) => p.allowed)).toBe(true)
  })

  it('lists no skills where there are none, with one entry per cwd', async () => {
    const result = await client.request('skills/list', { cwds: ['/nonexistent/codex-desk-test'] })
    expectCodexShape('SkillsListResponse', result)
    expect(result).toEqual({ data: [{ cwd: '/nonexistent/codex-desk-test', skills: [], errors: [] }] })
  })

  it('keeps collaboration modes and the GovCloud check behind the experimental API', async () => {
    const modes = await client.call('collaborationMode/list', {})
    expect(modes.error).toEqual({
      code: -32600,
      message: 'collaborationMode/list requires experimentalApi capability',
    })
    const gov = await client.call('account/bedrock/checkGovCloudRequirements', {})
    expect(gov.error?.message).toBe(
      'account/bedrock/checkGovCloudRequirements requires experimentalApi capability',
    )
  })
})
