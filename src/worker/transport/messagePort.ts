/**
 * MessagePort transport: one in-app client (a window, the token owner) per port. JSON-RPC messages
 * are strings; the client acknowledges what it consumed (portFrames.ts), and `write` reports
 * backpressure once too many messages are unacknowledged; their bytes count against the connection's
 * limit, so a renderer that stops reading fills its queue and is closed with 4001 like a websocket
 * client (outboundQueue.ts), instead of growing the core's memory.
 */
import { isPortControlFrame, type CloseFrame } from '../protocol/portFrames'
import type { Port } from './port'
import { TransportBase } from './transportBase'
import { CLOSE_NORMAL, type CloseInfo, type Transport } from './types'

/** Unacknowledged messages allowed in flight before `write` reports backpressure. */
const HIGH_WATER_MESSAGES = 1024
const LOW_WATER_MESSAGES = 256

export class MessagePortTransport extends TransportBase implements Transport {
  readonly kind = 'messagePort'
  readonly overflow = 'disconnect'
  private unacked = 0
  /** Sizes of the unacknowledged frames, oldest first (acks count whole frames, in order). */
  private unackedSizes: number[] = []
  private unackedHead = 0
  private unackedBytes = 0
  private acked = 0
  private waitingForDrain = false
  private readonly unsubscribe: (() => void)[] = []

  constructor(
    private readonly port: Port,
    readonly peer = 'port',
  ) {
    super()
    this.unsubscribe.push(
      port.onMessage(({ data }) => {
        if (typeof data === 'string') return this.messageEmitter.fire(data)
        if (!isPortControlFrame(data)) return
        if (data.type === 'close') return this.finish({ code: data.code, reason: data.reason })
        const count = Math.min(this.unacked, Math.max(0, data.count))
        this.unacked -= count
        this.acked += count
        for (let i = 0; i < count; i++) this.unackedBytes -= this.unackedSizes[this.unackedHead++] as number
        if (this.unackedHead > 1024 && this.unackedHead * 2 > this.unackedSizes.length) {
          this.unackedSizes = this.unackedSizes.slice(this.unackedHead)
          this.unackedHead = 0
        }
        if (this.waitingForDrain && this.unacked <= LOW_WATER_MESSAGES) {
          this.waitingForDrain = false
          this.drainEmitter.fire()
        }
      }),
      port.onClose(() => this.finish({ code: 1006, reason: 'port closed' })),
    )
  }

  /** Posted and not yet acknowledged: the port's own buffer, counted with the queue. */
  get bufferedBytes(): number {
    return this.unackedBytes
  }

  get consumed(): number {
    return this.acked
  }

  write(frame: string): boolean {
    if (this.closed) return true
    this.port.postMessage(frame)
    this.unackedSizes.push(frame.length)
    this.unackedBytes += frame.length
    if (++this.unacked < HIGH_WATER_MESSAGES) return true
    this.waitingForDrain = true
    return false
  }

  close(info: CloseInfo = CLOSE_NORMAL): void {
    if (this.closed) return
    const frame: CloseFrame = { type: 'close', code: info.code, reason: info.reason }
    try {
      this.port.postMessage(frame)
    } catch {
      // The other side is already gone.
    }
    this.finish(info)
    this.port.close()
  }

  protected override finish(info: CloseInfo): void {
    if (this.closed) return
    for (const off of this.unsubscribe) off()
    super.finish(info)
  }
}
