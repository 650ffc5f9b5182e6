/**
 * The params codex 0.169 takes are taken: the Codex TUI's exact thread/start (startup, with its
 * `codex_tui` dynamic tools namespace, and the ephemeral title-generation one), turn/start and
 * thread/resume calls succeed; experimental fields are gated as codex gates them (booleans only
 * when true); and values codex refuses are refused with its words.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { REPO_ROOT } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import { text, usage } from '../support/modelServer'
import type { TestClient } from '../support/testClient'
import { harnessesPerTest, startThread, type TransportKind } from '../support/threadHarness'

const TUI = JSON.parse(
  readFileSync(join(REPO_ROOT, 'test/support/fixtures/codexTuiParams.json'), 'utf8'),
) as Record<string, unknown>

/** A recorded call's params with this run's thread id and working directory. */
function tuiParams(name: string, threadId: string | null, cwd: string): never {
  const json = JSON.stringify(TUI[name]).replaceAll('$CWD', cwd)
  const params = JSON.parse(json) as Record<string, unknown>
  if (threadId) params.threadId = threadId
  return params as never
}

const { harness } = harnessesPerTest()

async function errorOf(client: TestClient, method: string, params: unknown): Promise<string> {
  const response = await client.call(method, params)
  expect(response.error, `${method} ${JSON.stringify(params).slice(0, 200)} should fail`).toBeDefined()
  expect(response.error?.code).toBe(-32600)
  return (response.error as { message: string }).message
}

async function turnDone(client: TestClient, turnId: string): Promise<void> {
  await client.waitForNotification(
    'turn/completed',
    (p) => (p as { turn: { id: string } }).turn.id === turnId,
    15_000,
  )
}

describe.each<TransportKind>(['stdio', 'ws'])('the Codex TUI params over %s', (transport) => {
  it('starts its startup thread (with the codex_tui tools), runs its turns and resumes it', async () => {
    const h = await harness(transport)
    const cwd = h.proc.home
    const client = await h.connect('codex-tui', { experimentalApi: true })
    const started = await client.request('thread/start', tuiParams('threadStartStartup', null, cwd))
    expectCodexShape('ThreadStartResponse', started)
    const threadId = started.thread.id
    expect(started.sandbox).toEqual({ type: 'readOnly', networkAccess: false })

    h.model.enqueue([text('Hello.'), usage({ input: 5, output: 2 })])
    const first = await client.request('turn/start', tuiParams('turnStartFirst', threadId, cwd))
    expectCodexShape('TurnStartResponse', first)
    await turnDone(client, first.turn.id)
    const firstRequest = h.model.requests.at(-1)?.body as { model: string; input: unknown }
    expect(firstRequest.model).toBe('gpt-5.1-codex')
    expect(JSON.stringify(firstRequest.input)).toContain('hello there')

    h.model.enqueue([text('Again.'), usage({ input: 5, output: 2 })])
    const second = await client.request('turn/start', tuiParams('turnStartAfterModel', threadId, cwd))
    await turnDone(client, second.turn.id)
    expect((h.model.requests.at(-1)?.body as { model: string }).model).toBe('gpt-6-astra')

    const resumed = await client.request('thread/resume', tuiParams('threadResume', threadId, cwd))
    expectCodexShape('ThreadResumeResponse', resumed)
    expect(resumed.thread.id).toBe(threadId)
    expect(resumed.model).toBe('gpt-6-astra')
  })

  it('starts the ephemeral title-generation thread and runs its structured turn', async () => {
    const h = await harness(transport)
    const cwd = h.proc.home
    const client = await h.connect('codex-tui', { experimentalApi: true })
    const started = await client.request('thread/start', tuiParams('threadStartTitle', null, cwd))
    expectCodexShape('ThreadStartResponse', started)
    expect(started.thread).toMatchObject({ ephemeral: true, path: null, threadSource: 'thread_title' })
    h.model.enqueue([text('{"title":"Say hello"}'), usage({ input: 5, output: 2 })])
    const turn = await client.request('turn/start', tuiParams('turnStartTitle', started.thread.id, cwd))
    await turnDone(client, turn.turn.id)
  })

  it('starts a thread as /new does, with a config override and a service tier', async () => {
    const h = await harness(transport)
    const client = await h.connect('codex-tui', { experimentalApi: true })
    const started = await client.request('thread/start', tuiParams('threadStartNew', null, h.proc.home))
    expectCodexShape('ThreadStartResponse', started)
    expect(started).toMatchObject({
      model: 'gpt-6-astra',
      serviceTier: 'default',
      approvalPolicy: 'on-request',
    })
  })
})

