/**
 * thread/settings/update against the real core: the next turn's model request uses the new
 * settings, thread/settings/updated is codex-shaped and goes to the thread's subscribers, an update
 * that changes nothing is not announced, the change survives a restart, and bad input gets codex's
 * -32600 messages. The TUI's own /model calls are replayed as it sent them.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { makeTempDir, REPO_ROOT } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import { text, usage } from '../support/modelServer'
import type { ServerMessage, TestClient } from '../support/testClient'
import {
  runTurn,
  startHarness,
  startThread,
  type Harness,
  type TransportKind,
} from '../support/threadHarness'

const TUI = JSON.parse(
  readFileSync(join(REPO_ROOT, 'test/support/fixtures/codexTuiParams.json'), 'utf8'),
) as Record<string, Record<string, unknown>>

const harnesses: Harness[] = []
const homes: { remove(): Promise<void> }[] = []
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.dispose()
  for (const home of homes.splice(0)) await home.remove()
})

async function harness(transport: TransportKind, options = {}): Promise<Harness> {
  const h = await startHarness(transport, options)
  harnesses.push(h)
  return h
}

const EXPERIMENTAL = { experimentalApi: true }

interface Settings {
  model: string
  effort: string | null
  approvalPolicy: unknown
  sandboxPolicy: unknown
  serviceTier: string | null
  cwd: string
  collaborationMode: { mode: string; settings: { model: string; reasoning_effort: string | null } }
}

function settingsOf(message: ServerMessage): Settings {
  const params = message.params as { threadId: string; threadSettings: Settings }
  expectCodexShape('ThreadSettingsUpdatedNotification', params)
  return params.threadSettings
}

const updatesFor = (client: TestClient, threadId: string) =>
  client.received.filter(
    (m) => m.method === 'thread/settings/updated' && (m.params as { threadId: string }).threadId === threadId,
  )

/** The model and reasoning effort of the model server's last request. */
function lastModelRequest(h: Harness): { model: unknown; effort: unknown } {
  const body = h.model.requests.at(-1)?.body as { model?: unknown; reasoning?: { effort?: unknown } }
  return { model: body.model, effort: body.reasoning?.effort }
}

async function errorOf(
  client: TestClient,
  method: string,
  params: unknown,
): Promise<{ code: number; message: string }> {
  const response = await client.call(method, params)
  expect(response.error, `${method} should fail`).toBeDefined()
  return response.error as { code: number; message: string }
}

