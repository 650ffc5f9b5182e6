/**
 * The plan tool end to end: the model calls `update_plan`, the thread's subscribers get
 * `turn/plan/updated` with the wire's status names, the model reads `Plan updated`; bad arguments
 * go back to the model and the turn completes; `[tools.update_plan] enabled = false` hides the tool.
 */
import { describe, expect, it } from 'vitest'
import { functionCall, functionOutput, text } from '../support/modelServer'
import { expectCodexShape } from '../support/codexSchema'
import { runTurn, harnessesPerTest, startThread, type TransportKind } from '../support/threadHarness'

const { harness } = harnessesPerTest()

const toolNames = (body: unknown): string[] =>
  ((body as { tools?: { name?: string }[] }).tools ?? []).map((tool) => tool.name ?? '')

const planSteps = [
  { step: 'Read the failing test', status: 'completed' },
  { step: 'Fix the parser', status: 'in_progress' },
  { step: 'Run the suite', status: 'pending' },
]

describe.each<TransportKind>(['stdio', 'ws'])('the plan tool over %s', (transport) => {
  it('tells subscribers the plan with the wire status names and tells the model "Plan updated"', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue(
      functionCall({
        name: 'update_plan',
        arguments: { explanation: 'Parser first', plan: planSteps },
        callId: 'call_plan',
      }),
      text('Working on it'),
    )
    const { turnId, completed } = await runTurn(client, thread.id, 'fix the parser')

    const update = await client.waitForNotification('turn/plan/updated')
    expectCodexShape('ServerNotification', { method: update.method, params: update.params })
    expect(update.params).toEqual({
      threadId: thread.id,
      turnId,
      explanation: 'Parser first',
      plan: [
        { step: 'Read the failing test', status: 'completed' },
        { step: 'Fix the parser', status: 'inProgress' },
        { step: 'Run the suite', status: 'pending' },
      ],
    })
    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    expect(functionOutput(h.model.requests, 'call_plan')).toBe('Plan updated')
    const tools = (h.model.requests[0]?.body as { tools: { name: string; parameters: unknown }[] }).tools
    expect(tools.find((tool) => tool.name === 'update_plan')?.parameters).toMatchObject({
      required: ['plan'],
      properties: {
        plan: { items: { properties: { status: { enum: ['pending', 'in_progress', 'completed'] } } } },
      },
    })

    // No item stands for the plan, as in codex.
    const items = client.received
      .filter((m) => m.method === 'item/started' || m.method === 'item/completed')
      .map((m) => (m.params as { item: { type: string } }).item.type)
    expect(items).not.toContain('plan')
  })

  it('sends a missing plan or an unknown status back to the model and completes the turn', async () => {
    const h = await harness(transport)
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue(
      functionCall({ name: 'update_plan', arguments: { explanation: 'no steps' }, callId: 'call_missing' }),
      functionCall({
        name: 'update_plan',
        arguments: { plan: [{ step: 'Ship', status: 'done' }] },
        callId: 'call_status',
      }),
      functionCall({ name: 'update_plan', arguments: '{"plan": [', callId: 'call_json' }),
      text('Giving up on plans'),
    )
    const { completed } = await runTurn(client, thread.id, 'plan badly')

    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    expect(functionOutput(h.model.requests, 'call_missing')).toBe(
      'failed to parse function arguments: missing field `plan`',
    )
    expect(functionOutput(h.model.requests, 'call_status')).toBe(
      'failed to parse function arguments: unknown variant `done`, expected one of `pending`, `in_progress`, `completed`',
    )
    expect(functionOutput(h.model.requests, 'call_json')).toMatch(/^failed to parse function arguments: /)
    expect(client.received.some((m) => m.method === 'turn/plan/updated')).toBe(false)
  })
})

describe('the plan tool', () => {
  it('is not offered when [tools.update_plan] enabled = false, and a call to it is refused', async () => {
    const h = await harness('stdio', { config: '[tools.update_plan]\nenabled = false\n' })
    const client = await h.connect()
    const { thread } = await startThread(client)
    h.model.enqueue(
      functionCall({ name: 'update_plan', arguments: { plan: planSteps }, callId: 'call_off' }),
      text('ok'),
    )
    const { completed } = await runTurn(client, thread.id, 'plan anyway')

    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    expect(toolNames(h.model.requests[0]?.body)).not.toContain('update_plan')
    expect(toolNames(h.model.requests[0]?.body)).toContain('shell_command')
    expect(functionOutput(h.model.requests, 'call_off')).toBe('unsupported call: update_plan')
    expect(client.received.some((m) => m.method === 'turn/plan/updated')).toBe(false)
  })

  it("is refused in Plan mode with codex's message", async () => {
    const h = await harness('stdio')
    const client = await h.connect('plan_client', { experimentalApi: true })
    const { thread } = await startThread(client)
    await client.request('thread/settings/update', {
      threadId: thread.id,
      collaborationMode: { mode: 'plan', settings: { model: 'test-model', reasoning_effort: null } },
    })
    h.model.enqueue(
      functionCall({ name: 'update_plan', arguments: { plan: planSteps }, callId: 'call_mode' }),
      text('ok'),
    )
    const { completed } = await runTurn(client, thread.id, 'plan it')

    expect((completed.params as { turn: { status: string } }).turn.status).toBe('completed')
    expect(toolNames(h.model.requests[0]?.body)).toContain('update_plan')
    expect(functionOutput(h.model.requests, 'call_mode')).toBe(
      'update_plan is a TODO/checklist tool and is not allowed in Plan mode',
    )
    expect(client.received.some((m) => m.method === 'turn/plan/updated')).toBe(false)
  })

  it('is offered again by a thread whose config turns it back on', async () => {
    const h = await harness('stdio', { config: '[tools.update_plan]\nenabled = false\n' })
    const client = await h.connect()
    const { thread } = await startThread(client, { config: { 'tools.update_plan.enabled': true } })
    h.model.enqueue(text('ok'))
    await runTurn(client, thread.id, 'hello')
    expect(toolNames(h.model.requests[0]?.body)).toContain('update_plan')
  })
})
