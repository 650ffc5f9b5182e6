/**
 * The control plane between the Electron main process and the core, served with comlink over its
 * own MessagePort (never over the app-server protocol). Types and message shapes only. Runtime-free.
 */

export interface WebSocketListenerSettings {
  host: string
  port: number
  /** Exact origins allowed to connect (the app's own web UI). */
  allowedOrigins: string[]
  /** When set, clients must present this capability token. */
  capabilityToken?: string
}

export interface CoreHealth {
  pid: number
  uptimeMs: number
  connections: number
  rssBytes: number
  webSocketUrl: string | null
}

export interface CoreControl {
  health(): Promise<CoreHealth>
  startWebSocketListener(settings: WebSocketListenerSettings): Promise<{ url: string }>
  stopWebSocketListener(): Promise<void>
  /** Closes every connection and the listener; the process exits afterwards. */
  shutdown(): Promise<void>
}

/** Messages main posts to the core's parent port; each carries one transferred port. */
export type CoreParentMessage =
  { type: 'connect'; client: string; port?: unknown } | { type: 'control'; port?: unknown }
