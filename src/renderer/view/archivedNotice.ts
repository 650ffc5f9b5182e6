/**
 * The note above an archived thread opened to read (archivedThread.ts): it says the thread is
 * archived and read-only, with the Unarchive button at hand; the composer says the same where a
 * message would go. It only calls the session's unarchive; it never sends a message.
 */
import type { DeskSession } from '../session'
import type { DeskStore } from '../state/store'
import { h } from './dom'
import '../styles/archived.css'

export const ARCHIVED_COMPOSER_TEXT = 'This thread is archived. Unarchive it to send a message.'

export class ArchivedNotice {
  private readonly unarchive = h('button', { type: 'button', class: 'primary' }, 'Unarchive')
  readonly root = h(
    'div',
    { class: 'archived-notice', role: 'note', 'aria-label': 'Archived thread', hidden: true },
    h(
      'p',
      null,
      h('span', { class: 'archived-label' }, 'Archived.'),
      ' You can read this thread; unarchive it to continue the conversation.',
    ),
    this.unarchive,
  )

  constructor(
    private readonly store: DeskStore,
    private readonly session: DeskSession,
  ) {
    this.unarchive.addEventListener('click', () => {
      const threadId = this.store.state.view?.threadId
      if (!threadId) return
      this.unarchive.disabled = true
      void this.session.unarchiveOpenThread(threadId).finally(() => (this.unarchive.disabled = false))
    })
  }

  /** Shown while the open thread is an archived one; `pane` gets the `archived-thread` class. */
  render(pane: HTMLElement): void {
    const archived = this.store.state.view?.archived === true
    this.root.hidden = !archived
    pane.classList.toggle('archived-thread', archived)
  }
}
