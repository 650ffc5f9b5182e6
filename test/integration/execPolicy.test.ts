/**
 * "Yes, and don't ask again for commands that start with ..." end to end: a real core over stdio and
 * websocket, the scripted model asking for `shell_command`, a client answering as the Codex TUI
 * does, the rule kept in `$CODEX_DESK_HOME/rules/default.rules`, and `codex-desk rules`.
 */
import { existsSync } from 'node:fs'
import { appendFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigService } from '../../src/worker/config/service'
import { silentLogs } from '../../src/worker/util/log'
import { makeTempDir, runCli } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import { inProcessServer, memoryClient } from '../support/inProcess'
import {
  functionCall,
  functionOutput,
  startModelServer,
  text,
  type ModelServer,
  type Script,
} from '../support/modelServer'
import {
  modelConfig,
  startHarness,
  startThread,
  type Harness,
  type TransportKind,
} from '../support/threadHarness'
import type { ServerMessage, TestClient } from '../support/testClient'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function harness(transport: TransportKind, home?: string): Promise<Harness> {
  const h = await startHarness(transport, home ? { home } : {})
  let disposed: Promise<void> | undefined
  const dispose = h.dispose.bind(h)
  h.dispose = () => (disposed ??= dispose())
  cleanups.push(() => h.dispose())
  return h
}

const APPROVAL = 'item/commandExecution/requestApproval'
const RULE_LINE = 'prefix_rule(pattern=["touch", "made.txt"], decision="allow")\n'

function shell(command: string, callId: string): Script {
  return functionCall({ name: 'shell_command', arguments: { command }, callId })
}

async function project(home: string): Promise<string> {
  const cwd = join(home, 'project')
  await mkdir(cwd, { recursive: true })
  return cwd
}

/** Starts a turn on a new untrusted thread and returns its id. */
async function turnInNewThread(
  client: TestClient,
  cwd: string,
): Promise<{ threadId: string; turnId: string }> {
  const { thread } = await startThread(client, {
    cwd,
    approvalPolicy: 'untrusted',
    sandbox: 'workspace-write',
  })
  const { turn } = await client.request('turn/start', {
    threadId: thread.id,
    input: [{ type: 'text', text: 'go' }],
  })
  return { threadId: thread.id, turnId: turn.id }
}

function turnCompleted(client: TestClient, turnId: string): Promise<ServerMessage> {
  return client.waitForNotification(
    'turn/completed',
    (p) => (p as { turn: { id: string } }).turn.id === turnId,
  )
}

function approvalsFor(client: TestClient, itemId: string): ServerMessage[] {
  return client.received.filter(
    (m) => m.method === APPROVAL && m.id !== undefined && (m.params as { itemId: string }).itemId === itemId,
  )
}

/** Waits for the approval of one item (other approvals may come first). */
async function approvalFor(client: TestClient, itemId: string): Promise<ServerMessage> {
  for (;;) {
    const request = await client.waitForServerRequest(APPROVAL)
    if ((request.params as { itemId: string }).itemId === itemId) return request
  }
}

/** The first turn: the model runs `touch made.txt`, the user keeps the proposed rule. */
async function approveWithRule(
  h: { model: ModelServer },
  client: TestClient,
  cwd: string,
): Promise<ServerMessage> {
  h.model.enqueue(shell('touch made.txt', 'call_first'), text('made it'))
  const { turnId } = await turnInNewThread(client, cwd)
  const request = await client.waitForServerRequest(APPROVAL)
  const params = request.params as { proposedExecpolicyAmendment: string[] }
  client.send({
    id: request.id,
    result: {
      decision: {
        acceptWithExecpolicyAmendment: { execpolicy_amendment: params.proposedExecpolicyAmendment },
      },
    },
  })
  const completed = await turnCompleted(client, turnId)
  expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
  expect(existsSync(join(cwd, 'made.txt'))).toBe(true)
  return request
}

