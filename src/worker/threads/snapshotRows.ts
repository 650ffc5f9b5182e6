/**
 * A loaded snapshot's threads (indexSnapshot.ts has the file format): the open file their summaries
 * are read from, one row per thread with the listing's fields at hand, and `SnapshotRows`, which
 * makes each row only when it is first asked for, so a new process lists its first page without
 * allocating ten thousand rows (and the young collections that would copy them).
 *
 * It only reads: the columns it is given were checked when the snapshot loaded (bounds, tables,
 * order), and a damaged entry surfaces as SnapshotCorrupt when it is read, never as a wrong thread.
 */
import { closeSync, readSync } from 'node:fs'
import type { SessionSource } from '../protocol/items'
import type { ThreadSummary } from './threadSummary'

/** Thrown when a snapshot entry does not parse: the index then reads the whole log instead. */
export class SnapshotCorrupt extends Error {}

/** Single-entry reads before the whole entries part is read into memory. */
const SINGLE_READS = 64

/** Reads `length` bytes at `position`; fewer at the end of the file. */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length)
  let got = 0
  while (got < length) {
    const n = readSync(fd, buffer, got, length - got, position + got)
    if (n === 0) break
    got += n
  }
  return got === length ? buffer : buffer.subarray(0, got)
}

/** The open snapshot file the rows read their entries from. */
export class SnapshotFile {
  private fd: number | null
  private entries: Buffer | null = null
  private reads = 0

  constructor(
    fd: number,
    private readonly entriesStart: number,
    private readonly entriesBytes: number,
  ) {
    this.fd = fd
  }

  /** The bytes of an entry (offsets relative to the entries part). */
  read(start: number, end: number): Buffer {
    if (!this.entries && this.fd !== null && ++this.reads > SINGLE_READS) {
      this.entries = readAt(this.fd, this.entriesStart, this.entriesBytes)
      this.close()
    }
    if (this.entries) return this.entries.subarray(start, end)
    if (this.fd === null) throw new SnapshotCorrupt('the snapshot file was closed')
    return readAt(this.fd, this.entriesStart + start, end - start)
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd)
    this.fd = null
  }
}

/** One thread of a loaded snapshot: the listing's fields at hand, the rest parsed on demand. */
export class SnapshotRow {
  private parsed: ThreadSummary | null = null

  constructor(
    readonly id: string,
    readonly createdAtMs: number,
    readonly updatedAtMs: number,
    readonly recencyAtMs: number | null,
    readonly archived: boolean,
    readonly cwd: string,
    readonly modelProvider: string,
    readonly source: SessionSource,
    private readonly file: SnapshotFile,
    private readonly start: number,
    private readonly end: number,
  ) {}

  /** The whole summary; throws SnapshotCorrupt when its entry is damaged. */
  summary(): ThreadSummary {
    if (this.parsed) return this.parsed
    let value: ThreadSummary
    try {
      value = JSON.parse(this.raw().toString('utf8')) as ThreadSummary
    } catch (error) {
      if (error instanceof SnapshotCorrupt) throw error
      throw new SnapshotCorrupt(`the snapshot entry of thread ${this.id} does not parse`)
    }
    if (value?.id !== this.id || value.createdAtMs !== this.createdAtMs || value.archived !== this.archived)
      throw new SnapshotCorrupt(`the snapshot entry of thread ${this.id} does not match its columns`)
    this.parsed = value
    return value
  }

  /** The entry's JSON as stored (without its newline), for writing the next snapshot. */
  raw(): Buffer {
    try {
      return this.file.read(this.start, this.end)
    } catch (error) {
      if (error instanceof SnapshotCorrupt) throw error
      throw new SnapshotCorrupt(`could not read the snapshot entry of thread ${this.id}: ${String(error)}`)
    }
  }
}

/** The columns of a loaded snapshot, checked, with their string tables resolved. */
export interface RowColumns {
  ids: string[]
  created: Float64Array
  updated: Float64Array
  /** NaN for none. */
  recency: Float64Array
  /** End of each entry (its newline included), relative to the start of the entries. */
  ends: Float64Array
  archived: Uint8Array
  cwd: Uint32Array
  cwds: string[]
  provider: Uint32Array
  providers: string[]
  source: Uint32Array
  sources: SessionSource[]
}

/**
 * The threads of a loaded snapshot in (createdAtMs, id) order, the order its columns are written
 * in: `at(i)` makes row i on first use and returns the same object after that.
 */
export class SnapshotRows implements Iterable<SnapshotRow> {
  private readonly made: (SnapshotRow | undefined)[]

  constructor(
    private readonly c: RowColumns,
    private readonly file: SnapshotFile,
  ) {
    this.made = new Array<SnapshotRow | undefined>(c.ids.length)
  }

  get length(): number {
    return this.c.ids.length
  }

  at(i: number): SnapshotRow | undefined {
    if (i < 0 || i >= this.c.ids.length) return undefined
    return (this.made[i] ??= this.make(i))
  }

  /** The position of a thread's row, or -1 (a scan of the ids). */
  indexOf(id: string): number {
    return this.c.ids.indexOf(id)
  }

  *[Symbol.iterator](): Iterator<SnapshotRow> {
    for (let i = 0; i < this.c.ids.length; i++) yield this.at(i) as SnapshotRow
  }

  private make(i: number): SnapshotRow {
    const c = this.c
    const recency = c.recency[i] as number
    // The newline after each entry is not part of it.
    return new SnapshotRow(
      c.ids[i] as string,
      c.created[i] as number,
      c.updated[i] as number,
      Number.isNaN(recency) ? null : recency,
      c.archived[i] === 1,
      c.cwds[c.cwd[i] as number] as string,
      c.providers[c.provider[i] as number] as string,
      c.sources[c.source[i] as number] as SessionSource,
      this.file,
      i === 0 ? 0 : (c.ends[i - 1] as number),
      (c.ends[i] as number) - 1,
    )
  }
}
