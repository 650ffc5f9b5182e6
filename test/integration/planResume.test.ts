/**
 * The plan on resume: codex keeps no plan in a Turn or an item, so a client that resumes a thread
 * gets the last turn's plan as `turn/plan/updated` right after the resume response: while the turn
 * runs, after it completed, and after a restart (the plan is found in the rollout's model history).
 */
import { describe, expect, it } from 'vitest'
import { expectCodexShape } from '../support/codexSchema'
import { functionCall, stall, text } from '../support/modelServer'
import { runTurn, harnessesPerTest, startThread, type TransportKind } from '../support/threadHarness'
import type { TestClient } from '../support/testClient'

const { harness, restartable } = harnessesPerTest()

const steps = [
  { step: 'Write the test', status: 'completed' },
  { step: 'Make it pass', status: 'in_progress' },
]
const wireSteps = [
  { step: 'Write the test', status: 'completed' },
  { step: 'Make it pass', status: 'inProgress' },
]
const planCall = (callId: string) =>
  functionCall({ name: 'update_plan', arguments: { explanation: 'TDD', plan: steps }, callId })

/** Resumes and returns what followed the response: the replayed plan, if any, comes first. */
async function resumeAndPlan(client: TestClient, threadId: string) {
  const before = client.received.length
  const response = await client.request('thread/resume', { threadId })
  const at = client.received.findIndex((m, i) => i >= before && m.result !== undefined)
  expect(at).toBeGreaterThanOrEqual(before)
  const update = await client.waitForNotification(
    'turn/plan/updated',
    (p) => (p as { threadId: string }).threadId === threadId,
  )
  expectCodexShape('ServerNotification', { method: update.method, params: update.params })
  expect(client.received.indexOf(update)).toBeGreaterThan(at)
  return { response, update: update.params }
}

describe.each<TransportKind>(['stdio', 'ws'])('the plan on resume over %s', (transport) => {
  it('comes back after a restart, for the last turn', async () => {
    const { first, restart } = await restartable(transport)
    const client = await first.connect()
    const { thread } = await startThread(client)
    first.model.enqueue(planCall('call_plan'), text('done'))
    const { turnId } = await runTurn(client, thread.id, 'do it with a plan')
    const second = await restart()
    const again = await second.connect()
    const { update } = await resumeAndPlan(again, thread.id)
    expect(update).toEqual({ threadId: thread.id, turnId, explanation: 'TDD', plan: wireSteps })
  })
})

describe('the plan on resume', () => {
  it('reaches a client that resumes while the turn runs', async () => {
    const h = await harness('ws')
    const a = await h.connect('client_a')
    const { thread } = await startThread(a)
    h.model.enqueue(planCall('call_live'), [stall()])
    const { turn } = await a.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'go' }],
    })
    await a.waitForNotification('turn/plan/updated')
    await h.model.waitForRequests(2)

    const b = await h.connect('client_b')
    const { response, update } = await resumeAndPlan(b, thread.id)
    expect(response.thread.status).toEqual({ type: 'active', activeFlags: [] })
    expect(update).toEqual({ threadId: thread.id, turnId: turn.id, explanation: 'TDD', plan: wireSteps })
    await a.request('turn/interrupt', { threadId: thread.id, turnId: turn.id })
  })

  it('is not sent for a thread whose last turn made no plan', async () => {
    const h = await harness('ws')
    const a = await h.connect('client_a')
    const { thread } = await startThread(a)
    h.model.enqueue(planCall('call_old'), text('planned'), text('no plan this time'))
    await runTurn(a, thread.id, 'with a plan')
    const { turnId } = await runTurn(a, thread.id, 'without one')

    const b = await h.connect('client_b')
    await b.request('thread/resume', { threadId: thread.id })
    // A later event on the thread proves the join window was released without a plan before it.
    h.model.enqueue(text('third'))
    await runTurn(a, thread.id, 'again')
    await b.waitForNotification('turn/completed', (p) => (p as { turn: { id: string } }).turn.id !== turnId)
    expect(b.received.some((m) => m.method === 'turn/plan/updated')).toBe(false)
  })
})