describe.each<TransportKind>(['stdio', 'ws'])('prefix rules over %s', (transport) => {
  it('offers to keep the prefix codex proposes, keeps it, and a new thread runs a matching command without asking', async () => {
    const h = await harness(transport)
    const client = await h.connect('codex-tui', { experimentalApi: true })
    const cwd = await project(h.proc.home)
    const request = await approveWithRule(h, client, cwd)

    expectCodexShape('ServerRequest', { id: request.id, method: request.method, params: request.params })
    expect(request.params).toMatchObject({
      kind: 'command',
      itemId: 'call_first',
      environmentId: 'local',
      command: 'touch made.txt',
      cwd,
      commandActions: [{ type: 'unknown', command: 'touch made.txt' }],
      proposedExecpolicyAmendment: ['touch', 'made.txt'],
      availableDecisions: [
        'accept',
        { acceptWithExecpolicyAmendment: { execpolicy_amendment: ['touch', 'made.txt'] } },
        'cancel',
      ],
    })
    expect(request.params).not.toHaveProperty('approvalId')
    expect(functionOutput(h.model.requests, 'call_first')).toMatch(/^Exit code: 0/)

    const rules = join(h.proc.home, 'rules', 'default.rules')
    expect(await readFile(rules, 'utf8')).toBe(RULE_LINE)
    expect((await stat(rules)).mode & 0o777).toBe(0o600)

    // A new thread: the covered command runs at once; one the rule does not cover still asks.
    h.model.enqueue(
      shell('touch made.txt second.txt', 'call_covered'),
      shell('touch made.txt && touch other.txt', 'call_uncovered'),
      text('all done'),
    )
    const { turnId } = await turnInNewThread(client, cwd)
    const asked = await approvalFor(client, 'call_uncovered')
    expect(asked.params).toMatchObject({ proposedExecpolicyAmendment: ['touch', 'other.txt'] })
    expect(existsSync(join(cwd, 'second.txt'))).toBe(true)
    expect(approvalsFor(client, 'call_covered')).toHaveLength(0)
    client.send({ id: asked.id, result: { decision: 'decline' } })
    await turnCompleted(client, turnId)
    expect(existsSync(join(cwd, 'other.txt'))).toBe(false)
    expect(functionOutput(h.model.requests, 'call_covered')).toMatch(/^Exit code: 0/)
    expect(functionOutput(h.model.requests, 'call_uncovered')).toBe('exec command rejected by user')
  })

  it('sends a client without the experimental API the request without availableDecisions, and a decline runs nothing', async () => {
    const h = await harness(transport)
    const client = await h.connect('plain_client')
    const cwd = await project(h.proc.home)
    h.model.enqueue(shell('touch made.txt', 'call_plain'), text('fine'))
    const { turnId } = await turnInNewThread(client, cwd)
    const request = await client.waitForServerRequest(APPROVAL)
    expectCodexShape('ServerRequest', { id: request.id, method: request.method, params: request.params })
    expect(request.params).toMatchObject({
      environmentId: 'local',
      proposedExecpolicyAmendment: ['touch', 'made.txt'],
    })
    expect(request.params).not.toHaveProperty('availableDecisions')
    client.send({ id: request.id, result: { decision: 'decline' } })
    await turnCompleted(client, turnId)
    expect(existsSync(join(cwd, 'made.txt'))).toBe(false)
    expect(existsSync(join(h.proc.home, 'rules', 'default.rules'))).toBe(false)
    expect(functionOutput(h.model.requests, 'call_plain')).toBe('exec command rejected by user')
  })
})

describe('prefix rules across processes', () => {
  it('keeps a rule across a core restart; codex-desk rules lists it, reports a bad line, and removes it', async () => {
    const home = await makeTempDir()
    cleanups.push(() => home.remove())
    const cwd = await project(home.path)
    const first = await harness('stdio', home.path)
    await approveWithRule(first, await first.connect('codex-tui', { experimentalApi: true }), cwd)
    await first.dispose()

    const second = await harness('stdio', home.path)
    const client = await second.connect('codex-tui', { experimentalApi: true })
    second.model.enqueue(shell('touch made.txt after-restart.txt', 'call_restarted'), text('ok'))
    const restarted = await turnInNewThread(client, cwd)
    await turnCompleted(client, restarted.turnId)
    expect(approvalsFor(client, 'call_restarted')).toHaveLength(0)
    expect(existsSync(join(cwd, 'after-restart.txt'))).toBe(true)

    const env = { CODEX_DESK_HOME: home.path }
    await appendFile(join(home.path, 'rules', 'default.rules'), 'prefix_rule(pattern=["oops"\n')
    const listed = await runCli(['rules', 'list'], env)
    expect(listed.code).toBe(0)
    expect(listed.stdout).toMatch(/^\s+1\. allow\s+touch made\.txt\s+default\.rules:1$/m)
    expect(listed.stderr).toMatch(/default\.rules:2: .*\(skipped\)/)

    const removed = await runCli(['rules', 'remove', 'touch', 'made.txt'], env)
    expect(removed.code).toBe(0)
    expect(removed.stdout).toMatch(/Removed allow\s+touch made\.txt/)
    expect((await runCli(['rules', 'remove', '7'], env)).code).toBe(1)
    expect((await runCli(['rules', 'list'], env)).stdout).toMatch(/No rules in /)

    // The running core sees the removal on its next command: it asks again.
    second.model.enqueue(shell('touch made.txt', 'call_after_removal'), text('asked'))
    const again = await turnInNewThread(client, cwd)
    const request = await approvalFor(client, 'call_after_removal')
    client.send({ id: request.id, result: { decision: 'accept' } })
    await turnCompleted(client, again.turnId)
  })
})

describe('prefix rules in an in-process core', () => {
  it('keeps rules under the home the core was built with, not the one CODEX_DESK_HOME names', async () => {
    const model = await startModelServer()
    cleanups.push(() => model.close())
    const home = await makeTempDir()
    cleanups.push(() => home.remove())
    const elsewhere = await makeTempDir()
    cleanups.push(() => elsewhere.remove())
    await writeFile(join(home.path, 'config.toml'), modelConfig(model.url))
    const config = await ConfigService.create({
      home: home.path,
      log: silentLogs.get('config'),
      watch: false,
    })
    const server = inProcessServer({
      codexHome: home.path,
      config,
      env: { ...process.env, CODEX_DESK_HOME: elsewhere.path },
    })
    cleanups.push(() => server.close())
    const { client } = memoryClient(server)
    await client.initialize('codex-tui', { experimentalApi: true })
    const cwd = await project(home.path)

    await approveWithRule({ model }, client, cwd)
    expect(await readFile(join(home.path, 'rules', 'default.rules'), 'utf8')).toBe(RULE_LINE)
    expect(existsSync(join(elsewhere.path, 'rules'))).toBe(false)

    // The core reads its own home's rules too: a covered command runs without asking.
    model.enqueue(shell('touch made.txt again.txt', 'call_own_home'), text('ok'))
    const { turnId } = await turnInNewThread(client, cwd)
    await turnCompleted(client, turnId)
    expect(approvalsFor(client, 'call_own_home')).toHaveLength(0)
    expect(existsSync(join(cwd, 'again.txt'))).toBe(true)
  })
})
