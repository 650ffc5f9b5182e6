/**
 * The thread index's file, `$home/thread_index.jsonl`, shared by every process on the home (the
 * desktop app and a headless `codex-desk app-server`, two terminals). Each line is an upsert or a
 * delete; the last line for an id wins. The rules that keep it whole with several writers:
 *
 * - An append is one write(2) of whole lines on an O_APPEND descriptor, so appends from several
 *   processes never interleave. It starts with a newline: a line torn by a crash mid-write is then
 *   closed off as one bad line instead of swallowing the next append.
 * - Readers only take complete lines; a last line without its newline is another writer's append in
 *   flight (or a crash's leftover) and is left for the next read.
 * - Compaction (temp file + rename) runs under `thread_index.jsonl.lock`, starts from the file as it
 *   is on disk (not from this process's memory), and after the rename carries over whatever was
 *   appended to the old file meanwhile. An appender checks after writing that the file it wrote is
 *   still the one at the path, and writes again to the new one if not; a duplicate line is harmless.
 *
 * It must never drop a line another process appended, never create the file without a full
 * snapshot (appends do not use O_CREAT), and never write a file other users can read.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs'
import { open, stat, unlink, type FileHandle } from 'node:fs/promises'
import { writeFileAtomic } from '../util/atomicWrite'
import { FILE_MODE, isStaleHolder, readLockPid, takeOverStale, tryLink } from './pidLock'
import type { ThreadSummary } from './threadSummary'

export const INDEX_FILE = 'thread_index.jsonl'
export const INDEX_VERSION = 1
/** Held while one process compacts the index. */
export const INDEX_LOCK_SUFFIX = '.lock'

export type ChangeLine = { op: 'upsert'; thread: ThreadSummary } | { op: 'delete'; id: string }
type LogLine = { op: 'header'; version: number } | ChangeLine

export const idOf = (line: ChangeLine): string => (line.op === 'upsert' ? line.thread.id : line.id)

/** What a read found. `bad` counts lines that did not parse; `valid` the ones that did. */
export type ReadOutcome =
  | { kind: 'ok'; reread: boolean; valid: number; bad: number }
  | { kind: 'missing' }
  | { kind: 'unusable'; reason: string }

/** Where the lines a read finds go: the in-memory index. */
export interface LogReader {
  /** The file was replaced (compacted by someone) or is read for the first time: start over. */
  reset(): void
  apply(line: ChangeLine): void
}

/** A lock older than this is stale whoever holds it: no compaction takes minutes. */
const LOCK_MAX_AGE_MS = 5 * 60_000
const LOCK_WAIT_MS = 30_000
const APPEND_ATTEMPTS = 8
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function parseLine(raw: string): LogLine | null {
  let line: LogLine
  try {
    line = JSON.parse(raw) as LogLine
  } catch {
    return null
  }
  if (line?.op === 'header' && typeof line.version === 'number') return line
  if (line?.op === 'upsert' && typeof line.thread?.id === 'string') return line
  if (line?.op === 'delete' && typeof line.id === 'string') return line
  return null
}

export interface Parsed {
  changes: ChangeLine[]
  valid: number
  bad: number
  /** A header naming another version, if any. */
  otherVersion: number | null
  /** Bytes of the complete lines (up to and including the last newline). */
  consumed: number
}

/** The complete lines in `bytes`, parsed; a trailing fragment without its newline is left out. */
export function parseComplete(bytes: Buffer): Parsed {
  const end = bytes.lastIndexOf(0x0a)
  const parsed: Parsed = { changes: [], valid: 0, bad: 0, otherVersion: null, consumed: end + 1 }
  if (end < 0) return parsed
  for (const raw of bytes
    .subarray(0, end + 1)
    .toString('utf8')
    .split('\n')) {
    if (raw.trim() === '') continue
    const line = parseLine(raw)
    if (!line) parsed.bad++
    else {
      parsed.valid++
      if (line.op !== 'header') parsed.changes.push(line)
      else if (line.version !== INDEX_VERSION) parsed.otherVersion = line.version
    }
  }
  return parsed
}

