/**
 * A single-writer queue: what is pushed while a flush is in flight goes out together in the next
 * one, in order. Each push settles with its batch: resolved when `flush` returned, rejected with
 * what it threw. The rollout writer and the thread index write through it.
 *
 * It must never run two flushes at once: that is what keeps appends to one file in order.
 */
interface Entry<T> {
  item: T
  resolve: () => void
  reject: (error: Error) => void
}

export class BatchQueue<T> {
  private queue: Entry<T>[] = []
  private draining: Promise<void> | null = null

  constructor(
    private readonly flush: (items: T[]) => Promise<void>,
    /** Called after a batch was flushed and its pushes resolved; it must not throw. */
    private readonly afterFlush?: (items: T[]) => void,
    /**
     * What the first flush waits for, so that pushes made meanwhile land in it: by default the end
     * of the current synchronous run; `untilImmediate` also gathers what promise chains push.
     */
    private readonly gather: () => Promise<void> = () => Promise.resolve(),
  ) {}

  push(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, resolve, reject })
      this.draining ??= this.drain()
    })
  }

  /** Resolves once nothing is queued or being written. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining
  }

  private async drain(): Promise<void> {
    // Yield so a burst of pushes lands in the first flush.
    await this.gather()
    try {
      while (this.queue.length > 0) {
        const batch = this.queue
        this.queue = []
        const items = batch.map((entry) => entry.item)
        try {
          await this.flush(items)
        } catch (error) {
          const failure = error instanceof Error ? error : new Error(String(error))
          for (const entry of batch) entry.reject(failure)
          continue
        }
        for (const entry of batch) entry.resolve()
        this.afterFlush?.(items)
      }
    } finally {
      this.draining = null
    }
  }
}

/** A `gather` for BatchQueue: until the event loop's check phase (everything the current I/O event set off). */
export function untilImmediate(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
