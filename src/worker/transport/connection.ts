/**
 * One client connection: its transport, its outbound queue and the per-connection protocol state
 * that `initialize` sets. Connections are the unit of state (design rule 2).
 */
import { OutboundQueue, type QueueLimits } from './outboundQueue'
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
  private readonly abortController = new AbortController()

  constructor(
    readonly id: ConnectionId,
    readonly transport: Transport,
    limits: QueueLimits,
    onOverflow: (connection: Connection, info: CloseInfo) => void,
  ) {
    this.queue = new OutboundQueue(transport, limits, (info) => onOverflow(this, info))
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
