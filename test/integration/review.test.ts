/**
 * Code review (`review/start`): a turn of its own on the thread holding `enteredReviewMode`, then the
 * reviewer's work (its shell commands show as items), then `exitedReviewMode` with the rendered
 * review and a closing agent message, as codex 0.169 emits them. The reviewer gets the review
 * instructions in place of the base instructions and a request naming the target and the git command
 * that shows it (never the diff itself); its JSON answer is rendered as codex renders it. The thread's
 * model hears of the review on its next turn; thread/read and a restart show the review. A detached
 * review runs on a new thread forked from the given one.
 */
import { execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeTempDir } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import { functionCall, stall, text, type RecordedRequest } from '../support/modelServer'
import {
  harnessesPerTest,
  methodsFor,
  runTurn,
  startThread,
  type TransportKind,
} from '../support/threadHarness'
import type { ServerMessage, TestClient } from '../support/testClient'

const { harness, restartable, removeAfter } = harnessesPerTest()

interface Message {
  type?: string
  role?: string
  name?: string
  content?: { type: string; text?: string }[]
}

const inputOf = (request: RecordedRequest) => (request.body as { input: Message[] }).input
const textOf = (item: Message) => (item.content ?? []).map((part) => part.text ?? '').join('')
const messages = (request: RecordedRequest, role: string) =>
  inputOf(request)
    .filter((item) => item.type === 'message' && item.role === role)
    .map(textOf)
const toolNames = (request: RecordedRequest) =>
  ((request.body as { tools?: Message[] }).tools ?? []).map((tool) => tool.name)

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=Test', ...args], {
    cwd,
    encoding: 'utf8',
  }).trim()
}

/** A repository on `feature` with one commit past `main`, plus uncommitted changes. */
async function makeRepo(): Promise<{ path: string; base: string; head: string }> {
  const dir = removeAfter(await makeTempDir('codex-desk-review-'))
  const path = dir.path
  git(path, 'init', '-q', '-b', 'main')
  await writeFile(join(path, 'app.js'), 'export const one = 1\n')
  git(path, 'add', '.')
  git(path, 'commit', '-qm', 'first')
  const base = git(path, 'rev-parse', 'HEAD')
  git(path, 'checkout', '-qb', 'feature')
  await writeFile(join(path, 'app.js'), 'export const one = 1\nexport const two = 3\n')
  git(path, 'commit', '-qam', 'add two')
  const head = git(path, 'rev-parse', 'HEAD')
  await writeFile(
    join(path, 'app.js'),
    'export const one = 1\nexport const two = 3\nexport const three = 3\n',
  )
  await writeFile(join(path, 'notes.txt'), 'untracked\n')
  return { path, base, head }
}

function reviewAnswer(path: string): string {
  return JSON.stringify({
    findings: [
      {
        title: '[P1] Fix the value of two',
        body: '`two` is exported as 3.',
        confidence_score: 0.9,
        priority: 1,
        code_location: { absolute_file_path: join(path, 'app.js'), line_range: { start: 2, end: 2 } },
      },
    ],
    overall_correctness: 'patch is incorrect',
    overall_explanation: 'The new constant has the wrong value.',
    overall_confidence_score: 0.8,
  })
}

const rendered = (path: string) =>
  'The new constant has the wrong value.\n\nReview comment:\n\n' +
  `- [P1] Fix the value of two — ${join(path, 'app.js')}:2-2\n  \`two\` is exported as 3.`

/** Starts a review and waits for its turn/completed; returns the response and the thread's notifications. */
async function review(
  client: TestClient,
  params: Record<string, unknown>,
): Promise<{
  result: { turn: { id: string; items: unknown[] }; reviewThreadId: string }
  notes: ServerMessage[]
}> {
  const from = client.received.length
  const result = await client.request('review/start', params as never)
  expectCodexShape('ReviewStartResponse', result)
  await client.waitForNotification(
    'turn/completed',
    (p) => (p as { turn: { id: string } }).turn.id === result.turn.id,
  )
  const notes = client.received.slice(from).filter((m) => m.method !== undefined && m.id === undefined)
  for (const m of notes) expectCodexShape('ServerNotification', { method: m.method, params: m.params })
  return { result, notes }
}

