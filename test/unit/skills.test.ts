import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { parseSkill } from '../../src/worker/agent/skillFrontMatter'
import { SkillsCatalog, skillRoots } from '../../src/worker/agent/skills'
import { makeTempDir } from '../support/appServerProcess'

const fm = (body: string) => `---\n${body}\n---\n\n# Body\n`

describe('SKILL.md front matter', () => {
  it('reads name and description, folding multi-line values to one line', () => {
    expect(parseSkill(fm('name: demo\ndescription: does things\n  carefully'), 'dir')).toEqual({
      ok: true,
      name: 'demo',
      description: 'does things carefully',
      shortDescription: null,
    })
    expect(parseSkill(fm('name: demo\ndescription: |-\n  line one\n  line two'), 'dir')).toMatchObject({
      description: 'line one line two',
    })
    expect(
      parseSkill(fm('name: demo\ndescription: >-\n  folded\n  text\nlicense: MIT'), 'dir'),
    ).toMatchObject({
      description: 'folded text',
    })
  })

  it('reads quoted values with their escapes, comments and CRLF line ends', () => {
    expect(parseSkill(fm(`name: 'quo''ted'\ndescription: "tab\\tand \\u00e9"`), 'dir')).toMatchObject({
      name: "quo'ted",
      description: 'tab and é',
    })
    expect(
      parseSkill(fm('# a comment\nname: commented # trailing\ndescription: "has: colon"'), 'dir'),
    ).toMatchObject({
      name: 'commented',
      description: 'has: colon',
    })
    expect(parseSkill('---\r\nname: crlf\r\ndescription: windows\r\n---\r\n', 'dir')).toMatchObject({
      name: 'crlf',
      description: 'windows',
    })
  })

  it('takes the short description from metadata under any of its spellings', () => {
    for (const key of ['short-description', 'shortDescription', 'short_description']) {
      expect(
        parseSkill(fm(`name: demo\ndescription: long\nmetadata:\n  ${key}: short summary`), 'd'),
      ).toMatchObject({
        shortDescription: 'short summary',
      })
    }
  })

  it('falls back to the folder name without a name, and reads numbers and booleans as text', () => {
    expect(parseSkill(fm('description: no name here'), 'my-skill')).toMatchObject({ name: 'my-skill' })
    expect(parseSkill(fm('name: ""\ndescription: x'), 'empty')).toMatchObject({ name: 'empty' })
    expect(parseSkill(fm('name: 123\ndescription: true'), 'd')).toMatchObject({
      name: '123',
      description: 'true',
    })
  })

  it('ignores keys it does not use, whatever their shape', () => {
    const text = fm(
      'name: tools\ndescription: x\nallowed-tools: [Bash, Read]\ntags:\n  - a\n  - b\nextra: {a: 1}',
    )
    expect(parseSkill(text, 'd')).toMatchObject({ ok: true, name: 'tools' })
  })

  it('says what is wrong with a skill it cannot read, as codex words it', () => {
    const message = (text: string) => {
      const parsed = parseSkill(text, 'folder')
      return parsed.ok ? null : parsed.message
    }
    expect(message('# no front matter\n')).toBe('missing YAML frontmatter delimited by ---')
    expect(message('---\nname: bad')).toBe('missing YAML frontmatter delimited by ---')
    expect(message(fm('name: nodesc'))).toBe('missing field `description`')
    expect(message(fm('name: [a, b]\ndescription: x'))).toBe(
      'invalid YAML: name: invalid type: sequence, expected a string at line 1 column 7',
    )
    expect(message(fm('name: "unterminated\ndescription: x'))).toBe(
      'invalid YAML: found unexpected end of stream at line 2 column 15, while scanning a quoted scalar at line 1 column 7',
    )
    expect(message(fm(`name: ${'x'.repeat(65)}\ndescription: x`))).toBe(
      'invalid name: exceeds maximum length of 64 characters',
    )
    expect(message(fm(`name: ok\ndescription: ${'💡'.repeat(1025)}`))).toBe(
      'invalid description: exceeds maximum length of 1024 characters',
    )
    expect(message(fm('name: a\ndescription: Use when: always'))).toMatch(/^invalid YAML: mapping values/)
    expect(message(fm('name: a\nname: b\ndescription: x'))).toBe(
      'invalid YAML: duplicate key `name` at line 2 column 1',
    )
    expect(message(fm('name: a\ndescription: *alias'))).toMatch(/^invalid YAML: anchors, aliases and tags/)
  })
})

