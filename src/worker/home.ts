/** The codex-desk home folder: CODEX_DESK_HOME, default ~/.codex-desk. Never codex's ~/.codex. */
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'

export function resolveCodexDeskHome(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.CODEX_DESK_HOME?.trim()
  return configured ? resolve(configured) : join(homedir(), '.codex-desk')
}
