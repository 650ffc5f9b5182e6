import { describe, expect, it } from 'vitest'
import { earlyRequests } from '../../src/worker/protocol/earlyRequests'
import { clientRequests } from '../../src/worker/protocol/registry'
import {
  type LazyRegistry,
  MessageProcessor,
  type ProcessorRegistry,
} from '../../src/worker/server/messageProcessor'
import { ServerRequestBroker } from '../../src/worker/server/serverRequests'
import { pageOfThreadIds } from '../../src/worker/threads/loadedThreads'
import { createMemoryPair } from '../../src/worker/transport/memory'
import { OutboundRouter } from '../../src/worker/transport/outboundRouter'
import { silentLogs } from '../../src/worker/util/log'

/** A processor on one in-memory connection, with the registry given whole or loaded on first use. */
function processorWith(registry: ProcessorRegistry | LazyRegistry) {
  const router = new OutboundRouter({ log: silentLogs.get('transport') })
  const broker = new ServerRequestBroker(router, silentLogs.get('server'))
  const processor = new MessageProcessor({
    registry,
    handlers: {
      initialize: (params, ctx) => {
        ctx.connection.initialized = true
        ctx.connection.experimentalApi =
          (params as { capabilities?: { experimentalApi?: boolean } | null }).capabilities
            ?.experimentalApi === true
        return { userAgent: 'test', codexHome: '/', platformFamily: 'unix', platformOs: 'linux' }
      },
      'thread/loaded/list': (params) => {
        const { cursor, limit } = params as { cursor?: string | null; limit?: number | null }
        return pageOfThreadIds([], cursor, limit)
      },
      'thread/settings/update': () => ({}),
      'thread/list': () => ({ data: [], nextCursor: null, backwardsCursor: null }),
    },
    router,
    broker,
    log: silentLogs.get('server'),
  })
  router.onMessage(({ connection, frame }) => processor.handleFrame(connection, frame))
  const pair = createMemoryPair()
  router.add(pair.server)
  const received: unknown[] = []
  pair.client.onMessage((frame) => received.push(JSON.parse(frame)))
  /** Sends the frames back to back and resolves with the first `count` frames received. */
  const exchange = async (frames: object[], count: number): Promise<unknown[]> => {
    for (const frame of frames) pair.client.send(JSON.stringify(frame))
    const deadline = Date.now() + 20_000
    while (received.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${received.length} of ${count} replies arrived`)
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    return received.splice(0, count)
  }
  return { exchange }
}

function lazy(): LazyRegistry & { loads: number } {
  const registry = {
    early: earlyRequests,
    loads: 0,
    load: async () => {
      registry.loads++
      // Slow enough that every frame below arrives while the registry is still loading.
      await new Promise((resolve) => setTimeout(resolve, 50))
      return clientRequests
    },
  }
  return registry
}

const initialize = (id: number, experimentalApi = false) => ({
  id,
  method: 'initialize',
  params: { clientInfo: { name: 'test', version: '1' }, capabilities: { experimentalApi } },
})

describe('a registry loaded on first use', () => {
  it("answers its early methods with the registry's own entries", () => {
    expect(Object.keys(earlyRequests)).toEqual(['initialize', 'thread/list'])
    for (const [method, early] of Object.entries(earlyRequests)) {
      const entry = clientRequests[method as keyof typeof earlyRequests]
      expect(entry.params).toBe(early.params)
      expect((entry as { experimental?: boolean }).experimental).toBe(
        (early as { experimental?: boolean }).experimental,
      )
      expect((entry as { experimentalFields?: unknown }).experimentalFields).toBe(
        (early as { experimentalFields?: unknown }).experimentalFields,
      )
    }
  })

  it('answers a first listing without loading the registry, with the checks of the whole one', async () => {
    const frames = [
      { id: 1, method: 'thread/list', params: {} },
      initialize(2),
      { id: 3, method: 'thread/list', params: { limit: 'ten' } },
      { id: 4, method: 'thread/list', params: { projectId: 'p' } },
      { id: 5, method: 'thread/list', params: { limit: 5, modelProviders: [] } },
      { id: 6, method: 'thread/list' },
    ]
    const whole = await processorWith(clientRequests).exchange(frames, frames.length)
    const registry = lazy()
    const early = await processorWith(registry).exchange(frames, frames.length)
    expect(registry.loads).toBe(0)
    expect(early).toEqual(whole)
    expect(early).toContainEqual({ id: 1, error: { code: -32600, message: 'Not initialized' } })
    expect(early).toContainEqual({ id: 5, result: { data: [], nextCursor: null, backwardsCursor: null } })
    const gated = early.find((reply) => (reply as { id: number }).id === 4) as { error: { message: string } }
    expect(gated.error.message).toContain('thread/list.projectId')
  })

  it('answers a first initialize without loading the registry, and loads it once for later requests', async () => {
    const registry = lazy()
    const { exchange } = processorWith(registry)
    const [answer] = await exchange([initialize(0)], 1)
    expect(answer).toMatchObject({ id: 0, result: { userAgent: 'test' } })
    expect(registry.loads).toBe(0)
    const replies = await exchange(
      [
        { id: 1, method: 'thread/loaded/list', params: {} },
        { id: 2, method: 'thread/loaded/list', params: { limit: 1 } },
      ],
      2,
    )
    expect(replies).toEqual([
      { id: 1, result: { data: [], nextCursor: null } },
      { id: 2, result: { data: [], nextCursor: null } },
    ])
    await exchange([{ id: 3, method: 'thread/loaded/list', params: {} }], 1)
    expect(registry.loads).toBe(1)
  })

  it('gives the same replies in the same order as a registry given whole, for requests sent while it loads', async () => {
    const frames = [
      { id: 1, method: 'thread/loaded/list', params: {} },
      { id: 2, method: 'thread/loaded/list', params: { limit: 'ten' } },
      { id: 3, method: 'thread/loaded/lst', params: {} },
      { id: 4, method: 'thread/loaded/list' },
      initialize(5),
      { id: 6, method: 'thread/loaded/list', params: { limit: 1 } },
      { id: 7, method: 'thread/settings/update', params: { threadId: 'x' } },
      initialize(8),
      { id: 9, method: 'thread/start', params: { dynamicTools: [] } },
    ]
    const whole = await processorWith(clientRequests).exchange(frames, frames.length)
    const registry = lazy()
    const loaded = await processorWith(registry).exchange(frames, frames.length)
    expect(registry.loads).toBe(1)
    expect(loaded).toEqual(whole)
    // What those replies are: parse errors first, then the lifecycle, then the experimental gate.
    expect(loaded.map((reply) => (reply as { id: number }).id)).toEqual([1, 2, 3, 4, 7, 9, 5, 6, 8])
    expect(loaded).toContainEqual({ id: 1, error: { code: -32600, message: 'Not initialized' } })
    expect(loaded).toContainEqual({ id: 6, result: { data: [], nextCursor: null } })
    const unknown = loaded.find((reply) => (reply as { id: number }).id === 3) as {
      error: { message: string }
    }
    expect(unknown.error.message).toContain(
      'unknown variant `thread/loaded/lst`, expected one of `initialize`, ',
    )
  })
})
