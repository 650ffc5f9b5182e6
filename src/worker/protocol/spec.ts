/**
 * The shape of a registry entry, in a file of its own so that each protocol area can declare its
 * methods next to its schemas (`modelRequests`, `extensionRequests`, ...) and registry.ts can spread
 * them into the one registry without an import cycle. Runtime-free.
 */
import type * as z from 'zod/mini'

export interface ClientRequestSpec {
  /** `null` for methods whose params type is null in codex: `params` may then be omitted. */
  readonly params: z.ZodMiniType | null
  readonly result: z.ZodMiniType
  /** The whole method needs `capabilities.experimentalApi`. */
  readonly experimental?: boolean
  /** Params fields that need `capabilities.experimentalApi` when present and not null. */
  readonly experimentalFields?: readonly string[]
}

export interface ServerRequestSpec {
  readonly params: z.ZodMiniType
  readonly response: z.ZodMiniType
  /** Declared (and brokered) but not yet sent by any feature; says which work will send it. */
  readonly notYetSent?: string
}

export type ClientRequestSpecs = Record<string, ClientRequestSpec>
export type NotificationSpecs = Record<string, z.ZodMiniType>
