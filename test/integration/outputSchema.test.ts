import { describe, expect, it } from 'vitest'
import { text, usage } from '../support/modelServer'
import { harnessesPerTest, startHarness, startThread } from '../support/threadHarness'

const { disposeAfter } = harnessesPerTest()

describe('turn/start outputSchema', () => {
  it('asks the model for JSON of the given schema in that turn only, as codex names the format', async () => {
    const h = await startHarness('stdio')
    disposeAfter(h)
    const client = await h.connect()
    const { thread } = await startThread(client)
    const schema = {
      type: 'object',
      properties: { title: { type: 'string' } },
      required: ['title'],
      additionalProperties: false,
    }
    h.model.enqueue([text('{"title":"Fix the build"}'), usage({ input: 5, output: 3 })])
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'name this task' }],
      outputSchema: schema,
    })
    await client.waitForNotification(
      'turn/completed',
      (p) => (p as { turn: { id: string } }).turn.id === turn.id,
    )
    const { turn: next } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'and now plain text' }],
    })
    await client.waitForNotification(
      'turn/completed',
      (p) => (p as { turn: { id: string } }).turn.id === next.id,
    )

    const [first, second] = h.model.requests.filter((r) => r.path === '/v1/responses')
    expect((first?.body as { text?: unknown }).text).toEqual({
      format: { type: 'json_schema', name: 'codex_output_schema', strict: true, schema },
    })
    expect((second?.body as { text?: unknown }).text).toBeUndefined()
  })
})
