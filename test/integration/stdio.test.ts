import { afterEach, describe, expect, it } from 'vitest'
import { spawnAppServer, type AppServerProcess } from '../support/appServerProcess'

let server: AppServerProcess | undefined
afterEach(async () => {
  await server?.dispose()
  server = undefined
})

describe('app-server over stdio', () => {
  it('answers initialize with codex fields and the home folder, then serves requests', async () => {
    server = await spawnAppServer()
    const client = server.stdioClient()
    const result = await client.initialize('my_ts_client')
    expect(result.codexHome).toBe(server.home)
    expect(result.platformFamily).toBe('unix')
    expect(result.platformOs).toBe(process.platform === 'darwin' ? 'macos' : 'linux')
    expect(result.userAgent).toMatch(
      /^my_ts_client\/0\.169\.0 \(.+; .+\) \S+ \(my_ts_client; 0\.0\.1\) codex-desk\/\d+\.\d+\.\d+$/,
    )
    await expect(client.request('thread/loaded/list', {})).resolves.toEqual({ data: [], nextCursor: null })
    expect(client.violations).toEqual([])
  })

  it('refuses requests before initialize and a second initialize', async () => {
    server = await spawnAppServer()
    const client = server.stdioClient()
    const early = await client.call('thread/loaded/list', {}, 1)
    expect(early.error).toEqual({ code: -32600, message: 'Not initialized' })
    await client.initialize()
    const again = await client.call('initialize', { clientInfo: { name: 'x', version: '1' } }, 2)
    expect(again.error).toEqual({ code: -32600, message: 'Already initialized' })
    await expect(client.request('thread/loaded/list', {})).resolves.toEqual({ data: [], nextCursor: null })
  })

  it('exits 0 when stdin closes', async () => {
    server = await spawnAppServer()
    const client = server.stdioClient()
    await client.initialize()
    client.close()
    await expect(server.exited).resolves.toEqual({ code: 0, signal: null })
  })

  it('closes the connection and exits 0 on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      server = await spawnAppServer()
      const client = server.stdioClient()
      await client.initialize()
      server.child.kill(signal)
      await expect(server.exited).resolves.toEqual({ code: 0, signal: null })
      expect(server.stderr()).toContain(`shutting down reason=${signal}`)
      await server.dispose()
      server = undefined
    }
  })

  it('answers a line larger than the message limit with an error and keeps the connection', async () => {
    server = await spawnAppServer()
    const client = server.stdioClient()
    await client.initialize()
    client.sendRaw(
      JSON.stringify({
        id: 5,
        method: 'thread/loaded/list',
        params: { cursor: 'x'.repeat(17 * 1024 * 1024) },
      }),
    )
    const error = await client.waitForResponse(null as unknown as number)
    expect(error.error?.code).toBe(-32600)
    expect(error.error?.message).toMatch(
      /^Invalid request: message of \d+ bytes exceeds the limit of 16777216 bytes$/,
    )
    await expect(client.request('thread/loaded/list', {})).resolves.toEqual({ data: [], nextCursor: null })
  })
})