type Item = { type: string; id: string; review?: string; text?: string; command?: string; source?: string }
const itemsOf = (notes: ServerMessage[], method: string, threadId: string) =>
  notes
    .filter((m) => m.method === method && (m.params as { threadId: string }).threadId === threadId)
    .map((m) => (m.params as { item: Item }).item)

describe.each<TransportKind>(['stdio', 'ws'])('code review over %s', (transport) => {
  it('reviews uncommitted changes in a turn of its own and shows the rendered findings', async () => {
    const repo = await makeRepo()
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd: repo.path })
    h.model.enqueue(text(reviewAnswer(repo.path)))
    const before = methodsFor(client, thread.id).length
    const { result, notes } = await review(client, {
      threadId: thread.id,
      target: { type: 'uncommittedChanges' },
    })

    // codex's answer: the thread itself, and the turn holding the label as a user message.
    expect(result.reviewThreadId).toBe(thread.id)
    expect(result.turn.items).toEqual([
      {
        type: 'userMessage',
        id: result.turn.id,
        clientId: null,
        content: [expect.objectContaining({ text: 'current changes' })],
      },
    ])
    const ignored = ['thread/started', 'thread/status/changed', 'thread/tokenUsage/updated']
    const methods = methodsFor(client, thread.id)
      .slice(before)
      .filter((m) => !ignored.includes(m))
    // codex's order: the two review-mode items, the closing message, then the read state and the end.
    expect(methods).toEqual([
      'turn/started',
      'item/started',
      'item/completed',
      'item/started',
      'item/completed',
      'item/started',
      'item/completed',
      'thread/readState/changed',
      'turn/completed',
    ])
    const completed = itemsOf(notes, 'item/completed', thread.id)
    expect(completed.map((item) => item.type)).toEqual([
      'enteredReviewMode',
      'exitedReviewMode',
      'agentMessage',
    ])
    expect(completed[0]?.review).toBe('current changes')
    expect(completed[1]?.review).toBe(rendered(repo.path))
    expect(completed[2]?.text).toBe(rendered(repo.path))

    // The reviewer: review instructions instead of the base ones, the target and its git commands,
    // tools that read only.
    const [request] = await h.model.waitForRequests(1)
    const developer = messages(request as RecordedRequest, 'developer')
    expect(developer[0]).toContain('# Reviewing a code change')
    expect(developer[0]).toContain('"overall_correctness"')
    expect(developer.join('\n')).not.toContain('You are Codex')
    const user = messages(request as RecordedRequest, 'user')
    expect(user.at(-1)).toContain('uncommitted changes')
    expect(user.at(-1)).toContain('`git diff`')
    expect(user.join('\n')).toContain('<environment_context>')
    expect(toolNames(request as RecordedRequest)).toEqual(['shell_command', 'view_image'])

    // thread/read shows the review; the next turn's model hears of it.
    const read = await client.request('thread/read', { threadId: thread.id, includeTurns: true })
    expectCodexShape('ThreadReadResponse', read)
    const turn = read.thread.turns.find((t) => t.id === result.turn.id)
    expect(turn?.status).toBe('completed')
    expect(turn?.items.map((item) => item.type)).toEqual([
      'enteredReviewMode',
      'exitedReviewMode',
      'agentMessage',
    ])
    h.model.enqueue(text('I will fix it'))
    await runTurn(client, thread.id, 'fix the finding')
    const next = (await h.model.waitForRequests(2))[1] as RecordedRequest
    const heard = messages(next, 'user').join('\n')
    expect(heard).toContain('<user_action>')
    expect(heard).toContain('[P1] Fix the value of two')
    expect(messages(next, 'assistant')).toContain(rendered(repo.path))
    expect(messages(next, 'developer').join('\n')).not.toContain('# Reviewing a code change')
  })

  it('lets the reviewer run git and shows its command as an item of the review turn', async () => {
    const repo = await makeRepo()
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd: repo.path })
    h.model.enqueue(
      functionCall({ name: 'shell_command', arguments: { command: 'git diff' }, callId: 'call_diff' }),
      text(reviewAnswer(repo.path)),
    )
    const { notes } = await review(client, { threadId: thread.id, target: { type: 'uncommittedChanges' } })
    const completed = itemsOf(notes, 'item/completed', thread.id)
    expect(completed.map((item) => item.type)).toEqual([
      'enteredReviewMode',
      'commandExecution',
      'exitedReviewMode',
      'agentMessage',
    ])
    expect(completed[1]).toMatchObject({ command: 'git diff', source: 'agent', status: 'completed' })
    const second = (await h.model.waitForRequests(2))[1] as RecordedRequest
    const output = inputOf(second).find((item) => item.type === 'function_call_output') as { output: string }
    expect(output.output).toContain('+export const three = 3')
  })
})

