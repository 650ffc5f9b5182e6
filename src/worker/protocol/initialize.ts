/** Shapes of the connection handshake (protocol.md §3). Runtime-free. */
import * as z from 'zod/mini'

/**
 * The codex release whose app-server protocol codex-desk speaks. Clients read it from the
 * `initialize` user agent as the server's version (the Codex TUI warns about an older one).
 */
export const CODEX_PROTOCOL_VERSION = '0.169.0'

export const ClientInfo = z.object({
  name: z.string(),
  title: z.nullish(z.string()),
  version: z.string(),
})

export const InitializeCapabilities = z.object({
  experimentalApi: z.nullish(z.boolean()),
  /** Exact notification method names this connection never wants; unknown names are ignored. */
  optOutNotificationMethods: z.nullish(z.array(z.string())),
})

export const InitializeParams = z.object({
  clientInfo: ClientInfo,
  capabilities: z.nullish(InitializeCapabilities),
})

export const InitializeResponse = z.object({
  userAgent: z.string(),
  codexHome: z.string(),
  platformFamily: z.enum(['unix', 'windows']),
  platformOs: z.enum(['linux', 'macos', 'windows']),
})

/**
 * The registry's `initialize` entry, exported on its own: the message processor answers the first
 * `initialize` with it before the rest of the registry (and its schemas) has loaded.
 */
export const initializeSpec = { params: InitializeParams, result: InitializeResponse } as const

export type InitializeParams = z.infer<typeof InitializeParams>
export type InitializeResponse = z.infer<typeof InitializeResponse>
