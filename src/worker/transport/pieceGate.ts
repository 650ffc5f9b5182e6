/**
 * One message written in pieces: a whole thread's response is sent as its serialized turns, one
 * after the other, so the process never holds the response as one string (nor its bytes). stdio
 * writes the pieces in order and the newline after the last; a websocket sends them as fragments of
 * one text message (`fin: false` ... `fin: true`).
 *
 * The gate sits between a connection's outbound queue and its transport. While a message is being
 * written in pieces, nothing else may reach the transport: frames queued before it are written
 * first, frames pushed meanwhile are held (and counted in `bufferedBytes`, so the queue's limits
 * and its slow-consumer rules still apply) and follow it. Between pieces it waits for the transport
 * to drain; a `disconnect` client that takes nothing for the stall time is closed (4001), as the
 * queue closes one.
 *
 * It must never let a frame of another message land between two pieces of one message, and never
 * reorder frames. It forwards every Transport member: a member added to Transport must be added here.
 */
import type { Event } from '../util/event'
import { stalledConsumer, type CloseInfo, type Transport, type TransportKind } from './types'

const CLOSE_INTERNAL: CloseInfo = { code: 1011, reason: 'a response could not be written' }

/** A transport that can write one message in pieces. */
export interface PieceTransport extends Transport {
  /** Writes part of a message; `last` ends it. Returns false once the transport wants to drain. */
  writePiece(piece: string, last: boolean): boolean
}

export function writesPieces(transport: Transport): transport is PieceTransport {
  return typeof (transport as Partial<PieceTransport>).writePiece === 'function'
}

/** What the gate needs of the queue behind it: how much waits there, and a nudge to write it. */
export interface GatedQueue {
  readonly length: number
  drain(): void
}

export class PieceGate implements Transport {
  /** Frames the queue still writes before the pieces (it had them when the message began). */
  private passing = 0
  private engaged = false
  /** A piece of the current message was written. */
  private started = false
  private held: string[] = []
  private heldBytes = 0
  private lastWriteOk = true
  private onPassed: (() => void) | null = null
  /** Messages written in pieces, one at a time: the next starts when this settles. */
  private turn: Promise<void> = Promise.resolve()
  /** Messages sent or waiting to be. */
  private messages = 0
  private queue: GatedQueue | null = null

  constructor(
    private readonly inner: PieceTransport,
    private readonly stallMs: number,
  ) {
    // Subscribed before the router's listener: the queue may write again as soon as it hears this.
    inner.onDrain(() => (this.lastWriteOk = true))
  }

  /** The queue the gate serves (set once, right after the queue is made). */
  attach(queue: GatedQueue): void {
    this.queue = queue
  }

  get kind(): TransportKind {
    return this.inner.kind
  }
  get overflow(): Transport['overflow'] {
    return this.inner.overflow
  }
  get peer(): string {
    return this.inner.peer
  }
  get onDrain(): Event<void> {
    return this.inner.onDrain
  }
  get onMessage(): Event<string> {
    return this.inner.onMessage
  }
  get onClose(): Event<CloseInfo> {
    return this.inner.onClose
  }
  get onOversized(): Event<number> | undefined {
    return this.inner.onOversized
  }
  get consumed(): number | undefined {
    return this.inner.consumed
  }
  get bufferedBytes(): number {
    return (this.inner.bufferedBytes ?? 0) + this.heldBytes
  }

  write(frame: string): boolean {
    if (!this.engaged) return (this.lastWriteOk = this.inner.write(frame))
    if (this.passing > 0) {
      this.lastWriteOk = this.inner.write(frame)
      if (--this.passing === 0) this.onPassed?.()
      return this.lastWriteOk
    }
    this.held.push(frame)
    this.heldBytes += frame.length
    return false
  }

  close(info?: CloseInfo): void {
    this.inner.close(info)
  }

  /**
   * Writes one message made of `pieces` (joined, they are the frame), after every frame queued
   * before it and before every frame pushed meanwhile. Resolves when the last piece was handed to
   * the transport, or when the connection closed (`closed()` true), whichever comes first.
   */
  send(pieces: Iterable<string> | AsyncIterable<string>, closed: () => boolean): Promise<void> {
    // Idle: it takes its place now, behind exactly what the queue holds at this instant.
    const start = () => this.sendNow(pieces, closed)
    const run = this.messages === 0 ? start() : this.turn.then(start)
    this.messages++
    this.turn = run.catch(() => undefined).then(() => void this.messages--)
    return run
  }

  private async sendNow(
    pieces: Iterable<string> | AsyncIterable<string>,
    closed: () => boolean,
  ): Promise<void> {
    if (closed()) return
    this.engaged = true
    this.started = false
    try {
      this.passing = this.queue?.length ?? 0
      if (this.passing > 0 && !(await this.passed())) return
      let pending: string | undefined
      try {
        for await (const piece of pieces) {
          if (pending !== undefined && !(await this.writePiece(pending, false, closed))) return
          pending = piece
        }
      } catch (error) {
        // Part of the message is out: nothing else can follow it on this connection.
        if (this.started) this.inner.close(CLOSE_INTERNAL)
        throw error
      }
      if (pending !== undefined) await this.writePiece(pending, true, closed)
    } finally {
      this.release(closed())
    }
  }

  /** Writes one piece once the transport takes more; false when the connection closed first. */
  private async writePiece(piece: string, last: boolean, closed: () => boolean): Promise<boolean> {
    if (!this.lastWriteOk && !(await this.drained(closed))) return false
    if (closed()) return false
    this.started = true
    this.lastWriteOk = this.inner.writePiece(piece, last)
    return true
  }

  /** Waits until the frames queued before the message were written; false if the connection closed. */
  private passed(): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const sub = this.inner.onClose(() => finish(false))
      const finish = (ok: boolean) => {
        sub.dispose()
        this.onPassed = null
        resolve(ok)
      }
      this.onPassed = () => finish(true)
    })
  }

  /** Ends the message: what was held goes out in order, then the queue carries on. */
  private release(closed: boolean): void {
    this.engaged = false
    this.passing = 0
    this.onPassed = null
    const held = this.held
    this.held = []
    this.heldBytes = 0
    if (closed) return
    for (const frame of held) this.lastWriteOk = this.inner.write(frame)
    if (this.lastWriteOk && (held.length > 0 || (this.queue?.length ?? 0) > 0)) this.queue?.drain()
  }

  /**
   * Waits for the transport to drain. False when the connection closed first; a `disconnect` client
   * that took nothing for the stall time is closed here (4001).
   */
  private drained(closed: () => boolean): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let lastConsumed = this.inner.consumed ?? 0
      let lastProgress = Date.now()
      const subs = [this.inner.onDrain(() => finish(true)), this.inner.onClose(() => finish(false))]
      const timer =
        this.inner.overflow === 'disconnect'
          ? setInterval(
              () => {
                const consumed = this.inner.consumed ?? 0
                if (consumed !== lastConsumed) {
                  lastConsumed = consumed
                  lastProgress = Date.now()
                } else if (Date.now() - lastProgress >= this.stallMs) {
                  finish(false)
                  this.inner.close(stalledConsumer(this.stallMs))
                }
              },
              Math.max(5, Math.min(1_000, this.stallMs / 4)),
            )
          : undefined
      timer?.unref()
      const finish = (ok: boolean) => {
        for (const sub of subs) sub.dispose()
        if (timer) clearInterval(timer)
        resolve(ok && !closed())
      }
    })
  }
}
