/**
 * codex's paging for `thread/loaded/list` over the ids of the threads loaded in this process: ids
 * in ascending order; the cursor is the last id returned. The ids come from the ThreadManager's
 * live threads, so there is no second set to keep in step.
 */
export function pageOfThreadIds(
  ids: Iterable<string>,
  cursor: string | null | undefined,
  limit: number | null | undefined,
): { data: string[]; nextCursor: string | null } {
  const sorted = [...ids].sort()
  const start = cursor ? sorted.findIndex((id) => id > cursor) : 0
  const rest = start === -1 ? [] : sorted.slice(start)
  const size = limit ? limit : rest.length
  const data = rest.slice(0, size)
  const more = rest.length > data.length
  return { data, nextCursor: more && data.length > 0 ? (data[data.length - 1] as string) : null }
}
