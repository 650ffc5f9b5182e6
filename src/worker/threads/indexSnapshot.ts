/**
 * The thread index's snapshot, `$home/thread_index.snapshot`: the state of `thread_index.jsonl`
 * up to a byte offset, in a form a new process loads without parsing every summary. It holds
 *
 * 1. a header line: the log file it covers (dev, inode, offset, line count, and a hash of the log's
 *    first and last 4 KB before that offset, so a recycled inode is not taken for the same file),
 *    the thread count, the byte lengths of the next two parts and the hash of the columns;
 * 2. the columns, binary (little-endian typed arrays, no per-value parsing): per thread, in
 *    (createdAtMs, id) order, only what `thread/list` sorts and filters on most (id, the three
 *    times, archived, cwd, provider, source) and where its entry ends;
 * 3. the entries: one summary JSON per line, read and parsed only when that thread is shown or
 *    read (a read of its own bytes through a descriptor kept open, so a newer snapshot renamed
 *    over the file changes nothing; past a few dozen reads, the whole part is read at once).
 *
 * Loading the snapshot and reading the log from its offset on gives the same state as reading the
 * whole log. It must never be the only copy of anything: it is written atomically (temp + rename)
 * from the log file itself (the previous snapshot plus the lines after it, never a process's
 * memory, which may hold changes not in the file yet), and a missing, stale, truncated or corrupt
 * snapshot only costs reading the whole log (SnapshotCorrupt tells the index to do so).
 */
import { createHash } from 'node:crypto'
import { closeSync, fstatSync, openSync, statSync } from 'node:fs'
import { endianness } from 'node:os'
import { join } from 'node:path'
import type { SessionSource } from '../protocol/items'
import { readAt, SnapshotFile, SnapshotRow, SnapshotRows } from './snapshotRows'
import type { ThreadSummary } from './threadSummary'

export { SnapshotCorrupt, SnapshotFile, SnapshotRow, SnapshotRows } from './snapshotRows'

export const SNAPSHOT_FILE = 'thread_index.snapshot'
export const SNAPSHOT_VERSION = 1
/** Bytes of the log hashed at each end of the covered part. */
const FINGERPRINT_BYTES = 4096

/** A place in the log: the file (dev, inode) and the bytes and lines read so far. */
export interface LogPosition {
  dev: number
  ino: number
  offset: number
  lineCount: number
}

/** The columns as read back: typed arrays over the file's bytes (recency NaN for none). */
interface ReadColumns {
  ids: string[]
  created: Float64Array
  updated: Float64Array
  recency: Float64Array
  ends: Float64Array
  cwd: Uint32Array
  provider: Uint32Array
  source: Uint32Array
  archived: Uint8Array
  cwds: unknown
  providers: unknown
  sources: unknown
}

export const align8 = (n: number) => (n + 7) & ~7

/** The columns of `count` threads, or null when the bytes cannot hold them. */
function decodeColumns(bytes: Buffer, count: number): ReadColumns | null {
  if (endianness() !== 'LE' || bytes.length < 8) return null
  // Typed arrays need aligned offsets: work on a copy that starts at 0 in its own memory.
  const buf = bytes.byteOffset % 8 === 0 ? bytes : Buffer.from(bytes)
  const tablesBytes = buf.readUInt32LE(0)
  const idsBytes = buf.readUInt32LE(4)
  const numbersAt = align8(8 + tablesBytes + idsBytes)
  if (buf.length !== numbersAt + count * (4 * 8 + 3 * 4 + 1)) return null
  const tables = JSON.parse(buf.toString('utf8', 8, 8 + tablesBytes)) as Record<string, unknown>
  const ids = count === 0 ? [] : buf.toString('utf8', 8 + tablesBytes, 8 + tablesBytes + idsBytes).split('\n')
  if (ids.length !== count) return null
  const f64 = (k: number) => new Float64Array(buf.buffer, buf.byteOffset + numbersAt + k * count * 8, count)
  const u32 = (k: number) =>
    new Uint32Array(buf.buffer, buf.byteOffset + numbersAt + count * 32 + k * count * 4, count)
  return {
    ids,
    created: f64(0),
    updated: f64(1),
    recency: f64(2),
    ends: f64(3),
    cwd: u32(0),
    provider: u32(1),
    source: u32(2),
    archived: new Uint8Array(buf.buffer, buf.byteOffset + numbersAt + count * 44, count),
    cwds: tables.cwds,
    providers: tables.providers,
    sources: tables.sources,
  }
}

/** What the index keeps per thread: a summary, or a snapshot row standing for one. */
export type IndexEntry = ThreadSummary | SnapshotRow

export function summaryOf(entry: IndexEntry): ThreadSummary {
  return entry instanceof SnapshotRow ? entry.summary() : entry
}

export const hashOf = (bytes: Buffer) => createHash('sha1').update(bytes).digest('hex')

/** The hash of the log's first and last FINGERPRINT_BYTES before `offset` (read from `fd`). */
export function fingerprint(fd: number, offset: number): string {
  const hash = createHash('sha1')
  const take = (from: number, length: number) => hash.update(readAt(fd, from, length))
  take(0, Math.min(FINGERPRINT_BYTES, offset))
  take(Math.max(0, offset - FINGERPRINT_BYTES), Math.min(FINGERPRINT_BYTES, offset))
  hash.update(String(offset))
  return hash.digest('hex')
}

