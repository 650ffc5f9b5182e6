/**
 * Runs one command for the agent: spawned in its own process group with stdin closed, its stdout and
 * stderr decoded as UTF-8 and streamed in arrival order, killed as a whole group on timeout or abort.
 *
 * It must never reject and never hang: spawn failures come back as `spawnError`, and a background
 * grandchild that keeps the output pipe open cannot hold the call past a short grace after the
 * command itself exits. Besides stdio the child gets only the input descriptors the request (or its
 * argv, see `attachInputFds`) names, never one of ours.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { stat } from 'node:fs/promises'
import type { Writable } from 'node:stream'
import { StringDecoder } from 'node:string_decoder'

export interface ExecRequest {
  argv: string[]
  cwd: string
  env: Record<string, string>
  timeoutMs: number
  signal?: AbortSignal
  onOutput?: (chunk: string) => void
  /**
   * Data the child reads from file descriptors 3, 4, ... (each a pipe closed once written), e.g. the
   * seccomp program bubblewrap takes on `--seccomp 3`. Defaults to what `attachInputFds` tied to argv.
   */
  inputFds?: readonly Uint8Array[]
}

/** Input descriptors tied to an argv by whoever built it, so callers that only pass argv along keep them. */
const argvInputs = new WeakMap<readonly string[], readonly Uint8Array[]>()

/**
 * Ties input descriptors to an argv (the sandbox's bwrap command line refers to them by number).
 * A copy of the array does not carry them: the command then fails to start instead of running
 * without what it asked for.
 */
export function attachInputFds<T extends readonly string[]>(argv: T, inputs: readonly Uint8Array[]): T {
  argvInputs.set(argv, inputs)
  return argv
}

/** The input descriptors tied to an argv, if any. */
export function attachedInputFds(argv: readonly string[]): readonly Uint8Array[] | undefined {
  return argvInputs.get(argv)
}

export interface ExecResult {
  exitCode: number | null
  signal: NodeJS.Signals | null
  /** stdout and stderr in arrival order, capped at ~1 MiB keeping head and tail. */
  output: string
  timedOut: boolean
  aborted: boolean
  durationMs: number
  pid: number | null
  spawnError: string | null
}

/** How long to wait for stdio to close once the command has exited. */
const STDIO_GRACE_MS = 250
/** The aggregated output keeps this many characters from each end (codex caps at 1 MiB). */
const OUTPUT_HEAD_CHARS = 512 * 1024
const OUTPUT_TAIL_CHARS = 512 * 1024

/**
 * Keeps the first and last half-MiB of a stream that may be far larger; the middle is dropped with a
 * marker so a runaway command cannot grow memory without bound.
 */
class CappedOutput {
  private head = ''
  private tail: string[] = []
  private tailChars = 0
  private dropped = 0

  append(chunk: string): void {
    if (this.head.length < OUTPUT_HEAD_CHARS) {
      const room = OUTPUT_HEAD_CHARS - this.head.length
      this.head += chunk.slice(0, room)
      chunk = chunk.slice(room)
      if (chunk === '') return
    }
    this.tail.push(chunk)
    this.tailChars += chunk.length
    while (this.tailChars > OUTPUT_TAIL_CHARS && this.tail.length > 0) {
      const first = this.tail[0] as string
      const excess = this.tailChars - OUTPUT_TAIL_CHARS
      if (first.length <= excess) {
        this.tail.shift()
        this.tailChars -= first.length
        this.dropped += first.length
      } else {
        this.tail[0] = first.slice(excess)
        this.tailChars -= excess
        this.dropped += excess
      }
    }
  }

  text(): string {
    const tail = this.tail.join('')
    if (this.dropped === 0) return this.head + tail
    return `${this.head}\n[... ${this.dropped} characters of output omitted ...]\n${tail}`
  }
}

/** Kills the child's whole process group, falling back to the child alone when the group is gone. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return
  try {
    if (process.platform === 'win32') child.kill('SIGKILL')
    else process.kill(-child.pid, 'SIGKILL')
  } catch {
    try {
      child.kill('SIGKILL')
    } catch {
      // Already gone.
    }
  }
}

async function cwdProblem(cwd: string): Promise<string | null> {
  try {
    const info = await stat(cwd)
    return info.isDirectory() ? null : `working directory is not a directory: ${cwd}`
  } catch {
    return `working directory does not exist: ${cwd}`
  }
}

/**
 * Spawns argv detached (its own process group) with stdin ignored; streams decoded UTF-8 text to
 * onOutput; on timeout or abort kills the whole group, and waits at most a short grace for stdio to
 * close after exit. Never rejects.
 */
