/**
 * Fuzzy file search over several roots for @-mentions: one-shot searches (cancellable by token) and
 * sessions whose query changes as the user types, a newer query superseding the older one. Results
 * have codex's shape (root, path relative to it, file name, match type, score, indices), best first,
 * at most 50.
 *
 * It must never report results for a query that has been superseded or cancelled, and never walk a
 * root again while its cached list is fresh (fileIndex.ts revalidates stale lists in the background).
 */
import type { FuzzyFileSearchResult } from '../protocol/fileSearch'
import { FileIndexCache, type RootIndex } from './fileIndex'
import { MATCH_LIMIT, rankEntries } from './fuzzyMatch'

export interface CancelToken {
  cancelled: boolean
}

/** While a first walk runs, a session reports at most this often. */
const STREAM_INTERVAL_MS = 50

export class FileSearchEngine {
  private readonly cache = new FileIndexCache()

  /** Ranks what the roots hold now (complete or not). */
  rank(roots: readonly string[], indexes: readonly RootIndex[], query: string): FuzzyFileSearchResult[] {
    const all: FuzzyFileSearchResult[] = []
    indexes.forEach((index, position) => {
      for (const match of rankEntries(index.entries, query)) {
        const { entry } = match
        all.push({
          root: roots[position] as string,
          path: entry.path,
          match_type: entry.dir ? 'directory' : 'file',
          file_name: entry.path.slice(entry.nameStart),
          score: match.score,
          indices: match.indices,
        })
      }
    })
    all.sort((a, b) => b.score - a.score || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    return all.slice(0, MATCH_LIMIT)
  }

  indexes(roots: readonly string[]): RootIndex[] {
    return roots.map((root) => this.cache.get(root))
  }

  /** A one-shot search: waits for each root's list, then ranks; [] once cancelled. */
  async search(
    query: string,
    roots: readonly string[],
    token: CancelToken,
  ): Promise<FuzzyFileSearchResult[]> {
    if (roots.length === 0 || query.trim() === '') return []
    const indexes = this.indexes(roots)
    await Promise.all(indexes.map((index) => index.ensure()))
    if (token.cancelled) return []
    return this.rank(roots, indexes, query)
  }

  dispose(): void {
    this.cache.clear()
  }
}

export interface SessionSink {
  updated(query: string, files: FuzzyFileSearchResult[]): void
  completed(): void
}

/** A session: roots fixed at start, queries replacing each other. */
export class FileSearchSession {
  private generation = 0
  private query = ''
  private readonly indexes: RootIndex[]
  private readonly unsubscribe: (() => void)[] = []
  private timer: NodeJS.Timeout | undefined
  private stopped = false

  constructor(
    private readonly engine: FileSearchEngine,
    private readonly roots: readonly string[],
    private readonly sink: SessionSink,
  ) {
    this.indexes = engine.indexes(roots)
    for (const index of this.indexes) {
      this.unsubscribe.push(index.onChange(() => this.schedule()))
      void index.ensure()
    }
  }

  /** A new query: reports at once what is known, then as walks progress, then completes. */
  update(query: string): void {
    if (this.stopped) return
    this.query = query
    const generation = ++this.generation
    clearTimeout(this.timer)
    this.timer = undefined
    if (query.trim() === '') {
      this.sink.updated(query, [])
      this.sink.completed()
      return
    }
    const walked = this.indexes.every((index) => index.complete)
    const ready = Promise.all(this.indexes.map((index) => index.ensure()))
    this.report(generation)
    if (walked) {
      this.sink.completed()
      return
    }
    void ready.then(() => {
      if (generation === this.generation && !this.stopped && this.indexes.every((index) => index.complete)) {
        clearTimeout(this.timer)
        this.timer = undefined
        this.report(generation)
        this.sink.completed()
      }
    })
  }

  stop(): void {
    this.stopped = true
    this.generation++
    clearTimeout(this.timer)
    for (const off of this.unsubscribe.splice(0)) off()
  }

  /** A list grew or was replaced: report again for the current query, at most every 50 ms. */
  private schedule(): void {
    if (this.stopped || this.query.trim() === '' || this.timer) return
    const generation = this.generation
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (generation !== this.generation || this.stopped) return
      this.report(generation)
      if (this.indexes.every((index) => index.complete)) this.sink.completed()
    }, STREAM_INTERVAL_MS)
  }

  private report(generation: number): void {
    if (generation !== this.generation || this.stopped) return
    const files = this.engine.rank(this.roots, this.indexes, this.query)
    // While the first walk runs, nothing found yet is not worth a notification.
    if (files.length === 0 && !this.indexes.every((index) => index.complete)) return
    this.sink.updated(this.query, files)
  }
}
