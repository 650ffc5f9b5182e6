/**
 * Writing the thread index's snapshot (indexSnapshot.ts has the format and the reading side): the
 * columns encoded, and the file written atomically from the log file on disk, the previous snapshot
 * plus the lines after it, never from a process's memory.
 *
 * It must never leave a half-written snapshot where a reader looks (temp file + rename), and never
 * write one that does not match the log it names (the fingerprint is taken from the file itself).
 */
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../util/atomicWrite'
import { fold, parseComplete, readFrom } from './indexLog'
import {
  align8,
  fingerprint,
  hashOf,
  readSnapshotOf,
  SNAPSHOT_FILE,
  SNAPSHOT_VERSION,
  type IndexEntry,
  type LogPosition,
} from './indexSnapshot'
import { FILE_MODE } from './pidLock'
import { SnapshotRow } from './snapshotRows'

interface Columns {
  ids: string[]
  created: number[]
  updated: number[]
  recency: (number | null)[]
  archived: number[]
  cwds: string[]
  cwd: number[]
  providers: string[]
  provider: number[]
  /** Distinct sources as JSON text. */
  sources: string[]
  source: number[]
  /** End of each entry (its newline included), relative to the start of the entries. */
  ends: number[]
}

/** [u32 tables bytes][u32 ids bytes][tables JSON][ids joined by \n][pad][f64 x4][u32 x3][u8]. */
function encodeColumns(c: Columns): Buffer {
  const n = c.ids.length
  const tables = Buffer.from(JSON.stringify({ cwds: c.cwds, providers: c.providers, sources: c.sources }))
  const ids = Buffer.from(c.ids.join('\n'))
  const numbersAt = align8(8 + tables.length + ids.length)
  const out = Buffer.alloc(numbersAt + n * (4 * 8 + 3 * 4 + 1))
  out.writeUInt32LE(tables.length, 0)
  out.writeUInt32LE(ids.length, 4)
  tables.copy(out, 8)
  ids.copy(out, 8 + tables.length)
  let at = numbersAt
  for (const column of [c.created, c.updated, c.recency.map((v) => v ?? NaN), c.ends])
    for (const v of column) at = out.writeDoubleLE(v, at)
  for (const column of [c.cwd, c.provider, c.source]) for (const v of column) at = out.writeUInt32LE(v, at)
  for (const v of c.archived) at = out.writeUInt8(v, at)
  return out
}

/** Interns a string in a table: its position. */
function interner(table: string[]): (value: string) => number {
  const positions = new Map<string, number>()
  return (value) => {
    let at = positions.get(value)
    if (at === undefined) {
      at = table.length
      table.push(value)
      positions.set(value, at)
    }
    return at
  }
}

/**
 * Writes the snapshot of `entries`, which must be exactly the log's state at `covers` (the
 * caller's promise), atomically. Returns false when the log no longer reads as `covers` says.
 */
export async function writeSnapshot(
  home: string,
  logPath: string,
  covers: LogPosition,
  entries: Iterable<IndexEntry>,
): Promise<boolean> {
  const sorted = [...entries].sort((a, b) =>
    a.createdAtMs !== b.createdAtMs ? a.createdAtMs - b.createdAtMs : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  )
  const c: Columns = {
    ids: [],
    created: [],
    updated: [],
    recency: [],
    archived: [],
    cwds: [],
    cwd: [],
    providers: [],
    provider: [],
    sources: [],
    source: [],
    ends: [],
  }
  const cwdAt = interner(c.cwds)
  const providerAt = interner(c.providers)
  const sourceAt = interner(c.sources)
  const parts: Buffer[] = []
  let length = 0
  const newline = Buffer.from('\n')
  for (const entry of sorted) {
    // Ids are joined by newlines in the columns (a thread id never holds one).
    if (entry.id.includes('\n')) return false
    const raw = entry instanceof SnapshotRow ? entry.raw() : Buffer.from(JSON.stringify(entry))
    parts.push(raw, newline)
    length += raw.length + 1
    c.ids.push(entry.id)
    c.created.push(entry.createdAtMs)
    c.updated.push(entry.updatedAtMs)
    c.recency.push(entry.recencyAtMs)
    c.archived.push(entry.archived ? 1 : 0)
    c.cwd.push(cwdAt(entry.cwd))
    c.provider.push(providerAt(entry.modelProvider))
    c.source.push(sourceAt(JSON.stringify(entry.source)))
    c.ends.push(length)
  }
  // The fingerprint is read from the file itself, under the same dev/inode check as a reader's.
  const handle = await open(logPath, 'r').catch(() => null)
  if (!handle) return false
  let print: string
  try {
    const st = await handle.stat()
    if (st.dev !== covers.dev || st.ino !== covers.ino || st.size < covers.offset) return false
    print = fingerprint(handle.fd, covers.offset)
  } finally {
    await handle.close()
  }
  const columns = encodeColumns(c)
  const header = JSON.stringify({
    version: SNAPSHOT_VERSION,
    log: covers,
    fingerprint: print,
    count: sorted.length,
    columnsBytes: columns.length,
    columnsHash: hashOf(columns),
    entriesBytes: length,
  })
  await writeFileAtomic(
    join(home, SNAPSHOT_FILE),
    Buffer.concat([Buffer.from(header + '\n'), columns, ...parts]),
    {
      mode: FILE_MODE,
    },
  )
  return true
}

/**
 * Writes a new snapshot of the log file as it is on disk: the current snapshot's rows (when it
 * covers this file) plus the lines after it, or the whole file. Returns the position it covers,
 * or null when there is nothing to write (no file, another version, fewer than `minThreads`).
 */
export async function snapshotLogFile(
  home: string,
  logPath: string,
  minThreads: number,
): Promise<LogPosition | null> {
  let base = readSnapshotOf(home, logPath)
  try {
    const handle = await open(logPath, 'r').catch(() => null)
    if (!handle) return null
    try {
      const st = await handle.stat()
      if (base && (st.dev !== base.covers.dev || st.ino !== base.covers.ino)) {
        base.file.close()
        base = null
      }
      const from = base?.covers.offset ?? 0
      const parsed = parseComplete(await readFrom(handle, from))
      if (parsed.otherVersion !== null) return null
      const entries = new Map<string, IndexEntry>()
      for (const row of base?.rows ?? []) entries.set(row.id, row)
      fold(entries, parsed.changes)
      if (entries.size < minThreads) return null
      const covers: LogPosition = {
        dev: st.dev,
        ino: st.ino,
        offset: from + parsed.consumed,
        lineCount: (base?.covers.lineCount ?? 0) + parsed.valid + parsed.bad,
      }
      return (await writeSnapshot(home, logPath, covers, entries.values())) ? covers : null
    } finally {
      await handle.close()
    }
  } finally {
    base?.file.close()
  }
}
