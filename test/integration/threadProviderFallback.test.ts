/**
 * A thread started while config.toml did not parse runs on the built-in defaults; once the file is
 * fixed, its next turn uses the configured provider and model (a provider the user chose stays).
 * And a provider that cannot run says why in plain words, with no protocol method name.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { expectCodexShape } from '../support/codexSchema'
import { harnessesPerTest, modelConfig, runTurn, startThread } from '../support/threadHarness'
import { text } from '../support/modelServer'
import type { TestClient } from '../support/testClient'

const WAIT_MS = 60_000
const { harness, restartable } = harnessesPerTest()

/** The generated config with a table header left unclosed: the whole file is ignored. */
const BROKEN = '[model_providers.mock\n'

async function waitForProvider(client: TestClient, provider: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const { config } = await client.request('config/read', {})
      expect(config.model_provider).toBe(provider)
    },
    { timeout: WAIT_MS, interval: 100 },
  )
}

interface TurnResult {
  turn: { status: string; error?: { message: string } | null }
}

describe.each(['stdio', 'ws'] as const)('a thread started on a broken config (%s)', (transport) => {
  it('runs its next turn on the configured provider once the file is fixed', async () => {
    const h = await harness(transport, { files: { 'config.toml': 'model = "test-model"\n' + BROKEN } })
    const client = await h.connect('desk_test', { experimentalApi: true })
    await client.waitForNotification('configWarning', undefined, WAIT_MS)

    const started = await startThread(client, { cwd: h.proc.home })
    expectCodexShape('ThreadStartResponse', started)
    // Nothing in the file applies: the built-in provider.
    expect(started.modelProvider).toBe('openai')
    const threadId = started.thread.id

    await writeFile(join(h.proc.home, 'config.toml'), modelConfig(h.model.url))
    await waitForProvider(client, 'mock')

    h.model.enqueue(text('hello from mock'))
    const { completed } = await runTurn(client, threadId, 'hi')
    expect((completed.params as TurnResult).turn.status).toBe('completed')
    expect(h.model.requests).toHaveLength(1)
    expect((h.model.requests[0]?.body as { model?: string }).model).toBe('test-model')

    // The thread says so too, and keeps it when it is read again.
    const read = await client.request('thread/read', { threadId })
    expect(read.thread.modelProvider).toBe('mock')
    expect(read.thread.model).toBe('test-model')
  })
})

describe('a provider the user chose', () => {
  it('is kept after the fix, and its sign-in problem reads as words with the fixes', async () => {
    const h = await harness('ws', {
      files: { 'config.toml': BROKEN },
      env: { OPENAI_API_KEY: '', CODEX_API_KEY: '' },
    })
    const client = await h.connect('desk_test', { experimentalApi: true })
    const started = await startThread(client, { modelProvider: 'openai' })
    expect(started.modelProvider).toBe('openai')

    await writeFile(join(h.proc.home, 'config.toml'), modelConfig(h.model.url))
    await waitForProvider(client, 'mock')

    const { completed } = await runTurn(client, started.thread.id, 'hi')
    const turn = (completed.params as TurnResult).turn
    expect(turn.status).toBe('failed')
    expect(h.model.requests).toHaveLength(0)
    const message = turn.error?.message ?? ''
    expect(message).toMatch(/Not signed in/)
    expect(message).toMatch(/Sign in/)
    expect(message).toMatch(/choose a model from another provider/)
    // No protocol method (`account/login/start` and the like) in what a user reads.
    expect(message).not.toMatch(/\b[a-z]+\/[a-zA-Z/]+\b/)
  })
})

describe('a working folder that does not exist', () => {
  it('is refused when the thread starts, naming the folder', async () => {
    const h = await harness('ws')
    const client = await h.connect('desk_test')
    const missing = join(h.proc.home, 'no-such-folder')
    await expect(startThread(client, { cwd: missing })).rejects.toThrow(
      `the folder ${missing} does not exist`,
    )
    const file = join(h.proc.home, 'config.toml')
    await expect(startThread(client, { cwd: file })).rejects.toThrow(`${file} is not a folder`)
  })
})

describe('folder, model and effort changed for the next turns', () => {
  it('apply to the next model request, and the thread reopened by a new core reports them', async () => {
    const { first: h, restart, home } = await restartable('ws')
    const client = await h.connect('desk_test', { experimentalApi: true })
    const started = await startThread(client, { cwd: h.proc.home })
    const threadId = started.thread.id
    await runTurn(client, threadId, 'first')

    const missing = join(h.proc.home, 'nowhere')
    await expect(client.request('thread/settings/update', { threadId, cwd: missing })).rejects.toThrow(
      `the folder ${missing} does not exist`,
    )
    const { data } = await client.request('model/list', {})
    const other = data.find((m) => m.id !== started.model && m.supportedReasoningEfforts.length > 1)
    if (!other) throw new Error('the catalog has no second model with efforts')
    const effort = other.supportedReasoningEfforts.at(-1)?.reasoningEffort ?? 'high'
    await client.request('thread/settings/update', { threadId, model: other.id, effort })
    await runTurn(client, threadId, 'second')
    const body = h.model.requests.at(-1)?.body as { model?: string; reasoning?: { effort?: string } }
    expect(body.model).toBe(other.id)
    expect(body.reasoning?.effort).toBe(effort)

    const again = await (await restart()).connect('desk_test_2', { experimentalApi: true })
    const resumed = await again.request('thread/resume', { threadId })
    expectCodexShape('ThreadResumeResponse', resumed)
    expect(resumed.model).toBe(other.id)
    expect(resumed.reasoningEffort).toBe(effort)
    expect(resumed.cwd).toBe(home)
  })
})