/** The log's fingerprint at `offset`, or null when it cannot be read. */
export function logFingerprint(logPath: string, offset: number): string | null {
  let fd: number
  try {
    fd = openSync(logPath, 'r')
  } catch {
    return null
  }
  try {
    return fingerprint(fd, offset)
  } catch {
    return null
  } finally {
    closeSync(fd)
  }
}

export interface LoadedSnapshot {
  covers: LogPosition
  fingerprint: string
  /** Its threads in (createdAtMs, id) order, each made on first use. */
  rows: SnapshotRows
  /** Holds the file open until every row is read or `close()`. */
  file: SnapshotFile
}

const isNumberArray = (value: unknown, length: number): value is number[] =>
  Array.isArray(value) && value.length === length && value.every((v) => typeof v === 'number')

/**
 * Reads the snapshot (synchronously: a new process answers its first listing from it). Null when
 * there is none or it is unusable in any way the structure shows; the caller checks `covers`.
 */
export function readSnapshot(home: string): LoadedSnapshot | null {
  let fd: number
  try {
    fd = openSync(join(home, SNAPSHOT_FILE), 'r')
  } catch {
    return null
  }
  let loaded: LoadedSnapshot | null = null
  try {
    loaded = parseSnapshot(fd)
    return loaded
  } catch {
    return null
  } finally {
    if (!loaded) closeSync(fd)
  }
}

/**
 * The snapshot, when it covers the log at `logPath` as that file is now: the same file (dev,
 * inode), at least as long, with the same bytes at both ends of the covered part.
 */
export function readSnapshotOf(home: string, logPath: string): LoadedSnapshot | null {
  const snapshot = readSnapshot(home)
  if (!snapshot) return null
  const { covers } = snapshot
  const st = (() => {
    try {
      return statSync(logPath)
    } catch {
      return null
    }
  })()
  if (
    st?.dev === covers.dev &&
    st.ino === covers.ino &&
    st.size >= covers.offset &&
    logFingerprint(logPath, covers.offset) === snapshot.fingerprint
  )
    return snapshot
  snapshot.file.close()
  return null
}

/** The header and columns of the snapshot open at `fd`; null when they are unusable. */
function parseSnapshot(fd: number): LoadedSnapshot | null {
  const size = fstatSync(fd).size
  const head = readAt(fd, 0, Math.min(size, 1024))
  const headerEnd = head.indexOf(0x0a)
  if (headerEnd < 0) return null
  const header = JSON.parse(head.toString('utf8', 0, headerEnd)) as {
    version?: unknown
    log?: Partial<LogPosition>
    fingerprint?: unknown
    count?: unknown
    columnsBytes?: unknown
    columnsHash?: unknown
    entriesBytes?: unknown
  }
  const { log, count, columnsBytes, entriesBytes } = header
  if (
    header.version !== SNAPSHOT_VERSION ||
    typeof header.fingerprint !== 'string' ||
    typeof header.columnsHash !== 'string' ||
    typeof count !== 'number' ||
    typeof columnsBytes !== 'number' ||
    typeof entriesBytes !== 'number' ||
    !log ||
    !isNumberArray([log.dev, log.ino, log.offset, log.lineCount], 4)
  )
    return null
  const columnsStart = headerEnd + 1
  const entriesStart = columnsStart + columnsBytes
  if (size !== entriesStart + entriesBytes) return null
  const columns = readAt(fd, columnsStart, columnsBytes)
  // The columns decide which threads exist: a damaged one must not hide or rename a thread.
  if (hashOf(columns) !== header.columnsHash) return null
  const c = decodeColumns(columns, count)
  if (!c || !Array.isArray(c.cwds) || !Array.isArray(c.providers) || !Array.isArray(c.sources)) return null
  const strings = (table: unknown[]): table is string[] => table.every((v) => typeof v === 'string')
  if (!strings(c.cwds) || !strings(c.providers) || !strings(c.sources)) return null
  const sources = c.sources.map((text) => JSON.parse(text) as SessionSource)
  // Every row checked here, none made: SnapshotRows makes each when it is first asked for.
  const { ids, created, ends } = c
  let start = 0
  for (let i = 0; i < count; i++) {
    const end = ends[i] as number
    if (
      !(end > start && end <= entriesBytes) ||
      (c.cwd[i] as number) >= c.cwds.length ||
      (c.provider[i] as number) >= c.providers.length ||
      (c.source[i] as number) >= sources.length ||
      // (createdAtMs, id) order, which the listing walks as it is.
      (i > 0 &&
        ((created[i] as number) < (created[i - 1] as number) ||
          ((created[i] as number) === (created[i - 1] as number) &&
            (ids[i] as string) <= (ids[i - 1] as string))))
    )
      return null
    start = end
  }
  if (start !== entriesBytes) return null
  const file = new SnapshotFile(fd, entriesStart, entriesBytes)
  const rows = new SnapshotRows({ ...c, cwds: c.cwds, providers: c.providers, sources }, file)
  return { covers: log as LogPosition, fingerprint: header.fingerprint, rows, file }
}
