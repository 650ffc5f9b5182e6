/**
 * WorkerHost and RotatingLog against real child processes (small fixture scripts forked with
 * node:child_process, adapted by the production `fromUtilityProcess`) and real files in a temp dir.
 * Restart delays are short real ones; the crash window uses an injected clock.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { UtilityProcess } from 'electron'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fromUtilityProcess } from '../../src/main/utilityProcess'
import { RotatingLog } from '../../src/main/rotatingLog'
import {
  WorkerHost,
  type ExitInfo,
  type SupervisedProcess,
  type WorkerHostLogger,
  type WorkerHostOptions,
  type WorkerHostState,
} from '../../src/main/workerHost'
import { REPO_ROOT, makeTempDir } from '../support/appServerProcess'
import { withTimeout } from '../support/testClient'

const FIXTURES = join(REPO_ROOT, 'test/support/fixtures/workerHost')
const WAIT_MS = 60_000

interface Launched {
  child: ChildProcess
  env: Record<string, string>
  serviceName: string
  output: () => string
}

let temp: { path: string; remove(): Promise<void> }
let launched: Launched[]
let hosts: WorkerHost[]

beforeEach(async () => {
  temp = await makeTempDir('codex-desk-workerhost-')
  launched = []
  hosts = []
})

afterEach(async () => {
  await Promise.all(hosts.map((host) => host.dispose()))
  for (const { child } of launched) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  await temp.remove()
})

/** A launch that forks a fixture script the way utilityProcess.fork would run the core. */
function launcher(script: () => { file: string; args?: string[] }): WorkerHostOptions['launch'] {
  return ({ env, serviceName }) => {
    const { file, args = [] } = script()
    const child = fork(join(FIXTURES, file), args, { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    let output = ''
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
    launched.push({ child, env, serviceName, output: () => output })
    return fromUtilityProcess(
      Object.assign(child, { postMessage: (message: unknown) => void child.send(message as object) }),
    )
  }
}

function collectingLogger(): WorkerHostLogger & { lines: string[] } {
  const lines: string[] = []
  return {
    lines,
    info: (_fields, message) => lines.push(`info: ${message}`),
    warn: (_fields, message) => lines.push(`warn: ${message}`),
    error: (_fields, message) => lines.push(`error: ${message}`),
  }
}

function makeHost(options: Partial<WorkerHostOptions> & Pick<WorkerHostOptions, 'launch'>) {
  const logger = collectingLogger()
  const host = new WorkerHost({
    logDir: join(temp.path, 'logs'),
    env: { HOME: '/home/ada', PATH: process.env.PATH ?? '/usr/bin' },
    backoff: { initialMs: 20, maxMs: 1000, jitter: 0 },
    logger,
    ...options,
  })
  hosts.push(host)
  const states: WorkerHostState[] = []
  const exits: ExitInfo[] = []
  const starts: SupervisedProcess[] = []
  host.onDidChangeState((state) => states.push(state))
  host.onDidExit((exit) => exits.push(exit))
  host.onDidStart((proc) => starts.push(proc))
  return { host, logger, states, exits, starts }
}

function waitForState(
  host: WorkerHost,
  kind: WorkerHostState['kind'],
  ms = WAIT_MS,
): Promise<WorkerHostState> {
  if (host.state.kind === kind) return Promise.resolve(host.state)
  let subscription: { dispose(): void } | undefined
  return withTimeout(
    new Promise<WorkerHostState>((resolve) => {
      subscription = host.onDidChangeState((state) => {
        if (state.kind === kind) resolve(state)
      })
    }),
    ms,
    `state ${kind}`,
  ).finally(() => subscription?.dispose())
}

async function waitForOutput(entry: Launched | undefined, text: string): Promise<void> {
  if (!entry) throw new Error('nothing was launched')
  const started = Date.now()
  while (!entry.output().includes(text)) {
    if (Date.now() - started > WAIT_MS) throw new Error(`timed out waiting for ${JSON.stringify(text)}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function isAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const readLog = (host: WorkerHost) => readFileSync(host.logPath, 'utf8')

describe('WorkerHost', () => {
  it('passes the child only the allow-listed variables and the ones the caller adds', async () => {
    const { host } = makeHost({
      launch: launcher(() => ({ file: 'forever.mjs', args: ['--print-env'] })),
      env: {
        HOME: '/home/ada',
        PATH: process.env.PATH ?? '/usr/bin',
        LANG: 'en_US.UTF-8',
        CODEX_DESK_LOG: 'warn',
        OPENAI_API_KEY: 'sk-proj-do-not-leak-0123456789',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        NODE_OPTIONS: '--require /nonexistent.js',
        ELECTRON_RUN_AS_NODE: '1',
      },
      extraEnv: { CODEX_DESK_HOME: join(temp.path, 'home') },
    })
    await withTimeout(host.start(), WAIT_MS, 'start')
    await waitForOutput(launched[0], 'ENV ')
    await host.stop()
    await host.dispose()

    const line = readLog(host)
      .split('\n')
      .find((l) => l.startsWith('ENV '))
    const childEnv = JSON.parse(line?.slice(4) ?? '{}') as Record<string, string>
    expect(childEnv).toEqual({
      HOME: '/home/ada',
      PATH: process.env.PATH ?? '/usr/bin',
      LANG: 'en_US.UTF-8',
      CODEX_DESK_LOG: 'warn',
      CODEX_DESK_HOME: join(temp.path, 'home'),
    })
    expect(launched[0]?.serviceName).toBe('codex-desk core')
    expect(readLog(host)).not.toContain('do-not-leak')
  })

  it('a second start while the first is under way returns the same promise and launches once', async () => {
    const { host, states, starts } = makeHost({ launch: launcher(() => ({ file: 'forever.mjs' })) })
    const first = host.start()
    const second = host.start()
    expect(second).toBe(first)
    const proc = await withTimeout(first, WAIT_MS, 'start')
    expect(await host.start()).toBe(proc)
    expect(host.start()).toBe(host.start())
    expect(launched).toHaveLength(1)
    expect(starts).toEqual([proc])
    expect(proc.pid).toBe(launched[0]?.child.pid)
    expect(states.map((s) => s.kind)).toEqual(['starting', 'running'])
    await host.stop()
  })

  it('a core that keeps crashing is restarted with doubling delays, then the host gives up with a reason', async () => {
    let healthy = false
    const { host, states, starts, exits } = makeHost({
      launch: launcher(() => (healthy ? { file: 'forever.mjs' } : { file: 'crash.mjs', args: ['10', '3'] })),
    })
    const firstProc = await withTimeout(host.start(), WAIT_MS, 'start')
    const failed = await waitForState(host, 'failed')

    const reason = `The codex-desk core crashed 5 times in 60 s; last exit code 3. See ${host.logPath}.`
    expect(failed).toMatchObject({ kind: 'failed', reason, lastExit: { code: 3, crashed: true } })
    const restarts = states.filter((s) => s.kind === 'restarting')
    expect(restarts.map((s) => [s.attempt, s.delayMs])).toEqual([
      [1, 20],
      [2, 40],
      [3, 80],
      [4, 160],
    ])
    expect(launched).toHaveLength(5)
    expect(starts).toHaveLength(5)
    expect(starts[0]).toBe(firstProc)
    expect(new Set(starts.map((p) => p.pid)).size).toBe(5)
    expect(exits.every((e) => e.crashed && !e.requested && e.code === 3)).toBe(true)

    // The user fixed whatever it was and pressed "Try again".
    healthy = true
    const retried = await withTimeout(host.retry(), WAIT_MS, 'retry')
    expect(host.state).toEqual({ kind: 'running', pid: retried.pid })
    expect(retried.pid).toBe(launched.at(-1)?.child.pid)
    await host.stop()
    await host.dispose()
    const log = readLog(host)
    expect(log.match(/about to crash with code 3/g)).toHaveLength(5)
    expect(log).toContain(`giving up: ${reason}`)
    expect(log).toContain("retrying at the user's request")
  })

  it('crashes spread wider than the crash window never trip the breaker', async () => {
    let clock = 1_000_000
    const { host, states } = makeHost({
      launch: launcher(() => ({ file: 'crash.mjs', args: ['0', '1'] })),
      crashLoop: { maxCrashes: 2, windowMs: 60_000 },
      now: () => clock,
    })
    // Every crash lands 61 s after the one before.
    host.onDidChangeState((state) => {
      if (state.kind === 'restarting') clock += 61_000
    })
    void host.start()
    const seen = () => states.filter((s) => s.kind === 'restarting').length
    const started = Date.now()
    while (seen() < 4) {
      if (Date.now() - started > WAIT_MS) throw new Error('timed out waiting for four restarts')
      expect(host.state.kind).not.toBe('failed')
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    await host.stop()
    const restarts = states.filter((s) => s.kind === 'restarting')
    expect(restarts.slice(0, 4).map((s) => [s.attempt, s.delayMs])).toEqual([
      [1, 20],
      [1, 20],
      [1, 20],
      [1, 20],
    ])
    expect(states.some((s) => s.kind === 'failed')).toBe(false)
    expect(host.state.kind).toBe('stopped')
  })

  it('a launch that throws counts as a crash and its message reaches the reason', async () => {
    const { host } = makeHost({
      launch: () => {
        throw new Error('worker.js is missing')
      },
      crashLoop: { maxCrashes: 1 },
    })
    await expect(host.start()).rejects.toThrow(
      `The codex-desk core crashed 1 times in 60 s; last launch error: worker.js is missing. See ${host.logPath}.`,
    )
    expect(host.state.kind).toBe('failed')
  })

  it('stop asks the core to shut down, resolves once it is gone, and never restarts it', async () => {
    const asked: SupervisedProcess[] = []
    const { host, states, exits } = makeHost({
      launch: launcher(() => ({ file: 'forever.mjs' })),
      requestShutdown: async (proc) => {
        asked.push(proc)
        proc.postMessage({ type: 'shutdown' })
      },
    })
    const proc = await withTimeout(host.start(), WAIT_MS, 'start')
    await waitForOutput(launched[0], 'ready')
    await host.stop()

    expect(asked).toEqual([proc])
    expect(exits).toEqual([{ pid: proc.pid, code: 0, signal: null, requested: true, crashed: false }])
    expect(isAlive(proc.pid)).toBe(false)
    // Longer than the first restart delay: a restart would have happened by now.
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(launched).toHaveLength(1)
    expect(states.map((s) => s.kind)).toEqual(['starting', 'running', 'stopped'])
  })

  it('stop kills a core that ignores the shutdown request and SIGTERM once the timeout passes', async () => {
    const { host, exits, logger } = makeHost({ launch: launcher(() => ({ file: 'stubborn.mjs' })) })
    const proc = await withTimeout(host.start(), WAIT_MS, 'start')
    await waitForOutput(launched[0], 'ready')

    const before = Date.now()
    await withTimeout(host.stop(300), WAIT_MS, 'stop')
    const elapsed = Date.now() - before

    expect(launched[0]?.output()).toContain('ignoring SIGTERM')
    expect(elapsed).toBeGreaterThanOrEqual(290)
    expect(exits).toEqual([{ pid: proc.pid, code: null, signal: 'SIGKILL', requested: true, crashed: false }])
    expect(isAlive(proc.pid)).toBe(false)
    expect(logger.lines).toContain('warn: the core did not exit in time; killing it')
    expect(host.state.kind).toBe('stopped')
    expect(launched).toHaveLength(1)
  })

  it('stop falls back to SIGTERM when the shutdown request fails', async () => {
    const { host, exits, logger } = makeHost({
      launch: launcher(() => ({ file: 'forever.mjs' })),
      requestShutdown: () => Promise.reject(new Error('control port closed')),
    })
    const proc = await withTimeout(host.start(), WAIT_MS, 'start')
    await waitForOutput(launched[0], 'ready')
    const before = Date.now()
    await host.stop(60_000)

    // Well before the 60 s kill deadline: SIGTERM ended it, not the fallback kill.
    expect(Date.now() - before).toBeLessThan(30_000)
    expect(exits[0]).toMatchObject({ pid: proc.pid, code: 0, requested: true, crashed: false })
    expect(logger.lines).toContain('warn: the core did not take the shutdown request; sending SIGTERM')
  })

  it('a start during a stop waits for the stop, then starts a new core', async () => {
    const { host, starts } = makeHost({ launch: launcher(() => ({ file: 'forever.mjs' })) })
    const first = await withTimeout(host.start(), WAIT_MS, 'start')
    await waitForOutput(launched[0], 'ready')
    const stopping = host.stop()
    const second = await withTimeout(host.start(), WAIT_MS, 'start after stop')
    await stopping
    expect(second.pid).not.toBe(first.pid)
    expect(isAlive(first.pid)).toBe(false)
    expect(host.state).toEqual({ kind: 'running', pid: second.pid })
    expect(starts).toEqual([first, second])
    await host.stop()
  })

  it("a chatty core's output lands in a rotating log, and its clean exit is not restarted", async () => {
    const { host, exits } = makeHost({
      launch: launcher(() => ({ file: 'chatty.mjs', args: ['1500000'] })),
      logMaxBytes: 256 * 1024,
    })
    await withTimeout(host.start(), WAIT_MS, 'start')
    await waitForState(host, 'stopped')
    await host.dispose()

    expect(exits).toEqual([expect.objectContaining({ code: 0, crashed: false, requested: false })])
    expect(launched).toHaveLength(1)
    const dir = join(temp.path, 'logs')
    expect(readdirSync(dir).sort()).toEqual(['core.1.log', 'core.2.log', 'core.3.log', 'core.log'])
    for (const name of readdirSync(dir)) {
      const stats = statSync(join(dir, name))
      expect(stats.size).toBeLessThanOrEqual(256 * 1024)
      expect(stats.mode & 0o777).toBe(0o600)
    }
    const live = readLog(host)
    expect(live).toContain('END\n')
    expect(live.indexOf('END\n')).toBeLessThan(live.indexOf('core exited'))
    // Nothing was dropped or cut mid-line: the kept files, oldest first, hold consecutive numbered
    // lines. A rotation falls between two reads of the pipe, wherever the scheduler cut them, so one
    // line may span two files and the live file alone may hold few lines.
    const kept = ['core.3.log', 'core.2.log', 'core.1.log', 'core.log']
      .map((name) => readFileSync(join(dir, name), 'utf8'))
      .join('')
    const numbers = [...kept.matchAll(/^line (\d{8}) /gm)].map((m) => Number(m[1]))
    expect(numbers.length).toBeGreaterThan(100)
    expect(numbers.every((n, i) => i === 0 || n === (numbers[i - 1] as number) + 1)).toBe(true)
  })

  it('dispose kills a running core and stops telling listeners anything', async () => {
    const { host, states } = makeHost({ launch: launcher(() => ({ file: 'forever.mjs' })) })
    const proc = await withTimeout(host.start(), WAIT_MS, 'start')
    const pid = proc.pid
    expect(isAlive(pid)).toBe(true)
    const seen = states.length
    await host.dispose()
    expect(isAlive(pid)).toBe(false)
    expect(states).toHaveLength(seen)
    await expect(host.start()).rejects.toThrow('disposed')
  })
})

describe('RotatingLog', () => {
  it('rotates at the size cap, keeps three old files, and creates them 0600', async () => {
    const dir = join(temp.path, 'logs')
    const log = new RotatingLog({ dir, maxBytes: 100 })
    const lines = Array.from(
      { length: 30 },
      (_, i) => `line ${String(i).padStart(2, '0')} ${'x'.repeat(10)}\n`,
    )
    for (const line of lines) log.write(line)
    await log.close()

    expect(readdirSync(dir).sort()).toEqual(['core.1.log', 'core.2.log', 'core.3.log', 'core.log'])
    const files = ['core.3.log', 'core.2.log', 'core.1.log', 'core.log'].map((n) => join(dir, n))
    for (const file of files) {
      expect(statSync(file).size).toBeLessThanOrEqual(100)
      expect(statSync(file).mode & 0o777).toBe(0o600)
    }
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    // Oldest to newest, the kept files are an unbroken tail of what was written.
    const kept = files.map((f) => readFileSync(f, 'utf8')).join('')
    expect(lines.join('').endsWith(kept)).toBe(true)
    expect(kept.startsWith('line ')).toBe(true)
    expect(kept.length).toBeGreaterThan(300)
  })

  it('appends to an existing log and counts it toward the cap', async () => {
    const dir = join(temp.path, 'logs')
    const first = new RotatingLog({ dir, maxBytes: 50 })
    first.write('a'.repeat(40) + '\n')
    await first.close()
    const second = new RotatingLog({ dir, maxBytes: 50 })
    second.write('b'.repeat(20) + '\n')
    await second.close()
    expect(readFileSync(join(dir, 'core.1.log'), 'utf8')).toBe('a'.repeat(40) + '\n')
    expect(readFileSync(join(dir, 'core.log'), 'utf8')).toBe('b'.repeat(20) + '\n')
  })

  it('splits a chunk larger than the cap after a newline', async () => {
    const dir = join(temp.path, 'logs')
    const log = new RotatingLog({ dir, maxBytes: 10, keep: 5 })
    log.write('aaaa\nbbbb\ncccc\n')
    await log.close()
    expect(readFileSync(join(dir, 'core.1.log'), 'utf8')).toBe('aaaa\nbbbb\n')
    expect(readFileSync(join(dir, 'core.log'), 'utf8')).toBe('cccc\n')
  })

  it('reports a disk error once, never throws, and writes again once the disk recovers', async () => {
    // A regular file where the log folder should be: every open fails.
    const dir = join(temp.path, 'blocked')
    writeFileSync(dir, 'not a folder')
    let clock = 0
    const errors: Error[] = []
    const log = new RotatingLog({ dir, onError: (e) => errors.push(e), retryAfterMs: 1000, now: () => clock })
    log.write('first\n')
    await log.flush()
    log.write('dropped without touching the disk\n')
    await log.flush()
    clock += 1500
    log.write('second failure in the same streak\n')
    await log.flush()
    expect(errors).toHaveLength(1)
    expect(errors[0]?.message).toMatch(/EEXIST|ENOTDIR/)

    await temp.remove()
    clock += 1500
    log.write('after recovery\n')
    await log.close()
    const text = readFileSync(join(dir, 'core.log'), 'utf8')
    expect(text).toMatch(/^\[codex-desk\] \d+ bytes of core output were dropped\nafter recovery\n$/)
    expect(errors).toHaveLength(1)
  })

  it('drops output beyond its memory bound and says how much in the file', async () => {
    const dir = join(temp.path, 'logs')
    const log = new RotatingLog({ dir, maxBufferedBytes: 50 })
    for (let i = 0; i < 10; i++) log.write(`chunk ${i} ${'y'.repeat(10)}\n`)
    await log.close()
    const text = readFileSync(join(dir, 'core.log'), 'utf8')
    expect(text).toBe(
      'chunk 0 yyyyyyyyyy\nchunk 1 yyyyyyyyyy\nchunk 2 yyyyyyyyyy\n' +
        '[codex-desk] 133 bytes of core output were dropped\n',
    )
  })
})

/** Compile-time only: what `utilityProcess.fork` returns fits the adapter. */
export function typeCheckWithElectron(child: UtilityProcess): SupervisedProcess {
  return fromUtilityProcess(child)
}
