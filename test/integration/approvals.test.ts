/**
 * Approvals end to end: a real core, real shell commands and files, the scripted model asking for
 * `shell_command` and `apply_patch`, and clients answering the approval requests.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { expectCodexShape } from '../support/codexSchema'
import { functionCall, functionOutput, text, type Script } from '../support/modelServer'
import { sandboxMissing } from '../support/sandbox'
import { startHarness, startThread, type Harness, type TransportKind } from '../support/threadHarness'
import type { ServerMessage, TestClient } from '../support/testClient'

/** Why tests that prove the sandbox stops something cannot run here (bubblewrap missing or unusable). */
const noSandbox = await sandboxMissing()

const harnesses: Harness[] = []
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.dispose()
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

async function harness(transport: TransportKind, options: Parameters<typeof startHarness>[1] = {}) {
  const h = await startHarness(transport, options)
  harnesses.push(h)
  return h
}

/** A harness, one client, a project directory in its home, and a thread there with these policies. */
async function setup(
  transport: TransportKind,
  approvalPolicy: 'untrusted' | 'on-request' | 'never',
  sandbox: 'read-only' | 'workspace-write',
) {
  const h = await harness(transport)
  const client = await h.connect()
  const cwd = await project(h)
  const { thread } = await startThread(client, { cwd, approvalPolicy, sandbox })
  return { h, client, cwd, thread }
}

/** The `item/completed` of one item. */
async function completedItem(client: TestClient, itemId: string): Promise<Record<string, unknown>> {
  const done = await client.waitForNotification(
    'item/completed',
    (p) => (p as { item: { id: string } }).item.id === itemId,
  )
  return (done.params as { item: Record<string, unknown> }).item
}

/** A project directory inside the harness home. */
async function project(h: Harness): Promise<string> {
  const cwd = join(h.proc.home, 'project')
  await mkdir(cwd, { recursive: true })
  return cwd
}

function shell(command: string, callId: string, extra: Record<string, unknown> = {}): Script {
  return functionCall({ name: 'shell_command', arguments: { command, ...extra }, callId })
}

function patch(body: string, callId: string): Script {
  return functionCall({ name: 'apply_patch', arguments: { input: body }, callId })
}

function answer(client: TestClient, request: ServerMessage, result: unknown): void {
  client.send({ id: request.id, result })
}

async function startTurn(client: TestClient, threadId: string, prompt = 'go'): Promise<string> {
  const { turn } = await client.request('turn/start', { threadId, input: [{ type: 'text', text: prompt }] })
  return turn.id
}

function completedTurn(client: TestClient, turnId: string): Promise<ServerMessage> {
  return client.waitForNotification(
    'turn/completed',
    (p) => (p as { turn: { id: string } }).turn.id === turnId,
  )
}

const statusOf = (m: ServerMessage) =>
  (m.params as { status: { type: string; activeFlags?: string[] } }).status

