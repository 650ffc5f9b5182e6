/**
 * Skills on disk, in codex's format: a folder holding a `SKILL.md` whose YAML front matter has
 * `name` and `description` (and optionally `metadata.short-description`). User skills live in
 * `$CODEX_DESK_HOME/skills`; repository skills in `.codex/skills` and `.agents/skills` of every
 * folder from the repository root (nearest `.git`) down to the working directory. Listings are
 * cached per working directory; the folders a listing covered are watched, and a change marks every
 * cached listing stale and fires `onDidChange` once things settle (debounced).
 *
 * It must never throw for a bad skill (each one becomes an error entry with its path), never follow
 * a symlink loop, never scan without bound (depth and folder caps), and never invent skills:
 * codex-desk bundles none. It never imports server/.
 */
import { watch, type FSWatcher } from 'node:fs'
import { readdir, readFile, realpath, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { SkillErrorInfo, SkillMetadata, SkillScope, SkillsListEntry } from '../protocol/extensions'
import { Emitter, type Event } from '../util/event'
import type { Logger } from '../util/log'
import { parseSkill } from './skillFrontMatter'

export const SKILL_FILE = 'SKILL.md'
/** How deep below a root a skill folder may sit, and how many folders one root may have (codex's). */
const MAX_DEPTH = 6
const MAX_DIRS_PER_ROOT = 2000
const MAX_CACHED_CWDS = 32
const MAX_WATCHED_DIRS = 512
const DEBOUNCE_MS = 250

const SCOPE_RANK: Record<SkillScope, number> = { repo: 0, user: 1, system: 2, admin: 3 }

export interface SkillRoot {
  path: string
  scope: 'user' | 'repo'
}

/** What scanning one root found; `dirs` is null when the root does not exist. */
interface RootScan {
  root: SkillRoot
  skills: SkillMetadata[]
  errors: SkillErrorInfo[]
  dirs: string[] | null
}

/** A folder to watch, for any change or only for the creation of some names in it. */
type WatchSpec = Map<string, Set<string> | 'any'>

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  )

/** The real path of `cwd` if it is a folder (its parent's if it is a file), or null. */
async function baseDir(cwd: string): Promise<string | null> {
  try {
    const real = await realpath(cwd)
    return (await stat(real)).isDirectory() ? real : dirname(real)
  } catch {
    return null
  }
}

/**
 * The folders that may hold skills for `cwd`, whether or not they exist: the user folder, then
 * `.codex/skills` and `.agents/skills` of each folder from the repository root down to `cwd` (only
 * `cwd`'s own when it is in no repository).
 */
export async function skillRoots(home: string, cwd: string): Promise<SkillRoot[]> {
  const roots: SkillRoot[] = [{ path: join(home, 'skills'), scope: 'user' }]
  const base = await baseDir(cwd)
  if (!base) return roots
  const chain: string[] = []
  let inRepo = false
  for (let dir = base; ; dir = dirname(dir)) {
    chain.push(dir)
    if (await exists(join(dir, '.git'))) {
      inRepo = true
      break
    }
    if (dirname(dir) === dir) break
  }
  for (const dir of inRepo ? chain.reverse() : [base]) {
    for (const sub of ['.codex', '.agents']) roots.push({ path: join(dir, sub, 'skills'), scope: 'repo' })
  }
  return roots
}

async function readSkill(path: string, scope: SkillScope, out: RootScan): Promise<void> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    out.errors.push({ path, message: `failed to read file: ${(error as Error).message}` })
    return
  }
  const parsed = parseSkill(text, basename(dirname(path)))
  if (!parsed.ok) {
    out.errors.push({ path, message: parsed.message })
    return
  }
  out.skills.push({
    name: parsed.name,
    description: parsed.description,
    ...(parsed.shortDescription !== null ? { shortDescription: parsed.shortDescription } : {}),
    path,
    scope,
    enabled: true,
    pluginId: null,
  })
}

/** Breadth-first over one root: hidden entries skipped, symlinks followed once, depth and size capped. */
export async function scanRoot(root: SkillRoot, log?: Logger): Promise<RootScan> {
  const out: RootScan = { root, skills: [], errors: [], dirs: null }
  let top: string
  try {
    top = await realpath(root.path)
    if (!(await stat(top)).isDirectory()) return out
  } catch {
    return out
  }
  const dirs: string[] = (out.dirs = [])
  const seen = new Set([top])
  const queue: [string, number][] = [[top, 0]]
  for (let next = queue.shift(); next; next = queue.shift()) {
    const [dir, depth] = next
    dirs.push(dir)
    let entries
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch (error) {
      log?.debug({ dir, err: (error as Error).message }, 'cannot read a skills folder')
      continue
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue
      let path = join(dir, entry.name)
      let isDir = entry.isDirectory()
      let isFile = entry.isFile()
      if (entry.isSymbolicLink()) {
        try {
          path = await realpath(path)
          const info = await stat(path)
          isDir = info.isDirectory()
          isFile = info.isFile()
        } catch {
          continue
        }
      }
      if (isDir) {
        if (depth >= MAX_DEPTH || seen.has(path) || seen.size >= MAX_DIRS_PER_ROOT) continue
        seen.add(path)
        queue.push([path, depth + 1])
      } else if (isFile && entry.name === SKILL_FILE) {
        await readSkill(path, root.scope, out)
      }
    }
  }
  return out
}

/** What to watch so that a root's skills, or the root's creation, are noticed. */
async function watchSpecOf(scan: RootScan, spec: WatchSpec): Promise<void> {
  if (scan.dirs) {
    for (const dir of scan.dirs) spec.set(dir, 'any')
    return
  }
  // Missing: watch the nearest existing parent (of two) for the next name on the way down.
  let child = scan.root.path
  for (let k = 0; k < 2; k++) {
    const parent = dirname(child)
    if (await exists(parent)) {
      const real = await realpath(parent).catch(() => parent)
      const current = spec.get(real)
      if (current !== 'any') spec.set(real, new Set([...(current ?? []), basename(child)]))
      return
    }
    child = parent
  }
}

