import { describe, expect, it } from 'vitest'
import { invalidRequest } from '../../src/worker/protocol/errors'
import { testProcessor } from '../support/inProcess'

const gate = () => {
  let open!: () => void
  const opened = new Promise<void>((r) => (open = r))
  return { open, opened }
}

describe('message processor', () => {
  it('runs requests of one connection concurrently and answers each by id', async () => {
    const slow = gate()
    const { connect } = testProcessor({
      'test/slow': { handler: async () => (await slow.opened, 'slow') },
      'test/fast': { handler: () => 'fast' },
    })
    const { client } = connect()
    await client.initialize()
    client.send({ id: 'a', method: 'test/slow', params: {} })
    client.send({ id: 'b', method: 'test/fast', params: {} })
    expect((await client.waitForResponse('b')).result).toBe('fast')
    slow.open()
    expect((await client.waitForResponse('a')).result).toBe('slow')
  })

  it('answers a handler that throws with -32603 and its message, and an RpcError with its own code', async () => {
    const { connect } = testProcessor({
      'test/boom': {
        handler: () => {
          throw new Error('disk on fire')
        },
      },
      'test/rule': {
        handler: () => {
          throw invalidRequest('no active turn to interrupt')
        },
      },
    })
    const { client } = connect()
    await client.initialize()
    expect((await client.call('test/boom', {}, 1)).error).toEqual({ code: -32603, message: 'disk on fire' })
    expect((await client.call('test/rule', {}, 2)).error).toEqual({
      code: -32600,
      message: 'no active turn to interrupt',
    })
    await expect(client.request('thread/loaded/list', {})).resolves.toEqual({ data: [], nextCursor: null })
  })

  it('answers -32001 with retryAfterMs when a connection has too many requests in flight, and recovers', async () => {
    const slow = gate()
    const { connect } = testProcessor(
      { 'test/slow': { handler: async () => (await slow.opened, 'done') } },
      { maxInflightPerConnection: 4 },
    )
    const { client } = connect()
    const { client: other } = connect()
    await client.initialize()
    await other.initialize()
    for (let i = 0; i < 6; i++) client.send({ id: i, method: 'test/slow', params: {} })
    const rejected = await Promise.all([client.waitForResponse(4), client.waitForResponse(5)])
    for (const r of rejected) {
      expect(r.error).toEqual({
        code: -32001,
        message: 'Server overloaded; retry later.',
        data: { retryAfterMs: 250 },
      })
    }
    // Another connection is not affected by this one's backlog.
    await expect(other.request('thread/loaded/list', {})).resolves.toEqual({ data: [], nextCursor: null })
    slow.open()
    for (let i = 0; i < 4; i++) expect((await client.waitForResponse(i)).result).toBe('done')
    await expect(client.request('thread/loaded/list', {})).resolves.toEqual({ data: [], nextCursor: null })
  })

  it('gates experimental methods and fields behind capabilities.experimentalApi', async () => {
    const { connect } = testProcessor({
      'test/experimental': { handler: () => 'ok', spec: { experimental: true } },
      'test/field': { handler: () => 'ok', spec: { experimentalFields: ['dynamicTools'] } },
    })
    const { client: plain } = connect()
    await plain.initialize()
    expect((await plain.call('test/experimental', {}, 1)).error).toEqual({
      code: -32600,
      message: 'test/experimental requires experimentalApi capability',
    })
    expect((await plain.call('test/field', { dynamicTools: [] }, 2)).error).toEqual({
      code: -32600,
      message: 'test/field.dynamicTools requires experimentalApi capability',
    })
    expect((await plain.call('test/field', { dynamicTools: null }, 3)).result).toBe('ok')
    const { client: opted } = connect()
    await opted.initialize('x', { experimentalApi: true })
    expect((await opted.call('test/experimental', {}, 1)).result).toBe('ok')
    expect((await opted.call('test/field', { dynamicTools: [] }, 2)).result).toBe('ok')
  })

  it('validates params before the lifecycle check, as codex does', async () => {
    const { connect } = testProcessor({})
    const { client } = connect()
    expect((await client.call('no/such', {}, 1)).error?.message).toMatch(
      /^Invalid request: unknown variant `no\/such`/,
    )
    expect((await client.call('thread/loaded/list', undefined, 2)).error?.message).toBe(
      'Invalid request: missing field `params`',
    )
    expect((await client.call('thread/loaded/list', {}, 3)).error?.message).toBe('Not initialized')
  })
})

