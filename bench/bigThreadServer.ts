/**
 * The big-thread figures' connections (bigThread.ts measures through them): a fresh server process
 * over stdio or websocket (a websocket client that takes messages of any size), initialized; a
 * request with a long timeout; and a thread written through real turns with the scripted model
 * server, whose rollout size is read back.
 *
 * It never measures anything but the time a thread took to write, and never checks what a server
 * answered (bigThread.ts does); a server it started is always stopped, also on failure.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { WebSocket } from 'ws'
import type { Step } from '../test/support/modelServer'
import { initialize, request, stdioFrames, webSocketFrames, type FrameChannel } from './lib/clients'
import { stderrOf, stopChild, withTimeout } from './lib/processes'
import type { RemoteModelServer } from './lib/remoteModelServer'
import { freePort, type BenchServer } from './lib/servers'

export type Wire = 'stdio' | 'ws'

export interface Running {
  child: ChildProcessWithoutNullStreams
  channel: FrameChannel
}

/** A websocket client that takes messages of any size (ws's default stops at 100 MiB). */
async function openBig(url: string, child: ChildProcessWithoutNullStreams): Promise<FrameChannel> {
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the server exited with ${child.exitCode}: ${stderrOf(child)}`)
    try {
      const ws = new WebSocket(url, { maxPayload: 2 ** 31 - 1 })
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve())
          ws.once('error', reject)
        }),
        2_000,
        `websocket open ${url}`,
      ).catch((error: unknown) => {
        ws.terminate()
        throw error
      })
      return webSocketFrames(ws)
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

export async function start(server: BenchServer, home: string, wire: Wire): Promise<Running> {
  const listen = wire === 'ws' ? `ws://127.0.0.1:${await freePort()}` : null
  const child = server.spawn(home, listen)
  try {
    const channel = listen ? await openBig(listen, child) : stdioFrames(child)
    await initialize(channel)
    return { child, channel }
  } catch (error) {
    await stopChild(child)
    throw new Error(`${server.name}: ${(error as Error).message}: ${stderrOf(child).slice(-2000)}`, {
      cause: error,
    })
  }
}

export async function stop(running: Running): Promise<void> {
  running.channel.close()
  await stopChild(running.child, 5_000)
}

/** A request with a long timeout; returns the parsed result. */
export async function call(
  channel: FrameChannel,
  id: number,
  method: string,
  params: unknown,
): Promise<unknown> {
  const response = await request(channel, JSON.stringify({ id, method, params }), id, 300_000)
  return response.result
}

/** Waits for `turn/completed` of `threadId` (any other frame is ignored). */
function turnCompleted(channel: FrameChannel, threadId: string): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    channel.handler = (frame) => {
      if (!frame.startsWith('{"method":"turn/completed"')) return
      const message = JSON.parse(frame) as {
        params: { threadId: string; turn: { status: string; error: { message: string } | null } }
      }
      if (message.params.threadId !== threadId) return
      channel.handler = () => {}
      if (message.params.turn.status === 'completed') resolve()
      else
        reject(new Error(`turn ended ${message.params.turn.status}: ${message.params.turn.error?.message}`))
    }
  })
  return withTimeout(done, 300_000, 'turn/completed')
}

async function rolloutOf(dir: string, threadId: string): Promise<string> {
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.includes(threadId) && entry.name.endsWith('.jsonl'))
      return join(entry.parentPath, entry.name)
  }
  throw new Error(`no rollout for ${threadId} under ${dir}`)
}

/** Writes a thread of `turns` turns (steps from `stepsOf`) through real turns; returns its id and size. */
export async function writeThread(
  server: BenchServer,
  home: string,
  model: RemoteModelServer,
  turns: number,
  stepsOf: (turn: number) => Step[],
): Promise<{ threadId: string; rolloutBytes: number; ms: number }> {
  const t0 = performance.now()
  const running = await start(server, home, 'stdio')
  try {
    const started = await call(running.channel, 1, 'thread/start', {})
    const threadId = (started as { thread: { id: string } }).thread.id
    for (let turn = 0; turn < turns; turn++) {
      model.enqueue(stepsOf(turn))
      const completed = turnCompleted(running.channel, threadId)
      running.channel.send(
        JSON.stringify({
          id: 100 + turn,
          method: 'turn/start',
          params: { threadId, input: [{ type: 'text', text: `Turn ${turn}: read the next sections.` }] },
        }),
      )
      await completed
    }
    await stop(running)
    const rolloutBytes = (await stat(await rolloutOf(server.sessions(home), threadId))).size
    return { threadId, rolloutBytes, ms: performance.now() - t0 }
  } catch (error) {
    const stderr = stderrOf(running.child).slice(-2000)
    await stop(running)
    if (stderr) (error as Error).message += `\n${server.name} stderr: ${stderr}`
    throw error
  }
}