describe('code review targets', () => {
  it('names the merge base for a base branch and the commit for a commit, with codex labels', async () => {
    const repo = await makeRepo()
    const h = await harness('stdio', { config: 'review_model = "reviewer-model"' })
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd: repo.path })
    h.model.enqueue(
      text(reviewAnswer(repo.path)),
      text(reviewAnswer(repo.path)),
      text('plain words, no JSON'),
    )

    const base = await review(client, { threadId: thread.id, target: { type: 'baseBranch', branch: 'main' } })
    expect(itemsOf(base.notes, 'item/completed', thread.id)[0]?.review).toBe("changes against 'main'")
    const commit = await review(client, {
      threadId: thread.id,
      target: { type: 'commit', sha: repo.head, title: 'add two' },
      delivery: 'inline',
    })
    expect(itemsOf(commit.notes, 'item/completed', thread.id)[0]?.review).toBe(
      `commit ${repo.head.slice(0, 7)}: add two`,
    )
    const custom = await review(client, {
      threadId: thread.id,
      target: { type: 'custom', instructions: '  Check app.js for typos  ' },
    })
    const customItems = itemsOf(custom.notes, 'item/completed', thread.id)
    expect(customItems[0]?.review).toBe('Check app.js for typos')
    // An answer that is not JSON is shown as the explanation.
    expect(customItems[1]?.review).toBe('plain words, no JSON')

    const requests = await h.model.waitForRequests(3)
    const last = (request: RecordedRequest) => messages(request, 'user').at(-1) ?? ''
    expect(last(requests[0] as RecordedRequest)).toContain(`'main'`)
    expect(last(requests[0] as RecordedRequest)).toContain(`\`git diff ${repo.base}\``)
    expect(last(requests[1] as RecordedRequest)).toContain(repo.head)
    expect(last(requests[1] as RecordedRequest)).toContain('"add two"')
    expect(last(requests[1] as RecordedRequest)).toContain(`\`git show ${repo.head}\``)
    expect(last(requests[2] as RecordedRequest)).toBe('Check app.js for typos')
    // `review_model` picks the reviewer's model, as in codex.
    expect(requests.map((request) => (request.body as { model: string }).model)).toEqual([
      'reviewer-model',
      'reviewer-model',
      'reviewer-model',
    ])
  })

  it('refuses empty targets', async () => {
    const h = await harness('stdio')
    const client = await h.connect()
    const { thread } = await startThread(client)
    await expect(
      client.request('review/start', { threadId: thread.id, target: { type: 'custom', instructions: ' ' } }),
    ).rejects.toThrow(/instructions must not be empty/)
    await expect(
      client.request('review/start', { threadId: thread.id, target: { type: 'baseBranch', branch: '' } }),
    ).rejects.toThrow(/branch must not be empty/)
    await expect(
      client.request('review/start', { threadId: thread.id, target: { type: 'nope' } } as never),
    ).rejects.toThrow()

    const turns = await client.request('thread/read', { threadId: thread.id, includeTurns: true })
    expect(turns.thread.turns).toEqual([])
  })

  it('interrupts a running turn first, as codex does, then reviews', async () => {
    const repo = await makeRepo()
    const h = await harness('stdio')
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd: repo.path })
    h.model.enqueue([stall(), text('late')], text(reviewAnswer(repo.path)))
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'hi' }],
    })
    await h.model.waitForStall(1)
    const { result } = await review(client, { threadId: thread.id, target: { type: 'uncommittedChanges' } })
    h.model.release()
    const ended = client.received.filter((m) => m.method === 'turn/completed').map((m) => m.params)
    expect(ended).toEqual([
      expect.objectContaining({ turn: expect.objectContaining({ id: turn.id, status: 'interrupted' }) }),
      expect.objectContaining({ turn: expect.objectContaining({ id: result.turn.id, status: 'completed' }) }),
    ])
  })

  it('ends review mode when the review is interrupted, as codex does', async () => {
    const repo = await makeRepo()
    const h = await harness('stdio')
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd: repo.path })
    h.model.enqueue([stall(), text('late')], text('next'))
    const { turn } = await client.request('review/start', {
      threadId: thread.id,
      target: { type: 'uncommittedChanges' },
    })
    await h.model.waitForStall(1)
    await client.request('turn/interrupt', { threadId: thread.id, turnId: turn.id })
    const completed = await client.waitForNotification(
      'turn/completed',
      (p) => (p as { turn: { id: string } }).turn.id === turn.id,
    )
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('interrupted')
    h.model.release()
    const read = await client.request('thread/read', { threadId: thread.id, includeTurns: true })
    expect(read.thread.turns[0]?.items).toEqual([
      expect.objectContaining({ type: 'enteredReviewMode' }),
      expect.objectContaining({ type: 'exitedReviewMode', review: 'Reviewer failed to output a response.' }),
    ])
    await runTurn(client, thread.id, 'what happened?')
    const next = (await h.model.waitForRequests(2))[1] as RecordedRequest
    expect(messages(next, 'user').join('\n')).toContain('interrupted')
  })

  it('survives a restart: the resumed thread shows the review and its model hears of it', async () => {
    const repo = await makeRepo()
    const { first, restart } = await restartable('stdio')
    const client = await first.connect()
    const { thread } = await startThread(client, { cwd: repo.path })
    first.model.enqueue(text(reviewAnswer(repo.path)))
    const { result } = await review(client, { threadId: thread.id, target: { type: 'uncommittedChanges' } })

    const second = await restart()
    const again = await second.connect()
    const resumed = await again.request('thread/resume', { threadId: thread.id })
    expectCodexShape('ThreadResumeResponse', resumed)
    const turn = resumed.thread.turns.find((t) => t.id === result.turn.id)
    expect(turn?.items.map((item) => item.type)).toEqual([
      'enteredReviewMode',
      'exitedReviewMode',
      'agentMessage',
    ])
    expect((turn?.items[1] as Item | undefined)?.review).toBe(rendered(repo.path))
    second.model.enqueue(text('ok'))
    await runTurn(again, thread.id, 'and now?')
    const [request] = await second.model.waitForRequests(1)
    expect(messages(request as RecordedRequest, 'user').join('\n')).toContain('[P1] Fix the value of two')
  })

  it('runs a detached review on a new thread forked from the given one', async () => {
    const repo = await makeRepo()
    const h = await harness('ws')
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd: repo.path })
    h.model.enqueue(text('earlier answer'), text(reviewAnswer(repo.path)))
    await runTurn(client, thread.id, 'earlier question')
    const { result, notes } = await review(client, {
      threadId: thread.id,
      target: { type: 'uncommittedChanges' },
      delivery: 'detached',
    })
    const reviewThread = result.reviewThreadId
    expect(reviewThread).not.toBe(thread.id)
    const started = notes.find((m) => m.method === 'thread/started')?.params as {
      thread: { id: string; forkedFromId: string | null }
    }
    expect(started.thread).toMatchObject({ id: reviewThread, forkedFromId: thread.id })
    expect(itemsOf(notes, 'item/completed', reviewThread).map((item) => item.type)).toEqual([
      'enteredReviewMode',
      'exitedReviewMode',
      'agentMessage',
    ])
    expect(itemsOf(notes, 'item/completed', thread.id)).toEqual([])

    const parent = await client.request('thread/read', { threadId: thread.id, includeTurns: true })
    expect(parent.thread.turns).toHaveLength(1)
    const forked = await client.request('thread/read', { threadId: reviewThread, includeTurns: true })
    expectCodexShape('ThreadReadResponse', forked)
    expect(forked.thread.turns.at(-1)?.items.map((item) => item.type)).toEqual([
      'enteredReviewMode',
      'exitedReviewMode',
      'agentMessage',
    ])
  })
})