/** Applies change lines to a map of summaries. */
export function fold(
  map: { set(id: string, summary: ThreadSummary): unknown; delete(id: string): unknown },
  changes: readonly ChangeLine[],
): void {
  for (const change of changes) {
    if (change.op === 'upsert') map.set(change.thread.id, change.thread)
    else map.delete(change.id)
  }
}

/** Everything in the file from `position` on. */
export async function readFrom(handle: FileHandle, position: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  for (;;) {
    const buffer = Buffer.alloc(256 * 1024)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position)
    if (bytesRead === 0) return Buffer.concat(chunks)
    chunks.push(buffer.subarray(0, bytesRead))
    position += bytesRead
  }
}

const fileKey = (s: { dev: number; ino: number }) => `${s.dev}:${s.ino}`

export class IndexLog {
  readonly lockPath: string
  /** dev:ino of the file read so far: a different one means someone compacted it. */
  private fileId: string | null = null
  /** Bytes read so far (always the end of a complete line). */
  private offset = 0
  /** Non-blank lines in the file up to `offset`, readable or not: what compaction measures. */
  lineCount = 0
  /** dev and inode of the file read so far, as numbers (for the snapshot). */
  private file: { dev: number; ino: number } | null = null

  constructor(
    readonly path: string,
    private readonly reader: LogReader,
  ) {
    this.lockPath = path + INDEX_LOCK_SUFFIX
  }

  /** Where reading has got to, or null before the first read. */
  position(): { dev: number; ino: number; offset: number; lineCount: number } | null {
    return this.file ? { ...this.file, offset: this.offset, lineCount: this.lineCount } : null
  }

  /**
   * Continues from a place a snapshot covers: the next refresh reads only what follows it (or the
   * whole file, should it have been replaced since). The caller has checked it is this file.
   */
  resumeAt(at: { dev: number; ino: number; offset: number; lineCount: number }): void {
    this.file = { dev: at.dev, ino: at.ino }
    this.fileId = fileKey(at)
    this.offset = at.offset
    this.lineCount = at.lineCount
  }

  /** Forgets what was read: the next refresh reads the whole file (and resets the reader). */
  forget(): void {
    this.file = null
    this.fileId = null
    this.offset = 0
  }

  /**
   * Catches up with the file, synchronously (a stat when nothing changed): reads what was appended
   * since the last read, or the whole file when it was replaced.
   */
  refresh(): ReadOutcome {
    let fd: number
    try {
      const quick = statSync(this.path)
      if (fileKey(quick) === this.fileId && quick.size === this.offset)
        return { kind: 'ok', reread: false, valid: 0, bad: 0 }
      fd = openSync(this.path, 'r')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      return code === 'ENOENT'
        ? { kind: 'missing' }
        : { kind: 'unusable', reason: `the index file is unreadable (${code})` }
    }
    try {
      const st = fstatSync(fd)
      const id = fileKey(st)
      const reread = id !== this.fileId || st.size < this.offset
      const from = reread ? 0 : this.offset
      const bytes = Buffer.alloc(Math.max(0, st.size - from))
      let got = 0
      while (got < bytes.length) {
        const n = readSync(fd, bytes, got, bytes.length - got, from + got)
        if (n === 0) break
        got += n
      }
      const parsed = parseComplete(bytes.subarray(0, got))
      if (parsed.otherVersion !== null)
        return { kind: 'unusable', reason: `the index file has version ${parsed.otherVersion}` }
      if (reread) {
        this.reader.reset()
        this.lineCount = 0
      }
      for (const change of parsed.changes) this.reader.apply(change)
      this.fileId = id
      this.file = { dev: st.dev, ino: st.ino }
      this.offset = from + parsed.consumed
      this.lineCount += parsed.valid + parsed.bad
      return { kind: 'ok', reread, valid: parsed.valid, bad: parsed.bad }
    } finally {
      closeSync(fd)
    }
  }

