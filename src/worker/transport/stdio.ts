/**
 * stdio transport: one JSON message per line on stdin/stdout (JSONL). Writes honour the pipe's
 * backpressure (`write` returns false until 'drain'), and the router blocks rather than drops, so a
 * local client is never disconnected for reading slowly. stdin EOF closes the connection.
 */
import type { Readable, Writable } from 'node:stream'
import { Emitter } from '../util/event'
import { TransportBase } from './transportBase'
import { LineSplitter } from './lineSplitter'
import { CLOSE_NORMAL, type CloseInfo, type Transport } from './types'

export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

export class StdioTransport extends TransportBase implements Transport {
  readonly kind = 'stdio'
  readonly overflow = 'block'
  readonly peer = 'stdio'
  private readonly oversizedEmitter = new Emitter<number>()
  readonly onOversized = this.oversizedEmitter.event

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    options: { maxMessageBytes?: number } = {},
  ) {
    super()
    const splitter = new LineSplitter(
      options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      (line) => this.messageEmitter.fire(line),
      (bytes) => this.oversizedEmitter.fire(bytes),
    )
    input.on('data', (chunk: Buffer) => splitter.push(chunk))
    input.on('end', () => {
      splitter.end()
      this.finish({ code: 1000, reason: 'stdin closed' })
    })
    input.on('error', () => this.finish({ code: 1006, reason: 'stdin error' }))
    output.on('drain', () => this.drainEmitter.fire())
    // EPIPE: the client went away while we were writing.
    output.on('error', () => this.finish({ code: 1006, reason: 'stdout closed' }))
  }

  /** What the pipe has not taken yet, counted with the queue (the producer waits past the limit). */
  get bufferedBytes(): number {
    return this.output.writableLength
  }

  write(frame: string): boolean {
    if (this.closed) return true
    return this.output.write(frame + '\n')
  }

  /** Part of one message (transport/pieceGate.ts): the newline follows the last piece. */
  writePiece(piece: string, last: boolean): boolean {
    if (this.closed) return true
    return this.output.write(last ? piece + '\n' : piece)
  }

  close(info: CloseInfo = CLOSE_NORMAL): void {
    this.input.pause()
    this.finish(info)
  }

  protected override finish(info: CloseInfo): void {
    super.finish(info)
    this.oversizedEmitter.dispose()
  }
}