describe('server requests', () => {
  it('fans one request out with one id, takes the first answer and ignores the rest', async () => {
    const { connect, broker } = testProcessor({})
    const a = connect()
    const b = connect()
    await a.client.initialize()
    await b.client.initialize()
    const { id, response } = broker.send(
      [a.connection.id, b.connection.id],
      'account/chatgptAuthTokens/refresh',
      {
        reason: 'unauthorized',
        previousAccountId: 'acct_1',
      },
    )
    expect(id).toBe(0)
    const [ra, rb] = await Promise.all([
      a.client.waitForServerRequest('account/chatgptAuthTokens/refresh'),
      b.client.waitForServerRequest('account/chatgptAuthTokens/refresh'),
    ])
    expect(ra.id).toBe(0)
    expect(rb.id).toBe(0)
    b.client.send({ id: 0, result: { accessToken: 'from-b', chatgptAccountId: 'acct_1' } })
    a.client.send({ id: 0, result: { accessToken: 'from-a', chatgptAccountId: 'acct_1' } })
    await expect(response).resolves.toMatchObject({ accessToken: 'from-b' })
    expect(broker.pendingCount).toBe(0)
    // Ids come from one process-wide counter.
    const next = broker.send([a.connection.id], 'account/chatgptAuthTokens/refresh', {
      reason: 'unauthorized',
    })
    expect(next.id).toBe(1)
    broker.cancelAll()
    await expect(next.response).rejects.toThrow('account/chatgptAuthTokens/refresh request was cancelled')
  })

  it('times out, reports client errors, and rejects an invalid response', async () => {
    const { connect, broker } = testProcessor({})
    const { client, connection } = connect()
    await client.initialize()
    const timed = broker.send(
      [connection.id],
      'account/chatgptAuthTokens/refresh',
      { reason: 'unauthorized' },
      { timeoutMs: 50 },
    )
    await expect(timed.response).rejects.toThrow(
      'account/chatgptAuthTokens/refresh request timed out after 0.05s',
    )
    const failed = broker.send([connection.id], 'account/chatgptAuthTokens/refresh', {
      reason: 'unauthorized',
    })
    client.send({ id: failed.id, error: { code: -32000, message: 'no tokens' } })
    await expect(failed.response).rejects.toMatchObject({ code: -32000, message: 'no tokens' })
    const invalid = broker.send([connection.id], 'account/chatgptAuthTokens/refresh', {
      reason: 'unauthorized',
    })
    client.send({ id: invalid.id, result: { accessToken: 42 } })
    await expect(invalid.response).rejects.toThrow(/invalid account\/chatgptAuthTokens\/refresh response/)
  })

  it('keeps a request pending when its only client disconnects and replays it with the same id', async () => {
    const { connect, broker } = testProcessor({})
    const first = connect()
    await first.client.initialize()
    const { id, response } = broker.send([first.connection.id], 'account/chatgptAuthTokens/refresh', {
      reason: 'unauthorized',
    })
    await first.client.waitForServerRequest('account/chatgptAuthTokens/refresh')
    first.raw.close()
    await first.client.waitForClose()
    expect(broker.pendingCount).toBe(1)
    const second = connect()
    await second.client.initialize()
    // A reply from a connection the request was not sent to is ignored.
    second.client.send({ id, result: { accessToken: 'early', chatgptAccountId: 'x' } })
    await second.client.request('thread/loaded/list', {})
    expect(broker.pendingCount).toBe(1)
    expect(broker.replay(id, second.connection.id)).toBe(true)
    const replayed = await second.client.waitForServerRequest('account/chatgptAuthTokens/refresh')
    expect(replayed.id).toBe(id)
    second.client.send({ id, result: { accessToken: 'late', chatgptAccountId: 'x' } })
    await expect(response).resolves.toMatchObject({ accessToken: 'late' })
  })
})
