/**
 * Spawns the real headless CLI (`src/worker/cli.ts` under tsx) in a temp home, and cleans up.
 * Tests talk to it over its stdio or its websocket URL, exactly as an external client would.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { stdioChannel } from './channels'
import { TestClient, WAIT_MS, withTimeout } from './testClient'

export const REPO_ROOT = resolve(import.meta.dirname, '../..')
export const CLI_ENTRY = join(REPO_ROOT, 'src/worker/cli.ts')
/** tsx's loader by absolute URL, so a process may run in any folder (`--import tsx` resolves from its cwd). */
export const TSX_LOADER = pathToFileURL(
  createRequire(import.meta.url)
    .resolve('tsx')
    .replace(/\.cjs$/, '.mjs'),
).href

export async function makeTempDir(
  prefix = 'codex-desk-test-',
): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** Creates `files` (relative path -> contents) under `root`, with their folders. */
export async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [name, contents] of Object.entries(files)) {
    await mkdir(dirname(join(root, name)), { recursive: true })
    await writeFile(join(root, name), contents)
  }
}

export interface AppServerProcess {
  child: ChildProcessWithoutNullStreams
  home: string
  /** Everything the process wrote to stderr so far. */
  stderr(): string
  stdout(): string
  /** For --listen ws://: the URL it printed. */
  url?: string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** A TestClient over its stdio (stdio mode). */
  stdioClient(): TestClient
  /** Kills it (SIGTERM, then SIGKILL) and removes its temp home. */
  dispose(): Promise<void>
}

export async function spawnAppServer(
  args: string[] = [],
  options: {
    env?: NodeJS.ProcessEnv
    waitForUrl?: boolean
    /** Files to create in the temp home before the server starts (relative path -> contents). */
    files?: Record<string, string>
    /** Run in this home (a restart) instead of a new temp one; the caller removes it. */
    home?: string
    /** The server's working folder (threads started without a cwd run here); default the repository. */
    cwd?: string
  } = {},
): Promise<AppServerProcess> {
  const home = options.home ? { path: options.home, remove: async () => undefined } : await makeTempDir()
  await writeFiles(home.path, options.files ?? {})
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_ENTRY, 'app-server', ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, CODEX_DESK_HOME: home.path, CODEX_DESK_LOG: 'info', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  let stdout = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  )
  const proc: AppServerProcess = {
    child,
    home: home.path,
    stderr: () => stderr,
    stdout: () => stdout,
    exited,
    stdioClient: () => new TestClient(stdioChannel(child)),
    async dispose() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
        await exited
        clearTimeout(timer)
      }
      await home.remove()
    },
  }
  if (options.waitForUrl) {
    child.stdout.setEncoding('utf8')
    try {
      proc.url = await withTimeout(
        new Promise<string>((resolveUrl, reject) => {
          child.stdout.on('data', (chunk: string) => {
            stdout += chunk
            const match = /listening on (ws:\/\/\S+)/.exec(stdout)
            if (match) resolveUrl(match[1] as string)
          })
          void exited.then(({ code }) => reject(new Error(`app-server exited with ${code}: ${stderr}`)))
        }),
        WAIT_MS,
        'the listening URL',
      )
    } catch (error) {
      await proc.dispose()
      throw error
    }
  }
  return proc
}

/** Runs the CLI to completion (for usage errors, --help). */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const home = await makeTempDir()
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, CODEX_DESK_HOME: home.path, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    const code = await withTimeout(
      new Promise<number | null>((r) => child.once('exit', (c) => r(c))),
      WAIT_MS,
      `codex-desk ${args.join(' ')} to exit`,
      () => child.kill('SIGKILL'),
    )
    return { code, stdout, stderr }
  } finally {
    await home.remove()
  }
}

/**
 * Waits until what the process printed on stdout matches `pattern` (stdout is collected when it was
 * spawned with `waitForUrl`); resolves with the match.
 */
export async function waitForStdout(
  proc: AppServerProcess,
  pattern: RegExp,
  timeoutMs = WAIT_MS,
): Promise<RegExpExecArray> {
  let onData = () => {}
  try {
    return await withTimeout(
      new Promise<RegExpExecArray>((resolveMatch, reject) => {
        onData = () => {
          const match = pattern.exec(proc.stdout())
          if (match) resolveMatch(match)
        }
        proc.child.stdout.on('data', onData)
        onData()
        void proc.exited.then(({ code }) =>
          reject(new Error(`app-server exited with ${code}: ${proc.stderr()}`)),
        )
      }),
      timeoutMs,
      `stdout to match ${pattern}`,
    )
  } finally {
    proc.child.stdout.off('data', onData)
  }
}
