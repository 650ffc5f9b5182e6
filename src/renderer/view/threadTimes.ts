/**
 * The times of the thread list: a row shows its thread's last activity (`updatedAt`, which the core
 * moves when a turn starts, an item completes or a turn ends, and never when a thread is merely
 * opened), as an age ("5 min ago"). Pure (no DOM), so the unit tests pin it.
 */

/** "just now", "5 min ago", "3 h ago", else the date: the age of `seconds` (a Unix time) at `now` (ms). */
export function relativeTime(seconds: number, now = Date.now()): string {
  const diff = Math.max(0, Math.round(now / 1000 - seconds))
  if (diff < 60) return 'just now'
  if (diff < 3600) return `${Math.floor(diff / 60)} min ago`
  if (diff < 86_400) return `${Math.floor(diff / 3600)} h ago`
  const date = new Date(seconds * 1000)
  return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
}

/** The time a row shows: the last activity (`updatedAt`), never before the creation. */
export function activityTime(thread: { createdAt: number; updatedAt: number }): number {
  return Math.max(thread.updatedAt || 0, thread.createdAt)
}
