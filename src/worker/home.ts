/**
 * The codex-desk home folder: CODEX_DESK_HOME, default ~/.codex-desk. Never codex's ~/.codex.
 *
 * `prepareHome` runs once per process before the core uses the home: it creates the home 0700
 * (conversations are no one else's business), tightens an existing one that is codex-desk's own,
 * and removes locks and temp files left by processes that are gone. It must never change the mode
 * of a folder codex-desk does not own (the user's home, a shared folder someone pointed us at).
 */
import { chmod, mkdir, readdir, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, join, relative, resolve, sep } from 'node:path'
import { DIR_MODE } from './threads/pidLock'
import { cleanStaleFiles } from './threads/staleFiles'
import type { Logger } from './util/log'

export function resolveCodexDeskHome(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.CODEX_DESK_HOME?.trim()
  return configured ? resolve(configured) : join(homedir(), '.codex-desk')
}

/** What only a codex-desk home holds: finding one of these makes an existing folder ours. */
const HOME_MARKERS = ['thread_index.jsonl', 'sessions', 'archived_sessions', 'thread-writer-locks']
/** A folder holding nothing but these is a home prepared for codex-desk (a config written first). */
const HOME_CONFIG_FILES = new Set(['config.toml', 'managed_config.toml'])

/** True when `dir` is the user's home folder or one of its parents (or the root). */
function isUserHomeOrAbove(dir: string): boolean {
  const rel = relative(dir, homedir())
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep))
}

/** Why an existing home may be tightened to 0700, or null when it is not codex-desk's to change. */
async function ownHomeReason(home: string): Promise<string | null> {
  if (isUserHomeOrAbove(home)) return null
  const st = await stat(home)
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) return null
  if (basename(home) === '.codex-desk') return 'it is the default codex-desk home'
  const entries = await readdir(home)
  if (entries.length === 0) return 'it is empty'
  const marker = HOME_MARKERS.find((m) => entries.includes(m))
  if (marker) return `it holds codex-desk's ${marker}`
  return entries.every((e) => HOME_CONFIG_FILES.has(e)) ? 'it holds only codex-desk configuration' : null
}

/** Creates the home 0700, or tightens an existing one that is codex-desk's own. */
export async function ensureHomeFolder(home: string, log?: Logger): Promise<void> {
  // mkdir's mode is narrowed by the umask, never widened: 0700 at most.
  const created = await mkdir(home, { recursive: true, mode: DIR_MODE })
  if (process.platform === 'win32') return
  if (created !== undefined) return
  const mode = (await stat(home)).mode & 0o777
  if ((mode & 0o077) === 0) return
  const reason = await ownHomeReason(home)
  if (reason === null) {
    log?.warn(
      { home, mode: mode.toString(8) },
      'the codex-desk home is readable by other users; not changing a folder codex-desk does not own',
    )
    return
  }
  await chmod(home, mode & 0o700)
  log?.info(
    { home, from: mode.toString(8), to: (mode & 0o700).toString(8), reason },
    'tightened the codex-desk home so other users cannot read conversations',
  )
}

const prepared = new Map<string, Promise<void>>()

/**
 * Gets the home ready once per process (later calls share the first): the folder with its mode,
 * then stale locks and temp files removed. A failure is logged; the core still runs.
 */
export function prepareHome(home: string, log?: Logger): Promise<void> {
  const key = resolve(home)
  let done = prepared.get(key)
  if (!done) {
    done = (async () => {
      try {
        await ensureHomeFolder(key, log)
        await cleanStaleFiles(key, log)
      } catch (error) {
        log?.warn({ home: key, error }, 'could not prepare the codex-desk home')
      }
    })()
    prepared.set(key, done)
  }
  return done
}
