/**
 * Skills as the model gets them: the list of the user's and the repository's skills once per
 * thread, and a skill's SKILL.md sent whole when the user names it (`$name`) or picks it (a `skill`
 * input). A SKILL.md that does not parse is left out and breaks nothing. Real core, scripted
 * model, stdio and ws.
 */
import { realpath } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { makeTempDir, writeFiles } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import { text } from '../support/modelServer'
import { startHarness, startThread, type Harness, type TransportKind } from '../support/threadHarness'
import { WAIT_MS, type TestClient } from '../support/testClient'

interface Message {
  type: string
  role: string
  content: { type: string; text: string }[]
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const skillFile = (name: string, description: string, body: string) =>
  `---\nname: ${name}\ndescription: ${description}\n---\n${body}`
const MY_SKILL = skillFile('my-skill', 'Does my thing well.', '# My skill\n\nStep 1: do MY THING.\n')
const REPO_SKILL = skillFile('repo-skill', 'Repository chores.', 'REPO SKILL BODY\n')

/** A home holding `my-skill`, and a repository holding `repo-skill` and a broken SKILL.md. */
async function setup(transport: TransportKind, reuseHome?: string) {
  const dir = await makeTempDir('codex-desk-skills-repo-')
  cleanups.push(() => dir.remove())
  const root = await realpath(dir.path)
  const files: Record<string, string> = {
    '.git/HEAD': 'ref: refs/heads/main\n',
    '.agents/skills/repo-skill/SKILL.md': REPO_SKILL,
    '.agents/skills/broken/SKILL.md': 'no front matter here\n',
    'sub/README.md': 'hello\n',
  }
  await writeFiles(root, files)
  const h = await startHarness(transport, {
    files: { 'skills/my-skill/SKILL.md': MY_SKILL },
    ...(reuseHome ? { home: reuseHome } : {}),
  })
  cleanups.push(() => h.dispose())
  const home = await realpath(h.proc.home)
  return {
    h,
    cwd: join(root, 'sub'),
    mySkill: join(home, 'skills/my-skill/SKILL.md'),
    repoSkill: join(root, '.agents/skills/repo-skill/SKILL.md'),
    broken: join(root, '.agents/skills/broken/SKILL.md'),
  }
}

const inputOf = (h: Harness, index: number) => (h.model.requests[index]?.body as { input: Message[] }).input
const textOf = (message: Message | undefined) => message?.content.map((part) => part.text).join('') ?? ''
const userTexts = (input: Message[]) => input.filter((m) => m.role === 'user').map(textOf)
const skillMessage = (name: string, path: string, contents: string) =>
  `<skill>\n<name>${name}</name>\n<path>${path}</path>\n${contents}\n</skill>`

async function turn(client: TestClient, threadId: string, input: unknown[]) {
  const { turn } = await client.request('turn/start', { threadId, input } as never)
  const completed = await client.waitForNotification(
    'turn/completed',
    (p) => (p as { turn: { id: string } }).turn.id === turn.id,
    WAIT_MS,
  )
  return (completed.params as { turn: { status: string; error: unknown } }).turn
}

describe.each<TransportKind>(['stdio', 'ws'])('skills offered to the model, over %s', (transport) => {
  it('lists the home and repository skills with their descriptions and paths once per thread, leaving out the broken one', async () => {
    const s = await setup(transport)
    const client = await s.h.connect()
    const listed = await client.request('skills/list', { cwds: [s.cwd] } as never)
    expectCodexShape('SkillsListResponse', listed)
    const entry = (listed as { data: { skills: { name: string }[]; errors: { path: string }[] }[] }).data[0]
    expect(entry?.skills.map((skill) => skill.name)).toEqual(['repo-skill', 'my-skill'])
    expect(entry?.errors.map((error) => error.path)).toEqual([s.broken])

    const { thread } = await startThread(client, { cwd: s.cwd })
    s.h.model.enqueue(text('first'), text('second'))
    expect((await turn(client, thread.id, [{ type: 'text', text: 'hello' }])).status).toBe('completed')
    expect((await turn(client, thread.id, [{ type: 'text', text: 'again' }])).status).toBe('completed')

    const first = inputOf(s.h, 0)
    const developer = first[1] as Message
    expect(developer.role).toBe('developer')
    expect(developer.content).toHaveLength(2)
    const list = developer.content[0]?.text ?? ''
    expect(list).toMatch(/^<skills_instructions>\n[\s\S]*<\/skills_instructions>$/)
    expect(list).toContain(`- repo-skill: Repository chores. (file: ${s.repoSkill})\n`)
    expect(list).toContain(`- my-skill: Does my thing well. (file: ${s.mySkill})\n`)
    expect(list).not.toContain('broken')
    expect(developer.content[1]?.text).toMatch(/^<permissions instructions>/)

    const second = inputOf(s.h, 1)
    const lists = second
      .flatMap((m) => m.content)
      .filter((part) => part.text.startsWith('<skills_instructions>'))
    expect(lists).toHaveLength(1)
    expect(userTexts(second).slice(-2)).toEqual(['hello', 'again'])
  })

  it('sends the whole SKILL.md after the message that names it with $name, and keeps it in the thread', async () => {
    const s = await setup(transport)
    const client = await s.h.connect()
    const { thread } = await startThread(client, { cwd: s.cwd })
    s.h.model.enqueue(text('done'), text('ok'))
    expect((await turn(client, thread.id, [{ type: 'text', text: '$my-skill do it' }])).status).toBe(
      'completed',
    )
    const injected = skillMessage('my-skill', s.mySkill, MY_SKILL)
    expect(userTexts(inputOf(s.h, 0)).slice(-2)).toEqual(['$my-skill do it', injected])

    // A name no skill has, the broken skill's folder name and $HOME inject nothing; the turn works.
    const next = await turn(client, thread.id, [{ type: 'text', text: '$broken $nope $HOME thanks' }])
    expect(next.status).toBe('completed')
    const later = userTexts(inputOf(s.h, 1))
    expect(later.slice(-1)).toEqual(['$broken $nope $HOME thanks'])
    expect(later.filter((t) => t === injected)).toHaveLength(1)
  })

  it('sends the SKILL.md of a skill input, matched by its path, and nothing for a mention input', async () => {
    const s = await setup(transport)
    const client = await s.h.connect()
    const { thread } = await startThread(client, { cwd: s.cwd })
    s.h.model.enqueue(text('one'), text('two'))
    const picked = await turn(client, thread.id, [
      { type: 'text', text: 'use this' },
      { type: 'skill', name: 'repo-skill', path: s.repoSkill },
    ])
    expect(picked.status).toBe('completed')
    expect(userTexts(inputOf(s.h, 0)).slice(-2)).toEqual([
      'use this',
      skillMessage('repo-skill', s.repoSkill, REPO_SKILL),
    ])

    const mentioned = await turn(client, thread.id, [
      { type: 'text', text: 'mentioned' },
      { type: 'mention', name: 'my-skill', path: s.mySkill },
      { type: 'skill', name: 'broken', path: s.broken },
    ])
    expect(mentioned.status).toBe('completed')
    expect(userTexts(inputOf(s.h, 1)).slice(-1)).toEqual(['mentioned'])
  })

  it('gives a resumed thread its skills list and the skills it was sent once, not again', async () => {
    const home = await makeTempDir()
    cleanups.push(() => home.remove())
    const first = await setup(transport, home.path)
    const client = await first.h.connect()
    const { thread } = await startThread(client, { cwd: first.cwd })
    first.h.model.enqueue(text('done'))
    await turn(client, thread.id, [{ type: 'text', text: '$my-skill do it' }])
    await first.h.dispose()

    const s = await setup(transport, home.path)
    const again = await s.h.connect()
    await again.request('thread/resume', { threadId: thread.id } as never)
    s.h.model.enqueue(text('two'))
    expect((await turn(again, thread.id, [{ type: 'text', text: 'second' }])).status).toBe('completed')
    const input = inputOf(s.h, 0)
    const parts = input.flatMap((m) => m.content)
    expect(parts.filter((part) => part.text.startsWith('<skills_instructions>'))).toHaveLength(1)
    expect(userTexts(input).slice(-3)).toEqual([
      '$my-skill do it',
      skillMessage('my-skill', s.mySkill, MY_SKILL),
      'second',
    ])
  })
})
