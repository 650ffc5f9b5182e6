/**
 * An in-process core on in-memory transports, for tests of routing and dispatch that need no
 * sockets. `extraMethods` adds test-only methods to a copy of the registry (slow or failing
 * handlers) without touching the real one.
 */
import * as z from 'zod/mini'
import type { ConfigWarning } from '../../src/worker/config/diagnostics'
import { emptyConfig } from '../../src/worker/config/loader'
import { ConfigService } from '../../src/worker/config/service'
import { clientRequests, type ClientRequestSpec } from '../../src/worker/protocol/registry'
import type { RequestContext } from '../../src/worker/server/context'
import { MessageProcessor } from '../../src/worker/server/messageProcessor'
import { ServerRequestBroker } from '../../src/worker/server/serverRequests'
import { AppServer } from '../../src/worker/server/appServer'
import { pageOfThreadIds } from '../../src/worker/threads/loadedThreads'
import { createMemoryPair } from '../../src/worker/transport/memory'
import { OutboundRouter } from '../../src/worker/transport/outboundRouter'
import type { QueueLimits } from '../../src/worker/transport/outboundQueue'
import { silentLogs } from '../../src/worker/util/log'
import { memoryChannel } from './channels'
import { TestClient } from './testClient'

export function memoryClient(server: AppServer, overflow: 'block' | 'disconnect' = 'disconnect') {
  const pair = createMemoryPair({ overflow })
  const connection = server.addTransport(pair.server)
  return { client: new TestClient(memoryChannel(pair.client)), raw: pair.client, connection }
}

/** A core with no config files; `startupWarnings` stand in for problems a load would have found. */
export function inProcessServer(
  options: Partial<ConstructorParameters<typeof AppServer>[0]> & { startupWarnings?: ConfigWarning[] } = {},
): AppServer {
  const { startupWarnings, ...rest } = options
  const codexHome = options.codexHome ?? '/tmp/codex-desk-home'
  const loaded = { ...emptyConfig(codexHome), problems: startupWarnings ?? [] }
  const config =
    options.config ?? ConfigService.fromLoaded(loaded, { home: codexHome, log: silentLogs.get('config') })
  return new AppServer({ codexHome, version: '9.9.9', logs: silentLogs, ...rest, config })
}

type TestHandler = (params: unknown, ctx: RequestContext) => unknown

/** A bare processor with test-only methods, for dispatch tests. */
export function testProcessor(
  extraMethods: Record<string, { handler: TestHandler; spec?: Partial<ClientRequestSpec> }>,
  options: { maxInflightPerConnection?: number; limits?: QueueLimits } = {},
) {
  const router = new OutboundRouter({
    log: silentLogs.get('transport'),
    ...(options.limits ? { limits: options.limits } : {}),
  })
  const broker = new ServerRequestBroker(router, silentLogs.get('server'))
  const registry: Record<string, ClientRequestSpec> = { ...clientRequests }
  const handlers: Record<string, TestHandler> = {
    initialize: (_params, ctx) => {
      ctx.connection.initialized = true
      ctx.connection.experimentalApi =
        (_params as { capabilities?: { experimentalApi?: boolean } }).capabilities?.experimentalApi === true
      return { userAgent: 'test', codexHome: '/', platformFamily: 'unix', platformOs: 'linux' }
    },
    'thread/loaded/list': (params) => {
      const { cursor, limit } = params as { cursor?: string | null; limit?: number | null }
      return pageOfThreadIds([], cursor, limit)
    },
  }
  for (const [method, { handler, spec }] of Object.entries(extraMethods)) {
    registry[method] = { params: z.object({}), result: z.unknown(), ...spec }
    handlers[method] = handler
  }
  const processor = new MessageProcessor({
    registry,
    handlers,
    router,
    broker,
    log: silentLogs.get('server'),
    ...(options.maxInflightPerConnection
      ? { maxInflightPerConnection: options.maxInflightPerConnection }
      : {}),
    overloadRetryAfterMs: 250,
  })
  router.onMessage(({ connection, frame }) => processor.handleFrame(connection, frame))
  router.onConnectionClosed(({ connection }) => broker.connectionClosed(connection.id))
  const connect = (overflow: 'block' | 'disconnect' = 'disconnect') => {
    const pair = createMemoryPair({ overflow })
    const connection = router.add(pair.server)
    return { client: new TestClient(memoryChannel(pair.client)), raw: pair.client, connection }
  }
  return { router, broker, processor, connect }
}
