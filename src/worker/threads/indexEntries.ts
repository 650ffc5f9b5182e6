/**
 * The thread index's entries by id: summaries, or snapshot rows standing for them. Loaded from a
 * snapshot, it keeps the snapshot's rows as they are (SnapshotRows, in (createdAtMs, id) order)
 * and puts them into the map only when something asks for it by id, changes it, or walks it: a new
 * process's first listing in created_at order walks the rows without making the rest of them
 * (`snapshotOrder`). After that it is a plain Map.
 *
 * It must never change what a reader sees: every Map method answers as if the rows had been put in
 * at load (same objects, same order of iteration).
 */
import type { IndexEntry } from './indexSnapshot'
import type { SnapshotRows } from './snapshotRows'

export class IndexEntries extends Map<string, IndexEntry> {
  /** Rows not in the map yet; while set, the map itself holds nothing. */
  private rows: SnapshotRows | null = null

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
    this.settle()
    return super.get(id)
  }

  override has(id: string): boolean {
    this.settle()
    return super.has(id)
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
