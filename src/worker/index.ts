/**
 * Utility-process entry of the core. In Electron it is forked by main with `utilityProcess.fork`
 * and talks through `process.parentPort`; under Node (tests) it runs in a worker thread and talks
 * through `worker_threads.parentPort`. Each `connect` message brings a MessagePort that becomes one
 * app-server connection; a `control` message brings the port for the comlink control API.
 * It never imports electron.
 */
import { expose } from 'comlink'
import { createHash } from 'node:crypto'
import type { CoreControl, CoreParentMessage, WebSocketListenerSettings } from './protocol/control'
import { prepareHome, resolveCodexDeskHome } from './home'
import { ConfigService } from './config/service'
import { AppServer } from './server/appServer'
import { publishListener } from './server/endpointFile'
import { comlinkEndpoint } from './transport/comlinkEndpoint'
import { MessagePortTransport } from './transport/messagePort'
import {
  type DataEmitterLike,
  type EventEmitterLike,
  fromElectronPort,
  fromNodePort,
  type Port,
} from './transport/port'
import type { WebSocketListener } from './transport/webSocket'
import { loggerFromEnv } from './util/log'
import { VERSION } from './version'

async function parentPort(): Promise<{ port: Port; electron: boolean }> {
  const electronParent = (process as { parentPort?: unknown }).parentPort
  if (electronParent) return { port: fromElectronPort(electronParent as EventEmitterLike), electron: true }
  const threads = await import('node:worker_threads')
  if (!threads.parentPort) throw new Error('the core must run as a utility process or a worker thread')
  return { port: fromNodePort(threads.parentPort as unknown as DataEmitterLike), electron: false }
}

export async function startCore(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const logs = loggerFromEnv(env)
  const log = logs.get('core')
  const { port: parent, electron } = await parentPort()
  const codexHome = resolveCodexDeskHome(env)
  void prepareHome(codexHome, logs.get('home'))
  // In the app, a bad -c cannot happen (the app passes none); a broken file is a warning, never fatal.
  const config = await ConfigService.create({ home: codexHome, log: logs.get('config') })
  const server = new AppServer({ codexHome, version: VERSION, logs, env, config })
  const started = Date.now()
  let listener: WebSocketListener | undefined
  let unpublish: (() => Promise<void>) | undefined

  // Node puts transferred ports inside the payload; Electron puts them in `ports`.
  const portOf = (message: CoreParentMessage, ports: Port[]): Port | undefined => {
    if (ports[0]) return ports[0]
    if (!electron && message.port) return fromNodePort(message.port as DataEmitterLike)
    return undefined
  }

  const control: CoreControl = {
    async health() {
      return {
        pid: process.pid,
        uptimeMs: Date.now() - started,
        connections: server.connectionCount,
        rssBytes: process.memoryUsage.rss(),
        webSocketUrl: listener?.url ?? null,
      }
    },
    async startWebSocketListener(settings: WebSocketListenerSettings) {
      await listener?.close()
      listener = undefined
      const { WebSocketListener } = await import('./transport/webSocket')
      listener = await WebSocketListener.start(
        {
          host: settings.host,
          port: settings.port,
          allowedOrigins: settings.allowedOrigins,
          auth: settings.capabilityToken
            ? {
                mode: 'capability-token',
                tokenSha256: createHash('sha256').update(settings.capabilityToken).digest(),
              }
            : { mode: 'none' },
          log: logs.get('transport'),
        },
        (transport) => server.addTransport(transport),
      )
      log.info({ url: listener.url }, 'websocket listener started')
      // So `codex-desk mcp-server` on this home attaches to the app's core (server/endpointFile.ts).
      await unpublish?.()
      unpublish = await publishListener(
        codexHome,
        listener.url,
        async () => settings.capabilityToken ?? null,
        log,
      )
      return { url: listener.url }
    },
    async stopWebSocketListener() {
      await Promise.all([listener?.close(), unpublish?.()])
      listener = undefined
      unpublish = undefined
    },
    async shutdown() {
      log.info('shutting down')
      await Promise.all([server.close(), listener?.close(), unpublish?.()])
      listener = undefined
      // In a worker thread (tests, benchmarks) process.exit ends the thread, not the process.
      setImmediate(() => {
        parent.close()
        process.exit(0)
      })
    },
  }

  parent.onMessage(({ data, ports }) => {
    const message = data as CoreParentMessage
    const port = portOf(message, ports)
    if (!port) {
      log.warn({ type: message?.type }, 'parent message without a port; ignored')
      return
    }
    if (message.type === 'connect') {
      server.addTransport(new MessagePortTransport(port, `port ${message.client}`))
    } else if (message.type === 'control') {
      expose(control, comlinkEndpoint(port))
    }
  })
  log.info({ version: VERSION, pid: process.pid }, 'core ready')
}

startCore().catch((error: unknown) => {
  process.stderr.write(`fatal: ${(error as Error).stack ?? String(error)}\n`)
  process.exit(1)
})
