/**
 * One client connection: its transport, its outbound queue and the per-connection protocol state
 * that `initialize` sets. Connections are the unit of state (design rule 2).
 */
import { DEFAULT_STALL_MS, OutboundQueue, type QueueLimits } from './outboundQueue'
import { PieceGate, writesPieces } from './pieceGate'
import type { CloseInfo, Transport } from './types'

export type ConnectionId = number

export class Connection {
  /** Set by `initialize`; requests before it get "Not initialized". */
  initialized = false
  experimentalApi = false
  optOut: ReadonlySet<string> = new Set()
  /** Requests received and not yet answered (their response not yet handed to the transport). */
  inflight = 0
  closed = false
  readonly queue: OutboundQueue
  /** Writes one message in pieces (stdio, websocket); null where the transport cannot. */
  private readonly gate: PieceGate | null
  private readonly abortController = new AbortController()

  constructor(
    readonly id: ConnectionId,
    readonly transport: Transport,
    limits: QueueLimits,
    onOverflow: (connection: Connection, info: CloseInfo) => void,
  ) {
    this.gate = writesPieces(transport) ? new PieceGate(transport, limits.stallMs ?? DEFAULT_STALL_MS) : null
    this.queue = new OutboundQueue(this.gate ?? transport, limits, (info) => onOverflow(this, info))
    this.gate?.attach(this.queue)
  }

  /**
   * Sends one message given as pieces that join to its frame, in order with every other message.
   * Where the transport cannot write pieces (a MessagePort), they are joined and queued as one frame.
   */
  async sendPieces(pieces: Iterable<string> | AsyncIterable<string>): Promise<void> {
    if (this.closed) return
    if (this.gate) return this.gate.send(pieces, () => this.closed)
    const joined: string[] = []
    for await (const piece of pieces) joined.push(piece)
    if (!this.closed) await this.queue.push(joined.join(''))
  }

  /** Fires when the connection closes; handlers pass it to anything they start for this client. */
  get signal(): AbortSignal {
    return this.abortController.signal
  }

  markClosed(): void {
    if (this.closed) return
    this.closed = true
    this.queue.close()
    this.abortController.abort()
  }

  toString(): string {
    return `#${this.id} (${this.transport.peer})`
  }
}