describe('skills on disk', () => {
  const dirs: { remove(): Promise<void> }[] = []
  const catalogs: SkillsCatalog[] = []
  afterEach(async () => {
    for (const catalog of catalogs.splice(0)) catalog.dispose()
    for (const dir of dirs.splice(0)) await dir.remove()
  })

  async function tempDir(): Promise<string> {
    const dir = await makeTempDir('codex-desk-skills-')
    dirs.push(dir)
    return realpathSync(dir.path)
  }
  const write = (path: string, text: string) => {
    mkdirSync(join(path, '..'), { recursive: true })
    writeFileSync(path, text)
  }
  const catalog = (home: string, debounceMs = 50) => {
    const c = new SkillsCatalog({ home, debounceMs })
    catalogs.push(c)
    return c
  }

  it('looks in the user folder and in .codex and .agents of each folder from the repository root to the cwd', async () => {
    const home = await tempDir()
    const repo = await tempDir()
    mkdirSync(join(repo, '.git'))
    mkdirSync(join(repo, 'a/b'), { recursive: true })
    const roots = await skillRoots(home, join(repo, 'a/b'))
    expect(roots).toEqual([
      { path: join(home, 'skills'), scope: 'user' },
      ...['', 'a', 'a/b'].flatMap((dir) => [
        { path: join(repo, dir, '.codex/skills'), scope: 'repo' },
        { path: join(repo, dir, '.agents/skills'), scope: 'repo' },
      ]),
    ])
    // Outside a repository only the cwd's own folders count.
    const loose = await tempDir()
    mkdirSync(join(loose, 'sub'))
    expect((await skillRoots(home, join(loose, 'sub'))).map((r) => r.path)).toEqual([
      join(home, 'skills'),
      join(loose, 'sub/.codex/skills'),
      join(loose, 'sub/.agents/skills'),
    ])
  })

  it('finds nested skills, follows symlinks, skips hidden folders and stops six levels down', async () => {
    const home = await tempDir()
    const elsewhere = await tempDir()
    write(join(home, 'skills/outer/SKILL.md'), fm('name: outer\ndescription: outer'))
    write(join(home, 'skills/outer/inner/SKILL.md'), fm('name: inner\ndescription: nested in a skill'))
    write(join(home, 'skills/.hidden/SKILL.md'), fm('name: hidden\ndescription: x'))
    write(join(home, 'skills/a/b/c/d/deep5/SKILL.md'), fm('name: deep5\ndescription: x'))
    write(join(home, 'skills/a/b/c/d/e/f/g/deep8/SKILL.md'), fm('name: deep8\ndescription: x'))
    write(join(elsewhere, 'linked/SKILL.md'), fm('name: linked\ndescription: via a symlink'))
    symlinkSync(join(elsewhere, 'linked'), join(home, 'skills/linked'))
    symlinkSync(join(home, 'skills'), join(home, 'skills/outer/loop'))
    const [entry] = await catalog(home).list(['/nonexistent/cwd'])
    expect(entry?.skills.map((s) => [s.name, s.path])).toEqual([
      ['deep5', join(home, 'skills/a/b/c/d/deep5/SKILL.md')],
      ['inner', join(home, 'skills/outer/inner/SKILL.md')],
      ['linked', join(elsewhere, 'linked/SKILL.md')],
      ['outer', join(home, 'skills/outer/SKILL.md')],
    ])
    expect(entry?.errors).toEqual([])
  })

  it('keeps a listing until asked to reload, and rescans after a change it was told about', async () => {
    const home = await tempDir()
    write(join(home, 'skills/one/SKILL.md'), fm('name: one\ndescription: first'))
    const skills = catalog(home)
    const names = async (forceReload = false) =>
      (await skills.list([home], forceReload))[0]?.skills.map((s) => s.name)
    expect(await names()).toEqual(['one'])
    const changed = new Promise<void>((resolve) => skills.onDidChange(resolve))
    write(join(home, 'skills/two/SKILL.md'), fm('name: two\ndescription: second'))
    await changed
    expect(await names()).toEqual(['one', 'two'])
    skills.suspend()
    write(join(home, 'skills/three/SKILL.md'), fm('name: three\ndescription: third'))
    expect(await names(true)).toEqual(['one', 'three', 'two'])
  })

  it('notices a skills folder that did not exist when it was listed', async () => {
    const home = await tempDir()
    const skills = catalog(home)
    expect((await skills.list([home]))[0]?.skills).toEqual([])
    const changed = new Promise<void>((resolve) => skills.onDidChange(resolve))
    write(join(home, 'skills/new/SKILL.md'), fm('name: new\ndescription: created later'))
    await changed
    expect((await skills.list([home]))[0]?.skills.map((s) => s.name)).toEqual(['new'])
  })
})
