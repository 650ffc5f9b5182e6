import { describe, expect, it } from 'vitest'
import { CODEX_PROTOCOL_VERSION } from '../../src/worker/protocol/initialize'
import { Originator } from '../../src/worker/server/originator'
import { inProcessServer, memoryClient } from '../support/inProcess'

describe('connection lifecycle', () => {
  it('sends startup configWarnings to each connection right after its initialize response', async () => {
    const warning = {
      summary: 'Invalid configuration; using defaults.',
      details: 'config.toml:2:7: bad',
      path: '/x/config.toml',
      range: null,
    }
    const server = inProcessServer({ startupWarnings: [warning] })
    const { client } = memoryClient(server)
    await client.initialize()
    const ids = client.received.map((m) => m.method ?? `response ${String(m.id)}`)
    expect(ids.slice(0, 2)).toEqual(['response 1000', 'configWarning'])
    expect(client.received[1]?.params).toEqual(warning)
    expect(typeof client.received[1]?.emittedAtMs).toBe('number')
    expect(client.violations).toEqual([])
    server.close()
  })

  it('does not send opted-out notifications, matching names exactly', async () => {
    const server = inProcessServer({ startupWarnings: [{ summary: 'w' }] })
    const { client: optedOut } = memoryClient(server)
    const { client: prefixOnly } = memoryClient(server)
    await optedOut.initialize('a', { optOutNotificationMethods: ['configWarning', 'no/such/method'] })
    await prefixOnly.initialize('b', { optOutNotificationMethods: ['configWarn'] })
    server.router.notify('all', 'configWarning', { summary: 'later' })
    await prefixOnly.waitForNotification(
      'configWarning',
      (p) => (p as { summary: string }).summary === 'later',
    )
    expect(optedOut.received.some((m) => m.method === 'configWarning')).toBe(false)
    server.close()
  })

  it('does not send notifications to a connection before it initializes', async () => {
    const server = inProcessServer()
    const { client: early } = memoryClient(server)
    const { client: ready } = memoryClient(server)
    await ready.initialize()
    server.router.notify('all', 'configWarning', { summary: 'hello' })
    await ready.waitForNotification('configWarning')
    expect(early.received).toEqual([])
    server.close()
  })

  it('fixes the originator at the first initialize; later clients keep their own name in the user agent', async () => {
    const server = inProcessServer()
    const { client: a } = memoryClient(server)
    const { client: b } = memoryClient(server)
    const ra = await a.initialize('clientA')
    const rb = await b.initialize('clientB')
    expect(ra.userAgent).toMatch(/^clientA\/0\.169\.0 .* \(clientA; 0\.0\.1\) codex-desk\/9\.9\.9$/)
    expect(rb.userAgent).toMatch(/^clientA\/0\.169\.0 .* \(clientB; 0\.0\.1\) codex-desk\/9\.9\.9$/)
    server.close()
  })

  it('reports the codex protocol version where the Codex TUI reads the server version, and names codex-desk', async () => {
    const server = inProcessServer()
    const { client } = memoryClient(server)
    const { userAgent } = await client.initialize('codex-tui')
    // codex's remote client takes the text after the first '/' up to the first whitespace, and the
    // TUI warns when that is older than its own version: codex-desk speaks 0.169.0's protocol.
    expect(userAgent.split('/')[1]?.split(/\s+/)[0]).toBe(CODEX_PROTOCOL_VERSION)
    expect(CODEX_PROTOCOL_VERSION).toBe('0.169.0')
    expect(userAgent.split(' ').at(-1)).toBe('codex-desk/9.9.9')
    server.close()
  })

  it('sends model requests a user agent that leads with codex-desk and names the first client', () => {
    const originator = new Originator()
    expect(originator.upstreamHeaders('9.9.9')).toEqual({
      originator: 'codex-desk',
      'User-Agent': expect.stringMatching(/^codex-desk\/9\.9\.9 \(.+; .+\) \S+$/),
    })
    originator.claim('codex-tui')
    originator.recordClient('codex-tui', '0.169.0')
    originator.claim('second')
    originator.recordClient('second', '1.0.0')
    const headers = originator.upstreamHeaders('9.9.9')
    expect(headers.originator).toBe('codex-tui')
    expect(headers['User-Agent']).toMatch(/^codex-desk\/9\.9\.9 \(.+; .+\) \S+ \(codex-tui; 0\.169\.0\)$/)
    expect(headers['User-Agent']).not.toContain('0.169.0 (')
  })

  it('lets CODEX_INTERNAL_ORIGINATOR_OVERRIDE pre-empt the first client', async () => {
    const server = inProcessServer({ env: { CODEX_INTERNAL_ORIGINATOR_OVERRIDE: 'codex_desk_app' } })
    const { client } = memoryClient(server)
    expect((await client.initialize('clientA')).userAgent).toMatch(
      /^codex_desk_app\/0\.169\.0 .*\(clientA; 0\.0\.1\) codex-desk\/9\.9\.9$/,
    )
    server.close()
  })

  it('rejects a client name that is not a valid HTTP header value, and accepts spaces', async () => {
    const server = inProcessServer()
    const { client } = memoryClient(server)
    const bad = await client.call('initialize', { clientInfo: { name: 'bad\nname', version: '1' } }, 1)
    expect(bad.error).toEqual({
      code: -32600,
      message: "Invalid clientInfo.name: 'bad\nname'. Must be a valid HTTP header value.",
    })
    await expect(client.initialize('My Client With Spaces')).resolves.toMatchObject({
      platformFamily: 'unix',
    })
    server.close()
  })

  it('rejects initialize without clientInfo, naming the field', async () => {
    const server = inProcessServer()
    const { client } = memoryClient(server)
    const response = await client.call('initialize', {}, 1)
    expect(response.error).toEqual({ code: -32600, message: 'Invalid request: missing field `clientInfo`' })
    server.close()
  })

  it('closes every connection with 1001 when the server closes', async () => {
    const server = inProcessServer()
    const { client } = memoryClient(server)
    await client.initialize()
    server.close()
    await expect(client.waitForClose()).resolves.toEqual({ code: 1001, reason: 'server shutting down' })
  })
})
