/**
 * One connection's bounded outbound queue (messages and bytes). Frames go straight to the transport
 * while it accepts them; otherwise they wait here. When the queue is full a `disconnect` transport
 * is reported through `onOverflow` (the router closes it), a `block` transport makes the producer
 * wait until there is room. It never throws and never blocks anyone but the producer that awaits.
 */
import type { Transport } from './types'

export interface QueueLimits {
  maxMessages: number
  maxBytes: number
}

export const DEFAULT_QUEUE_LIMITS: QueueLimits = { maxMessages: 10_000, maxBytes: 16 * 1024 * 1024 }

interface Waiter {
  frame: string
  resolve: () => void
}

export class OutboundQueue {
  private frames: string[] = []
  private head = 0
  private bytes = 0
  private writable = true
  private waiters: Waiter[] = []
  private closed = false

  constructor(
    private readonly transport: Transport,
    private readonly limits: QueueLimits,
    private readonly onOverflow: () => void,
  ) {}

  get length(): number {
    return this.frames.length - this.head
  }

  get queuedBytes(): number {
    return this.bytes
  }

  /** True when one more frame would not fit. */
  get full(): boolean {
    return this.length >= this.limits.maxMessages || this.bytes >= this.limits.maxBytes
  }

  /**
   * Queues one frame. Returns a promise only when a `block` transport is full: the producer that
   * awaits it is paced by the client; everything else returns at once.
   */
  push(frame: string): Promise<void> | undefined {
    if (this.closed) return undefined
    if (this.writable && this.length === 0 && this.waiters.length === 0) {
      this.writable = this.transport.write(frame)
      return undefined
    }
    // An empty queue is never full, so one frame larger than the byte limit (a resumed thread)
    // still gets through to a client that is keeping up.
    if (this.full) {
      if (this.transport.overflow === 'disconnect') {
        this.onOverflow()
        return undefined
      }
      return new Promise<void>((resolve) => this.waiters.push({ frame, resolve }))
    }
    if (this.waiters.length > 0) {
      return new Promise<void>((resolve) => this.waiters.push({ frame, resolve }))
    }
    this.enqueue(frame)
    return undefined
  }

  /** The transport drained: write what waits, then admit blocked producers while there is room. */
  drain(): void {
    this.writable = true
    while (!this.closed) {
      while (this.writable && this.length > 0) {
        const frame = this.frames[this.head] as string
        this.frames[this.head++] = ''
        this.bytes -= frame.length
        this.writable = this.transport.write(frame)
      }
      if (this.head > 1024 && this.head * 2 > this.frames.length) {
        this.frames = this.frames.slice(this.head)
        this.head = 0
      }
      let admitted = false
      while (this.waiters.length > 0 && !this.full) {
        const waiter = this.waiters.shift() as Waiter
        this.enqueue(waiter.frame)
        waiter.resolve()
        admitted = true
      }
      if (!admitted || !this.writable) return
    }
  }

  /** Drops everything queued and releases blocked producers; later pushes are dropped. */
  close(): void {
    this.closed = true
    this.frames = []
    this.head = 0
    this.bytes = 0
    const waiters = this.waiters
    this.waiters = []
    for (const waiter of waiters) waiter.resolve()
  }

  private enqueue(frame: string): void {
    this.frames.push(frame)
    this.bytes += frame.length
  }
}