describe.each<TransportKind>(['stdio', 'ws'])('command approval over %s', (transport) => {
  it('asks before an untrusted command, runs it on accept, and reports in codex order', async () => {
    const { h, client, cwd, thread } = await setup(transport, 'untrusted', 'workspace-write')
    h.model.enqueue(shell('touch made.txt && echo made', 'call_touch'), text('done'))
    const turnId = await startTurn(client, thread.id)
    const request = await client.waitForServerRequest('item/commandExecution/requestApproval')
    expect(request.params).toMatchObject({
      threadId: thread.id,
      turnId,
      itemId: 'call_touch',
      kind: 'command',
      command: 'touch made.txt && echo made',
      cwd,
      environmentId: 'local',
      // codex's proposal: the first part that needs asking (echo is known safe).
      proposedExecpolicyAmendment: ['touch', 'made.txt'],
    })
    expectCodexShape('ServerRequest', { id: request.id, method: request.method, params: request.params })
    expect(existsSync(join(cwd, 'made.txt'))).toBe(false)
    answer(client, request, { decision: 'accept' })
    const completed = await completedTurn(client, turnId)
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    expect(existsSync(join(cwd, 'made.txt'))).toBe(true)

    // codex's order around the request.
    const events = client.received.filter(
      (m) =>
        (m.method === 'thread/status/changed' && (m.params as { threadId: string }).threadId === thread.id) ||
        m.method === 'item/commandExecution/requestApproval' ||
        m.method === 'serverRequest/resolved' ||
        ((m.method === 'item/started' || m.method === 'item/completed') &&
          (m.params as { item: { type: string } }).item.type === 'commandExecution') ||
        m.method === 'item/commandExecution/outputDelta',
    )
    const labels = events.map((m) =>
      m.method === 'thread/status/changed'
        ? `status:${statusOf(m).type}${statusOf(m).activeFlags?.length ? `[${statusOf(m).activeFlags}]` : ''}`
        : (m.method as string),
    )
    const collapsed = labels.filter((label, i) => !(label.endsWith('outputDelta') && labels[i - 1] === label))
    expect(collapsed.slice(0, 8)).toEqual([
      'status:active',
      'status:active[waitingOnApproval]',
      'item/started',
      'item/commandExecution/requestApproval',
      'serverRequest/resolved',
      'status:active',
      'item/commandExecution/outputDelta',
      'item/completed',
    ])
    const resolved = events.find((m) => m.method === 'serverRequest/resolved')
    expect(resolved?.params).toEqual({ threadId: thread.id, requestId: request.id })
    const item = (
      events.find((m) => m.method === 'item/completed')?.params as { item: Record<string, unknown> }
    ).item
    expect(item).toMatchObject({
      type: 'commandExecution',
      id: 'call_touch',
      status: 'completed',
      exitCode: 0,
      aggregatedOutput: expect.stringMatching(/made\n$/),
      cwd,
    })
    expect(typeof item.durationMs).toBe('number')
    // What streamed is what the item holds.
    const streamed = events
      .filter((m) => m.method === 'item/commandExecution/outputDelta')
      .map((m) => (m.params as { delta: string }).delta)
      .join('')
    expect(streamed).toBe(item.aggregatedOutput)
    expect(functionOutput(h.model.requests, 'call_touch')).toMatch(
      /^Exit code: 0\nWall time: [\d.]+ seconds\nOutput:\n/,
    )
    expect(functionOutput(h.model.requests, 'call_touch')).toMatch(/made\n$/)
  })

  it('tells the model the user rejected a declined command, which never runs', async () => {
    const { h, client, cwd, thread } = await setup(transport, 'untrusted', 'workspace-write')
    h.model.enqueue(shell('touch nope.txt', 'call_nope'), text('ok, not doing it'))
    const turnId = await startTurn(client, thread.id)
    answer(client, await client.waitForServerRequest('item/commandExecution/requestApproval'), {
      decision: 'decline',
    })
    await completedTurn(client, turnId)
    expect(existsSync(join(cwd, 'nope.txt'))).toBe(false)
    expect((await completedItem(client, 'call_nope')).status).toBe('declined')
    expect(functionOutput(h.model.requests, 'call_nope')).toBe('exec command rejected by user')
  })
})

