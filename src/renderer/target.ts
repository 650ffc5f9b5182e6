/**
 * Where the renderer connects: the app's MessagePort when the preload's bridge is there; in a
 * browser `?ws=URL` (development), else the core that served the page (`ws://<host>`, with the
 * capability token from the `#token=` fragment, kept in sessionStorage and removed from the
 * address bar); opened as a file with none of these, nowhere (offline, with how to connect).
 * Pure: the page's location and storage are passed in.
 */
import type { KeyValueStorage } from './session'

export const TOKEN_KEY = 'codex-desk.token'
/** Offered on every websocket; the server echoes it. */
export const WS_PROTOCOL = 'codex-desk'
export const WS_BEARER_PREFIX = 'codex-desk.bearer.'

export type Target =
  | { kind: 'app' }
  | { kind: 'websocket'; url: string; protocols: string[] }
  | { kind: 'offline'; message: string }

export interface PageLocation {
  protocol: string
  host: string
  search: string
  hash: string
}

export const OFFLINE_HELP =
  'open this page inside codex-desk, open the address `codex-desk app-server --web-ui` prints, ' +
  'or add ?ws=ws://127.0.0.1:PORT to reach a headless core'

export function resolveTarget(
  location: PageLocation,
  hasBridge: boolean,
  storage: KeyValueStorage | null,
): { target: Target; stripHash: boolean } {
  if (hasBridge) return { target: { kind: 'app' }, stripHash: false }
  const fragment = new URLSearchParams(location.hash.replace(/^#/, ''))
  const fromHash = fragment.get('token')
  if (fromHash) storage?.setItem(TOKEN_KEY, fromHash)
  const token = fromHash ?? storage?.getItem(TOKEN_KEY) ?? null
  const protocols = [WS_PROTOCOL, ...(token ? [WS_BEARER_PREFIX + token] : [])]
  const stripHash = fromHash !== null
  const ws = new URLSearchParams(location.search).get('ws')
  if (ws) {
    if (!/^wss?:\/\//i.test(ws)) {
      return {
        target: { kind: 'offline', message: `the ws parameter must be a ws:// or wss:// URL, not ${ws}` },
        stripHash,
      }
    }
    return { target: { kind: 'websocket', url: ws, protocols }, stripHash }
  }
  if ((location.protocol === 'http:' || location.protocol === 'https:') && location.host) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
    return { target: { kind: 'websocket', url: `${scheme}://${location.host}/`, protocols }, stripHash }
  }
  return { target: { kind: 'offline', message: OFFLINE_HELP }, stripHash }
}