describe.each<TransportKind>(['stdio', 'ws'])('thread/settings/update over %s', (transport) => {
  it('changes the model and reasoning effort of every later turn, and says so to the subscriber', async () => {
    const h = await harness(transport)
    const client = await h.connect('test_client', EXPERIMENTAL)
    const { thread } = await startThread(client, { cwd: h.proc.home })
    h.model.enqueue([text('First answer.'), usage({ input: 5, output: 2 })])
    await runTurn(client, thread.id, 'first')
    expect(lastModelRequest(h).model).toBe('test-model')

    const result = await client.request('thread/settings/update', {
      threadId: thread.id,
      model: 'gpt-next',
      effort: 'high',
    })
    expect(result).toEqual({})
    expectCodexShape('ThreadSettingsUpdateResponse', result)
    const update = settingsOf(
      await client.waitForNotification(
        'thread/settings/updated',
        (p) => (p as { threadId: string }).threadId === thread.id,
      ),
    )
    expect(update).toMatchObject({
      model: 'gpt-next',
      effort: 'high',
      modelProvider: 'mock',
      cwd: h.proc.home,
      collaborationMode: { mode: 'default', settings: { model: 'gpt-next', reasoning_effort: 'high' } },
    })

    h.model.enqueue([text('Second answer.'), usage({ input: 5, output: 2 })])
    await runTurn(client, thread.id, 'second')
    expect(lastModelRequest(h)).toEqual({ model: 'gpt-next', effort: 'high' })
    h.model.enqueue([text('Third answer.'), usage({ input: 5, output: 2 })])
    await runTurn(client, thread.id, 'third')
    expect(lastModelRequest(h)).toEqual({ model: 'gpt-next', effort: 'high' })

    const read = await client.request('thread/read', { threadId: thread.id })
    expect(read.thread).toMatchObject({ model: 'gpt-next', reasoningEffort: 'high' })
  })

  it('does not announce an update that changes nothing', async () => {
    const h = await harness(transport)
    const client = await h.connect('test_client', EXPERIMENTAL)
    const { thread } = await startThread(client)
    await client.request('thread/settings/update', { threadId: thread.id, effort: 'low' })
    await client.request('thread/settings/update', { threadId: thread.id, effort: 'low' })
    await client.request('thread/settings/update', { threadId: thread.id })
    await client.request('thread/settings/update', {
      threadId: thread.id,
      approvalPolicy: 'never',
      summary: 'concise',
    })
    const last = settingsOf(
      await client.waitForNotification('thread/settings/updated', (p) => {
        return (p as { threadSettings: Settings }).threadSettings.approvalPolicy === 'never'
      }),
    )
    expect(last).toMatchObject({ effort: 'low', approvalPolicy: 'never' })
    expect(
      updatesFor(client, thread.id).map(
        (m) => (m.params as { threadSettings: Settings }).threadSettings.approvalPolicy,
      ),
    ).toEqual([expect.anything(), 'never'])
  })

  it('applies the TUI /model calls: the collaboration mode picks the model and effort', async () => {
    const h = await harness(transport)
    const client = await h.connect('codex-tui', EXPERIMENTAL)
    const { thread } = await startThread(client)
    const withThread = (params: Record<string, unknown>) => ({ ...params, threadId: thread.id })
    await client.request('thread/settings/update', withThread(TUI.settingsUpdateModel as never) as never)
    const first = settingsOf(await client.waitForNotification('thread/settings/updated'))
    expect(first).toMatchObject({ model: 'gpt-6-astra', effort: null })
    await client.request('thread/settings/update', withThread(TUI.settingsUpdateEffort as never) as never)
    const second = settingsOf(await client.waitForNotification('thread/settings/updated'))
    expect(second).toMatchObject({
      model: 'gpt-6-astra',
      effort: 'low',
      collaborationMode: { mode: 'default', settings: { model: 'gpt-6-astra', reasoning_effort: 'low' } },
    })
    h.model.enqueue([text('Answer.'), usage({ input: 5, output: 2 })])
    await runTurn(client, thread.id, 'after /model')
    expect(lastModelRequest(h)).toEqual({ model: 'gpt-6-astra', effort: 'low' })
  })

  it('announces a change made by turn/start overrides before the turn/start response', async () => {
    const h = await harness(transport)
    const client = await h.connect('test_client', EXPERIMENTAL)
    const { thread } = await startThread(client)
    h.model.enqueue([text('Answer.'), usage({ input: 5, output: 2 })])
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'hi' }],
      model: 'turn-model',
      sandboxPolicy: { type: 'workspaceWrite' },
    })
    await client.waitForNotification(
      'turn/completed',
      (p) => (p as { turn: { id: string } }).turn.id === turn.id,
    )
    const updateAt = client.received.findIndex((m) => m.method === 'thread/settings/updated')
    const responseAt = client.received.findIndex(
      (m) => m.result !== undefined && (m.result as { turn?: unknown }).turn,
    )
    expect(updateAt).toBeGreaterThan(-1)
    expect(updateAt).toBeLessThan(responseAt)
    expect(settingsOf(client.received[updateAt] as ServerMessage)).toMatchObject({
      model: 'turn-model',
      sandboxPolicy: {
        type: 'workspaceWrite',
        writableRoots: [],
        networkAccess: false,
        excludeTmpdirEnvVar: false,
        excludeSlashTmp: false,
      },
    })
    expect(lastModelRequest(h).model).toBe('turn-model')
  })

  it('answers bad input with codex messages and changes nothing', async () => {
    const h = await harness(transport)
    const client = await h.connect('test_client', EXPERIMENTAL)
    const { thread } = await startThread(client)
    const bad: [unknown, RegExp][] = [
      [
        { threadId: '01a243a4-2624-7812-a5cf-f86fc033cedd', model: 'x' },
        /^thread not found: 01a243a4-2624-7812-a5cf-f86fc033cedd$/,
      ],
      [
        { threadId: 'zz', model: 'x' },
        /^invalid thread id: invalid character: expected an optional prefix of `urn:uuid:` followed by \[0-9a-fA-F-\], found `z` at 1$/,
      ],
      [
        { threadId: 'abc' },
        /^invalid thread id: invalid length: expected length 32 for simple format, found 3$/,
      ],
      [{ threadId: thread.id, effort: '' }, /^Invalid request: reasoning_effort must not be empty$/],
      [{ threadId: thread.id, approvalPolicy: 'on-failure' }, /unknown variant `on-failure`/],
      [{ threadId: thread.id, summary: 'verbose' }, /unknown variant `verbose`/],
      [{ threadId: thread.id, sandboxPolicy: { type: 'nope' } }, /sandboxPolicy/],
      [
        { threadId: thread.id, sandboxPolicy: { type: 'readOnly' }, permissions: ':read-only' },
        /^`permissions` cannot be combined with `sandboxPolicy`$/,
      ],
      [{ model: 'x' }, /missing field `threadId`/],
    ]
    for (const [params, message] of bad) {
      const error = await errorOf(client, 'thread/settings/update', params)
      expect(error.code).toBe(-32600)
      expect(error.message).toMatch(message)
    }
    const read = await client.request('thread/read', { threadId: thread.id })
    expect(read.thread.model).toBe('test-model')
    expect(updatesFor(client, thread.id)).toEqual([])
  })

  it('is refused without the experimental API, as codex refuses it', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    const error = await errorOf(client, 'thread/settings/update', { threadId: thread.id, model: 'x' })
    expect(error).toEqual({
      code: -32600,
      message: 'thread/settings/update requires experimentalApi capability',
    })
  })
})

