/**
 * Sub-agents end to end: the scripted model spawns a child thread, the child runs its own turn,
 * the parent waits for it; every client sees the child announced and its events under its own id.
 */
import { describe, expect, it } from 'vitest'
import { conversationOf } from '../support/agentContext'
import { functionCall, text, type RecordedRequest, type Step } from '../support/modelServer'
import { harnessesPerTest, startHarness, startThread } from '../support/threadHarness'
import type { ServerMessage } from '../support/testClient'

const { disposeAfter } = harnessesPerTest()

type InputItem = { type: string; call_id?: string; output?: string; content?: { text?: string }[] }

const inputOf = (request: RecordedRequest) => (request.body as { input: InputItem[] }).input
const firstText = (request: RecordedRequest) => conversationOf(request)[0]?.content?.[0]?.text
const outputFor = (request: RecordedRequest, callId: string) =>
  inputOf(request).find((item) => item.type === 'function_call_output' && item.call_id === callId)?.output
const toolNames = (request: RecordedRequest) =>
  ((request.body as { tools: { name: string }[] }).tools ?? []).map((tool) => tool.name)

/** Parent: spawn, then wait on the child, then answer. Child: answer its task. */
function script(request: RecordedRequest): Step | Step[] {
  if (firstText(request) === 'count the files') return text('there are 3 files')
  const spawned = outputFor(request, 'call_spawn')
  if (!spawned) {
    return functionCall({
      name: 'spawn_agent',
      arguments: { message: 'count the files' },
      callId: 'call_spawn',
    })
  }
  if (!outputFor(request, 'call_wait')) {
    const { agent_id } = JSON.parse(spawned) as { agent_id: string }
    return functionCall({ name: 'wait_agent', arguments: { targets: [agent_id] }, callId: 'call_wait' })
  }
  return text('the child says 3')
}

const paramsOf = <T>(m: ServerMessage) => m.params as T

