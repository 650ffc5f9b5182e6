/**
 * Figure 4: resident memory of the built `codex-desk app-server --listen ws://` process with 0 and
 * then 50 idle, initialized websocket connections, read from /proc/<pid>/status (VmRSS), the number
 * an operator would see in top.
 */
import type { WebSocket } from 'ws'
import { initialize, openWebSocket, webSocketFrames } from './lib/clients'
import { listeningUrl, makeTempDir, rssOf, spawnServer, stopChild } from './lib/processes'
import { round, type Figure } from './lib/stats'

export interface RssOptions {
  connections: number
  settleMs: number
}

const MiB = 2 ** 20
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function idleRss(options: RssOptions): Promise<Figure[]> {
  const home = makeTempDir()
  const child = spawnServer(['--listen', 'ws://127.0.0.1:0'], home.path)
  const sockets: WebSocket[] = []
  try {
    const url = await listeningUrl(child)
    await sleep(options.settleMs)
    const empty = await rssOf(child.pid as number)
    // Connect and initialize in parallel, as a burst of reconnecting clients would.
    await Promise.all(
      Array.from({ length: options.connections }, async () => {
        const ws = await openWebSocket(url)
        sockets.push(ws)
        await initialize(webSocketFrames(ws))
      }),
    )
    await sleep(options.settleMs)
    const loaded = await rssOf(child.pid as number)
    return [
      {
        bench: 'rss_ws_0_connections',
        unit: 'MiB',
        value: round(empty / MiB),
        n: 1,
        target: null,
        targetStat: null,
        codex: null,
        pass: null,
        note: 'context for rss_ws_50_idle',
      },
      {
        bench: `rss_ws_${options.connections}_idle`,
        unit: 'MiB',
        value: round(loaded / MiB),
        n: 1,
        target: 70,
        targetStat: 'value',
        codex: { value: 110 },
        pass: loaded / MiB <= 70,
        perConnectionKiB: round((loaded - empty) / 1024 / options.connections),
      },
    ]
  } finally {
    for (const ws of sockets) ws.terminate()
    await stopChild(child)
    await home.remove()
  }
}
