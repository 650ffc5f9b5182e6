/**
 * Write batching per tick: the first frame written in a tick corks the stream, and the stream is
 * uncorked on the next tick, so every frame produced by one burst of work (a network read of model
 * output becomes hundreds of deltas) leaves in a single `writev` instead of one syscall each.
 * Ordering and backpressure are unchanged: corking only delays the flush to the end of the tick.
 */

export interface Corkable {
  cork(): void
  uncork(): void
}

export class TickBatch {
  private corked = false

  constructor(private readonly stream: Corkable | undefined) {}

  /** Call before each write. */
  enter(): void {
    const stream = this.stream
    if (this.corked || !stream) return
    this.corked = true
    stream.cork()
    process.nextTick(() => {
      this.corked = false
      stream.uncork()
    })
  }
}
