/**
 * Loads the CommonJS build of the CLI (out/cli/) with a V8 code cache, so a start skips parsing
 * and compiling the bundle (Node 20 has no compile cache for ES modules; Node >= 22.1 has
 * `module.enableCompileCache`, used instead where it exists). The cache is one file per bundle
 * folder, Node version and V8 flags, in the user's cache folder (CODEX_DESK_CODE_CACHE=<dir>
 * overrides it, `off` disables it), holding one entry per bundle file: its name, a hash of the
 * file's identity (length, inode, size, modification and change times), and V8's data with its
 * SHA-1 (V8 itself checks only the source length, and release builds do not checksum the data). A server run writes the file, atomically (temp file + rename), when something was compiled
 * without a cache: a little after start-up and at exit.
 *
 * The bundle must not contain `import()`: a script compiled here has no dynamic-import host (and
 * V8's cached data would drop one), so scripts/cliBuild.ts turns every `import()` into `require`.
 *
 * Must never: fail a start because of the cache (a missing, stale, corrupt or unwritable cache only
 * costs compile time), import anything but node: builtins (it runs before the bundle), or apply to
 * files outside the bundle folder.
 */
import { createHash } from 'node:crypto'
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { createRequire, Module } from 'node:module'
import { homedir } from 'node:os'
import { basename, dirname, join, relative, sep } from 'node:path'
import { Script } from 'node:vm'

const MAGIC = Buffer.from('CDXV8C01')
const HASH_BYTES = 20
/** When a server run writes the cache if nothing else did: well after its first answer. */
const WRITE_AFTER_MS = 3_000

interface CacheEntry {
  sourceHash: Buffer
  data: Buffer
  dataHash: Buffer
}

interface Compiled {
  name: string
  sourceHash: Buffer
  script: Script
}

export interface CodeCacheStatus {
  /** The cache file, or null when the cache is off. */
  file: string | null
  /** Bundle files compiled from a cache entry V8 accepted, and compiled without one. */
  hits: string[]
  misses: string[]
  /** Why the cache file (if any) was ignored: 'corrupt'. */
  ignored?: string
  /** Writes the cache now if anything was compiled without it. */
  flush(): FlushResult
}

/** 'written', 'unchanged' (nothing new to store), 'failed' (unwritable: harmless), 'off'. */
export type FlushResult = 'written' | 'unchanged' | 'failed' | 'off'

export interface LoadOptions {
  /** Whether this run may write the cache (a server start, not `--version`). */
  write: boolean
  env?: NodeJS.ProcessEnv
}

type CompileFn = (this: Module, content: string, filename: string) => unknown

/** The user's cache folder for codex-desk's code cache; null when the cache is off. */
export function codeCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const override = env.CODEX_DESK_CODE_CACHE
  if (override === 'off' || override === '0') return null
  if (override) return override
  const home = homedir()
  if (process.platform === 'win32') {
    return join(env.LOCALAPPDATA || join(home, 'AppData', 'Local'), 'codex-desk', 'code-cache')
  }
  if (process.platform === 'darwin') return join(home, 'Library', 'Caches', 'codex-desk', 'code-cache')
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'codex-desk', 'code-cache')
}

function sha1(data: string | Buffer): Buffer {
  return createHash('sha1').update(data).digest()
}

/**
 * What identifies a bundle file's content, cheaper than hashing half a megabyte: its length and
 * the file's inode, size, modification and change times (the change time cannot be carried over
 * by a copy or an archive, so a rebuilt or reinstalled file never matches an old entry).
 */
function sourceIdentity(filename: string, content: string): Buffer {
  try {
    const s = statSync(filename, { bigint: true })
    return sha1([content.length, s.dev, s.ino, s.size, s.mtimeNs, s.ctimeNs].join(':'))
  } catch {
    return sha1(content)
  }
}

/** One cache file per bundle folder, Node/V8 version and V8 flags (V8 rejects data across them). */
function cacheFileName(bundleDir: string): string {
  const flags = [...process.execArgv, process.env.NODE_OPTIONS ?? '']
  const key = [bundleDir, process.version, process.arch, process.versions.v8, ...flags].join('\0')
  return `cli-${sha1(key).toString('hex').slice(0, 16)}.v8cache`
}

