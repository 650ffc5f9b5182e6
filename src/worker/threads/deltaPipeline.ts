/**
 * Persist before publish for streaming deltas. The turn runner queues each delta's text on the
 * rollout writer and hands the pipeline the write's promise with a `publish` step (grow the live
 * item, notify subscribers). Steps run strictly in push order, each only once its write has
 * completed, so a client never hears text the rollout does not hold yet, and deltas that arrive
 * together still ride one write (the producer is not made to wait per delta).
 *
 * It must never run a step whose write failed or any step after it (the first failure is kept and
 * rethrown), never reorder steps, and never let the producer run unboundedly ahead: `push` returns a
 * promise to wait on while too many steps are pending or a delivery asked the producer to slow down.
 */
import type { Delivery } from '../transport/outboundRouter'

/** Steps pending before the producer is asked to wait for them. */
export const MAX_PENDING_DELTAS = 4096

interface Step {
  /** Its write settled: `error` is set when it failed. */
  settled: boolean
  error: unknown
  publish: () => Delivery
}

/**
 * Steps wait in an array and run from its head, as soon as the head's write has settled: one
 * `then` per step and no promise chain, since a long answer pushes one step per delta.
 */
export class DeltaPipeline {
  private steps: Step[] = []
  private head = 0
  private failure: unknown = null
  private failed = false
  /** Steps run so far (or skipped after a failure); `waiters` wake once it reaches their mark. */
  private ran = 0
  private pushed = 0
  private waiters: { until: number; resolve: () => void }[] = []
  /** A delivery that has not completed: the producer waits for it before its next delta. */
  private delivery: Promise<void> | null = null

  constructor(private readonly maxPending = MAX_PENDING_DELTAS) {}

  /**
   * Runs `publish` once `written` has resolved and every earlier step has run. Returns a promise to
   * await before producing the next delta, or undefined. Throws the first write failure.
   */
  push(written: Promise<void>, publish: () => Delivery): Promise<void> | undefined {
    if (this.failed) throw this.failure
    const step: Step = { settled: false, error: undefined, publish }
    this.steps.push(step)
    this.pushed++
    written.then(
      () => {
        step.settled = true
        this.run()
      },
      (error: unknown) => {
        step.settled = true
        step.error = error ?? new Error('rollout write failed')
        this.run()
      },
    )
    if (this.delivery) return this.delivery
    if (this.pushed - this.ran >= this.maxPending) return this.until(this.pushed)
    return undefined
  }

  /** Resolves once every step has run and its delivery completed; rejects with the first failure. */
  async drain(): Promise<void> {
    if (this.ran < this.pushed) await this.until(this.pushed)
    while (this.delivery) await this.delivery
    if (this.failed) throw this.failure
  }

  /** Runs every settled step at the head, in order; a failed write stops all later publishing. */
  private run(): void {
    while (this.head < this.steps.length) {
      const step = this.steps[this.head] as Step
      if (!step.settled) break
      this.steps[this.head++] = DONE
      this.ran++
      if (step.error !== undefined) this.fail(step.error)
      if (this.failed) continue
      try {
        const wait = step.publish()
        if (wait) this.waitFor(wait)
      } catch (error) {
        this.fail(error)
      }
    }
    if (this.head === this.steps.length) {
      this.steps = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.steps.length) {
      this.steps = this.steps.slice(this.head)
      this.head = 0
    }
    if (this.waiters.length > 0) this.wake()
  }

  private until(mark: number): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push({ until: mark, resolve }))
  }

  private wake(): void {
    const still: { until: number; resolve: () => void }[] = []
    for (const waiter of this.waiters) {
      if (this.ran >= waiter.until) waiter.resolve()
      else still.push(waiter)
    }
    this.waiters = still
  }

  private waitFor(wait: Promise<void>): void {
    const settled: Promise<void> = wait.then(
      () => {
        if (this.delivery === settled) this.delivery = null
      },
      () => {
        if (this.delivery === settled) this.delivery = null
      },
    )
    this.delivery = settled
  }

  private fail(error: unknown): void {
    if (this.failed) return
    this.failed = true
    this.failure = error
  }
}

/** What a run step's slot holds, so the array does not keep its closure alive. */
const DONE: Step = { settled: true, error: undefined, publish: () => undefined }