describe('sub-agents', () => {
  it('runs a spawned child as its own thread, announced to every client, and waits for it', async () => {
    const h = await startHarness('ws')
    disposeAfter(h)
    const parentClient = await h.connect('parent_client')
    const bystander = await h.connect('bystander')
    h.model.enqueue(script, script, script, script)
    const { thread: parent } = await startThread(parentClient, { cwd: h.proc.home })
    const { turn } = await parentClient.request('turn/start', {
      threadId: parent.id,
      input: [{ type: 'text', text: 'ask a helper' }],
    })
    const parentDone = await parentClient.waitForNotification(
      'turn/completed',
      (p) => (p as { turn: { id: string } }).turn.id === turn.id,
    )
    expect(paramsOf<{ turn: { status: string } }>(parentDone).turn.status).toBe('completed')

    // The child was announced to both clients (beyond codex), with its lineage.
    const announced = await bystander.waitForNotification(
      'thread/started',
      (p) => (p as { thread: { parentThreadId: string | null } }).thread.parentThreadId === parent.id,
    )
    const child = paramsOf<{ thread: Record<string, unknown> & { id: string } }>(announced).thread
    expect(child).toMatchObject({
      parentThreadId: parent.id,
      agentNickname: expect.any(String),
      source: { subAgent: { thread_spawn: { parent_thread_id: parent.id, depth: 1 } } },
    })

    // The child's turn carries the child's id, with the parent turn as its root, and reached the bystander.
    for (const client of [parentClient, bystander]) {
      const childDone = await client.waitForNotification(
        'turn/completed',
        (p) => (p as { threadId: string }).threadId === child.id,
      )
      expect(paramsOf<{ turn: { rootTurnId: string; status: string } }>(childDone).turn).toMatchObject({
        rootTurnId: turn.id,
        status: 'completed',
      })
    }
    // Only one turn/completed for the parent: the child's never completes the parent's turn.
    const parentCompletions = parentClient.received.filter(
      (m) => m.method === 'turn/completed' && paramsOf<{ threadId: string }>(m).threadId === parent.id,
    )
    expect(parentCompletions).toHaveLength(1)
    const childAgentItem = parentClient.received.find(
      (m) =>
        m.method === 'item/completed' &&
        paramsOf<{ item: { type: string } }>(m).item.type === 'agentMessage' &&
        paramsOf<{ threadId: string }>(m).threadId === child.id,
    )
    expect(
      paramsOf<{ turnId: string; item: { text: string } }>(childAgentItem as ServerMessage).item.text,
    ).toBe('there are 3 files')

    // The parent's items: spawn then wait, with the child's id and states.
    const collab = parentClient.received
      .filter(
        (m) => m.method === 'item/completed' && paramsOf<{ threadId: string }>(m).threadId === parent.id,
      )
      .map((m) => paramsOf<{ item: Record<string, unknown> }>(m).item)
      .filter((item) => item.type === 'collabAgentToolCall')
    expect(collab).toEqual([
      expect.objectContaining({
        tool: 'spawnAgent',
        status: 'completed',
        senderThreadId: parent.id,
        receiverThreadIds: [child.id],
        prompt: 'count the files',
        agentsStates: { [child.id]: { status: 'pendingInit', message: null } },
      }),
      expect.objectContaining({
        tool: 'wait',
        status: 'completed',
        receiverThreadIds: [child.id],
        agentsStates: { [child.id]: { status: 'completed', message: 'there are 3 files' } },
      }),
    ])
    const last = h.model.requests.find((r) => outputFor(r, 'call_wait'))
    expect(JSON.parse(outputFor(last as RecordedRequest, 'call_wait') as string)).toEqual({
      status: { [child.id]: { completed: 'there are 3 files' } },
      timed_out: false,
    })

    // read reports the child's lineage.
    const reread = await bystander.request('thread/read', { threadId: child.id, includeTurns: true })
    expect(reread.thread.turns[0]?.rootTurnId).toBe(turn.id)
    expect(reread.thread.parentThreadId).toBe(parent.id)

    // The child is a real, listed thread.
    const listed = await parentClient.request('thread/list', { sourceKinds: ['subAgentThreadSpawn'] })
    expect(listed.data.map((t) => t.id)).toEqual([child.id])
    // At the default depth limit (1) the child cannot spawn its own children.
    const childRequest = h.model.requests.find((r) => firstText(r) === 'count the files') as RecordedRequest
    expect(toolNames(childRequest)).not.toContain('spawn_agent')
    expect(toolNames(h.model.requests[0] as RecordedRequest)).toContain('spawn_agent')
  })

  it('refuses a spawn beyond agents.max_threads running children', async () => {
    const h = await startHarness('stdio', { config: '[agents]\nmax_threads = 1' })
    disposeAfter(h)
    const client = await h.connect()
    const parentScript = (request: RecordedRequest): Step | Step[] => {
      if (firstText(request)?.startsWith('task')) return text('child done')
      if (outputFor(request, 'call_two')) return text('parent done')
      return [
        functionCall({ name: 'spawn_agent', arguments: { message: 'task one' }, callId: 'call_one' }),
        functionCall({ name: 'spawn_agent', arguments: { message: 'task two' }, callId: 'call_two' }),
      ]
    }
    h.model.enqueue(parentScript, parentScript, parentScript, parentScript)
    const { thread } = await startThread(client, { cwd: h.proc.home })
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'two helpers please' }],
    })
    await client.waitForNotification(
      'turn/completed',
      (p) => (p as { turn: { id: string } }).turn.id === turn.id,
    )
    const final = h.model.requests.find((r) => outputFor(r, 'call_two')) as RecordedRequest
    expect(JSON.parse(outputFor(final, 'call_one') as string)).toMatchObject({ agent_id: expect.any(String) })
    expect(outputFor(final, 'call_two')).toBe('collab spawn failed: agent thread limit reached (max 1)')
    const started = client.received.filter(
      (m) =>
        m.method === 'thread/started' &&
        paramsOf<{ thread: { parentThreadId: string } }>(m).thread.parentThreadId === thread.id,
    )
    expect(started).toHaveLength(1)
  })
})
