import { afterEach, describe, expect, it } from 'vitest'
import { connectWebSocket } from '../support/channels'
import { startCoreWorker, type CoreWorker } from '../support/coreWorker'

let core: CoreWorker | undefined
afterEach(async () => {
  await core?.dispose()
  core = undefined
})

describe('the utility-process core over MessagePorts', () => {
  it('serves each port as its own connection with its own initialize', async () => {
    core = await startCoreWorker()
    const a = core.connect('window-1')
    const b = core.connect('window-2')
    const ra = await a.initialize('desk_window')
    expect(ra.codexHome).toBe(core.home)
    const early = await b.call('thread/loaded/list', {}, 1)
    expect(early.error?.message).toBe('Not initialized')
    await b.initialize('desk_window')
    await expect(a.request('thread/loaded/list', {}, 7)).resolves.toEqual({ data: [], nextCursor: null })
    await expect(b.request('thread/loaded/list', {}, 7)).resolves.toEqual({ data: [], nextCursor: null })
    expect([...a.violations, ...b.violations]).toEqual([])
  })

  it('reports health and starts and stops the websocket listener through the control API', async () => {
    core = await startCoreWorker()
    const control = core.control()
    const client = core.connect()
    await client.initialize()
    const health = await control.health()
    expect(health.connections).toBe(1)
    expect(health.webSocketUrl).toBeNull()
    const { url } = await control.startWebSocketListener({
      host: '127.0.0.1',
      port: 0,
      allowedOrigins: [],
      capabilityToken: 'local-token-1234',
    })
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/)
    const { client: external, ws } = await connectWebSocket(url, {
      headers: { authorization: 'Bearer local-token-1234' },
    })
    await external.initialize('external_tool')
    expect((await control.health()).connections).toBe(2)
    await control.stopWebSocketListener()
    const closed = await external.waitForClose()
    expect(closed.code).toBe(1001)
    expect(ws.readyState).toBe(ws.CLOSED)
    expect((await control.health()).webSocketUrl).toBeNull()
  })

  it('closes every connection with 1001 on shutdown', async () => {
    core = await startCoreWorker()
    const client = core.connect()
    await client.initialize()
    await core.control().shutdown()
    await expect(client.waitForClose()).resolves.toEqual({ code: 1001, reason: 'server shutting down' })
  })
})
