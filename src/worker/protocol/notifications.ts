/** Server notification payloads that are not tied to one protocol area. Runtime-free. */
import * as z from 'zod/mini'

const Position = z.object({ line: z.int(), column: z.int() })

/** 1-based positions, columns in Unicode scalars, end inclusive (protocol.md §9). */
export const TextRange = z.object({ start: Position, end: Position })

export const ConfigWarningNotification = z.object({
  summary: z.string(),
  details: z.nullish(z.string()),
  path: z.nullish(z.string()),
  range: z.nullish(TextRange),
})

export type ConfigWarningNotification = z.infer<typeof ConfigWarningNotification>
