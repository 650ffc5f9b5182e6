/**
 * An MCP server over streamable HTTP (the SDK's server, on 127.0.0.1 in this process): listed with
 * its bearer-token auth, its tools offered to the model and called with the token from the variable
 * `bearer_token_env_var` names, and a missing variable reported as a failed start.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { expectCodexShape } from '../support/codexSchema'
import { GREETING_TEXT, GREETING_URI, startHttpMcpServer, type HttpMcpServer } from '../support/mcpServer'
import { event, functionOutput, text } from '../support/modelServer'
import { harnessesPerTest, startThread } from '../support/threadHarness'

const { harness } = harnessesPerTest()
const servers: HttpMcpServer[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close()
})

async function httpServer(): Promise<HttpMcpServer> {
  const server = await startHttpMcpServer()
  servers.push(server)
  return server
}

const table = (url: string) =>
  [
    '[mcp_servers.remote]',
    `url = ${JSON.stringify(url)}`,
    'bearer_token_env_var = "MCP_TEST_TOKEN"',
    '',
  ].join('\n')

describe('MCP servers over streamable HTTP', () => {
  it('lists the server, and calls its tools with the bearer token', async () => {
    const server = await httpServer()
    const h = await harness('ws', { config: table(server.url), env: { MCP_TEST_TOKEN: 'secret-token' } })
    const client = await h.connect()
    const list = await client.request('mcpServerStatus/list', {})
    expectCodexShape('ListMcpServerStatusResponse', list)
    expect(list.data[0]).toMatchObject({
      name: 'remote',
      runtimeStatus: 'connected',
      authStatus: 'bearerToken',
      httpOrigin: new URL(server.url).origin,
      toolsError: null,
    })
    expect(Object.keys(list.data[0]?.tools ?? {}).sort()).toEqual(['count', 'crash', 'echo', 'wait'])
    expect(server.authorizations.length).toBeGreaterThan(0)
    expect(new Set(server.authorizations)).toEqual(new Set(['Bearer secret-token']))

    const { thread } = await startThread(client)
    const item = {
      id: 'fc_http',
      type: 'function_call',
      status: 'completed',
      namespace: 'mcp__remote',
      name: 'echo',
      call_id: 'call_http',
      arguments: '{"text":"over http"}',
    }
    h.model.enqueue([event('response.output_item.done', { output_index: 0, item })], text('done'))
    const { turn } = await client.request('turn/start', {
      threadId: thread.id,
      input: [{ type: 'text', text: 'go' }],
    })
    await client.waitForNotification(
      'turn/completed',
      (p) => (p as { turn: { id: string } }).turn.id === turn.id,
    )
    expect(functionOutput(h.model.requests, 'call_http')).toMatch(/Output:\n\{"echoed":"over http"\}$/)

    const read = await client.request('mcpServer/resource/read', { server: 'remote', uri: GREETING_URI })
    expect(read.contents).toEqual([{ uri: GREETING_URI, mimeType: 'text/plain', text: GREETING_TEXT }])
    const oauth = await client.call('mcpServer/oauth/login', { name: 'remote' })
    expect(oauth.error?.message).toContain('not supported by codex-desk yet')
  })

  it('reports a server whose token variable is not set as failed', async () => {
    const server = await httpServer()
    const h = await harness('ws', { config: table(server.url) })
    const client = await h.connect()
    const list = await client.request('mcpServerStatus/list', {})
    expectCodexShape('ListMcpServerStatusResponse', list)
    expect(list.data[0]).toMatchObject({ name: 'remote', runtimeStatus: 'failed', tools: {} })
    expect(list.data[0]?.toolsError).toContain('MCP_TEST_TOKEN')
    const failed = await client.waitForNotification(
      'mcpServer/startupStatus/updated',
      (p) => (p as { status: string }).status === 'failed',
    )
    expectCodexShape('ServerNotification', { method: failed.method, params: failed.params })
    expect(server.authorizations).toEqual([])
  })
})
