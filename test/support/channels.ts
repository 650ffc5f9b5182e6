/** Client channels for the TestClient: stdio of a child process, websocket, MessagePort, in-memory. */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import type { MessagePort } from 'node:worker_threads'
import { WebSocket, type ClientOptions } from 'ws'
import { portClientChannel } from '../../src/worker/protocol/portFrames'
import { LineSplitter } from '../../src/worker/transport/lineSplitter'
import type { MemoryClient } from '../../src/worker/transport/memory'
import type { CloseInfo } from '../../src/worker/transport/types'
import { TestClient, WAIT_MS, withTimeout, type ClientChannel } from './testClient'

export function stdioChannel(child: ChildProcessWithoutNullStreams): ClientChannel {
  let onFrame: (frame: string) => void = () => {}
  const closeListeners: ((info: CloseInfo) => void)[] = []
  const splitter = new LineSplitter(
    64 * 1024 * 1024,
    (line) => onFrame(line),
    () => {},
  )
  child.stdout.on('data', (chunk: Buffer) => splitter.push(chunk))
  child.stdout.on('end', () => closeListeners.forEach((l) => l({ code: 1000, reason: 'stdout closed' })))
  return {
    send: (frame) => void child.stdin.write(frame + '\n'),
    onFrame: (l) => (onFrame = l),
    onClose: (l) => closeListeners.push(l),
    close: () => child.stdin.end(),
  }
}

export function webSocketChannel(ws: WebSocket): ClientChannel {
  return {
    send: (frame) => ws.send(frame),
    onFrame: (l) => ws.on('message', (data, isBinary) => !isBinary && l(data.toString())),
    onClose: (l) => ws.on('close', (code, reason) => l({ code, reason: reason.toString() })),
    close: () => ws.close(),
  }
}

/** A Node MessagePort as a channel, with the app's port framing (portFrames.ts). */
export function portChannel(port: MessagePort): ClientChannel {
  return portClientChannel({
    postMessage: (data) => port.postMessage(data),
    onMessage(listener) {
      port.on('message', listener)
      return () => port.off('message', listener)
    },
    onClose(listener) {
      port.on('close', listener)
      return () => port.off('close', listener)
    },
    close: () => port.close(),
  })
}

export function memoryChannel(client: MemoryClient): ClientChannel {
  return {
    send: (frame) => client.send(frame),
    onFrame: (l) => client.onMessage(l),
    onClose: (l) => client.onClose(l),
    close: () => client.close(),
  }
}

/** Opens a websocket and wraps it in a TestClient once it is open. */
export async function connectWebSocket(
  url: string,
  options: ClientOptions & { protocols?: string[] } = {},
): Promise<{ client: TestClient; ws: WebSocket }> {
  const { protocols, ...rest } = options
  const ws = new WebSocket(url, protocols, rest)
  const client = new TestClient(webSocketChannel(ws))
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`unexpected response ${res.statusCode} to the websocket upgrade`)),
      )
    }),
    WAIT_MS,
    `websocket open ${url}`,
  )
  return { client, ws }
}

/** Attempts an upgrade that should be refused; resolves with the HTTP status and body. */
export function refusedUpgrade(
  url: string,
  options: ClientOptions & { protocols?: string[] } = {},
): Promise<{ status: number; body: string }> {
  const { protocols, ...rest } = options
  const ws = new WebSocket(url, protocols, rest)
  return withTimeout(
    new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.close()
        reject(new Error('the upgrade was accepted'))
      })
      ws.once('unexpected-response', (_req, res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      })
      ws.once('error', () => {})
    }),
    WAIT_MS,
    `refused upgrade ${url}`,
  )
}
