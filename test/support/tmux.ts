/**
 * A terminal program driven the way a person drives it: started in a detached tmux session of a
 * fixed size, fed keys with `send-keys`, read with `capture-pane`. Every wait polls the screen until
 * a predicate holds or a generous limit passes, and the session is killed on dispose.
 */
import { execFile, execFileSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Why tmux cannot be used here, or null when it can. */
export function tmuxMissing(): string | null {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' })
    return null
  } catch {
    return 'tmux is not installed (apt-get install -y tmux)'
  }
}

export interface TmuxOptions {
  /** The command line, run by tmux through `sh -c`. */
  command: string
  cwd: string
  env: Record<string, string>
  width?: number
  height?: number
  /** A file the command sends its stderr to: shown when a wait fails. */
  stderrFile?: string
  /** Where each `snapshot(name)` is saved as `NN-name.txt`. */
  artifactsDir?: string
}

export class TmuxSession {
  private snapshots = 0
  private disposed = false

  private constructor(
    readonly name: string,
    private readonly options: TmuxOptions,
  ) {}

  static async start(options: TmuxOptions): Promise<TmuxSession> {
    const name = `codex-desk-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
    const env = Object.entries(options.env).flatMap(([k, v]) => ['-e', `${k}=${v}`])
    await run('tmux', [
      'new-session',
      '-d',
      '-s',
      name,
      '-x',
      String(options.width ?? 160),
      '-y',
      String(options.height ?? 50),
      '-c',
      options.cwd,
      ...env,
      // Keep the pane after the program exits, so its last screen can still be read.
      `${options.command}; echo "[exited with $?]"; sleep 600`,
    ])
    if (options.artifactsDir) await mkdir(options.artifactsDir, { recursive: true })
    return new TmuxSession(name, options)
  }

  /** The visible screen, without trailing blank lines. */
  async screen(): Promise<string> {
    const { stdout } = await run('tmux', ['capture-pane', '-p', '-t', this.name])
    return stdout.replace(/\s+$/, '')
  }

  /** Types text literally (no key names), then waits a moment so the program sees it as typing. */
  async type(text: string): Promise<void> {
    await run('tmux', ['send-keys', '-t', this.name, '-l', text])
  }

  /** Sends tmux key names: `Enter`, `Down`, `Escape`, `C-c`, a single letter... */
  async keys(...keys: string[]): Promise<void> {
    await run('tmux', ['send-keys', '-t', this.name, ...keys])
  }

  /** Polls the screen until `predicate` holds; throws with the last screen after `timeoutMs`. */
  async waitFor(predicate: (screen: string) => boolean, what: string, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const screen = await this.screen()
      if (predicate(screen)) return screen
      const exited = /\[exited with \d+\]/.test(screen)
      if (exited || Date.now() > deadline) {
        await this.snapshot(`timeout-${what.replace(/\W+/g, '-')}`)
        const why = exited ? 'the program exited' : `timed out after ${timeoutMs} ms`
        throw new Error(
          `${why} while waiting for ${what}; the screen was:\n${screen}${await this.exitNote()}`,
        )
      }
      await new Promise((r) => setTimeout(r, 150))
    }
  }

  /** Waits for `text` to be on screen. */
  waitForText(text: string | RegExp, timeoutMs?: number): Promise<string> {
    const test = typeof text === 'string' ? (s: string) => s.includes(text) : (s: string) => text.test(s)
    return this.waitFor(test, JSON.stringify(String(text)), timeoutMs)
  }

  /** What the program printed on stderr, when the command redirects it to `stderrFile`. */
  private async exitNote(): Promise<string> {
    if (!this.options.stderrFile) return ''
    const text = await readFile(this.options.stderrFile, 'utf8').catch(() => '')
    return text ? `\nits stderr:\n${text.slice(0, 4000)}` : ''
  }

  /** Saves the current screen as a numbered artifact and returns it. */
  async snapshot(name: string): Promise<string> {
    const screen = await this.screen()
    if (this.options.artifactsDir) {
      const file = `${String(++this.snapshots).padStart(2, '0')}-${name}.txt`
      await writeFile(join(this.options.artifactsDir, file), screen + '\n')
    }
    return screen
  }

  async dispose(): Promise<void> {
    if (this.disposed) return
    this.disposed = true
    await run('tmux', ['kill-session', '-t', this.name]).catch(() => undefined)
  }
}
