import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { codexSpecs } from '../../src/worker/config/codexKeys'
import { loadConfig } from '../../src/worker/config/loader'
import { setAt, type Table } from '../../src/worker/config/merge'
import { CONFIG_KEYS, ConfigToml } from '../../src/worker/config/schema'
import { makeTempDir } from '../support/appServerProcess'
import { STOCK_CODEX_CONFIG, TUI_TITLE_OVERRIDES } from '../support/codexConfigFixtures'

const dirs: { remove(): Promise<void> }[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove()
})

async function load(text: string) {
  const dir = await makeTempDir()
  dirs.push(dir)
  const systemDir = join(dir.path, 'etc')
  await mkdir(systemDir)
  await writeFile(join(dir.path, 'config.toml'), text)
  const loaded = await loadConfig({ home: dir.path, systemDir })
  const firstLines = loaded.problems.map((p) => p.details?.split('\n')[0]?.replace(`${dir.path}/`, ''))
  return { loaded, firstLines }
}

describe('keys codex accepts', () => {
  it('loads a stock codex config.toml without a single warning and keeps every key for config/read', async () => {
    const { loaded, firstLines } = await load(STOCK_CODEX_CONFIG)
    expect(firstLines).toEqual([])
    expect(loaded.merged).toMatchObject({
      check_for_update_on_startup: false,
      model_verbosity: 'low',
      hide_agent_reasoning: true,
      file_opener: 'cursor',
      otel: { environment: 'dev' },
      history: { persistence: 'save-all', max_bytes: 1048576 },
      tui: { theme: 'dracula', keymap: { global: { submit: ['ctrl-enter', 'enter'] } } },
      profiles: { deep: { model: 'o3', features: { shell_tool: false } } },
      mcp_servers: { docs: { command: 'npx' }, remote: { url: 'https://mcp.example.com/mcp' } },
      projects: { '/home/me/work': { trust_level: 'trusted' } },
      model_providers: { ollama: { name: 'Ollama', supports_websockets: false } },
      agents: { max_threads: 4, job_max_runtime_seconds: 600, reviewer: { description: 'Reviews diffs' } },
      features: { multi_agent: true, multi_agent_v2: { enabled: false } },
    })
    // Implemented keys still take effect.
    expect(loaded.effective.model_reasoning_effort).toBe('high')
    expect(loaded.effective.agents.max_threads).toBe(4)
    expect(loaded.effective.sandbox_workspace_write.network_access).toBe(true)
  })

  it('takes any reasoning effort name, as codex does, so a model choice saved by a client always loads', async () => {
    for (const effort of ['max', 'ultra', 'a-future-effort']) {
      const { loaded } = await load(`model_reasoning_effort = "${effort}"\n`)
      expect(loaded.problems).toEqual([])
      expect(loaded.effective.model_reasoning_effort).toBe(effort)
    }
  })

  it('still names a misspelled key with its line and column, at the top level and in nested tables', async () => {
    const { loaded, firstLines } = await load(
      [
        'model = "o3"',
        'chek_for_update_on_startup = false',
        '[history]',
        'persistance = "none"',
        '[tui.keymap.global]',
        'submitt = "enter"',
        '[features]',
        'not_a_codex_feature = true',
        '[profiles.deep]',
        'modle = "o3"',
        '',
      ].join('\n'),
    )
    expect(firstLines.sort()).toEqual([
      'config.toml:10:1: unknown configuration key `profiles.deep.modle`',
      'config.toml:2:1: unknown configuration key `chek_for_update_on_startup`',
      'config.toml:4:1: unknown configuration key `history.persistance`',
      'config.toml:6:1: unknown configuration key `tui.keymap.global.submitt`',
      'config.toml:8:1: unknown configuration key `features.not_a_codex_feature`',
    ])
    const top = loaded.problems.find((p) => p.summary.includes('chek_'))
    expect(top?.summary).toBe(
      'Unrecognized setting `chek_for_update_on_startup` in the user config (line 2) is ignored.',
    )
    expect(top?.range).toEqual({ start: { line: 2, column: 1 }, end: { line: 2, column: 26 } })
    expect(loaded.merged).toEqual({
      model: 'o3',
      history: {},
      tui: { keymap: { global: {} } },
      features: {},
      profiles: { deep: {} },
    })
  })

  it('still refuses a wrong type, for an implemented key and for one codex-desk only passes through', async () => {
    const { loaded, firstLines } = await load(
      'model_reasoning_effort = 5\nhide_agent_reasoning = "yes"\nmodel_verbosity = "low"\n[features]\nmulti_agent = "no"\n',
    )
    expect(firstLines).toEqual([
      'config.toml:1:26: invalid type: integer `5`, expected a string in `model_reasoning_effort`',
      'config.toml:5:15: invalid type: string "no", expected a boolean in `features.multi_agent`',
      'config.toml:2:24: invalid type: string "yes", expected a boolean in `hide_agent_reasoning`',
    ])
    expect(loaded.merged).toEqual({ model_verbosity: 'low', features: {} })
  })

  it("accepts the Codex TUI's title-generation thread overrides as dotted keys", () => {
    const table: Table = {}
    for (const [key, value] of Object.entries(TUI_TITLE_OVERRIDES)) setAt(table, key.split('.'), value)
    const parsed = ConfigToml.safeParse(table)
    expect(parsed.error?.issues ?? []).toEqual([])
    expect(parsed.data).toMatchObject({ web_search: 'disabled', cloud: { skills: { enabled: false } } })
  })

  it('lists every key codex-desk implements among codex keys, except its own additions', () => {
    const own = ['requirements', 'auth_refresh_timeout_secs', 'dynamic_tool_timeout_secs']
    expect(CONFIG_KEYS.filter((k) => !Object.hasOwn(codexSpecs().config, k))).toEqual(own)
  })
})
