/** Shapes of the connection handshake (protocol.md §3). Runtime-free. */
import * as z from 'zod/mini'

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

export type InitializeParams = z.infer<typeof InitializeParams>
export type InitializeResponse = z.infer<typeof InitializeResponse>
