/** Thread shapes (protocol.md §4). Only what is served today; the threads work adds the rest. Runtime-free. */
import * as z from 'zod/mini'

export const ThreadLoadedListParams = z.object({
  /** The last id of the previous page. */
  cursor: z.nullish(z.string()),
  limit: z.nullish(z.int().check(z.nonnegative())),
})

export const ThreadLoadedListResponse = z.object({
  data: z.array(z.string()),
  nextCursor: z.nullable(z.string()),
})
