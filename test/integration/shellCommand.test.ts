/**
 * A command the user runs in a thread (`thread/shellCommand`, the TUI's `!cmd`): as in codex 0.169, a
 * turn of its own holding one `commandExecution` item with `source: "userShell"` and the command as the
 * joined argv, its output streamed as deltas, run in the thread's folder outside the sandbox. The
 * model reads a `<user_shell_command>` record on its next request; a failing command is a failed
 * item in a completed turn. thread/read and a restart keep the item.
 */
import { realpath } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { makeTempDir, writeFiles } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import { stall, text, type RecordedRequest } from '../support/modelServer'
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
  content?: { type: string; text?: string }[]
}
const userTexts = (request: RecordedRequest) =>
  (request.body as { input: Message[] }).input
    .filter((item) => item.type === 'message' && item.role === 'user')
    .map((item) => (item.content ?? []).map((part) => part.text ?? '').join(''))

type Item = {
  type: string
  id: string
  command: string
  cwd: string
  source: string
  status: string
  aggregatedOutput: string | null
  exitCode: number | null
  commandActions: unknown[]
}

/** Runs a shell command and waits for its turn/completed; returns the thread's notifications since. */
async function shell(
  client: TestClient,
  threadId: string,
  command: string,
  extra: Record<string, unknown> = {},
): Promise<ServerMessage[]> {
  const from = client.received.length
  const result = await client.request('thread/shellCommand', { threadId, command, ...extra } as never)
  expectCodexShape('ThreadShellCommandResponse', result)
  expect(result).toEqual({})
  await client.waitForNotification('turn/completed', (p) => (p as { threadId: string }).threadId === threadId)
  const notes = client.received.slice(from).filter((m) => m.method !== undefined && m.id === undefined)
  for (const m of notes) expectCodexShape('ServerNotification', { method: m.method, params: m.params })
  return notes
}

const completedItem = (notes: ServerMessage[]) =>
  notes.filter((m) => m.method === 'item/completed').map((m) => (m.params as { item: Item }).item)[0] as Item

async function folder(): Promise<string> {
  const dir = removeAfter(await makeTempDir('codex-desk-shell-'))
  await writeFiles(dir.path, { 'hello.txt': 'hi\n' })
  return realpath(dir.path)
}

describe.each<TransportKind>(['stdio', 'ws'])('user shell commands over %s', (transport) => {
  it('runs the command in a turn of its own and the next model request sees its output', async () => {
    const cwd = await folder()
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd })
    const before = methodsFor(client, thread.id).length
    const notes = await shell(client, thread.id, 'echo from-the-user; ls')

    const ignored = ['thread/started', 'thread/status/changed']
    const methods = methodsFor(client, thread.id)
      .slice(before)
      .filter((m) => !ignored.includes(m))
    expect(methods[0]).toBe('turn/started')
    expect(methods[1]).toBe('item/started')
    expect(methods.filter((m) => m === 'item/commandExecution/outputDelta').length).toBeGreaterThan(0)
    expect(methods.slice(-2)).toEqual(['item/completed', 'turn/completed'])
    const started = notes.find((m) => m.method === 'turn/started')?.params as { turn: { id: string } }
    const completedTurn = notes.find((m) => m.method === 'turn/completed')?.params as {
      turn: { id: string; status: string }
    }
    expect(completedTurn.turn).toMatchObject({ id: started.turn.id, status: 'completed' })

    const item = completedItem(notes)
    expect(item).toMatchObject({
      type: 'commandExecution',
      source: 'userShell',
      status: 'completed',
      exitCode: 0,
      cwd,
      aggregatedOutput: 'from-the-user\nhello.txt\n',
    })
    expect(item.command).toMatch(/ -lc 'echo from-the-user; ls'$/)
    expect(item.commandActions).toEqual([{ type: 'listFiles', command: 'ls', path: null }])
    const streamed = notes
      .filter((m) => m.method === 'item/commandExecution/outputDelta')
      .map((m) => m.params as { delta: string; itemId: string; turnId: string })
    expect(streamed.every((d) => d.itemId === item.id && d.turnId === started.turn.id)).toBe(true)
    expect(streamed.map((d) => d.delta).join('')).toBe('from-the-user\nhello.txt\n')

    h.model.enqueue(text('you listed hello.txt'))
    await runTurn(client, thread.id, 'what did I run?')
    const [request] = await h.model.waitForRequests(1)
    const user = userTexts(request as RecordedRequest)
    const record = user.find((t) => t.startsWith('<user_shell_command>')) ?? ''
    expect(record).toContain('<command>\necho from-the-user; ls\n</command>')
    expect(record).toContain('Exit code: 0')
    expect(record).toContain('from-the-user\nhello.txt')
    // Before the user's question, as codex orders it.
    expect(user.indexOf(record)).toBeLessThan(user.indexOf('what did I run?'))
  })

  it('shows a failing command as a failed item and the model sees its exit code', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd: await folder() })
    const notes = await shell(client, thread.id, 'echo broken >&2; exit 3')
    const item = completedItem(notes)
    expect(item).toMatchObject({
      source: 'userShell',
      status: 'failed',
      exitCode: 3,
      aggregatedOutput: 'broken\n',
    })
    const completedTurn = notes.find((m) => m.method === 'turn/completed')?.params as {
      turn: { status: string }
    }
    expect(completedTurn.turn.status).toBe('completed')

    h.model.enqueue(text('it failed'))
    await runTurn(client, thread.id, 'why?')
    const [request] = await h.model.waitForRequests(1)
    const record =
      userTexts(request as RecordedRequest).find((t) => t.startsWith('<user_shell_command>')) ?? ''
    expect(record).toContain('Exit code: 3')
    expect(record).toContain('broken')
  })
})