describe('thread/settings/updated receivers', () => {
  it('reaches every subscriber of the thread and no other connection', async () => {
    const h = await harness('ws')
    const owner = await h.connect('owner', EXPERIMENTAL)
    const joiner = await h.connect('joiner', EXPERIMENTAL)
    const stranger = await h.connect('stranger', EXPERIMENTAL)
    const { thread } = await startThread(owner)
    await joiner.request('thread/resume', { threadId: thread.id, excludeTurns: true })
    await owner.request('thread/settings/update', { threadId: thread.id, model: 'shared-model' })
    for (const client of [owner, joiner]) {
      expect(settingsOf(await client.waitForNotification('thread/settings/updated')).model).toBe(
        'shared-model',
      )
    }
    // A later broadcast to everyone shows the stranger is caught up, and it never heard the update.
    await owner.request('thread/name/set', { threadId: thread.id, name: 'Renamed' })
    await stranger.waitForNotification('thread/name/updated')
    expect(updatesFor(stranger, thread.id)).toEqual([])
  })
})

describe('thread settings across a restart', () => {
  it('keeps the updated model and effort: resume reports them and the next turn uses them', async () => {
    const home = await makeTempDir()
    homes.push(home)
    const first = await harness('stdio', { home: home.path })
    const client = await first.connect('test_client', EXPERIMENTAL)
    const { thread } = await startThread(client)
    await client.request('thread/settings/update', {
      threadId: thread.id,
      model: 'kept-model',
      effort: 'medium',
      serviceTier: 'flex',
    })
    await client.waitForNotification('thread/settings/updated')
    await first.dispose()
    harnesses.splice(harnesses.indexOf(first), 1)

    const second = await harness('stdio', { home: home.path })
    const again = await second.connect('test_client', EXPERIMENTAL)
    const resumed = await again.request('thread/resume', { threadId: thread.id, excludeTurns: true })
    expectCodexShape('ThreadResumeResponse', resumed)
    expect(resumed).toMatchObject({ model: 'kept-model', reasoningEffort: 'medium', serviceTier: 'flex' })
    expect(resumed.thread).toMatchObject({ model: 'kept-model', reasoningEffort: 'medium' })
    second.model.enqueue([text('Still here.'), usage({ input: 5, output: 2 })])
    await runTurn(again, thread.id, 'after restart')
    expect(lastModelRequest(second)).toEqual({ model: 'kept-model', effort: 'medium' })
  })
})
