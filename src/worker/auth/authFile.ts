/**
 * `$CODEX_DESK_HOME/auth.json`, codex's file for a saved API key: `{"auth_mode":"apikey",
 * "OPENAI_API_KEY":"sk-..."}`, mode 0600, replaced atomically. ChatGPT tokens never go here: the
 * desktop app keeps them (encrypted) and hands them to the core, which holds them in memory only.
 *
 * It must never log the key, and never leave the file readable by other users.
 */
import { chmod, readFile, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../util/atomicWrite'
import type { Logger } from '../util/log'

export const AUTH_FILE = 'auth.json'

export class AuthFile {
  readonly path: string

  constructor(
    home: string,
    private readonly log: Logger,
  ) {
    this.path = join(home, AUTH_FILE)
  }

  /** The saved API key, or null (no file, no key, or a file we cannot read, which is logged). */
  async readApiKey(): Promise<string | null> {
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.log.warn(
          { path: this.path, code: (error as NodeJS.ErrnoException).code },
          'cannot read auth.json',
        )
      }
      return null
    }
    await this.tightenMode()
    try {
      const json = JSON.parse(text) as { OPENAI_API_KEY?: unknown }
      const key = typeof json.OPENAI_API_KEY === 'string' ? json.OPENAI_API_KEY.trim() : ''
      return key || null
    } catch {
      this.log.warn({ path: this.path }, 'auth.json is not valid JSON; ignoring it')
      return null
    }
  }

  async saveApiKey(apiKey: string): Promise<void> {
    const body = JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: apiKey }, null, 2) + '\n'
    await writeFileAtomic(this.path, body, { mode: 0o600 })
  }

  /** True when a file was removed. */
  async remove(): Promise<boolean> {
    try {
      await unlink(this.path)
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false
      throw error
    }
  }

  /** A key file other users can read (copied in by hand, say) is narrowed to 0600, and said so. */
  private async tightenMode(): Promise<void> {
    if (process.platform === 'win32') return
    try {
      const mode = (await stat(this.path)).mode & 0o777
      if ((mode & 0o077) === 0) return
      await chmod(this.path, 0o600)
      this.log.warn(
        { path: this.path, mode: mode.toString(8) },
        'auth.json was readable by others; set it to 0600',
      )
    } catch (error) {
      this.log.debug({ err: error }, 'could not check the mode of auth.json')
    }
  }
}