export async function runCommand(request: ExecRequest): Promise<ExecResult> {
  const started = performance.now()
  const base: ExecResult = {
    exitCode: null,
    signal: null,
    output: '',
    timedOut: false,
    aborted: false,
    durationMs: 0,
    pid: null,
    spawnError: null,
  }
  const elapsed = (): number => Math.round(performance.now() - started)
  if (request.argv.length === 0) return { ...base, spawnError: 'empty command', durationMs: elapsed() }
  if (request.signal?.aborted) return { ...base, aborted: true, durationMs: elapsed() }
  // Node reports a missing cwd as the program being missing ("spawn bash ENOENT"); say what it is.
  const badCwd = await cwdProblem(request.cwd)
  if (badCwd) return { ...base, spawnError: badCwd, durationMs: elapsed() }

  return new Promise<ExecResult>((resolve) => {
    const [program, ...args] = request.argv as [string, ...string[]]
    const inputs = request.inputFds ?? argvInputs.get(request.argv) ?? []
    const output = new CappedOutput()
    let timedOut = false
    let aborted = false
    let settled = false
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null
    let graceTimer: NodeJS.Timeout | undefined
    let child: ChildProcess

    const emit = (text: string): void => {
      if (text === '') return
      output.append(text)
      try {
        request.onOutput?.(text)
      } catch {
        // A listener's failure is not the command's.
      }
    }

    const finish = (spawnError: string | null = null): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(graceTimer)
      request.signal?.removeEventListener('abort', onAbort)
      flushDecoders()
      // A grandchild may still hold the pipes; dropping our ends lets it get EPIPE instead of us waiting.
      child.stdout?.destroy()
      child.stderr?.destroy()
      for (let index = 3; index < child.stdio.length; index++) child.stdio[index]?.destroy()
      resolve({
        exitCode: exit?.code ?? null,
        signal: exit?.signal ?? null,
        output: output.text(),
        timedOut,
        aborted,
        durationMs: elapsed(),
        pid: child.pid ?? null,
        spawnError,
      })
    }

    const onAbort = (): void => {
      aborted = true
      killGroup(child)
    }

    try {
      child = spawn(program, args, {
        cwd: request.cwd,
        env: request.env,
        // Its own process group, so a kill reaches everything the command started.
        detached: process.platform !== 'win32',
        stdio: ['ignore', 'pipe', 'pipe', ...inputs.map(() => 'pipe' as const)],
        windowsHide: true,
      })
    } catch (error) {
      resolve({ ...base, spawnError: (error as Error).message, durationMs: elapsed() })
      return
    }
    inputs.forEach((data, index) => {
      const pipe = child.stdio[3 + index] as Writable | null | undefined
      // A child that exits before reading closes its end; that is its failure to report, not ours.
      pipe?.on('error', () => {})
      pipe?.end(data)
    })

    const stdoutDecoder = new StringDecoder('utf8')
    const stderrDecoder = new StringDecoder('utf8')
    const flushDecoders = (): void => {
      emit(stdoutDecoder.end())
      emit(stderrDecoder.end())
    }
    child.stdout?.on('data', (chunk: Buffer) => emit(stdoutDecoder.write(chunk)))
    child.stderr?.on('data', (chunk: Buffer) => emit(stderrDecoder.write(chunk)))
    // Reads on destroyed or broken pipes are not the command's result.
    child.stdout?.on('error', () => {})
    child.stderr?.on('error', () => {})

    const timer = setTimeout(
      () => {
        timedOut = true
        killGroup(child)
      },
      Math.max(0, request.timeoutMs),
    )

    request.signal?.addEventListener('abort', onAbort, { once: true })

    child.on('error', (error) => {
      // Without a pid the program never started (ENOENT, EACCES); otherwise this is a kill failure
      // and the exit event still decides the result.
      if (child.pid === undefined) finish(error.message)
    })
    child.on('exit', (code, signal) => {
      exit = { code, signal }
      graceTimer = setTimeout(() => finish(), STDIO_GRACE_MS)
    })
    child.on('close', () => {
      if (exit !== null) finish()
    })
  })
}
