/**
 * The thread index's entries by id: summaries, or snapshot rows standing for them. Loaded from a
 * snapshot, it keeps the snapshot's rows as they are (SnapshotRows, in (createdAtMs, id) order)
 * and puts them into the map only when something changes it, walks it, or asks for more than a
 * few threads by id (those are found by a scan of the ids): a new process's first listing in
 * created_at order walks the rows without making the rest of them (`snapshotOrder`). After that it
 * is a plain Map.
 *
 * It must never change what a reader sees: every Map method answers as if the rows had been put in
 * at load (same objects, same order of iteration).
 */
import type { IndexEntry } from './indexSnapshot'
import type { SnapshotRows } from './snapshotRows'

/** Lookups by id answered without putting the rows into the map (each scans up to 10,000 ids). */
const SCANNED_LOOKUPS = 32

export class IndexEntries extends Map<string, IndexEntry> {
  /** Rows not in the map yet; while set, the map itself holds nothing. */
  private rows: SnapshotRows | null = null
  /** Lookups by id answered by a scan of the rows' ids, before the rows go into the map. */
  private scans = 0

  /** Starts from a snapshot's rows: the entries must be empty. */
  useSnapshot(rows: SnapshotRows): void {
    if (super.size > 0 || this.rows) throw new Error('the index entries are not empty')
    this.rows = rows.length > 0 ? rows : null
  }

  /** The rows in created_at order, while the entries are a snapshot's rows and nothing else. */
  snapshotOrder(): SnapshotRows | null {
    return this.rows
  }

  private settle(): void {
    const rows = this.rows
    if (!rows) return
    this.rows = null
    for (const row of rows) super.set(row.id, row)
  }

  override get size(): number {
    return this.rows ? this.rows.length : super.size
  }

  override get(id: string): IndexEntry | undefined {
    // A few lookups (a start's check of its newest rollouts, one thread read) scan the ids; more
    // than that are worth the map.
    if (this.rows && this.scans < SCANNED_LOOKUPS) {
      this.scans++
      const at = this.rows.indexOf(id)
      return at < 0 ? undefined : this.rows.at(at)
    }
    this.settle()
    return super.get(id)
  }

  override has(id: string): boolean {
    return this.get(id) !== undefined
  }

  override set(id: string, entry: IndexEntry): this {
    this.settle()
    return super.set(id, entry)
  }

  override delete(id: string): boolean {
    this.settle()
    return super.delete(id)
  }

  override clear(): void {
    this.rows = null
    super.clear()
  }

  override forEach(
    fn: (entry: IndexEntry, id: string, map: Map<string, IndexEntry>) => void,
    self?: unknown,
  ): void {
    this.settle()
    super.forEach(fn, self)
  }

  override keys(): MapIterator<string> {
    this.settle()
    return super.keys()
  }

  override values(): MapIterator<IndexEntry> {
    this.settle()
    return super.values()
  }

  override entries(): MapIterator<[string, IndexEntry]> {
    this.settle()
    return super.entries()
  }

  override [Symbol.iterator](): MapIterator<[string, IndexEntry]> {
    return this.entries()
  }
}
