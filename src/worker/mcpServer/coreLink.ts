/**
 * How `codex-desk mcp-server` reaches a core. When a core already owns this home and published its
 * websocket listener (`app-server.json`, see server/endpointFile.ts), the MCP server attaches to it
 * as a client, so a session started over MCP is a thread that core runs and every window and
 * websocket client sees live. Otherwise it starts a core in its own process (no listener) and talks
 * to it over an in-memory pair.
 *
 * It must never write to stdout (that is the MCP stream) and never start a second core when the
 * published one answers.
 */
import WebSocket from 'ws'
import { AppServerClient, type ClientChannel } from '../protocol/client'
import { findEndpoint, type Endpoint } from '../server/endpointFile'
import { createMemoryPair } from '../transport/memory'
import type { Transport } from '../transport/types'
import type { Logger } from '../util/log'
import { VERSION } from '../version'

export interface CoreLink {
  client: AppServerClient
  /** `attached to ws://...` or `in-process`, for the log and the tests. */
  describe: string
  close(): Promise<void>
}

export interface InProcessCore {
  addTransport(transport: Transport): unknown
  shutdown(): Promise<void>
}

const CONNECT_TIMEOUT_MS = 5_000
const STREAMING_DELTAS = [
  'item/agentMessage/delta',
  'item/reasoning/summaryTextDelta',
  'item/reasoning/textDelta',
  'item/commandExecution/outputDelta',
  'item/fileChange/outputDelta',
]

export async function connectCore(options: {
  home: string
  log: Logger
  startInProcess: () => Promise<InProcessCore>
}): Promise<CoreLink> {
  const endpoint = await findEndpoint(options.home)
  if (endpoint) {
    try {
      const link = await attach(endpoint)
      options.log.info({ url: endpoint.url, pid: endpoint.pid }, 'attached to the core that owns this home')
      return link
    } catch (error) {
      options.log.warn(
        { url: endpoint.url, err: (error as Error).message },
        'the published core did not answer; starting one in this process',
      )
    }
  }
  const core = await options.startInProcess()
  const pair = createMemoryPair({ overflow: 'block', wireCapacity: 1024 })
  core.addTransport(pair.server)
  const channel: ClientChannel = {
    send: (frame) => pair.client.send(frame),
    onFrame: (listener) => void pair.client.onMessage(listener),
    onClose: (listener) => void pair.client.onClose(listener),
    close: () => pair.client.close(),
  }
  const client = await initialized(new AppServerClient(channel, { requestTimeoutMs: 120_000 }))
  return {
    client,
    describe: 'in-process',
    async close() {
      client.close()
      await core.shutdown()
    },
  }
}

async function attach(endpoint: Endpoint): Promise<CoreLink> {
  const ws = new WebSocket(endpoint.url, {
    headers: endpoint.token ? { Authorization: `Bearer ${endpoint.token}` } : {},
    handshakeTimeout: CONNECT_TIMEOUT_MS,
  })
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
    ws.once('unexpected-response', (_request, response) =>
      reject(new Error(`the core answered HTTP ${response.statusCode}`)),
    )
  })
  const channel: ClientChannel = {
    send: (frame) => ws.send(frame),
    onFrame: (listener) => ws.on('message', (data) => listener(data.toString())),
    onClose: (listener) => ws.on('close', (code, reason) => listener({ code, reason: reason.toString() })),
    close: () => ws.close(),
  }
  // A socket error after the handshake ends in 'close', which the client reports.
  ws.on('error', () => {})
  const client = await initialized(new AppServerClient(channel, { requestTimeoutMs: 120_000 }))
  return {
    client,
    describe: `attached to ${endpoint.url}`,
    async close() {
      client.close()
    },
  }
}

async function initialized(client: AppServerClient): Promise<AppServerClient> {
  await client.initialize({
    clientInfo: { name: 'codex_desk_mcp_server', title: 'codex-desk mcp-server', version: VERSION },
    // Progress is reported per item; the streaming deltas would only cross the wire to be dropped.
    capabilities: { experimentalApi: false, optOutNotificationMethods: STREAMING_DELTAS },
  })
  return client
}
