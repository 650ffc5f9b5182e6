/**
 * One client-run command (`command/exec`) as a process: its own process group, stdout and stderr
 * kept apart as bytes (streamed or buffered, each capped), stdin open for writes when asked, a
 * timeout, terminate, and a pseudo-terminal without a native module: util-linux `script` allocates
 * it and the size is set with `stty` on the terminal the command holds (Linux).
 *
 * It must never outlive its owner: `terminate()` kills the whole group, the timeout does too, and
 * the result settles once the process has exited even if a grandchild keeps a pipe open. It knows
 * nothing of connections or the protocol; the server maps its results and errors.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import type { Readable, Writable } from 'node:stream'
import { attachedInputFds } from './exec/run'
import { shellJoin } from './exec/shell'

/** codex's defaults: 10 s without `timeoutMs`, 1 MiB per stream without `outputBytesCap`. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000
export const DEFAULT_OUTPUT_BYTES_CAP = 1024 * 1024
/** The exit code codex reports for a command it killed on timeout. */
export const TIMEOUT_EXIT_CODE = 124
/** How long output may keep arriving after the command exited (codex's IO drain timeout). */
const IO_DRAIN_MS = 2_000

export type OutputStreamName = 'stdout' | 'stderr'

export interface TerminalSize {
  rows: number
  cols: number
}

export interface CommandExecSpec {
  /** The final argv: already wrapped for the sandbox and, with `tty`, by `ttyArgv`. */
  argv: string[]
  cwd: string
  env: Record<string, string>
  /** null: no timeout. */
  timeoutMs: number | null
  /** Per stream; null: no cap. */
  outputBytesCap: number | null
  tty: boolean
  /** stdin is a pipe the caller writes; otherwise it is /dev/null. */
  stdin: boolean
  /** Called for each chunk when streaming; the bytes are then not kept for the result. */
  onOutput?: (stream: OutputStreamName, bytes: Buffer, capReached: boolean) => void | Promise<void>
}

export interface CommandExecOutcome {
  exitCode: number
  stdout: string
  stderr: string
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 }

/** Whether this machine can give a command a pseudo-terminal (util-linux `script`). */
export function ptyAvailable(): boolean {
  return process.platform === 'linux' && ['/usr/bin/script', '/bin/script'].some((p) => existsSync(p))
}

/**
 * Wraps argv so it runs on a new pseudo-terminal of the given size: `script` copies our stdin to the
 * terminal and the terminal to its stdout (so stderr arrives on stdout, as in codex's PTY mode).
 */
export function ttyArgv(argv: string[], size: TerminalSize | null): string[] {
  const { rows, cols } = size ?? { rows: 24, cols: 80 }
  const inner = `stty rows ${rows} cols ${cols} 2>/dev/null; exec ${shellJoin(argv)}`
  return ['script', '-qfec', inner, '/dev/null']
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    try {
      child.kill('SIGKILL')
    } catch {
      // Already gone.
    }
  }
}

/** Every descendant pid of `pid` (Linux /proc), nearest first. */
function descendants(pid: number): number[] {
  const out: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    const current = queue.shift() as number
    let tasks: string[]
    try {
      tasks = readdirSync(`/proc/${current}/task`)
    } catch {
      continue
    }
    for (const task of tasks) {
      try {
        const children = readFileSync(`/proc/${current}/task/${task}/children`, 'utf8').trim()
        for (const child of children ? children.split(/\s+/) : []) {
          out.push(Number(child))
          queue.push(Number(child))
        }
      } catch {
        // The task ended meanwhile.
      }
    }
  }
  return out
}

function isCharDevice(path: string): boolean {
  try {
    return statSync(path).isCharacterDevice()
  } catch {
    return false
  }
}

function stty(path: string, size: TerminalSize): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      'stty',
      ['-F', path, 'rows', String(size.rows), 'cols', String(size.cols)],
      { timeout: 5_000 },
      (error) => resolve(error === null),
    )
  })
}

export class CommandExecProcess {
  readonly done: Promise<CommandExecOutcome>
  private readonly child: ChildProcess
  private timedOut = false
  private stdinClosed: boolean
  private exited = false

  private constructor(
    child: ChildProcess,
    private readonly spec: CommandExecSpec,
  ) {
    this.child = child
    this.stdinClosed = !spec.stdin
    this.done = this.collect()
  }