describe('user shell commands', () => {
  it('runs outside the sandbox, as codex does: a read-only thread can still write its folder', async () => {
    const cwd = await folder()
    const h = await harness('stdio')
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd, sandbox: 'read-only' })
    const notes = await shell(client, thread.id, 'echo made > made.txt && cat made.txt')
    expect(completedItem(notes)).toMatchObject({ status: 'completed', aggregatedOutput: 'made\n' })
  })

  it('times out after timeoutMs and refuses an empty command', async () => {
    const h = await harness('stdio')
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd: await folder() })
    // Long enough for the login shell's profile to finish: killing it halfway can leave its locks behind.
    const notes = await shell(client, thread.id, 'sleep 60', { timeoutMs: 8000 })
    expect(completedItem(notes)).toMatchObject({ status: 'failed', exitCode: 124 })
    await expect(
      client.request('thread/shellCommand', { threadId: thread.id, command: '  ' }),
    ).rejects.toThrow(/command must not be empty/)
  })

  it('runs a command sent during a turn inside that turn, as codex does', async () => {
    const h = await harness('stdio')
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd: await folder() })
    h.model.enqueue([text('partial'), stall(), text(' end')], text('next'))
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'hi' }],
    })
    await h.model.waitForStall(1)
    const from = client.received.length
    expect(
      await client.request('thread/shellCommand', { threadId: thread.id, command: 'echo beside' }),
    ).toEqual({})
    const done = await client.waitForNotification(
      'item/completed',
      (p) => (p as { item: { type: string } }).item.type === 'commandExecution',
    )
    expect(done.params).toMatchObject({
      turnId: turn.id,
      item: { source: 'userShell', status: 'completed', aggregatedOutput: 'beside\n' },
    })
    h.model.release()
    await client.waitForNotification(
      'turn/completed',
      (p) => (p as { turn: { id: string } }).turn.id === turn.id,
    )
    expect(client.received.slice(from).filter((m) => m.method === 'turn/started')).toEqual([])

    await runTurn(client, thread.id, 'and now?')
    const second = (await h.model.waitForRequests(2))[1] as RecordedRequest
    expect(userTexts(second).some((t) => t.includes('<command>\necho beside\n</command>'))).toBe(true)
  })

  it('stops the command when its turn is interrupted', async () => {
    const h = await harness('stdio')
    const client = await h.connect()
    const { thread } = await startThread(client, { cwd: await folder() })
    await client.request('thread/shellCommand', { threadId: thread.id, command: 'echo started; sleep 60' })
    const started = await client.waitForNotification('turn/started')
    const turnId = (started.params as { turn: { id: string } }).turn.id
    // Once the command prints, the login shell's profile is done; stopping it then leaves nothing behind.
    await client.waitForNotification('item/commandExecution/outputDelta')
    await client.request('turn/interrupt', { threadId: thread.id, turnId })
    const completed = await client.waitForNotification('turn/completed')
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('interrupted')
    const item = (await client.request('thread/read', { threadId: thread.id, includeTurns: true })).thread
      .turns[0]?.items[0] as Item | undefined
    expect(item).toMatchObject({ source: 'userShell', status: 'failed', aggregatedOutput: 'started\n' })
  })

  it('keeps the item across a restart', async () => {
    const cwd = await folder()
    const { first, restart } = await restartable('stdio')
    const client = await first.connect()
    const { thread } = await startThread(client, { cwd })
    const notes = await shell(client, thread.id, `cat ${join(cwd, 'hello.txt')}`)
    const item = completedItem(notes)
    const second = await restart()
    const again = await second.connect()
    const resumed = await again.request('thread/resume', { threadId: thread.id })
    expectCodexShape('ThreadResumeResponse', resumed)
    expect(resumed.thread.turns.at(-1)?.items).toEqual([
      expect.objectContaining({ id: item.id, aggregatedOutput: 'hi\n' }),
    ])
  })
})
