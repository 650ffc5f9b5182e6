/**
 * Minimal protocol clients for timing: a frame channel over a child's stdio, a websocket or a
 * MessagePort, with nothing between the wire and the callback (no buffering, no schema checks, no
 * per-request timers), so the figures measure the server rather than the client.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import type { MessagePort } from 'node:worker_threads'
import { WebSocket } from 'ws'
import { PORT_ACK_EVERY } from '../../src/worker/protocol/portFrames'
import { onStdoutLines, spawnServer, stderrOf, stopChild, withTimeout } from './processes'

/** One client connection: `send` a frame, and a single replaceable `handler` for incoming frames. */
export interface FrameChannel {
  send(frame: string): void
  handler: (frame: string) => void
  close(): void
}

export const INITIALIZE_FRAME = JSON.stringify({
  id: 0,
  method: 'initialize',
  params: { clientInfo: { name: 'bench', version: '1' } },
})

export function stdioFrames(child: ChildProcessWithoutNullStreams): FrameChannel {
  const channel: FrameChannel = {
    // One write per frame, newline included: two writes would be two syscalls per request.
    send: (frame) => void child.stdin.write(frame + '\n'),
    handler: () => {},
    close: () => {
      detach()
      child.stdin.end()
    },
  }
  const detach = onStdoutLines(child, (line) => channel.handler(line))
  return channel
}

export function webSocketFrames(ws: WebSocket): FrameChannel {
  const channel: FrameChannel = {
    send: (frame) => ws.send(frame),
    handler: () => {},
    close: () => ws.terminate(),
  }
  ws.on('message', (data, isBinary) => {
    if (!isBinary) channel.handler(data.toString())
  })
  return channel
}

/**
 * The client side of the port framing (src/worker/protocol/portFrames.ts): acknowledges every
 * PORT_ACK_EVERY consumed messages, after the handler ran, so an ack never sits in front of the
 * next request; `flushAcks` acknowledges the rest when the caller goes idle.
 */
export function portFrames(port: MessagePort): FrameChannel & { flushAcks(): void } {
  let unacked = 0
  const flushAcks = () => {
    if (unacked > 0) port.postMessage({ type: 'ack', count: unacked })
    unacked = 0
  }
  const channel = {
    send: (frame: string) => port.postMessage(frame),
    handler: (_frame: string) => {},
    flushAcks,
    close: () => {
      port.postMessage({ type: 'close', code: 1000, reason: 'bench done' })
      port.close()
    },
  }
  port.on('message', (data: unknown) => {
    if (typeof data !== 'string') return
    channel.handler(data)
    if (++unacked >= PORT_ACK_EVERY) flushAcks()
  })
  return channel
}

/** Sends one request frame and resolves with the parsed response carrying `id`. */
export function request(
  channel: FrameChannel,
  frame: string,
  id: number,
  timeoutMs = 5_000,
): Promise<{ id: number; result?: unknown; error?: { message: string } }> {
  const response = new Promise<{ id: number; result?: unknown; error?: { message: string } }>(
    (resolve, reject) => {
      channel.handler = (text) => {
        const message = JSON.parse(text) as { id?: number; result?: unknown; error?: { message: string } }
        if (message.id !== id) return
        channel.handler = () => {}
        if (message.error) reject(new Error(`request ${id} failed: ${message.error.message}`))
        else resolve(message as { id: number; result?: unknown })
      }
    },
  )
  channel.send(frame)
  return withTimeout(response, timeoutMs, `the response to request ${id}`)
}

/**
 * Sends one request and resolves with the time from the write to its response's last byte (taken
 * before the frame is parsed), the frame's size and the parsed result.
 */
export function timedRequest(
  channel: FrameChannel,
  id: number,
  method: string,
  params: unknown,
  timeoutMs = 10_000,
): Promise<{ ms: number; bytes: number; result: unknown }> {
  const prefix = `{"id":${id},`
  const t0 = performance.now()
  const response = new Promise<{ ms: number; bytes: number; result: unknown }>((resolve, reject) => {
    channel.handler = (frame) => {
      const t1 = performance.now()
      if (!frame.startsWith(prefix)) return
      channel.handler = () => {}
      const message = JSON.parse(frame) as { result?: unknown; error?: { message: string } }
      if (message.error) reject(new Error(`${method} failed: ${message.error.message}`))
      else resolve({ ms: t1 - t0, bytes: Buffer.byteLength(frame), result: message.result })
    }
  })
  channel.send(JSON.stringify({ id, method, params }))
  return withTimeout(response, timeoutMs, `the ${method} response`)
}

export async function initialize(channel: FrameChannel): Promise<void> {
  await request(channel, INITIALIZE_FRAME, 0)
  channel.send('{"method":"initialized"}')
}

/** A core over stdio in `home`, initialized; the caller stops it. */
export async function stdioCore(
  home: string,
): Promise<{ child: ChildProcessWithoutNullStreams; channel: FrameChannel }> {
  const child = spawnServer([], home)
  const channel = stdioFrames(child)
  try {
    await initialize(channel)
  } catch (error) {
    await stopChild(child)
    throw new Error(`${(error as Error).message}: ${stderrOf(child)}`, { cause: error })
  }
  return { child, channel }
}

/** Opens a websocket to a loopback URL. */
export function openWebSocket(url: string, timeoutMs = 5_000): Promise<WebSocket> {
  const ws = new WebSocket(url)
  const opened = new Promise<WebSocket>((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
  })
  return withTimeout(opened, timeoutMs, `websocket open ${url}`).catch((error: unknown) => {
    ws.terminate()
    throw error
  })
}

/**
 * Sequential request/response round trips, driven from the response callback (the next request
 * leaves as soon as the previous response arrives, with no promise or timer per request).
 * Returns the durations, in ms, of the `count` requests after `warmup`.
 */
export function roundTrips(
  channel: FrameChannel,
  method: string,
  params: unknown,
  warmup: number,
  count: number,
  timeoutMs = 60_000,
): Promise<Float64Array> {
  const samples = new Float64Array(count)
  const paramsJson = JSON.stringify(params)
  const total = warmup + count
  const firstId = 1
  let i = 0
  let t0 = 0
  if (total === 0) return Promise.resolve(samples)
  const done = new Promise<Float64Array>((resolve, reject) => {
    const sendNext = () => {
      const frame = `{"id":${firstId + i},"method":"${method}","params":${paramsJson}}`
      t0 = performance.now()
      channel.send(frame)
    }
    channel.handler = (text) => {
      const t1 = performance.now()
      const message = JSON.parse(text) as { id?: number; error?: { message: string } }
      if (message.id === undefined) return // a notification: not ours to time
      if (message.id !== firstId + i) return reject(new Error(`unexpected response id ${message.id}`))
      if (message.error) return reject(new Error(`${method} failed: ${message.error.message}`))
      if (i >= warmup) samples[i - warmup] = t1 - t0
      if (++i === total) {
        channel.handler = () => {}
        resolve(samples)
      } else sendNext()
    }
    sendNext()
  })
  return withTimeout(done, timeoutMs, `${total} ${method} round trips`)
}
