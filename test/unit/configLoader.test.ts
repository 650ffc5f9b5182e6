import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { formatDetails, rangeOf } from '../../src/worker/config/diagnostics'
import { loadConfig } from '../../src/worker/config/loader'
import { mergeTables } from '../../src/worker/config/merge'
import { featureOverride, loadTomlParser, parseConfigOverride } from '../../src/worker/config/overrides'
import {
  CONFIG_DEFAULTS,
  ConfigToml,
  PROVIDER_DEFAULTS,
  ModelProviderToml,
} from '../../src/worker/config/schema'
import { makeTempDir } from '../support/appServerProcess'

const dirs: { remove(): Promise<void> }[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove()
})

async function home(files: Record<string, string>): Promise<{ home: string; systemDir: string }> {
  const dir = await makeTempDir()
  dirs.push(dir)
  const systemDir = join(dir.path, 'etc')
  await mkdir(systemDir)
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir.path, name), text)
  return { home: dir.path, systemDir }
}

describe('config schema', () => {
  it('accepts its own defaults', () => {
    expect(ConfigToml.safeParse(CONFIG_DEFAULTS).success).toBe(true)
    expect(ModelProviderToml.safeParse(PROVIDER_DEFAULTS).success).toBe(true)
  })
})

describe('merging layers', () => {
  it('merges tables key by key, recursively, and replaces scalars and arrays', () => {
    const lower = { a: { b: 1, c: [1, 2], d: { e: 'x', f: 'y' } }, g: 1 }
    const higher = { a: { c: [3], d: { f: 'z' } }, g: { now: 'a table' } }
    expect(mergeTables(lower, higher)).toEqual({
      a: { b: 1, c: [3], d: { e: 'x', f: 'z' } },
      g: { now: 'a table' },
    })
    expect(lower.a.c).toEqual([1, 2])
  })
})

describe('session flags', () => {
  it('parses -c values as TOML and falls back to the raw string', async () => {
    const parse = await loadTomlParser()
    expect(parseConfigOverride('a.b=[1, 2]', parse)).toMatchObject({ path: ['a', 'b'], value: [1, 2] })
    expect(parseConfigOverride('model=o3-mini', parse).value).toBe('o3-mini')
    expect(parseConfigOverride('model="o3"', parse).value).toBe('o3')
    expect(featureOverride('x', false)).toMatchObject({ path: ['features', 'x'], value: false })
  })
})

describe('loading layers', () => {
  it('lets managed preferences win over the managed file, flags, user and system', async () => {
    const { home: h, systemDir } = await home({
      'config.toml': 'model = "user"\nmodel_provider = "user"\nsandbox_mode = "read-only"\n',
      'managed_config.toml': 'model = "managed-file"\nmodel_provider = "managed-file"\n',
    })
    await writeFile(join(systemDir, 'config.toml'), 'model = "system"\nthread_unload_delay_secs = 5\n')
    const parse = await loadTomlParser()
    const loaded = await loadConfig({
      home: h,
      systemDir,
      overrides: [
        parseConfigOverride('model=flag', parse),
        parseConfigOverride('sandbox_mode=danger-full-access', parse),
      ],
      readManagedPreferences: async () => 'model = "mdm"\n',
    })
    expect(loaded.problems).toEqual([])
    expect(loaded.merged).toEqual({
      model: 'mdm',
      model_provider: 'managed-file',
      sandbox_mode: 'danger-full-access',
      thread_unload_delay_secs: 5,
    })
    expect(loaded.layers.map((l) => l.name.type)).toEqual([
      'system',
      'user',
      'sessionFlags',
      'legacyManagedConfigTomlFromFile',
      'legacyManagedConfigTomlFromMdm',
    ])
    expect(loaded.origins.model?.name.type).toBe('legacyManagedConfigTomlFromMdm')
    expect(loaded.effective.approval_policy).toBe(CONFIG_DEFAULTS.approval_policy)
  })

  it('ignores only the bad keys of a layer and keeps the rest', async () => {
    const { home: h, systemDir } = await home({
      'config.toml':
        'model = 5\napproval_policy = "sometimes"\nsandbox_mode = "read-only"\n[analytics]\nenabled = true\nextra = 1\n',
    })
    const loaded = await loadConfig({ home: h, systemDir })
    expect(loaded.merged).toEqual({ sandbox_mode: 'read-only', analytics: { enabled: true } })
    expect(loaded.problems.map((p) => p.details?.split('\n')[0]?.replace(`${h}/`, ''))).toEqual([
      'config.toml:1:9: invalid type: integer `5`, expected a string in `model`',
      'config.toml:2:19: unknown variant `sometimes`, expected one of `untrusted`, `on-failure`, `on-request`, `never` in `approval_policy`',
      'config.toml:6:1: unknown configuration key `analytics.extra`',
    ])
  })
})

describe('diagnostic positions', () => {
  it('counts columns in Unicode characters and ends ranges on the last character', () => {
    const text = 'name = "😀😀"\nx = "é"\n'
    const start = text.indexOf('"😀')
    const range = rangeOf(text, { start, end: start + '"😀😀"'.length })
    expect(range).toEqual({ start: { line: 1, column: 8 }, end: { line: 1, column: 11 } })
    expect(formatDetails({ path: 'f.toml', text }, range, 'bad').split('\n')).toEqual([
      'f.toml:1:8: bad',
      '  |',
      '1 | name = "😀😀"',
      '  |        ^^^^',
    ])
  })

  it('keeps tabs in the underline so it lines up with the source', () => {
    const text = '\tmodel = 1\n'
    const range = rangeOf(text, { start: 9, end: 10 })
    expect(formatDetails({ path: 'f', text }, range, 'bad').split('\n')[3]).toBe('  | \t        ^')
  })
})
