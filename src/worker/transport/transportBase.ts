/**
 * The events every transport exposes and its close-once bookkeeping, so each transport file holds
 * only what is specific to its medium. `finish` fires `onClose` exactly once and then drops every
 * listener, whoever initiated the close.
 */
import { Emitter } from '../util/event'
import type { CloseInfo } from './types'

export abstract class TransportBase {
  protected readonly drainEmitter = new Emitter<void>()
  protected readonly messageEmitter = new Emitter<string>()
  private readonly closeEmitter = new Emitter<CloseInfo>()
  readonly onDrain = this.drainEmitter.event
  readonly onMessage = this.messageEmitter.event
  readonly onClose = this.closeEmitter.event
  protected closed = false

  /** Marks the transport closed and tells the listeners, once. */
  protected finish(info: CloseInfo): void {
    if (this.closed) return
    this.closed = true
    this.closeEmitter.fire(info)
    this.closeEmitter.dispose()
    this.messageEmitter.dispose()
    this.drainEmitter.dispose()
  }
}
