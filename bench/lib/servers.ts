/**
 * The two servers a side-by-side figure runs: the built codex-desk core and, when it is installed,
 * codex-cli 0.169.0's native `codex app-server` (`npm run codex:install`, or CODEX_BIN=<path>).
 * Each gets its own temp home holding a config.toml that points at the same scripted model server,
 * so a figure measures both with the same inputs in the same run. Nothing here may run codex with
 * the user's own CODEX_HOME.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, readdirSync, realpathSync } from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { modelConfig } from '../../test/support/threadHarness'
import { openWebSocket, webSocketFrames, type FrameChannel } from './clients'
import { coreEntry, REPO_ROOT, serverEnv, spawnTracked, stderrOf } from './processes'

export const CODEX_BIN =
  process.env.CODEX_BIN ?? join(REPO_ROOT, '.cache/codex-0.169.0/node_modules/.bin/codex')

/**
 * codex's native binary. The npm package's `bin/codex.js` is a Node launcher that execs the binary
 * from the platform package (@openai/codex-<platform>-<arch>/vendor/<triple>/bin/codex); timing
 * through it would add a Node start to codex's figure, so the bench runs the binary itself, with
 * the one variable the launcher sets.
 */
export function nativeCodexBin(bin = CODEX_BIN): string {
  const real = realpathSync(bin)
  if (!real.endsWith('.js')) return real
  const scope = dirname(dirname(dirname(real))) // node_modules/@openai
  const vendor = join(scope, `codex-${process.platform}-${process.arch}`, 'vendor')
  for (const triple of existsSync(vendor) ? readdirSync(vendor) : []) {
    const candidate = join(vendor, triple, 'bin', process.platform === 'win32' ? 'codex.exe' : 'codex')
    if (existsSync(candidate)) return candidate
  }
  throw new Error(`no native codex binary under ${vendor} (the launcher is ${real})`)
}

export function codexInstalled(): boolean {
  return existsSync(CODEX_BIN)
}

export interface BenchServer {
  name: 'codex-desk' | 'codex'
  /** Writes `config.toml` in `home` for the scripted model at `modelUrl` (`extra`: more top-level keys). */
  configure(home: string, modelUrl: string, extra?: string): Promise<void>
  /** `listen`: a `ws://` URL, or null for stdio. `nodeArgs` only apply to codex-desk. */
  spawn(home: string, listen: string | null, nodeArgs?: string[]): ChildProcessWithoutNullStreams
  /** The folder holding the home's rollouts (both keep `sessions/YYYY/MM/DD/rollout-*.jsonl`). */
  sessions(home: string): string
}

/** The stream idle timeout both servers get: codex's default, long enough for any bench answer. */
const IDLE_TIMEOUT = 'stream_idle_timeout_ms = 300000'

export const CODEX_DESK: BenchServer = {
  name: 'codex-desk',
  configure: (home, url, extra = '') =>
    writeFile(
      join(home, 'config.toml'),
      modelConfig(url, extra).replace('stream_idle_timeout_ms = 10000', IDLE_TIMEOUT),
    ),
  spawn(home, listen, nodeArgs = []) {
    const args = ['app-server', ...(listen ? ['--listen', listen] : [])]
    return spawnTracked(process.execPath, [...nodeArgs, ...coreEntry(), ...args], serverEnv(home))
  },
  sessions: (home) => join(home, 'sessions'),
}

export const CODEX: BenchServer = {
  name: 'codex',
  configure: (home, url, extra = '') =>
    writeFile(
      join(home, 'config.toml'),
      [
        'model = "test-model"',
        'model_provider = "mock"',
        extra,
        '[model_providers.mock]',
        'name = "Mock"',
        `base_url = "${url}"`,
        'wire_api = "responses"',
        'request_max_retries = 0',
        'stream_max_retries = 0',
        IDLE_TIMEOUT,
        '',
      ].join('\n'),
    ),
  spawn(home, listen) {
    const args = ['app-server', ...(listen ? ['--listen', listen] : [])]
    const env = { ...process.env, CODEX_HOME: home, RUST_LOG: 'error', CODEX_MANAGED_BY_NPM: '1' }
    return spawnTracked(nativeCodexBin(), args, env)
  },
  sessions: (home) => join(home, 'sessions'),
}

/** codex-desk, then codex when it is installed: the order every side-by-side figure runs them in. */
export function serversToCompare(): BenchServer[] {
  return codexInstalled() ? [CODEX_DESK, CODEX] : [CODEX_DESK]
}

/** Runs `once` for each server, round after round (so load drifts hit both alike); results by server name. */
export async function interleavedRounds<T>(
  rounds: number,
  once: (server: BenchServer) => Promise<T>,
): Promise<Map<string, T[]>> {
  const runs = new Map<string, T[]>()
  for (let r = 0; r < rounds; r++) {
    for (const server of serversToCompare()) {
      const run = await once(server)
      runs.set(server.name, [...(runs.get(server.name) ?? []), run])
    }
  }
  return runs
}

/** A port free on 127.0.0.1 right now (codex does not print the port it bound, so we choose it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
  })
}

/** Connects to `url` as soon as the server accepts, retrying every `pollMs` until `timeoutMs`. */
export async function connectWhenUp(
  url: string,
  child: ChildProcessWithoutNullStreams,
  { pollMs = 100, timeoutMs = 20_000 } = {},
): Promise<FrameChannel> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the server exited with ${child.exitCode}: ${stderrOf(child)}`)
    try {
      return webSocketFrames(await openWebSocket(url, 2_000))
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, pollMs))
    }
  }
}

/** A process's peak resident memory so far (VmHWM), in MiB; NaN once it has gone. */
export async function peakRssMiB(pid: number): Promise<number> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(status)
    return match ? Number(match[1]) / 1024 : NaN
  } catch {
    return NaN
  }
}

/** The pid and every descendant's (from /proc's children lists). */
export async function processTree(pid: number): Promise<number[]> {
  const all = [pid]
  for (let i = 0; i < all.length; i++) {
    try {
      const tasks = await readdir(`/proc/${all[i]}/task`)
      for (const task of tasks) {
        const children = await readFile(`/proc/${all[i]}/task/${task}/children`, 'utf8')
        for (const child of children.split(' ').filter(Boolean)) all.push(Number(child))
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return all
}

/**
 * The peak resident memory of the server: the largest VmHWM in its process tree, so a launcher
 * (codex's npm package starts its native binary from a small Node script, were CODEX_BIN to point
 * at one) does not stand in for the server itself.
 */
export async function serverPeakMiB(pid: number): Promise<number> {
  let peak = NaN
  for (const p of await processTree(pid)) {
    const mib = await peakRssMiB(p)
    if (Number.isNaN(peak) || mib > peak) peak = mib
  }
  return peak
}
