/**
 * Which output item of one model response a stream event belongs to. Servers differ: OpenAI numbers
 * and names every item, codex's own fixtures, proxies and local servers often do neither. Pure
 * bookkeeping for the model client: no I/O, no protocol knowledge.
 */
export function outputIndexOf(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined
}

export function itemIdOf(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

interface OpenOutputItem {
  key: number
  id: string | undefined
  type: string
}

/**
 * Matches the events of one response to their output item. OpenAI numbers items (`output_index`) and
 * names them (`item_id`); codex's test fixtures, some proxies and local servers send neither on deltas
 * and no index on `output_item.added`/`.done`, and codex still streams them (it routes every delta to
 * its one active item). So: by `item_id` when it names an open item, by `output_index` when it
 * numbers one, otherwise the most recently added open item of the delta's kind. An item added
 * without an index gets a negative key, which can never collide with a server's index.
 */
export class OutputItemKeys {
  private readonly open: OpenOutputItem[] = []
  private nextOwnKey = -1

  /** The key of a newly added item. */
  added(outputIndex: unknown, item: { id?: unknown; type: string }): number {
    const key = outputIndexOf(outputIndex) ?? this.nextOwnKey--
    const id = itemIdOf(item.id)
    // A server that reuses an index or id for a new item means the old one is gone.
    this.forget((o) => o.key === key || (id !== undefined && o.id === id))
    this.open.push({ key, id, type: item.type })
    return key
  }

  /** The open item a delta of `type` items belongs to, or undefined when there is none. */
  delta(type: string, itemId: unknown, outputIndex: unknown): OpenOutputItem | undefined {
    const id = itemIdOf(itemId)
    const index = outputIndexOf(outputIndex)
    return (
      (id !== undefined ? this.open.find((o) => o.id === id) : undefined) ??
      (index !== undefined ? this.open.find((o) => o.key === index) : undefined) ??
      this.latest((o) => o.type === type)
    )
  }

  /** The key of a finished item: its open item's if it had one (which is then closed), else a new key. */
  done(outputIndex: unknown, item: { id?: unknown; type: string }): number {
    const id = itemIdOf(item.id)
    const index = outputIndexOf(outputIndex)
    const match =
      (id !== undefined ? this.open.find((o) => o.id === id) : undefined) ??
      (index !== undefined ? this.open.find((o) => o.key === index) : undefined) ??
      // Two different ids are two different items, whatever their kind.
      this.latest((o) => o.type === item.type && (id === undefined || o.id === undefined))
    if (!match) return index ?? this.nextOwnKey--
    this.forget((o) => o === match)
    return match.key
  }

  private latest(test: (o: OpenOutputItem) => boolean): OpenOutputItem | undefined {
    for (let i = this.open.length - 1; i >= 0; i--) {
      const o = this.open[i] as OpenOutputItem
      if (test(o)) return o
    }
    return undefined
  }

  private forget(test: (o: OpenOutputItem) => boolean): void {
    for (let i = this.open.length - 1; i >= 0; i--)
      if (test(this.open[i] as OpenOutputItem)) this.open.splice(i, 1)
  }
}
