/**
 * The list of files and directories under a search root, walked as codex's file search walks:
 * hidden entries included, `.gitignore` and `.ignore` (in every directory, without needing a git
 * repository) respected, symbolic links followed once. The walk streams: listeners get each batch
 * as it is read, so a search can answer before a large tree is done. Lists are cached per root and
 * revalidated in the background when older than a few seconds (stale-while-revalidate).
 *
 * It must never block the event loop for long (directories are read asynchronously, a batch at a
 * time) and never follow a link cycle; it only reads.
 */
import type { Dirent } from 'node:fs'
import { readdir, readFile, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import { isIgnored, parseIgnoreFile, type IgnoreScope } from './ignoreRules'

export interface IndexEntry {
  /** Relative to the root, `/` separators. */
  path: string
  /** `path` lower-cased, for the case-insensitive prefilter. */
  lower: string
  /** Where the last component starts in `path`. */
  nameStart: number
  dir: boolean
}

/**
 * An index older than this is walked again (in the background) on its next use; a tree whose walk
 * takes long waits ten walks' time, so revalidation never takes more than a tenth of the core's time.
 */
export const REVALIDATE_AFTER_MS = 3_000
const REVALIDATE_WALKS = 10
/** How many roots keep a list. */
const MAX_ROOTS = 8
/** How many directories are read at once. */
const PARALLEL_DIRS = 32

function entry(relative: string, dir: boolean): IndexEntry {
  const slash = relative.lastIndexOf('/')
  return { path: relative, lower: relative.toLowerCase(), nameStart: slash + 1, dir }
}

async function readRules(dir: string): Promise<IgnoreScope['rules']> {
  const rules: IgnoreScope['rules'] = []
  for (const name of ['.gitignore', '.ignore']) {
    try {
      rules.push(...parseIgnoreFile(await readFile(path.join(dir, name), 'utf8')))
    } catch {
      // No such file.
    }
  }
  return rules
}

/**
 * Walks `root`, calling `onBatch` with the entries of each directory read. Resolves when done or
 * when `cancelled()` turns true.
 */
export async function walkTree(
  root: string,
  onBatch: (entries: IndexEntry[]) => void,
  cancelled: () => boolean = () => false,
): Promise<void> {
  const seen = new Set<string>()
  try {
    seen.add(await realpath(root))
  } catch {
    return
  }
  const queue: { abs: string; rel: string; scopes: IgnoreScope[] }[] = [{ abs: root, rel: '', scopes: [] }]
  const readOne = async (job: (typeof queue)[number]): Promise<void> => {
    let dirents: Dirent[]
    try {
      dirents = await readdir(job.abs, { withFileTypes: true })
    } catch {
      return
    }
    // Only directories that have ignore files pay for reading them.
    const hasRules = dirents.some((d) => d.name === '.gitignore' || d.name === '.ignore')
    const rules = hasRules ? await readRules(job.abs) : []
    const scopes = rules.length > 0 ? [...job.scopes, { base: job.rel, rules }] : job.scopes
    const batch: IndexEntry[] = []
    for (const dirent of dirents) {
      const rel = job.rel === '' ? dirent.name : `${job.rel}/${dirent.name}`
      const abs = path.join(job.abs, dirent.name)
      let isDir = dirent.isDirectory()
      if (dirent.isSymbolicLink()) {
        try {
          isDir = (await stat(abs)).isDirectory()
        } catch {
          continue
        }
      }
      if (scopes.length > 0 && isIgnored(scopes, rel, isDir)) continue
      batch.push(entry(rel, isDir))
      if (!isDir) continue
      if (dirent.isSymbolicLink()) {
        const real = await realpath(abs).catch(() => null)
        if (real === null || seen.has(real)) continue
        seen.add(real)
      }
      queue.push({ abs, rel, scopes })
    }
    if (batch.length > 0) onBatch(batch)
  }
  while (queue.length > 0 && !cancelled()) {
    await Promise.all(queue.splice(0, PARALLEL_DIRS).map(readOne))
  }
}

/** One root's list: complete or still growing, with listeners for what a running walk adds. */
export class RootIndex {
  entries: IndexEntry[] = []
  complete = false
  walkedAt = 0
  /** How long the last walk took. */
  walkMs = 0
  private walking: Promise<void> | null = null
  private readonly listeners = new Set<() => void>()

  constructor(readonly root: string) {}

  /** Starts a walk unless one runs; a finished walk replaces the list at once. */
  refresh(): Promise<void> {
    if (this.walking) return this.walking
    const first = !this.complete
    const fresh: IndexEntry[] = first ? this.entries : []
    const started = Date.now()
    this.walking = walkTree(this.root, (batch) => {
      for (const item of batch) fresh.push(item)
      if (first) this.emit()
    }).then(() => {
      this.entries = fresh
      this.complete = true
      this.walkedAt = started
      this.walkMs = Date.now() - started
      this.walking = null
      this.emit()
    })
    return this.walking
  }

  /** The list now, starting a walk when there is none or it is stale. */
  ensure(): Promise<void> {
    if (!this.complete) return this.refresh()
    const maxAge = Math.max(REVALIDATE_AFTER_MS, REVALIDATE_WALKS * this.walkMs)
    if (Date.now() - this.walkedAt > maxAge) void this.refresh()
    return Promise.resolve()
  }

  /** Called whenever the list grows (first walk) or is replaced (revalidation). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private emit(): void {
    for (const listener of [...this.listeners]) listener()
  }
}

/** The per-root lists of one core, least recently used dropped first. */
export class FileIndexCache {
  private readonly roots = new Map<string, RootIndex>()

  get(root: string): RootIndex {
    const key = path.resolve(root)
    let index = this.roots.get(key)
    if (index) this.roots.delete(key)
    else index = new RootIndex(key)
    this.roots.set(key, index)
    while (this.roots.size > MAX_ROOTS) {
      const oldest = this.roots.keys().next().value as string
      this.roots.delete(oldest)
    }
    return index
  }

  clear(): void {
    this.roots.clear()
  }
}
