/**
 * The threads loaded in this process, by id, with codex's paging for `thread/loaded/list`
 * (ids in ascending order; the cursor is the last id returned). The thread manager adds and
 * removes ids as threads load and unload.
 */

export class LoadedThreads {
  private readonly ids = new Set<string>()

  add(id: string): void {
    this.ids.add(id)
  }

  delete(id: string): void {
    this.ids.delete(id)
  }

  has(id: string): boolean {
    return this.ids.has(id)
  }

  get size(): number {
    return this.ids.size
  }

  page(
    cursor: string | null | undefined,
    limit: number | null | undefined,
  ): { data: string[]; nextCursor: string | null } {
    const sorted = [...this.ids].sort()
    const start = cursor ? sorted.findIndex((id) => id > cursor) : 0
    const rest = start === -1 ? [] : sorted.slice(start)
    const size = limit ? limit : rest.length
    const data = rest.slice(0, size)
    const more = rest.length > data.length
    return { data, nextCursor: more && data.length > 0 ? (data[data.length - 1] as string) : null }
  }
}