/** Parses a cache file; null when it is not one of ours or is cut short or inconsistent. */
export function parseCacheFile(buffer: Buffer): Map<string, CacheEntry> | null {
  const entries = new Map<string, CacheEntry>()
  if (buffer.length < MAGIC.length + 4 || !buffer.subarray(0, MAGIC.length).equals(MAGIC)) return null
  let at = MAGIC.length
  const count = buffer.readUInt32LE(at)
  at += 4
  for (let i = 0; i < count; i++) {
    if (at + 2 > buffer.length) return null
    const nameLength = buffer.readUInt16LE(at)
    at += 2
    if (at + nameLength + HASH_BYTES + 4 + HASH_BYTES > buffer.length) return null
    const name = buffer.toString('utf8', at, at + nameLength)
    at += nameLength
    const sourceHash = buffer.subarray(at, at + HASH_BYTES)
    at += HASH_BYTES
    const dataLength = buffer.readUInt32LE(at)
    at += 4
    const dataHash = buffer.subarray(at, at + HASH_BYTES)
    at += HASH_BYTES
    if (at + dataLength > buffer.length) return null
    entries.set(name, { sourceHash, dataHash, data: buffer.subarray(at, at + dataLength) })
    at += dataLength
  }
  return at === buffer.length ? entries : null
}

function serialize(entries: Map<string, { sourceHash: Buffer; data: Buffer }>): Buffer {
  const parts: Buffer[] = [MAGIC, Buffer.alloc(4)]
  parts[1]?.writeUInt32LE(entries.size)
  for (const [name, entry] of entries) {
    const nameBytes = Buffer.from(name, 'utf8')
    const head = Buffer.alloc(2)
    head.writeUInt16LE(nameBytes.length)
    const length = Buffer.alloc(4)
    length.writeUInt32LE(entry.data.length)
    parts.push(head, nameBytes, entry.sourceHash, length, sha1(entry.data), entry.data)
  }
  return Buffer.concat(parts)
}

/** Writes `data` to `file` through a temp file and a rename, so readers never see half a file. */
function writeAtomically(file: string, data: Buffer): FlushResult {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
    writeFileSync(temp, data, { mode: 0o600 })
    renameSync(temp, file)
    pruneCacheFolder(dirname(file), basename(file))
    return 'written'
  } catch {
    try {
      unlinkSync(temp)
    } catch {
      // never written
    }
    return 'failed'
  }
}

/** How many cache files (installs, Node versions) the folder keeps: the most recently written. */
export const CACHE_FILES_KEPT = 8

/**
 * Removes all but the CACHE_FILES_KEPT most recently written cache files, so installs that moved or
 * were deleted (and Node versions no longer used) do not pile up. An install whose file went is
 * only compiled afresh at its next start. Errors are ignored: this is housekeeping.
 */