  /**
   * Appends whole lines. 'missing' when there is no file to append to (the caller writes a full
   * snapshot instead: an append never creates the file).
   */
  async append(changes: readonly ChangeLine[]): Promise<'ok' | 'missing'> {
    const payload = Buffer.from('\n' + changes.map((c) => JSON.stringify(c) + '\n').join(''))
    for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
      let handle: FileHandle
      try {
        handle = await open(this.path, constants.O_WRONLY | constants.O_APPEND)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing'
        throw error
      }
      try {
        // One write(2): O_APPEND keeps it whole against other processes' appends.
        const { bytesWritten } = await handle.write(payload, 0, payload.length)
        if (bytesWritten !== payload.length)
          throw new Error(`short write to the thread index (${bytesWritten} of ${payload.length} bytes)`)
        const written = await handle.stat()
        const current = await stat(this.path).catch(() => null)
        if (!current) return 'missing'
        if (fileKey(current) === fileKey(written)) return 'ok'
        // Compacted under us: the compactor may have missed this write; write it to the new file.
      } finally {
        await handle.close()
      }
    }
    throw new Error(`the thread index ${this.path} kept being replaced while appending`)
  }

  /**
   * Rewrites the file as a header plus one upsert per thread: `base` (a rebuild's scan, or nothing),
   * then the file's own lines, then `overlay` (this process's lines not written yet). Returns the
   * summaries the new file holds, or null when another process is compacting and `wait` is false.
   */
  async compact(options: {
    base?: ReadonlyMap<string, ThreadSummary>
    overlay: (map: Map<string, ThreadSummary>) => void
    wait: boolean
  }): Promise<Map<string, ThreadSummary> | null> {
    if (!(await this.lock(options.wait))) return null
    let old: FileHandle | null = null
    try {
      old = await open(this.path, 'r').catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null
        throw error
      })
      const map = new Map(options.base ?? [])
      let consumed = 0
      if (old) {
        const parsed = parseComplete(await readFrom(old, 0))
        consumed = parsed.consumed
        // A file of another version is not ours to read: the scan (base) replaces it.
        if (parsed.otherVersion === null) fold(map, parsed.changes)
      }
      options.overlay(map)
      const lines = [JSON.stringify({ op: 'header', version: INDEX_VERSION })]
      for (const summary of map.values()) lines.push(JSON.stringify({ op: 'upsert', thread: summary }))
      const text = lines.join('\n') + '\n'
      await writeFileAtomic(this.path, text, { mode: FILE_MODE })
      // We hold the lock: nobody else renames a file in, so this is the one we wrote.
      const written = await stat(this.path)
      this.fileId = fileKey(written)
      this.file = { dev: written.dev, ino: written.ino }
      this.offset = Buffer.byteLength(text)
      this.lineCount = lines.length
      if (old) {
        // Appends that reached the old file after we read it: carry them over.
        const late = parseComplete(await readFrom(old, consumed)).changes
        if (late.length > 0) {
          fold(map, late)
          options.overlay(map)
          await this.append(late)
        }
      }
      return map
    } finally {
      await old?.close()
      await this.unlock()
    }
  }

  private async lock(wait: boolean): Promise<boolean> {
    const deadline = Date.now() + LOCK_WAIT_MS
    for (;;) {
      if (await tryLink(this.lockPath)) return true
      const holder = await readLockPid(this.lockPath)
      if (holder === 'missing') continue
      const age = await stat(this.lockPath).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      )
      // Our own pid is another ThreadIndex of this process (tests run two on one home): live.
      if ((holder !== process.pid && isStaleHolder(holder)) || age > LOCK_MAX_AGE_MS) {
        await takeOverStale(this.lockPath, holder)
        continue
      }
      if (!wait || Date.now() > deadline) return false
      await sleep(10)
    }
  }

  private async unlock(): Promise<void> {
    if ((await readLockPid(this.lockPath).catch(() => null)) === process.pid)
      await unlink(this.lockPath).catch(() => undefined)
  }
}
