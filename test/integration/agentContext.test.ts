/**
 * What the model is told about where it works: the base instructions, developer instructions, the
 * permissions message, the user's AGENTS.md files and the environment context, on the first request
 * of a thread and again only when something changed. Real core, scripted model, stdio and ws.
 */
import { realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { BASE_INSTRUCTIONS } from '../../src/worker/agent/prompts/baseInstructions'
import { makeTempDir, writeFiles } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import { text } from '../support/modelServer'
import {
  runTurn,
  startHarness,
  startThread,
  type Harness,
  type TransportKind,
} from '../support/threadHarness'
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

async function harness(transport: TransportKind, options: Parameters<typeof startHarness>[1] = {}) {
  const h = await startHarness(transport, { config: 'sandbox_mode = "workspace-write"', ...options })
  cleanups.push(() => h.dispose())
  return h
}

/** A repository (`.git` at its root) with AGENTS.md at the root and in `sub`, and a folder `other`. */
async function repository(files: Record<string, string> = {}) {
  const dir = await makeTempDir('codex-desk-repo-')
  cleanups.push(() => dir.remove())
  const root = await realpath(dir.path)
  const all = {
    '.git/HEAD': 'ref: refs/heads/main\n',
    'AGENTS.md': 'ROOT RULES: use tabs.\n',
    'sub/AGENTS.md': 'SUB RULES: no semicolons.\n',
    'other/AGENTS.md': 'OTHER RULES.\n',
    ...files,
  }
  await writeFiles(root, all)
  return { root, sub: join(root, 'sub'), other: join(root, 'other') }
}

const inputOf = (h: Harness, index: number) => (h.model.requests[index]?.body as { input: Message[] }).input
const bodyOf = (h: Harness, index: number) => h.model.requests[index]?.body as Record<string, unknown>
const textOf = (message: Message | undefined) => message?.content.map((part) => part.text).join('') ?? ''
const isEnvironment = (m: Message) => m.role === 'user' && textOf(m).startsWith('<environment_context>')
const isPermissions = (m: Message) =>
  m.role === 'developer' && textOf(m).startsWith('<permissions instructions>')
const isAgents = (m: Message) => m.role === 'user' && textOf(m).startsWith('# AGENTS.md instructions for ')
const contextCount = (input: Message[]) =>
  input.filter((m) => isEnvironment(m) || isPermissions(m) || isAgents(m)).length

async function turn(
  client: TestClient,
  threadId: string,
  words: string,
  params: Record<string, unknown> = {},
) {
  const { turn } = await client.request('turn/start', {
    threadId,
    input: [{ type: 'text', text: words }],
    ...params,
  } as never)
  return client.waitForNotification(
    'turn/completed',
    (p) => (p as { turn: { id: string } }).turn.id === turn.id,
    WAIT_MS,
  )
}

describe.each<TransportKind>(['stdio', 'ws'])('the context the model gets, over %s', (transport) => {
  it('the first request leads with the base instructions, then the permissions, both AGENTS.md files in order and the environment context', async () => {
    const repo = await repository()
    const h = await harness(transport, { files: { 'AGENTS.md': '\nHOME RULES: be brief.\n\n' } })
    const client = await h.connect()
    const started = await startThread(client, { cwd: repo.sub })
    expectCodexShape('ThreadStartResponse', started)
    expect(started.instructionSources).toEqual([
      join(h.proc.home, 'AGENTS.md'),
      join(repo.root, 'AGENTS.md'),
      join(repo.sub, 'AGENTS.md'),
    ])
    h.model.enqueue(text('hi'))
    await runTurn(client, started.thread.id, 'hello')
    expect(bodyOf(h, 0)).not.toHaveProperty('instructions')
    const input = inputOf(h, 0)
    expect(input.map((m) => m.role)).toEqual(['developer', 'developer', 'user', 'user', 'user'])
    expect(textOf(input[0])).toBe(BASE_INSTRUCTIONS)
    const permissions = textOf(input[1])
    expect(permissions).toMatch(/^<permissions instructions>\n[\s\S]*<\/permissions instructions>$/)
    expect(permissions).toContain('`sandbox_mode` is `workspace-write`')
    expect(permissions).toContain('Approval policy is `on-request`')
    expect(permissions).toContain(`\`${repo.sub}\``)
    expect(textOf(input[2])).toBe(
      `# AGENTS.md instructions for ${repo.sub}\n\n<INSTRUCTIONS>\nHOME RULES: be brief.\n\n--- project-doc ---\n\n` +
        'ROOT RULES: use tabs.\n\n\nSUB RULES: no semicolons.\n\n</INSTRUCTIONS>',
    )
    const environment = textOf(input[3])
    expect(environment).toMatch(
      new RegExp(
        `^<environment_context>\\n  <cwd>${repo.sub}</cwd>\\n  <shell>[a-z]+</shell>\\n` +
          '  <current_date>\\d{4}-\\d{2}-\\d{2}</current_date>\\n  <timezone>[^<]+</timezone>\\n' +
          `  <filesystem><workspace_roots><root>${repo.sub}</root></workspace_roots>` +
          '<permission_profile type="managed"><file_system type="restricted">' +
          '<entry access="read"><special>:root</special></entry>' +
          `<entry access="write"><path>${repo.sub}</path></entry>`,
      ),
    )
    expect(environment).toContain(`<entry access="read"><path>${join(repo.sub, '.git')}</path></entry>`)
    expect(environment).toMatch(
      /<\/file_system><\/permission_profile><\/filesystem>\n<\/environment_context>$/,
    )
    expect(input[4]).toEqual({
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: 'hello' }],
    })
  })

  it('cuts the project files at project_doc_max_bytes and reads a fallback name where a folder has no AGENTS.md', async () => {
    const repo = await repository({
      'sub/AGENTS.md': '',
      'sub/deeper/NOTES.md': 'DEEP NOTES: keep it short.\n',
    })
    await writeFile(join(repo.sub, 'AGENTS.md'), '   \n')
    const h = await harness(transport, {
      config: 'project_doc_max_bytes = 30\nproject_doc_fallback_filenames = ["NOTES.md"]',
    })
    const client = await h.connect()
    const deeper = join(repo.sub, 'deeper')
    const started = await startThread(client, { cwd: deeper })
    // The blank sub/AGENTS.md is found (so no fallback is looked for there) but contributes nothing.
    expect(started.instructionSources).toEqual([join(repo.root, 'AGENTS.md'), join(deeper, 'NOTES.md')])
    h.model.enqueue(text('hi'))
    await runTurn(client, started.thread.id, 'hello')
    const agents = inputOf(h, 0).find(isAgents)
    // 22 bytes of the root file leave 8 of the budget for the next one.
    expect(textOf(agents)).toBe(
      `# AGENTS.md instructions for ${deeper}\n\n<INSTRUCTIONS>\nROOT RULES: use tabs.\n\n\nDEEP NOT\n</INSTRUCTIONS>`,
    )
  })

  it('sends config developer_instructions as a developer message after the base, and model_instructions_file replaces the base', async () => {
    const h = await harness(transport, {
      config: 'developer_instructions = "Always answer in French."\nmodel_instructions_file = "my-base.md"',
      files: { 'my-base.md': 'You are a careful reviewer.' },
    })
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue(text('oui'))
    await runTurn(client, thread.id, 'hello')
    const input = inputOf(h, 0)
    expect(input.slice(0, 2)).toEqual([
      {
        type: 'message',
        role: 'developer',
        content: [{ type: 'input_text', text: 'You are a careful reviewer.' }],
      },
      {
        type: 'message',
        role: 'developer',
        content: [{ type: 'input_text', text: 'Always answer in French.' }],
      },
    ])
    expect(isPermissions(input[2] as Message)).toBe(true)
    // The thread's own baseInstructions win over the file.
    const second = await startThread(client, {
      baseInstructions: 'Thread base.',
      developerInstructions: 'Thread dev.',
    })
    h.model.enqueue(text('ok'))
    await runTurn(client, second.thread.id, 'hello')
    expect(inputOf(h, 1).slice(0, 2).map(textOf)).toEqual(['Thread base.', 'Thread dev.'])
  })

  it('fails the turn with a message naming model_instructions_file when it cannot be read', async () => {
    const h = await harness(transport, { config: 'model_instructions_file = "missing.md"' })
    const client = await h.connect()
    const { thread } = await startThread(client)
    const { completed } = await runTurn(client, thread.id, 'hello')
    const turnResult = (completed.params as { turn: { status: string; error: { message: string } } }).turn
    expect(turnResult.status).toBe('failed')
    expect(turnResult.error.message).toContain(`model_instructions_file ${join(h.proc.home, 'missing.md')}`)
    expect(h.model.requests).toHaveLength(0)
  })

  it('does not repeat the context on the next turn, and tells the model what changed when the folder, sandbox or approval policy does', async () => {
    const repo = await repository()
    const h = await harness(transport)
    const client = await h.connect('test_client', { experimentalApi: true })
    const { thread } = await startThread(client, { cwd: repo.sub })
    h.model.enqueue(text('one'), text('two'), text('three'), text('four'))
    await turn(client, thread.id, 'first')
    await turn(client, thread.id, 'second')
    const second = inputOf(h, 1)
    expect(contextCount(second)).toBe(3)
    expect(second.slice(-3).map((m) => [m.role, textOf(m)])).toEqual([
      ['user', 'first'],
      ['assistant', 'one'],
      ['user', 'second'],
    ])

    await client.request('thread/settings/update', { threadId: thread.id, cwd: repo.other })
    await turn(client, thread.id, 'third')
    const third = inputOf(h, 2)
    expect(third.slice(0, second.length)).toEqual(second)
    const update = third.slice(second.length + 1)
    expect(update.map((m) => m.role)).toEqual(['user', 'developer', 'user', 'user'])
    expect(textOf(update[0])).toBe(
      `# AGENTS.md instructions for ${repo.other}\n\n<INSTRUCTIONS>\n` +
        'These AGENTS.md instructions replace all previously provided AGENTS.md instructions.\n\n' +
        'ROOT RULES: use tabs.\n\n\nOTHER RULES.\n\n</INSTRUCTIONS>',
    )
    expect(textOf(update[1])).toContain(`\`${repo.other}\``)
    expect(textOf(update[2])).toMatch(
      new RegExp(`^<environment_context>\\n  <cwd>${repo.other}</cwd>\\n  <shell>`),
    )
    expect(textOf(update[3])).toBe('third')

    await turn(client, thread.id, 'fourth', { sandboxPolicy: { type: 'readOnly' }, approvalPolicy: 'never' })
    const fourth = inputOf(h, 3)
    expect(fourth.slice(0, third.length)).toEqual(third)
    const change = fourth.slice(third.length + 1)
    expect(change.map((m) => m.role)).toEqual(['developer', 'user', 'user'])
    expect(textOf(change[0])).toContain('`sandbox_mode` is `read-only`')
    expect(textOf(change[0])).toContain('Approval policy is `never`')
    // Only what changed: no folder or shell, the date and zone, and the new filesystem rules.
    expect(textOf(change[1])).toMatch(
      new RegExp(
        '^<environment_context>\\n  <current_date>[^<]+</current_date>\\n  <timezone>[^<]+</timezone>\\n' +
          `  <filesystem><workspace_roots><root>${repo.other}</root></workspace_roots><permission_profile type="managed">` +
          '<file_system type="restricted"><entry access="read"><special>:root</special></entry></file_system>' +
          '</permission_profile></filesystem>\\n</environment_context>$',
      ),
    )
  })

  it('gives a resumed thread the context it already had once, not again', async () => {
    const repo = await repository()
    const home = await makeTempDir()
    cleanups.push(() => home.remove())
    const first = await startHarness(transport, { home: home.path })
    let threadId: string
    try {
      const client = await first.connect()
      const { thread } = await startThread(client, { cwd: repo.sub })
      threadId = thread.id
      first.model.enqueue(text('one'))
      await runTurn(client, thread.id, 'first')
    } finally {
      await first.dispose()
    }
    const h = await startHarness(transport, { home: home.path })
    cleanups.push(() => h.dispose())
    const client = await h.connect()
    const resumed = await client.request('thread/resume', { threadId })
    expect(resumed.instructionSources).toEqual([join(repo.root, 'AGENTS.md'), join(repo.sub, 'AGENTS.md')])
    h.model.enqueue(text('two'))
    await runTurn(client, threadId, 'second')
    const input = inputOf(h, 0)
    expect(contextCount(input)).toBe(3)
    expect(input.slice(1, 4).map((m) => [isPermissions(m), isAgents(m), isEnvironment(m)])).toEqual([
      [true, false, false],
      [false, true, false],
      [false, false, true],
    ])
    expect(input.slice(-3).map(textOf)).toEqual(['first', 'one', 'second'])
  })
})