describe('approvals', () => {
  it('counts an answer that is not a valid decision as a decline, and the turn goes on', async () => {
    const { h, client, cwd, thread } = await setup('stdio', 'untrusted', 'workspace-write')
    h.model.enqueue(shell('touch maybe.txt', 'call_maybe'), text('understood'))
    const turnId = await startTurn(client, thread.id)
    answer(client, await client.waitForServerRequest('item/commandExecution/requestApproval'), {
      decision: 'maybe',
    })
    const completed = await completedTurn(client, turnId)
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    expect(existsSync(join(cwd, 'maybe.txt'))).toBe(false)
    expect((await completedItem(client, 'call_maybe')).status).toBe('declined')
    expect(functionOutput(h.model.requests, 'call_maybe')).toBe('exec command rejected by user')
  })

  it('remembers acceptForSession: the same command later runs without asking', async () => {
    const { h, client, thread } = await setup('stdio', 'untrusted', 'workspace-write')
    h.model.enqueue(
      shell('touch again.txt', 'call_a'),
      text('one'),
      shell('touch again.txt', 'call_b'),
      text('two'),
    )
    const first = await startTurn(client, thread.id)
    answer(client, await client.waitForServerRequest('item/commandExecution/requestApproval'), {
      decision: 'acceptForSession',
    })
    await completedTurn(client, first)
    const second = await startTurn(client, thread.id, 'again')
    await completedTurn(client, second)
    expect(client.received.filter((m) => m.method === 'item/commandExecution/requestApproval')).toHaveLength(
      1,
    )
    expect(functionOutput(h.model.requests, 'call_b')).toMatch(/^Exit code: 0/)
  })

  it('sends one request id to every subscriber; the first answer wins and both hear it resolved', async () => {
    const h = await harness('ws')
    const a = await h.connect('client_a')
    const b = await h.connect('client_b')
    const cwd = await project(h)
    h.model.enqueue(shell('touch shared.txt', 'call_shared'), text('done'))
    const { thread } = await startThread(a, { cwd, approvalPolicy: 'untrusted', sandbox: 'workspace-write' })
    await b.request('thread/resume', { threadId: thread.id })
    const turnId = await startTurn(a, thread.id)
    const toA = await a.waitForServerRequest('item/commandExecution/requestApproval')
    const toB = await b.waitForServerRequest('item/commandExecution/requestApproval')
    expect(toB.id).toBe(toA.id)
    expect(toB.params).toEqual(toA.params)
    answer(b, toB, { decision: 'accept' })
    const resolvedA = await a.waitForNotification('serverRequest/resolved')
    const resolvedB = await b.waitForNotification('serverRequest/resolved')
    expect(resolvedA.params).toEqual({ threadId: thread.id, requestId: toA.id })
    expect(resolvedB.params).toEqual(resolvedA.params)
    // The loser's late answer is ignored: it neither runs the command twice nor breaks the turn.
    answer(a, toA, { decision: 'decline' })
    await completedTurn(a, turnId)
    expect(existsSync(join(cwd, 'shared.txt'))).toBe(true)
    expect(functionOutput(h.model.requests, 'call_shared')).toMatch(/^Exit code: 0/)
  })

  it('keeps an approval pending when its only client leaves, and replays it to the client that resumes', async () => {
    const h = await harness('ws')
    const first = await h.connect('first')
    const cwd = await project(h)
    h.model.enqueue(shell('touch later.txt', 'call_later'), text('finished'))
    const { thread } = await startThread(first, {
      cwd,
      approvalPolicy: 'untrusted',
      sandbox: 'workspace-write',
    })
    const turnId = await startTurn(first, thread.id)
    const original = await first.waitForServerRequest('item/commandExecution/requestApproval')
    first.close()

    const second = await h.connect('second')
    const resumed = await second.request('thread/resume', { threadId: thread.id })
    expect(resumed.thread.status).toEqual({ type: 'active', activeFlags: ['waitingOnApproval'] })
    const replayed = await second.waitForServerRequest('item/commandExecution/requestApproval')
    expect(replayed.id).toBe(original.id)
    expect(replayed.params).toEqual(original.params)
    const responseAt = second.received.findIndex(
      (m) => m.result !== undefined && 'thread' in (m.result as object),
    )
    expect(second.received.indexOf(replayed)).toBeGreaterThan(responseAt)
    answer(second, replayed, { decision: 'accept' })
    const completed = await completedTurn(second, turnId)
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    expect(existsSync(join(cwd, 'later.txt'))).toBe(true)
  })

  it('cancels a pending approval when the turn is interrupted', async () => {
    const { h, client, cwd, thread } = await setup('stdio', 'untrusted', 'workspace-write')
    h.model.enqueue(shell('touch never.txt', 'call_int'))
    const turnId = await startTurn(client, thread.id)
    const request = await client.waitForServerRequest('item/commandExecution/requestApproval')
    await client.request('turn/interrupt', { threadId: thread.id, turnId })
    const resolved = await client.waitForNotification('serverRequest/resolved')
    expect(resolved.params).toEqual({ threadId: thread.id, requestId: request.id })
    const completed = await completedTurn(client, turnId)
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('interrupted')
    const read = await client.request('thread/read', { threadId: thread.id })
    expect(read.thread.status).toEqual({ type: 'idle' })
    // A late answer changes nothing.
    answer(client, request, { decision: 'accept' })
    await new Promise((r) => setTimeout(r, 200))
    expect(existsSync(join(cwd, 'never.txt'))).toBe(false)
  })

  it('ends the turn as interrupted when the user answers cancel', async () => {
    const { h, client, cwd, thread } = await setup('stdio', 'untrusted', 'workspace-write')
    h.model.enqueue(shell('touch cancelled.txt', 'call_cancel'))
    const turnId = await startTurn(client, thread.id)
    answer(client, await client.waitForServerRequest('item/commandExecution/requestApproval'), {
      decision: 'cancel',
    })
    const completed = await completedTurn(client, turnId)
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('interrupted')
    expect(existsSync(join(cwd, 'cancelled.txt'))).toBe(false)
    expect(h.model.requests).toHaveLength(1)
  })

  it('asks under on-request only when the model requests escalation, with its justification', async () => {
    const { h, client, thread } = await setup('stdio', 'on-request', 'workspace-write')
    h.model.enqueue(
      shell('echo inside', 'call_plain'),
      shell('echo outside', 'call_escalated', {
        sandbox_permissions: 'require_escalated',
        justification: 'needs the network',
      }),
      text('done'),
    )
    const turnId = await startTurn(client, thread.id)
    const request = await client.waitForServerRequest('item/commandExecution/requestApproval')
    expect(request.params).toMatchObject({ itemId: 'call_escalated', reason: 'needs the network' })
    answer(client, request, { decision: 'accept' })
    await completedTurn(client, turnId)
    expect(client.received.filter((m) => m.method === 'item/commandExecution/requestApproval')).toHaveLength(
      1,
    )
    expect(functionOutput(h.model.requests, 'call_plain')).toMatch(/^Exit code: 0[^]*\ninside\n$/)
    expect(functionOutput(h.model.requests, 'call_escalated')).toMatch(/^Exit code: 0[^]*\noutside\n$/)
  })

  it('never asks under never: writes the sandbox stops fail back to the model', async ({ skip }) => {
    skip(noSandbox !== null, noSandbox ?? '')
    const { h, client, cwd, thread } = await setup('stdio', 'never', 'read-only')
    // Outside /tmp, which the sandbox replaces with a private tmpfs.
    const outsideDir = await mkdtemp('/var/tmp/codex-desk-outside-')
    cleanups.push(() => rm(outsideDir, { recursive: true, force: true }))
    const outside = join(outsideDir, 'leak.txt')
    h.model.enqueue(
      shell(`echo leak > ${outside}`, 'call_outside'),
      shell('echo local > local.txt', 'call_local'),
      text('blocked'),
    )
    const turnId = await startTurn(client, thread.id)
    await completedTurn(client, turnId)
    expect(client.received.some((m) => m.method === 'item/commandExecution/requestApproval')).toBe(false)
    expect(existsSync(outside)).toBe(false)
    expect(existsSync(join(cwd, 'local.txt'))).toBe(false)
    expect(functionOutput(h.model.requests, 'call_outside')).toMatch(
      /^Exit code: [1-9][^]*Read-only file system/,
    )
    expect(functionOutput(h.model.requests, 'call_local')).toMatch(
      /^Exit code: [1-9][^]*Read-only file system/,
    )
  })

  it('under on-failure from config, offers to rerun outside the sandbox a command the sandbox stopped', async ({
    skip,
  }) => {
    skip(noSandbox !== null, noSandbox ?? '')
    const h = await harness('stdio', {
      config: 'approval_policy = "on-failure"\nsandbox_mode = "workspace-write"',
    })
    const client = await h.connect()
    const cwd = await project(h)
    const outsideDir = await mkdtemp('/var/tmp/codex-desk-outside-')
    cleanups.push(() => rm(outsideDir, { recursive: true, force: true }))
    const target = join(outsideDir, 'retried.txt')
    h.model.enqueue(shell(`echo retried > ${target}`, 'call_retry'), text('done'))
    const started = await startThread(client, { cwd })
    expect(started.approvalPolicy).toBe('on-request')
    const turnId = await startTurn(client, started.thread.id)
    const request = await client.waitForServerRequest('item/commandExecution/requestApproval')
    expect(request.params).toMatchObject({
      itemId: 'call_retry',
      reason: 'command failed; retry without sandbox?',
      // A rerun is its own one-shot approval, as in codex.
      approvalId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    })
    expectCodexShape('ServerRequest', { id: request.id, method: request.method, params: request.params })
    expect(existsSync(target)).toBe(false)
    answer(client, request, { decision: 'accept' })
    await completedTurn(client, turnId)
    expect(await readFile(target, 'utf8')).toBe('retried\n')
    expect(functionOutput(h.model.requests, 'call_retry')).toMatch(/^Exit code: 0/)
  })

  it('lets a workspace-write command write its workspace but nothing outside it, and cuts the network', async ({
    skip,
  }) => {
    skip(noSandbox !== null, noSandbox ?? '')
    const { h, client, cwd, thread } = await setup('stdio', 'never', 'workspace-write')
    const outsideDir = await mkdtemp('/var/tmp/codex-desk-outside-')
    cleanups.push(() => rm(outsideDir, { recursive: true, force: true }))
    const server = createServer((socket) => socket.end('hello\n'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const port = (server.address() as AddressInfo).port
    h.model.enqueue(
      shell('echo inside > inside.txt', 'call_inside'),
      shell(`echo leak > ${join(outsideDir, 'leak.txt')}`, 'call_outside'),
      shell(`exec 3<>/dev/tcp/127.0.0.1/${port} && echo connected`, 'call_net'),
      text('done'),
    )
    const turnId = await startTurn(client, thread.id)
    await completedTurn(client, turnId)
    expect(await readFile(join(cwd, 'inside.txt'), 'utf8')).toBe('inside\n')
    expect(existsSync(join(outsideDir, 'leak.txt'))).toBe(false)
    expect(functionOutput(h.model.requests, 'call_outside')).toMatch(/^Exit code: [1-9]/)
    const net = functionOutput(h.model.requests, 'call_net') as string
    expect(net).toMatch(/^Exit code: [1-9]/)
    expect(net).not.toContain('connected')
  })

  it('warns once when no sandbox is available and then asks before every command that could write', async () => {
    const h = await harness('stdio', { env: { CODEX_DESK_SANDBOX: 'none' } })
    const client = await h.connect()
    const cwd = await project(h)
    h.model.enqueue(shell('ls', 'call_ls'), shell('touch unsafe.txt', 'call_unsafe'), text('done'))
    const { thread } = await startThread(client, {
      cwd,
      approvalPolicy: 'on-request',
      sandbox: 'workspace-write',
    })
    // The tools, and the sandbox probe, load with the first turn.
    const turnId = await startTurn(client, thread.id)
    const warning = await client.waitForNotification('configWarning')
    expect((warning.params as { summary: string }).summary).toBe(
      'Commands cannot be sandboxed on this machine',
    )
    const request = await client.waitForServerRequest('item/commandExecution/requestApproval')
    expect(request.params).toMatchObject({ itemId: 'call_unsafe' })
    answer(client, request, { decision: 'accept' })
    await completedTurn(client, turnId)
    expect(existsSync(join(cwd, 'unsafe.txt'))).toBe(true)
    expect(client.received.filter((m) => m.method === 'configWarning')).toHaveLength(1)
  })
})

describe('file change approval', () => {
  const addFile = '*** Begin Patch\n*** Add File: notes.txt\n+first line\n*** End Patch'

  it('applies an accepted patch and publishes the turn diff after the item', async () => {
    const { h, client, cwd, thread } = await setup('stdio', 'untrusted', 'workspace-write')
    h.model.enqueue(patch(addFile, 'call_patch'), text('added'))
    const turnId = await startTurn(client, thread.id)
    const request = await client.waitForServerRequest('item/fileChange/requestApproval')
    expect(request.params).toMatchObject({ threadId: thread.id, turnId, itemId: 'call_patch' })
    // codex leaves out what it does not know: no reason for an untrusted patch, no root to grant.
    expect(Object.keys(request.params as object).sort()).toEqual([
      'itemId',
      'startedAtMs',
      'threadId',
      'turnId',
    ])
    expectCodexShape('ServerRequest', { id: request.id, method: request.method, params: request.params })
    expect(existsSync(join(cwd, 'notes.txt'))).toBe(false)
    answer(client, request, { decision: 'accept' })
    await completedTurn(client, turnId)
    expect(await readFile(join(cwd, 'notes.txt'), 'utf8')).toBe('first line\n')
    const methods = client.received
      .map((m) => m.method)
      .filter(
        (m) => m === 'item/completed' || m === 'turn/diff/updated' || m === 'item/fileChange/requestApproval',
      )
    expect(methods.slice(1, 4)).toEqual([
      'item/fileChange/requestApproval',
      'item/completed',
      'turn/diff/updated',
    ])
    const started = await client.waitForNotification(
      'item/started',
      (p) => (p as { item: { type: string } }).item.type === 'fileChange',
    )
    expect((started.params as { item: unknown }).item).toMatchObject({
      type: 'fileChange',
      status: 'inProgress',
      changes: [{ path: join(cwd, 'notes.txt'), kind: { type: 'add' } }],
    })
    const diff = await client.waitForNotification('turn/diff/updated')
    expect((diff.params as { diff: string }).diff).toContain('+first line')
    expect(functionOutput(h.model.requests, 'call_patch')).toMatch(
      /^Success\. Updated the following files:\nA /,
    )
  })

  it('leaves the files alone when the patch is declined', async () => {
    const { h, client, cwd, thread } = await setup('stdio', 'untrusted', 'workspace-write')
    h.model.enqueue(patch(addFile, 'call_declined'), text('fine'))
    const turnId = await startTurn(client, thread.id)
    answer(client, await client.waitForServerRequest('item/fileChange/requestApproval'), {
      decision: 'decline',
    })
    await completedTurn(client, turnId)
    expect(existsSync(join(cwd, 'notes.txt'))).toBe(false)
    expect((await completedItem(client, 'call_declined')).status).toBe('declined')
    expect(functionOutput(h.model.requests, 'call_declined')).toBe('patch rejected by user')
  })

  it('changes nothing when one hunk of a patch does not apply, and tells the model why', async () => {
    const { h, client, cwd, thread } = await setup('stdio', 'on-request', 'workspace-write')
    await writeFile(join(cwd, 'a.txt'), 'alpha\n')
    await writeFile(join(cwd, 'b.txt'), 'beta\n')
    const body = [
      '*** Begin Patch',
      '*** Update File: a.txt',
      '@@',
      '-alpha',
      '+ALPHA',
      '*** Update File: b.txt',
      '@@',
      '-not in the file',
      '+whatever',
      '*** End Patch',
    ].join('\n')
    h.model.enqueue(patch(body, 'call_bad'), text('I will look again'))
    const turnId = await startTurn(client, thread.id)
    await completedTurn(client, turnId)
    expect(await readFile(join(cwd, 'a.txt'), 'utf8')).toBe('alpha\n')
    expect(await readFile(join(cwd, 'b.txt'), 'utf8')).toBe('beta\n')
    expect(functionOutput(h.model.requests, 'call_bad')).toContain('Failed to find expected lines in')
    expect(client.received.some((m) => m.method === 'turn/diff/updated')).toBe(false)
  })

  it('applies a patch inside the workspace without asking under on-request', async () => {
    const { h, client, cwd, thread } = await setup('stdio', 'on-request', 'workspace-write')
    await writeFile(join(cwd, 'a.txt'), 'one\ntwo\n')
    const body = '*** Begin Patch\n*** Update File: a.txt\n@@\n one\n-two\n+TWO\n*** End Patch'
    h.model.enqueue(patch(body, 'call_quiet'), text('updated'))
    const turnId = await startTurn(client, thread.id)
    await completedTurn(client, turnId)
    expect(await readFile(join(cwd, 'a.txt'), 'utf8')).toBe('one\nTWO\n')
    expect(client.received.some((m) => m.method === 'item/fileChange/requestApproval')).toBe(false)
    const diff = await client.waitForNotification('turn/diff/updated')
    expect((diff.params as { diff: string }).diff).toMatch(/-two\n\+TWO/)
  })
})
