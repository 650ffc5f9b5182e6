/**
 * Long strings in config.toml: the editor writes them, the position parser places what follows them,
 * and the loader's diagnostics keep their line and column (toml-eslint-parser alone overflows the
 * stack on a string past about 120,000 characters).
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import toml from 'toml'
import { afterEach, describe, expect, it } from 'vitest'
import { loadAst, locate } from '../../src/worker/config/diagnostics'
import { loadConfig } from '../../src/worker/config/loader'
import { MASK_ABOVE, parseTomlAst } from '../../src/worker/config/tomlAst'
import { applyTomlEdits } from '../../src/worker/config/tomlEdit'
import { makeTempDir } from '../support/appServerProcess'

const dirs: { remove(): Promise<void> }[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove()
})

const LONG = `${'say "hi" C:\\dir\ttab é 😀 # not a comment ] ['.repeat(9_000)}`.slice(0, 400_000)

describe('long strings in the config editor', () => {
  it('writes a 400,000-character value, edits around it, and removes it', () => {
    const text = applyTomlEdits('# mine\nmodel = "o3"\n', [
      { path: ['developer_instructions'], value: LONG, mergeStrategy: 'replace' },
    ])
    expect(toml.parse(text)).toEqual({ model: 'o3', developer_instructions: LONG })
    expect(text.startsWith('# mine\nmodel = "o3"\n')).toBe(true)
    const edited = applyTomlEdits(text, [
      { path: ['model'], value: 'o4', mergeStrategy: 'replace' },
      { path: ['tools', 'web_search'], value: true, mergeStrategy: 'replace' },
    ])
    expect(toml.parse(edited)).toEqual({
      model: 'o4',
      developer_instructions: LONG,
      tools: { web_search: true },
    })
    const removed = applyTomlEdits(edited, [
      { path: ['developer_instructions'], value: null, mergeStrategy: 'replace' },
    ])
    expect(removed).toBe('# mine\nmodel = "o4"\n\n[tools]\nweb_search = true\n')
  })

  it('places keys and values after long strings of every kind, keys and headers included', () => {
    const long = 'k'.repeat(130_000)
    const text = [
      `a = ${JSON.stringify(LONG)}`,
      `b = '${'l'.repeat(200_000)}'`,
      `c = """\n${'line\n'.repeat(40_000)}"""`,
      `d = '''${'q'.repeat(150_000)}'''`,
      `e = [${JSON.stringify(LONG)}, "short"]`,
      `f = { g = ${JSON.stringify(LONG)} }`,
      `"${long}" = 1`,
      `[${JSON.stringify(long)}.sub]`,
      'after = 2',
      '',
    ].join('\n')
    const ast = parseTomlAst(text)
    const at = (path: string[]) => {
      const found = locate(ast, path)
      return found && text.slice(found.value.start, found.value.end)
    }
    expect(at(['a'])).toBe(JSON.stringify(LONG))
    expect(at([long])).toBe('1')
    expect(at([long, 'sub', 'after'])).toBe('2')
    expect(at(['f', 'g'])).toBe(JSON.stringify(LONG))
    const [first, , third, , fifth] = ast.body[0].body as unknown as { value: { value?: unknown } }[]
    expect(first?.value.value).toBe(LONG)
    expect(third?.value.value).toBe('line\n'.repeat(40_000))
    expect(
      (fifth?.value as unknown as { elements: { value: string }[] }).elements.map((e) => e.value),
    ).toEqual([LONG, 'short'])
    // Short strings are parsed as they are.
    expect(MASK_ABOVE).toBeLessThan(10_000)
  })
})

describe('diagnostics after a long string', () => {
  it('keep the line and column of a bad value that follows a 400,000-character string', async () => {
    const dir = await makeTempDir()
    dirs.push(dir)
    const systemDir = join(dir.path, 'etc')
    await mkdir(systemDir)
    await writeFile(
      join(dir.path, 'config.toml'),
      `developer_instructions = ${JSON.stringify(LONG)}\n\napproval_policy = "sometimes"\n`,
    )
    const loaded = await loadConfig({ home: dir.path, systemDir })
    expect(loaded.merged).toEqual({ developer_instructions: LONG })
    expect(loaded.problems.map((p) => p.range)).toEqual([
      { start: { line: 3, column: 19 }, end: { line: 3, column: 29 } },
    ])
    expect(loaded.problems[0]?.details?.split('\n')[0]).toBe(
      `${join(dir.path, 'config.toml')}:3:19: unknown variant \`sometimes\`, expected one of \`untrusted\`, \`on-failure\`, \`on-request\`, \`never\` in \`approval_policy\``,
    )
    expect(await loadAst(`x = "${'y'.repeat(300_000)}"`)).toBeDefined()
  })
})
