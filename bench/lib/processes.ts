/**
 * Spawning the BUILT command (`node bin/codex-desk.js app-server ...`) in a temp home, and making
 * sure nothing outlives the run: every child and temp dir is tracked, released by its owner in a
 * `finally`, and swept synchronously on exit or a signal should an owner never get that far.
 */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { CLI_ENTRY, TSX_LOADER } from '../../test/support/appServerProcess'

export const REPO_ROOT = resolve(import.meta.dirname, '../..')
export const BIN = join(REPO_ROOT, 'bin/codex-desk.js')

const liveChildren = new Set<ChildProcess>()
const liveDirs = new Set<string>()

/** Registers a child (ours or a fixture's) so the exit sweep can kill it. */
export function track(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return
  liveChildren.add(child)
  child.once('exit', () => liveChildren.delete(child))
}

/** Registers a temp dir someone else created (the core worker's home) for the exit sweep. */
export function trackDir(path: string): () => void {
  liveDirs.add(path)
  return () => liveDirs.delete(path)
}

export function makeTempDir(prefix = 'codex-desk-bench-'): { path: string; remove(): Promise<void> } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  liveDirs.add(path)
  return {
    path,
    async remove() {
      liveDirs.delete(path)
      await rm(path, { recursive: true, force: true })
    },
  }
}

/** Last-resort cleanup, synchronous so it also works from an 'exit' handler. */
export function sweepSync(): void {
  for (const child of liveChildren) child.kill('SIGKILL')
  liveChildren.clear()
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true })
  liveDirs.clear()
}

export function serverEnv(home: string): NodeJS.ProcessEnv {
  return { ...process.env, CODEX_DESK_HOME: home, CODEX_DESK_LOG: 'warn' }
}

/**
 * Where the core comes from: the built bin, or with BENCH_SOURCE=1 `src/worker/cli.ts` under tsx
 * (no build needed; slower to start, so cold-start rows are only meaningful from the bin).
 */
export function coreEntry(): string[] {
  return process.env.BENCH_SOURCE === '1' ? ['--import', TSX_LOADER, CLI_ENTRY] : [BIN]
}

/** Spawns the core (`nodeArgs` go to node, e.g. `--cpu-prof`). Callers must `stopChild` it in a `finally`. */
export function spawnServer(
  args: string[],
  home: string,
  nodeArgs: string[] = [],
): ChildProcessWithoutNullStreams {
  return spawnTracked(process.execPath, [...nodeArgs, ...coreEntry(), 'app-server', ...args], serverEnv(home))
}

/** Spawns any process, tracked for cleanup, with its stderr drained and kept (`stderrText`). */
export function spawnTracked(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): ChildProcessWithoutNullStreams {
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] })
  track(child)
  // A child that dies early turns our next stdin write into EPIPE; the exit is reported elsewhere.
  child.stdin.on('error', () => {})
  // Keep stderr drained (a full pipe would stall the server) and at hand for error messages.
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    if (stderr.length < 16_384) stderr += chunk
  })
  ;(child as ChildWithStderr).stderrText = () => stderr
  return child
}

interface ChildWithStderr extends ChildProcess {
  stderrText?: () => string
}

export function stderrOf(child: ChildProcess): string {
  return (child as ChildWithStderr).stderrText?.() ?? ''
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((r) => child.once('exit', () => r()))
}

/** Asks politely (stdin end, SIGTERM), then insists (SIGKILL); resolves once it has exited. */
export async function stopChild(child: ChildProcess, graceMs = 2_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const done = exited(child)
  child.stdin?.end()
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await done
  clearTimeout(timer)
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Calls `onLine` for each complete line of a child's stdout; returns a function that detaches it.
 * Only the new chunk is searched for a newline, and a long line's pieces are joined once, so a
 * megabyte response (a resumed thread) costs the client one pass, not one per 64 KiB chunk.
 */
export function onStdoutLines(
  child: ChildProcessWithoutNullStreams,
  onLine: (line: string) => void,
): () => void {
  let parts: string[] = []
  const onData = (chunk: string) => {
    let start = 0
    let nl = chunk.indexOf('\n')
    while (nl !== -1) {
      const piece = chunk.slice(start, nl)
      if (parts.length === 0) onLine(piece)
      else {
        parts.push(piece)
        const line = parts.join('')
        parts = []
        onLine(line)
      }
      start = nl + 1
      nl = chunk.indexOf('\n', start)
    }
    if (start < chunk.length) parts.push(start === 0 ? chunk : chunk.slice(start))
  }
  child.stdout.setEncoding('utf8').on('data', onData)
  return () => child.stdout.off('data', onData)
}

/** Waits for a stdout line matching `pattern` and returns its first group. */
export function stdoutMatch(
  child: ChildProcessWithoutNullStreams,
  pattern: RegExp,
  what: string,
  timeoutMs = 10_000,
): Promise<string> {
  let detach = () => {}
  const found = new Promise<string>((resolveMatch, reject) => {
    detach = onStdoutLines(child, (line) => {
      const match = pattern.exec(line)
      if (match) resolveMatch(match[1] as string)
    })
    child.once('exit', (code) => reject(new Error(`app-server exited with ${code}: ${stderrOf(child)}`)))
  })
  return withTimeout(found, timeoutMs, what).finally(() => detach())
}

/** Waits for `codex-desk app-server listening on ws://...` and returns the URL. */
export function listeningUrl(child: ChildProcessWithoutNullStreams, timeoutMs = 10_000): Promise<string> {
  return stdoutMatch(child, /listening on (ws:\/\/\S+)/, 'the listening URL', timeoutMs)
}

/** VmRSS of a process in bytes, from /proc (Linux). */
export async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return Number(match[1]) * 1024
}