const byScopeNamePath = (a: SkillMetadata, b: SkillMetadata) =>
  SCOPE_RANK[a.scope] - SCOPE_RANK[b.scope] ||
  (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
  (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)

export interface SkillsCatalogOptions {
  /** `$CODEX_DESK_HOME`. */
  home: string
  log?: Logger
  /** Watch listed folders and fire `onDidChange` (default true). */
  watch?: boolean
  debounceMs?: number
}

interface Cached {
  entry: SkillsListEntry
  watch: WatchSpec
  stale: boolean
}

/** `skills/list` for any number of working directories, cached and watched. */
export class SkillsCatalog {
  private readonly cache = new Map<string, Cached>()
  private readonly watchers = new Map<string, { watcher: FSWatcher; filter: Set<string> | 'any' }>()
  /** Bumped on every change, so a scan that overlapped one is not cached as fresh. */
  private generation = 0
  private timer: NodeJS.Timeout | undefined
  private disposed = false
  private warnedWatchCap = false
  private readonly changed = new Emitter<void>()
  /** Some listed skills folder changed (debounced): listings should be fetched again. */
  readonly onDidChange: Event<void> = this.changed.event

  constructor(private readonly options: SkillsCatalogOptions) {}

  async list(cwds: readonly string[], forceReload = false): Promise<SkillsListEntry[]> {
    const home = await realpath(this.options.home).catch(() => this.options.home)
    let userScan: Promise<RootScan> | undefined
    const entries = await Promise.all(
      cwds.map(async (cwd) => {
        const hit = this.cache.get(cwd)
        if (hit && !hit.stale && !forceReload) {
          this.cache.delete(cwd)
          this.cache.set(cwd, hit)
          return hit.entry
        }
        const generation = this.generation
        const roots = await skillRoots(home, cwd)
        const scans = await Promise.all(
          roots.map((root) =>
            root.scope === 'user'
              ? (userScan ??= scanRoot(root, this.options.log))
              : scanRoot(root, this.options.log),
          ),
        )
        const watch: WatchSpec = new Map()
        for (const scan of scans) await watchSpecOf(scan, watch)
        const entry = entryOf(cwd, scans)
        if (this.disposed) return entry
        this.cache.delete(cwd)
        this.cache.set(cwd, { entry, watch, stale: generation !== this.generation })
        return entry
      }),
    )
    while (this.cache.size > MAX_CACHED_CWDS) this.cache.delete(this.cache.keys().next().value as string)
    this.syncWatchers()
    return entries
  }

  /** Stops watching and forgets every listing (nobody is left to tell); `list` starts over. */
  suspend(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    for (const { watcher } of this.watchers.values()) watcher.close()
    this.watchers.clear()
    this.cache.clear()
  }

  dispose(): void {
    this.disposed = true
    this.suspend()
    this.changed.dispose()
  }

  /** Watches exactly the folders the cached listings cover. */
  private syncWatchers(): void {
    if (this.disposed || this.options.watch === false) return
    const want: WatchSpec = new Map()
    for (const { watch } of this.cache.values()) {
      for (const [dir, filter] of watch) {
        const current = want.get(dir)
        want.set(
          dir,
          current === 'any' || filter === 'any' ? 'any' : new Set([...(current ?? []), ...filter]),
        )
      }
    }
    for (const [dir, held] of this.watchers) {
      const wanted = want.get(dir)
      if (wanted && sameFilter(wanted, held.filter)) continue
      held.watcher.close()
      this.watchers.delete(dir)
    }
    for (const [dir, filter] of want) {
      if (this.watchers.has(dir)) continue
      if (this.watchers.size >= MAX_WATCHED_DIRS) {
        if (!this.warnedWatchCap)
          this.options.log?.warn({ dirs: want.size }, 'too many skills folders to watch all')
        this.warnedWatchCap = true
        break
      }
      try {
        const watcher = watch(dir, { persistent: false }, (_event, name) => {
          if (filter === 'any' || name === null || filter.has(String(name))) this.schedule()
        })
        watcher.on('error', () => {
          watcher.close()
          if (this.watchers.get(dir)?.watcher === watcher) this.watchers.delete(dir)
          this.schedule()
        })
        this.watchers.set(dir, { watcher, filter })
      } catch (error) {
        this.options.log?.debug({ dir, err: (error as Error).message }, 'cannot watch a skills folder')
      }
    }
  }

  private schedule(): void {
    if (this.disposed) return
    this.generation++
    for (const cached of this.cache.values()) cached.stale = true
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.changed.fire()
    }, this.options.debounceMs ?? DEBOUNCE_MS)
    this.timer.unref?.()
  }
}

function sameFilter(a: Set<string> | 'any', b: Set<string> | 'any'): boolean {
  if (a === 'any' || b === 'any') return a === b
  return a.size === b.size && [...a].every((name) => b.has(name))
}

function entryOf(cwd: string, scans: RootScan[]): SkillsListEntry {
  const skills = new Map<string, SkillMetadata>()
  const errors = new Map<string, SkillErrorInfo>()
  for (const scan of scans) {
    for (const skill of scan.skills) if (!skills.has(skill.path)) skills.set(skill.path, skill)
    for (const error of scan.errors) if (!errors.has(error.path)) errors.set(error.path, error)
  }
  return {
    cwd,
    skills: [...skills.values()].sort(byScopeNamePath),
    errors: [...errors.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
  }
}