function pruneCacheFolder(folder: string, keep: string): void {
  try {
    const files = readdirSync(folder)
      .filter((name) => name.startsWith('cli-') && name.endsWith('.v8cache') && name !== keep)
      .map((name) => ({ name, mtime: statSync(join(folder, name)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime)
    for (const { name } of files.slice(CACHE_FILES_KEPT - 1)) unlinkSync(join(folder, name))
  } catch {
    // Another process pruned first, or the folder is not ours to tidy.
  }
}

/**
 * Loads `entry` (a file in `bundleDir`) and every bundle file it requires with the code cache, and
 * returns its exports. Where Node has its own compile cache, that is used instead.
 */
export function loadWithCodeCache(
  bundleDir: string,
  entry: string,
  options: LoadOptions,
): { exports: unknown; status: CodeCacheStatus } {
  const env = options.env ?? process.env
  const loader = createRequire(join(bundleDir, entry))
  const dir = codeCacheDir(env)
  const builtin = (Module as unknown as { enableCompileCache?: (dir?: string) => unknown }).enableCompileCache
  if (dir && typeof builtin === 'function') {
    // Node >= 22.1 caches CommonJS and ES modules itself, with its own validation.
    try {
      builtin(join(dir, 'node'))
    } catch {
      // no cache, same code
    }
    const status: CodeCacheStatus = { file: null, hits: [], misses: [], flush: () => 'off' }
    return { exports: loader(join(bundleDir, entry)), status }
  }
  const file = dir ? join(dir, cacheFileName(bundleDir)) : null
  let stored: Map<string, CacheEntry> | null = null
  let ignored: string | undefined
  if (file) {
    try {
      stored = parseCacheFile(readFileSync(file))
      if (!stored) ignored = 'corrupt'
    } catch {
      // no cache yet, or unreadable: compile as usual
    }
  }
  const compiled: Compiled[] = []
  const hits: string[] = []
  const misses: string[] = []
  let dirty = false
  const prefix = bundleDir.endsWith(sep) ? bundleDir : bundleDir + sep
  const proto = Module.prototype as unknown as { _compile: CompileFn }
  const originalCompile = proto._compile
  proto._compile = function compileWithCache(this: Module, content: string, filename: string) {
    if (!filename.startsWith(prefix)) return originalCompile.call(this, content, filename)
    const name = relative(bundleDir, filename).split(sep).join('/')
    const sourceHash = sourceIdentity(filename, content)
    const candidate = stored?.get(name)
    const cachedData =
      candidate && candidate.sourceHash.equals(sourceHash) && sha1(candidate.data).equals(candidate.dataHash)
        ? candidate.data
        : undefined
    const script = new Script(Module.wrap(content), {
      filename,
      ...(cachedData ? { cachedData } : {}),
    })
    if (cachedData && !script.cachedDataRejected) hits.push(name)
    else {
      misses.push(name)
      dirty = true
    }
    compiled.push({ name, sourceHash, script })
    const run = script.runInThisContext({ displayErrors: true }) as (...args: unknown[]) => unknown
    const requireHere = ((id: string) => this.require(id)) as NodeJS.Require
    const internals = Module as unknown as {
      _resolveFilename(request: string, parent: Module, isMain: boolean, options?: unknown): string
      _cache: NodeJS.Require['cache']
      _extensions: NodeJS.Require['extensions']
    }
    requireHere.resolve = ((request: string, opts?: unknown) =>
      internals._resolveFilename(request, this, false, opts)) as NodeJS.RequireResolve
    requireHere.cache = internals._cache
    requireHere.extensions = internals._extensions
    requireHere.main = loader.main
    return run.call(this.exports, this.exports, requireHere, this, filename, dirname(filename))
  }
  const flush = (): FlushResult => {
    if (!file) return 'off'
    if (!dirty) return 'unchanged'
    dirty = false
    const next = new Map<string, { sourceHash: Buffer; data: Buffer }>()
    // Entries of files this run did not load (the websocket chunk in a stdio run) stay while the
    // file exists, so stdio and websocket starts do not evict each other's entries.
    for (const [name, old] of stored ?? []) {
      try {
        if (statSync(join(bundleDir, name)).isFile()) next.set(name, old)
      } catch {
        // gone with an older build
      }
    }
    try {
      for (const c of compiled)
        next.set(c.name, { sourceHash: c.sourceHash, data: c.script.createCachedData() })
    } catch {
      return 'failed'
    }
    return writeAtomically(file, serialize(next))
  }
  const status: CodeCacheStatus = { file, hits, misses, ...(ignored ? { ignored } : {}), flush }
  const debug = env.CODEX_DESK_CODE_CACHE_DEBUG === '1'
  if ((file && options.write) || debug) {
    if (file && options.write) setTimeout(flush, WRITE_AFTER_MS).unref()
    process.on('exit', () => {
      const written = options.write ? flush() : 'off'
      // For the tests and for anyone checking their install: what the cache did in this run.
      if (debug) {
        const summary = { file, hits: hits.length, misses: misses.length, ignored: ignored ?? null, written }
        process.stderr.write(`codex-desk code cache: ${JSON.stringify(summary)}\n`)
      }
    })
  }
  return { exports: loader(join(bundleDir, entry)), status }
}
