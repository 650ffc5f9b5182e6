/**
 * The session's approval prompts (sessionConnection.ts routes the core's approval requests here):
 * each request becomes a prompt in the store and waits for the person's decision, which answers the
 * request. A prompt resolved elsewhere (another client answered, the turn ended) stops waiting.
 *
 * It never answers a request the person did not decide, and never keeps a responder for a
 * connection that is gone (the session clears them when it drops one).
 */
import type { ServerRequestContext } from '../worker/protocol/client'
import type { DeskStore } from './state/store'

export type Decision = 'accept' | 'acceptForSession' | 'decline'

/** What an approval prompt shows besides the request's thread, turn, item and reason. */
type ApprovalDetails =
  | { kind: 'command'; command: string | null; cwd: string | null }
  | { kind: 'fileChange'; grantRoot: string | null }

/** The responders of the prompts shown, by the store's key. */
export class ApprovalPrompts {
  private readonly responders = new Map<string, (decision: Decision) => void>()

  constructor(private readonly store: DeskStore) {}

  /** Forgets every waiting prompt's responder (the connection that asked is gone). */
  clear(): void {
    this.responders.clear()
  }

  /** Shows the prompt and waits for the person; the client drops the wait if it is resolved elsewhere. */
  ask(
    context: ServerRequestContext,
    params: { threadId: string; turnId: string; itemId: string; reason?: string | null },
    details: ApprovalDetails,
  ): Promise<{ decision: Decision }> {
    const { threadId, turnId, itemId } = params
    const key = this.store.addApproval({
      ...details,
      requestId: context.id,
      threadId,
      turnId,
      itemId,
      reason: params.reason ?? null,
    })
    return new Promise((resolve, reject) => {
      const responder = (decision: Decision) => resolve({ decision })
      this.responders.set(key, responder)
      context.signal.addEventListener(
        'abort',
        () => {
          if (this.responders.get(key) === responder) this.responders.delete(key)
          reject(new Error('the request was resolved elsewhere'))
        },
        { once: true },
      )
    })
  }

  /** Answers a prompt shown by the store (its `key`). */
  answer(key: string, decision: Decision): void {
    const responder = this.responders.get(key)
    if (!responder) {
      this.store.addNotice('This approval cannot be answered right now; it comes back once reconnected.')
      return
    }
    this.responders.delete(key)
    this.store.removeApproval(key)
    responder(decision)
  }
}
