/**
 * Adapts Electron's `UtilityProcess` (as `utilityProcess.fork(…, {stdio: 'pipe'})` returns it) to the
 * `SupervisedProcess` the WorkerHost supervises. Structural typing only: it never imports electron,
 * so it runs under Node against a real child process that has the same shape.
 *
 * It must never send a signal to a pid it did not see spawn: Electron clears `pid` on exit, and a
 * recycled pid could belong to someone else, so SIGKILL goes only to the pid captured at `spawn`
 * and only while the process has not exited.
 */
import type { Disposable } from '../worker/util/event'
import type { OutputStream, SupervisedProcess } from './workerHost'

/** The parts of Electron's UtilityProcess (and of Node's ChildProcess plus `postMessage`) used here. */
export interface UtilityProcessLike {
  readonly pid?: number | undefined
  readonly stdout: OutputStream | null
  readonly stderr: OutputStream | null
  postMessage(message: unknown, transfer?: never[]): void
  /** Electron: SIGTERM on POSIX, TerminateProcess on Windows. */
  kill(): boolean
  on(event: 'spawn', listener: () => void): unknown
  on(event: 'exit', listener: (code: number | null, signal?: NodeJS.Signals | null) => void): unknown
  off(event: 'spawn', listener: () => void): unknown
  off(event: 'exit', listener: (code: number | null, signal?: NodeJS.Signals | null) => void): unknown
}

export function fromUtilityProcess(
  child: UtilityProcessLike,
  signalPid: (pid: number, signal: NodeJS.Signals) => void = (pid, signal) => process.kill(pid, signal),
): SupervisedProcess {
  // Electron nulls these after `exit`; the host still wants the streams it piped and the pid.
  const stdout = child.stdout
  const stderr = child.stderr
  let pid = child.pid
  let exited = false
  const onSpawn = () => (pid = child.pid)
  const onExit = () => (exited = true)
  child.on('spawn', onSpawn)
  child.on('exit', onExit)
  const subscribe = <A extends unknown[]>(
    event: 'spawn' | 'exit',
    listener: (...args: A) => void,
  ): Disposable => {
    const l = listener as never
    child.on(event as 'spawn', l)
    return { dispose: () => child.off(event as 'spawn', l) }
  }
  return {
    get pid() {
      return pid
    },
    stdout,
    stderr,
    postMessage: (message, transfer) => child.postMessage(message, transfer as never[] | undefined),
    kill(signal = 'SIGTERM') {
      if (exited) return
      if (signal === 'SIGTERM' || pid === undefined) {
        child.kill()
        return
      }
      try {
        signalPid(pid, signal)
      } catch (error) {
        // ESRCH: it exited between our check and the signal, which is what we wanted.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
      }
    },
    onSpawn: (listener) => subscribe('spawn', listener),
    onExit: (listener) =>
      subscribe('exit', (code: number | null, signal?: NodeJS.Signals | null) =>
        listener(code, signal ?? null),
      ),
  }
}