  /** Spawns the command; rejects with the OS reason when it cannot start (missing program or cwd). */
  static async start(spec: CommandExecSpec): Promise<CommandExecProcess> {
    const inputs = attachedInputFds(spec.argv) ?? []
    const [program, ...args] = spec.argv as [string, ...string[]]
    const child = spawn(program, args, {
      cwd: spec.cwd,
      env: spec.env,
      detached: true,
      stdio: [spec.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', ...inputs.map(() => 'pipe' as const)],
    })
    inputs.forEach((data, index) => {
      const pipe = child.stdio[3 + index] as Writable | null | undefined
      pipe?.on('error', () => {})
      pipe?.end(data)
    })
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', (error: NodeJS.ErrnoException) => {
        if (child.pid === undefined) reject(error)
      })
    })
    child.stdin?.on('error', () => {})
    return new CommandExecProcess(child, spec)
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  /** Writes stdin bytes; false when stdin is closed already. */
  async write(bytes: Buffer): Promise<boolean> {
    const stdin = this.child.stdin
    if (this.stdinClosed || !stdin || stdin.destroyed) return false
    if (bytes.length === 0) return true
    await new Promise<void>((resolve) => stdin.write(bytes, () => resolve()))
    return true
  }

  closeStdin(): void {
    this.stdinClosed = true
    this.child.stdin?.end()
  }

  /** Kills the command and everything it started. */
  terminate(): void {
    if (!this.exited) killGroup(this.child)
  }

  /**
   * Sets the terminal size of a `tty` command: `stty` on the terminal its process holds, which also
   * sends it SIGWINCH. Throws when the command has no terminal or the size cannot be set.
   */
  async resize(size: TerminalSize): Promise<void> {
    if (!this.spec.tty || this.child.pid === undefined) throw new Error('process is not attached to a PTY')
    for (const pid of descendants(this.child.pid)) {
      const path = `/proc/${pid}/fd/0`
      if (isCharDevice(path) && (await stty(path, size))) return
    }
    throw new Error('the terminal of this process could not be found')
  }

  private async collect(): Promise<CommandExecOutcome> {
    const { spec, child } = this
    let timer: NodeJS.Timeout | undefined
    if (spec.timeoutMs !== null) {
      timer = setTimeout(
        () => {
          this.timedOut = true
          killGroup(child)
        },
        Math.max(0, spec.timeoutMs),
      )
    }
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => {
        this.exited = true
        resolve({ code, signal })
      }),
    )
    const stdout = this.drain(child.stdout, 'stdout')
    const stderr = this.drain(child.stderr, 'stderr')
    const { code, signal } = await exit
    clearTimeout(timer)
    // A grandchild holding a pipe open must not hold the result: give output a bounded drain.
    let drainTimer: NodeJS.Timeout | undefined
    const drained = await Promise.race([
      Promise.all([stdout, stderr]),
      new Promise<null>((resolve) => (drainTimer = setTimeout(() => resolve(null), IO_DRAIN_MS))),
    ])
    clearTimeout(drainTimer)
    child.stdout?.destroy()
    child.stderr?.destroy()
    child.stdin?.destroy()
    const [out, err] = drained ?? [stdout.partial(), stderr.partial()]
    const exitCode = this.timedOut
      ? TIMEOUT_EXIT_CODE
      : (code ?? (signal ? 128 + (SIGNAL_NUMBERS[signal] ?? 0) : -1))
    return { exitCode, stdout: out, stderr: err }
  }

  /** Reads one stream to its end (or to the cap), streaming or keeping the bytes. */
  private drain(stream: Readable | null, name: OutputStreamName): Promise<string> & { partial(): string } {
    const kept: Buffer[] = []
    const cap = this.spec.outputBytesCap
    let seen = 0
    let chain = Promise.resolve()
    const onOutput = this.spec.onOutput
    const partial = (): string => Buffer.concat(kept).toString('utf8')
    const promise = new Promise<string>((resolve) => {
      if (!stream) return resolve('')
      let stopped = false
      stream.on('data', (chunk: Buffer) => {
        if (stopped) return
        let piece = chunk
        if (cap !== null) {
          piece = chunk.subarray(0, Math.max(0, Math.min(chunk.length, cap - seen)))
          seen += piece.length
        }
        const capReached = cap !== null && seen >= cap
        if (capReached) stopped = true
        if (onOutput) {
          if (piece.length > 0 || capReached) {
            const bytes = Buffer.from(piece)
            chain = chain.then(() => onOutput(name, bytes, capReached)).catch(() => {})
          }
        } else kept.push(Buffer.from(piece))
      })
      stream.on('error', () => {})
      stream.on('close', () => void chain.then(() => resolve(partial())))
    })
    return Object.assign(promise, { partial })
  }
}
