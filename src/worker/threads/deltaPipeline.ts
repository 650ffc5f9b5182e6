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

export class DeltaPipeline {
  private pending = 0
  private tail: Promise<void> = Promise.resolve()
  private failure: unknown = null
  private failed = false
  /** A delivery that has not completed: the producer waits for it before its next delta. */
  private delivery: Promise<void> | null = null

  constructor(private readonly maxPending = MAX_PENDING_DELTAS) {}

  /**
   * Runs `publish` once `written` has resolved and every earlier step has run. Returns a promise to
   * await before producing the next delta, or undefined. Throws the first write failure.
   */
  push(written: Promise<void>, publish: () => Delivery): Promise<void> | undefined {
    if (this.failed) throw this.failure
    this.pending++
    const previous = this.tail
    // Keep the rejection handled here; the step below reads it.
    written.catch(() => undefined)
    this.tail = previous.then(async () => {
      try {
        await written
      } catch (error) {
        this.fail(error)
      }
      this.pending--
      if (this.failed) return
      try {
        const wait = publish()
        if (wait) this.waitFor(wait)
      } catch (error) {
        this.fail(error)
      }
    })
    if (this.delivery) return this.delivery
    if (this.pending >= this.maxPending) return this.tail
    return undefined
  }

  /** Resolves once every step has run and its delivery completed; rejects with the first failure. */
  async drain(): Promise<void> {
    await this.tail
    while (this.delivery) await this.delivery
    if (this.failed) throw this.failure
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
