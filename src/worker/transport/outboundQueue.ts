/**
 * One connection's bounded outbound queue. What a connection may cost is its queue PLUS what the
 * transport holds and the peer has not taken yet (`transport.bufferedBytes`): together they stay
 * within `maxBytes` / `maxMessages`, give or take the frames of producers that do not wait.
 *
 * When that is full, a frame is still queued and `push` returns a promise that resolves when there is
 * room again: the producer that awaits it (a turn streaming deltas) is paced by its slowest reader.
 * A `disconnect` transport (websocket, MessagePort) may hold the producer only while it makes
 * progress (the peer takes something at least every `holdMs`, by default the stall time). One that stays silent that long is
 * "parked": producers stop waiting for it, and the first frame it has no room for is dropped; from
 * then on it receives nothing new and is closed with 4001 once it has read what it holds (it
 * missed messages, so it must resume), or when it has taken nothing for `stallMs` with a full queue.
 * A `block` transport (stdio) is never parked, dropped or closed: it only makes producers wait.
 *
 * It never throws and never blocks anyone but the producer that awaits.
 */
import { CLOSE_SLOW_CONSUMER, stalledConsumer, type CloseInfo, type Transport } from './types'

export interface QueueLimits {
  maxMessages: number
  maxBytes: number
  /** A full `disconnect` queue that took nothing for this long is closed (4001). */
  stallMs?: number
  /** A full `disconnect` queue that took nothing for this long stops slowing the producer. */
  holdMs?: number
}

function envMs(name: string, fallback: number): number {
  const value = Number(process.env[name])
  return Number.isFinite(value) && value > 0 ? value : fallback
}

/** Read once at start-up; tests shorten them for a child process through the environment. */
export const DEFAULT_STALL_MS = envMs('CODEX_DESK_SLOW_CLIENT_STALL_MS', 30_000)
/**
 * By default a silent client holds the producer until it is cut: the server sees a reader's progress
 * only when the kernel takes more of its socket buffer, which can be seconds apart for a slow reader,
 * so a shorter hold (tried: 1 s) dropped readers that were reading.
 */
export const DEFAULT_HOLD_MS = envMs('CODEX_DESK_SLOW_CLIENT_HOLD_MS', DEFAULT_STALL_MS)

export const DEFAULT_QUEUE_LIMITS: QueueLimits = {
  maxMessages: 10_000,
  maxBytes: 8 * 1024 * 1024,
  stallMs: DEFAULT_STALL_MS,
  holdMs: DEFAULT_HOLD_MS,
}

export class OutboundQueue {
  private frames: string[] = []
  private head = 0
  private bytes = 0
  private writable = true
  private roomWaiters: (() => void)[] = []
  private closed = false
  /** Producers no longer wait for this connection (it went silent while full). */
  private parked = false
  /** A frame was dropped: nothing more is queued, and the connection closes once it has read the rest. */
  private dropped = false
  private timer: NodeJS.Timeout | undefined
  private lastConsumed = -1
  private lastProgressAt = 0
  private readonly stallMs: number
  private readonly holdMs: number

  constructor(
    private readonly transport: Transport,
    private readonly limits: QueueLimits,
    private readonly onOverflow: (info: CloseInfo) => void,
  ) {
    this.stallMs = limits.stallMs ?? DEFAULT_STALL_MS
    this.holdMs = Math.min(limits.holdMs ?? DEFAULT_HOLD_MS, this.stallMs)
  }

  get length(): number {
    return this.frames.length - this.head
  }

  get queuedBytes(): number {
    return this.bytes
  }

  /** True when the connection holds as much as it may: one more frame would go over. */
  get full(): boolean {
    return (
      this.length >= this.limits.maxMessages ||
      this.bytes + (this.transport.bufferedBytes ?? 0) >= this.limits.maxBytes
    )
  }

  /**
   * Queues one frame. Returns a promise only when the connection is full and still worth waiting
   * for; the producer that awaits it is paced by the client. Everything else returns at once.
   */
  push(frame: string): Promise<void> | undefined {
    if (this.closed || this.dropped) return undefined
    // Only a backlog makes anyone wait: an empty queue is never "behind", so one frame larger than
    // the limit (a resumed thread) still goes straight to a client that is keeping up.
    if (this.length > 0 && this.full) {
      if (this.transport.overflow === 'disconnect' && this.parked) {
        // It took nothing for `holdMs` while full: it will not get this frame, so it must not get
        // any later one either. It keeps what it holds and learns with 4001 that it missed messages.
        this.dropped = true
        this.releaseWaiters()
        return undefined
      }
      this.enqueue(frame)
      this.watch()
      return new Promise<void>((resolve) => this.roomWaiters.push(resolve))
    }
    if (this.writable && this.length === 0) this.writable = this.transport.write(frame)
    else this.enqueue(frame)
    if (!this.writable) this.watch()
    return undefined
  }

  /** The transport drained (it accepts writes again): write what waits, then wake producers. */
  drain(): void {
    if (this.closed) return
    this.writable = true
    this.progressed()
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
    if (this.dropped) {
      if (this.length === 0) this.onOverflow(CLOSE_SLOW_CONSUMER)
      return
    }
    if (!this.full) this.releaseWaiters()
  }

  /** Drops everything queued and releases waiting producers; later pushes are dropped. */
  close(): void {
    this.closed = true
    this.frames = []
    this.head = 0
    this.bytes = 0
    this.stopWatch()
    this.releaseWaiters()
  }

  private enqueue(frame: string): void {
    this.frames.push(frame)
    this.bytes += frame.length
  }

  private releaseWaiters(): void {
    const waiters = this.roomWaiters
    this.roomWaiters = []
    for (const resolve of waiters) resolve()
  }

  private progressed(): void {
    this.lastProgressAt = Date.now()
    this.parked = false
  }

  /**
   * Watches a connection that is behind for progress: what the peer has taken (`consumed`) is
   * sampled on a timer, so nothing is counted per frame. Runs only while the queue is behind.
   */
  private watch(): void {
    if (this.timer || this.closed || this.transport.overflow !== 'disconnect') return
    // Anything taken since the last look counts as progress now: never cut on a stale sample.
    const consumed = this.transport.consumed ?? 0
    if (consumed !== this.lastConsumed || this.lastProgressAt === 0) {
      this.lastConsumed = consumed
      this.progressed()
    }
    const every = Math.max(5, Math.min(1_000, this.holdMs / 4))
    this.timer = setInterval(() => this.check(), every)
    this.timer.unref()
  }

  private stopWatch(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  private check(): void {
    const consumed = this.transport.consumed ?? 0
    if (consumed !== this.lastConsumed) {
      this.lastConsumed = consumed
      this.progressed()
    }
    const behind = this.dropped || this.full || this.length > 0 || this.roomWaiters.length > 0
    if (!behind) return this.stopWatch()
    const silentMs = Date.now() - this.lastProgressAt
    if (silentMs >= this.stallMs && (this.full || this.dropped)) {
      this.stopWatch()
      this.onOverflow(stalledConsumer(this.stallMs))
      return
    }
    if (silentMs >= this.holdMs && this.full && !this.parked) {
      this.parked = true
      this.releaseWaiters()
    }
  }
}
