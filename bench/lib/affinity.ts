/**
 * CPU placement for the round-trip figures. A sequential ping-pong between two threads costs about
 * 0.02 ms when both run on one core and about 0.05 ms across cores (waking an idle core), and the
 * kernel picks either at random per process pair, so an unpinned figure flips between runs right
 * across codex's 0.05 ms. Pinning the client to CPU 0 and the peer to CPU 1 (with `taskset`, by
 * thread id) makes it the cross-core case every time. BENCH_PIN=off leaves placement to the kernel.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { cpus } from 'node:os'

export type Placement = 'cross-core' | 'unpinned'

let available: boolean | undefined

export function placement(): Placement {
  if (process.env.BENCH_PIN === 'off') return 'unpinned'
  if (available === undefined) {
    available = false
    if (process.platform === 'linux' && cpus().length >= 2) {
      try {
        execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
        available = true
      } catch {
        // No taskset (util-linux): measure unpinned and say so in the figure.
      }
    }
  }
  return available ? 'cross-core' : 'unpinned'
}

/** Sets the affinity of one thread (or, with `allThreads`, of every thread of a process). */
export function pin(id: number, cpu: number | 'all', allThreads = false): void {
  const list = cpu === 'all' ? `0-${cpus().length - 1}` : String(cpu)
  execFileSync('taskset', [...(allThreads ? ['-a'] : []), '-pc', list, String(id)], { stdio: 'ignore' })
}

/** Thread ids of this process, to find the threads a new Worker brought. */
export function ownThreadIds(): Set<number> {
  return new Set(readdirSync('/proc/self/task').map(Number))
}

/** Runs `measure` with this process's main thread on CPU 0, then gives it every CPU back. */
export async function onClientCpu<T>(where: Placement, measure: () => Promise<T>): Promise<T> {
  if (where !== 'cross-core') return measure()
  pin(process.pid, 0)
  try {
    return await measure()
  } finally {
    pin(process.pid, 'all')
  }
}

/** Puts a child process (every thread) on CPU 1. */
export function onPeerCpu(where: Placement, pid: number | undefined): void {
  if (where === 'cross-core' && pid !== undefined) pin(pid, 1, true)
}

/** Puts the threads that appeared since `before` (a new Worker's) on CPU 1. */
export function newThreadsOnPeerCpu(where: Placement, before: Set<number>): void {
  if (where !== 'cross-core') return
  for (const tid of ownThreadIds()) {
    if (before.has(tid)) continue
    try {
      pin(tid, 1)
    } catch {
      // A short-lived thread that is already gone.
    }
  }
}