describe('experimental params', () => {
  it('are refused field by field without the experimental API, as codex refuses them', async () => {
    const h = await harness('ws')
    const client = await h.connect('plain')
    const { thread } = await startThread(client)
    const threadId = thread.id
    const cases: [string, Record<string, unknown>][] = [
      ['thread/start.allowProviderModelFallback', { allowProviderModelFallback: true }],
      ['thread/start.daybreakEnabled', { daybreakEnabled: false }],
      ['thread/start.dynamicTools', { dynamicTools: [] }],
      ['thread/start.environments', { environments: [] }],
      ['thread/start.experimentalRawEvents', { experimentalRawEvents: true }],
      ['thread/start.historyMode', { historyMode: 'paginated' }],
      ['thread/start.mockExperimentalField', { mockExperimentalField: 'x' }],
      ['thread/start.multiAgentMode', { multiAgentMode: 'explicitRequestOnly' }],
      ['thread/start.permissions', { permissions: ':read-only' }],
      ['thread/start.projectId', { projectId: 'p' }],
      ['thread/start.runtimeWorkspaceRoots', { runtimeWorkspaceRoots: ['/tmp'] }],
      ['thread/start.selectedCapabilityRoots', { selectedCapabilityRoots: [] }],
      ['thread/resume.history', { threadId, history: [] }],
      ['thread/resume.path', { threadId, path: '/nowhere' }],
      ['thread/resume.initialTurnsPage', { threadId, initialTurnsPage: { limit: 1 } }],
      ['thread/resume.permissions', { threadId, permissions: ':read-only' }],
      ['thread/resume.runtimeWorkspaceRoots', { threadId, runtimeWorkspaceRoots: ['/tmp'] }],
      ['thread/fork.attachToSource', { threadId, attachToSource: true }],
      ['thread/fork.beforeTurnId', { threadId, beforeTurnId: 'x' }],
      ['thread/fork.deferGoalContinuation', { threadId, deferGoalContinuation: true }],
      ['thread/fork.experimentalDisablePredictionMcp', { threadId, experimentalDisablePredictionMcp: true }],
      ['thread/fork.experimentalPredictionMode', { threadId, experimentalPredictionMode: true }],
      ['thread/fork.path', { threadId, path: '/nowhere' }],
      ['thread/fork.permissions', { threadId, permissions: ':read-only' }],
      ['thread/fork.runtimeWorkspaceRoots', { threadId, runtimeWorkspaceRoots: ['/tmp'] }],
    ]
    const input = [{ type: 'text', text: 'hi' }]
    for (const [field, extra] of [
      ['additionalContext', {}],
      ['collaborationMode', { mode: 'default', settings: { model: 'm' } }],
      ['environments', []],
      ['multiAgentMode', 'proactive'],
      ['permissions', ':read-only'],
      ['responsesapiClientMetadata', {}],
      ['responsesapiClientMetadataPatch', {}],
      ['runtimeWorkspaceRoots', ['/tmp']],
    ] as const) {
      cases.push([`turn/start.${field}`, { threadId, input, [field]: extra }])
    }
    for (const [descriptor, params] of cases) {
      const method = descriptor.slice(0, descriptor.lastIndexOf('.'))
      expect(await errorOf(client, method, params)).toBe(`${descriptor} requires experimentalApi capability`)
    }
  })

  it('let a plain boolean set to false through, as codex does', async () => {
    const h = await harness('ws')
    const client = await h.connect('plain')
    const started = await client.request('thread/start', {
      allowProviderModelFallback: false,
      experimentalRawEvents: false,
    } as never)
    expectCodexShape('ThreadStartResponse', started)
    const forked = await client.request('thread/fork', {
      threadId: started.thread.id,
      attachToSource: false,
      deferGoalContinuation: false,
      experimentalDisablePredictionMcp: false,
      experimentalPredictionMode: false,
    } as never)
    expectCodexShape('ThreadForkResponse', forked)
  })
})

