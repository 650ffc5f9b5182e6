/**
 * `desk/configWarnings/read` and `desk/configWarnings/changed` (protocol/deskDiagnostics.ts): the
 * current config problems and machine notices for the desk UI. A connection that read the set once
 * hears every change of it from then on; no other connection ever does, so codex clients keep
 * seeing only what codex sends (`configWarning`).
 *
 * Reading also starts the sandbox probe (memoized, a child process), so a machine notice is there
 * right after a core starts, not only after its first turn. It must never send a `desk/` method to a
 * connection that did not ask for it.
 */
import type { deskDiagnosticsRequests, DeskConfigWarnings } from '../protocol/deskDiagnostics'
import type { ConfigWarningNotification } from '../protocol/notifications'
import type { ConnectionId } from '../transport/connection'
import type { OutboundRouter } from '../transport/outboundRouter'
import type { Handler } from './context'

type DeskDiagnosticsHandlers = { [M in keyof typeof deskDiagnosticsRequests]: Handler<M> }

export interface DeskDiagnosticsDeps {
  router: OutboundRouter
  /** The config problems as they are now. */
  problems: () => readonly ConfigWarningNotification[]
  /** The machine notices found so far. */
  notices: () => readonly ConfigWarningNotification[]
  /** Starts finding machine notices (idempotent); each one found is announced through `changed`. */
  probe: () => void
}

export class DeskDiagnostics {
  private readonly listeners = new Set<ConnectionId>()
  readonly handlers: DeskDiagnosticsHandlers

  constructor(private readonly deps: DeskDiagnosticsDeps) {
    this.handlers = {
      'desk/configWarnings/read': (_params, ctx) => {
        const id = ctx.connection.id
        if (!ctx.signal.aborted) {
          this.listeners.add(id)
          ctx.signal.addEventListener('abort', () => this.listeners.delete(id), { once: true })
        }
        deps.probe()
        return this.current()
      },
    }
  }

  private current(): DeskConfigWarnings {
    return { problems: [...this.deps.problems()], notices: [...this.deps.notices()] }
  }

  /** The set changed: every connection that read it hears the whole set. */
  changed(): void {
    if (this.listeners.size === 0) return
    const set = this.current()
    for (const id of this.listeners) this.deps.router.notify(id, 'desk/configWarnings/changed', set)
  }
}
