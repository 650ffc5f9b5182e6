/** Parses `--listen`: `stdio://`, `ws://IP:PORT` (IP literal; port 0 picks a free one) or `off`. */
import { isIP } from 'node:net'

export type ListenTarget = { kind: 'stdio' } | { kind: 'off' } | { kind: 'ws'; host: string; port: number }

export class ListenUrlError extends Error {}

const EXPECTED = 'expected `stdio://`, `ws://IP:PORT`, or `off`'

export function parseListenUrl(url: string): ListenTarget {
  if (url === 'stdio://' || url === 'stdio') return { kind: 'stdio' }
  if (url === 'off') return { kind: 'off' }
  if (url.startsWith('ws://')) {
    const match = /^ws:\/\/(\[[^\]]+\]|[^:/[\]]+):(\d{1,5})\/?$/.exec(url)
    const host = match?.[1]?.replace(/^\[(.*)\]$/, '$1')
    const port = Number(match?.[2])
    if (!match || !host || isIP(host) === 0 || port > 65535) {
      throw new ListenUrlError(`invalid websocket --listen URL \`${url}\`; expected \`ws://IP:PORT\``)
    }
    return { kind: 'ws', host, port }
  }
  if (url.startsWith('unix://')) {
    throw new ListenUrlError(
      `unsupported --listen URL \`${url}\`: codex-desk does not serve unix sockets; ${EXPECTED}`,
    )
  }
  throw new ListenUrlError(`unsupported --listen URL \`${url}\`; ${EXPECTED}`)
}