describe('param values', () => {
  it('take what codex takes and refuse what it refuses, in its words', async () => {
    const h = await harness('stdio')
    const client = await h.connect('test_client', { experimentalApi: true })
    const { thread } = await startThread(client, {
      personality: 'pragmatic',
      serviceName: 'svc',
      threadSource: 'user',
    })
    const threadId = thread.id
    expect(await errorOf(client, 'thread/start', { personality: 'grumpy' })).toMatch(
      /unknown variant `grumpy`/,
    )
    expect(await errorOf(client, 'thread/start', { sandbox: 'read-only', permissions: ':read-only' })).toBe(
      '`permissions` cannot be combined with `sandbox`',
    )
    const input = [{ type: 'text', text: 'hi' }]
    expect(await errorOf(client, 'turn/start', { threadId, input, effort: '' })).toBe(
      'Invalid request: reasoning_effort must not be empty',
    )
    expect(
      await errorOf(client, 'turn/start', {
        threadId,
        input,
        sandboxPolicy: { type: 'readOnly' },
        permissions: ':read-only',
      }),
    ).toBe('`permissions` cannot be combined with `sandboxPolicy`')
    expect(
      await errorOf(client, 'turn/start', { threadId, input, toolOutput: { name: 'x', output: 'y' } }),
    ).toBe('`toolOutput` cannot be combined with nonempty `input`')
    expect(await errorOf(client, 'turn/start', { threadId, input, cyberAccessProgram: 'none' })).toMatch(
      /unknown variant `none`/,
    )

    // Any non-empty effort the model advertises is taken and sent on.
    h.model.enqueue([text('Done.'), usage({ input: 5, output: 2 })])
    const { turn } = await client.request('turn/start', {
      threadId,
      input,
      effort: 'ultra',
      cyberAccessProgram: 'standard',
      serviceTierForTurn: 'flex',
      turnTrigger: 'user',
      outputSchema: { type: 'object' },
      multiAgentMode: { custom: 'hint' },
    } as never)
    await turnDone(client, turn.id)
    expect((h.model.requests.at(-1)?.body as { reasoning?: { effort?: string } }).reasoning?.effort).toBe(
      'ultra',
    )
  })
})

describe('params accepted and ignored', () => {
  it('are noted once per field in the debug log, not once per request', async () => {
    const h = await harness('stdio', { env: { CODEX_DESK_LOG: 'debug' } })
    const client = await h.connect('codex-tui', { experimentalApi: true })
    for (let i = 0; i < 3; i++) {
      await client.request('thread/start', {
        serviceName: 'svc',
        runtimeWorkspaceRoots: [h.proc.home],
        ephemeral: true,
      })
    }
    const count = (needle: string) =>
      h.proc
        .stderr()
        .split('\n')
        .filter((line) => line.includes(needle)).length
    // stderr is its own pipe: give the log lines written before the responses time to arrive.
    for (let waited = 0; count('is accepted and ignored') < 2 && waited < 10_000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(count('thread/start.serviceName is accepted and ignored')).toBe(1)
    expect(count('thread/start.runtimeWorkspaceRoots is accepted and ignored')).toBe(1)
    expect(count('thread/start.ephemeral is accepted')).toBe(0)
  })
})
