/**
 * The composer: the message box, its draft (kept per thread in the window's storage on every
 * keystroke), the messages queued while a turn runs (each editable and removable until it goes
 * out), and the actions: Send (queues while a turn runs), Steer (gives the text to the running
 * turn, Ctrl+Enter) and Interrupt. The layout is fixed: the box keeps its width whichever buttons
 * show. It never sends anything itself: the session does (session.ts `submit`, `steer`).
 */
import type { DeskSession } from '../session'
import { DRAFT_KEY_PREFIX, QUEUE_KEY_PREFIX, type QueuedMessage } from '../state/composerQueue'
import type { DeskStore } from '../state/store'
import { ARCHIVED_COMPOSER_TEXT } from './archivedNotice'
import { h, replaceChildren } from './dom'
import '../styles/composer.css'

const IDLE_PLACEHOLDER = 'Ask codex… (Enter sends, Shift+Enter for a new line)'
const RUNNING_PLACEHOLDER = 'Type the next message… (Enter queues it for when this turn ends)'

function isMac(): boolean {
  return typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent)
}

export class Composer {
  readonly root: HTMLFormElement
  private readonly textarea = h('textarea', {
    'aria-label': 'Message',
    rows: 3,
    placeholder: IDLE_PLACEHOLDER,
  })
  private readonly send = h('button', { type: 'submit', class: 'primary' }, 'Send')
  private readonly steerKey = isMac() ? '⌘+Enter' : 'Ctrl+Enter'
  private readonly steer = h(
    'button',
    {
      type: 'button',
      class: 'steer',
      hidden: true,
      'aria-keyshortcuts': isMac() ? 'Meta+Enter' : 'Control+Enter',
      title: 'Send the text to the running turn now: the model reads it at its next step',
    },
    'Steer',
    h('kbd', null, this.steerKey),
  )
  private readonly interrupt = h('button', { type: 'button', class: 'danger', hidden: true }, 'Interrupt')
  private readonly hint = h('span', { class: 'composer-hint' })
  private readonly queueList = h('ol', {
    class: 'composer-queue',
    'aria-label': 'Queued messages',
    hidden: true,
  })
  /** The thread whose draft the box shows (undefined before the first render; null: a new thread). */
  private threadKey: string | null | undefined = undefined
  private lastDraft = ''
  /** The queued message being edited, and its editor (kept across renders). */
  private editing: { threadId: string; id: string; element: HTMLElement; input: HTMLTextAreaElement } | null =
    null

  constructor(
    private readonly store: DeskStore,
    private readonly session: DeskSession,
    private readonly onSend: () => void = () => undefined,
  ) {
    this.root = h(
      'form',
      { 'aria-label': 'Composer', class: 'composer' },
      this.queueList,
      this.textarea,
      h(
        'div',
        { class: 'composer-bar' },
        this.hint,
        h('div', { class: 'composer-actions' }, this.steer, this.interrupt, this.send),
      ),
    )
    this.root.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.submit('send')
    })
    this.textarea.addEventListener('keydown', (event) => {
      if (event.key !== 'Enter' || event.isComposing) return
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault()
        void this.submit(this.store.runningTurn() ? 'steer' : 'send')
      } else if (!event.shiftKey) {
        event.preventDefault()
        void this.submit('send')
      }
    })
    this.textarea.addEventListener('input', () => this.saveDraft())
    this.steer.addEventListener('click', () => void this.submit('steer'))
    // Another tab queued, edited, sent or typed: show it (and send what is this tab's).
    if (typeof window !== 'undefined') {
      window.addEventListener('storage', (event) => {
        if (
          event.key === null ||
          event.key.startsWith(QUEUE_KEY_PREFIX) ||
          event.key.startsWith(DRAFT_KEY_PREFIX)
        ) {
          this.session.queueChangedElsewhere()
        }
      })
    }
    this.interrupt.addEventListener('click', () => void this.session.interrupt())
  }

  focus(): void {
    this.textarea.focus()
  }

  private saveDraft(): void {
    this.lastDraft = this.textarea.value
    this.session.queue.setDraft(this.threadKey ?? null, this.textarea.value)
  }

  private async submit(how: 'send' | 'steer'): Promise<void> {
    const text = this.textarea.value
    if (!text.trim() || (how === 'send' && this.send.disabled)) return
    const key = this.threadKey ?? null
    this.textarea.value = ''
    this.saveDraft()
    this.onSend()
    const ok = how === 'steer' ? await this.session.steer(text) : await this.session.submit(text)
    if (!ok && !this.textarea.value && this.threadKey === key) {
      this.textarea.value = text
      this.saveDraft()
    }
  }

  render(): void {
    const state = this.store.state
    const connected = state.connection.state === 'connected'
    const threadId = state.openThreadId
    const running = this.store.runningTurn() !== undefined
    this.syncDraft(threadId)
    // An open thread takes messages even while disconnected: they wait in the queue.
    this.send.disabled = !connected && !threadId
    this.steer.hidden = !running
    this.steer.disabled = !connected
    this.interrupt.hidden = !running
    this.interrupt.disabled = !connected
    this.textarea.placeholder = running ? RUNNING_PLACEHOLDER : IDLE_PLACEHOLDER
    this.hint.textContent = running ? `Enter queues · ${this.steerKey} steers the running turn` : ''
    // An archived thread opened to read takes no message until it is unarchived (archivedNotice.ts).
    const archived = state.view?.archived === true
    this.textarea.disabled = archived
    if (archived) {
      this.send.disabled = true
      this.textarea.placeholder = ARCHIVED_COMPOSER_TEXT
    }
    this.renderQueue(threadId)
  }

  /** Shows the thread's draft when the thread changed, or when another window changed it. */
  private syncDraft(threadId: string | null): void {
    let stored = this.session.queue.draft(threadId)
    if (
      threadId !== this.threadKey &&
      this.threadKey === null &&
      threadId &&
      !stored &&
      this.isFresh(threadId)
    ) {
      // Text typed while New thread was starting belongs to the thread that just opened: keep it.
      const typed = this.textarea.value
      if (typed) {
        this.session.queue.setDraft(threadId, typed)
        this.session.queue.setDraft(null, '')
        stored = typed
      }
    }
    if (threadId !== this.threadKey) {
      this.threadKey = threadId
      this.textarea.value = stored
      this.lastDraft = stored
    } else if (stored !== this.lastDraft) {
      this.lastDraft = stored
      this.textarea.value = stored
    }
  }

  /** A thread just started here: loaded, with no turn yet. */
  private isFresh(threadId: string): boolean {
    const view = this.store.state.view
    return view?.threadId === threadId && view.phase === 'ready' && view.turns.length === 0
  }

  private renderQueue(threadId: string | null): void {
    const list = threadId ? this.session.queue.list(threadId).filter((m) => m.state !== 'sending') : []
    if (
      this.editing &&
      (this.editing.threadId !== threadId || !list.some((m) => m.id === this.editing?.id))
    ) {
      this.session.holdQueued(this.editing.id, false)
      this.editing = null
    }
    this.queueList.hidden = list.length === 0
    if (!threadId) return replaceChildren(this.queueList)
    replaceChildren(this.queueList, ...list.map((message) => this.renderQueued(threadId, message)))
  }

  private renderQueued(threadId: string, message: QueuedMessage): HTMLElement {
    if (this.editing?.id === message.id) return this.editing.element
    const mine = message.owner === this.session.queue.tabId || this.session.queue.ownerGone(message.owner)
    const label =
      message.state === 'steered' ? 'Steering the running turn' : mine ? 'Queued' : 'Queued in another window'
    const actions =
      message.state === 'queued'
        ? h(
            'div',
            { class: 'queued-actions' },
            h('button', { type: 'button', onclick: () => this.startEdit(threadId, message) }, 'Edit'),
            h(
              'button',
              {
                type: 'button',
                class: 'danger',
                onclick: () => this.session.removeQueued(threadId, message.id),
              },
              'Remove',
            ),
          )
        : null
    return h(
      'li',
      { class: 'queued-message', 'data-queued-id': message.id, 'data-state': message.state },
      h('span', { class: 'queued-label' }, label),
      h('p', { class: 'queued-text' }, message.text),
      actions,
    )
  }

  private startEdit(threadId: string, message: QueuedMessage): void {
    if (this.editing) this.session.holdQueued(this.editing.id, false)
    this.session.holdQueued(message.id, true)
    const input = h('textarea', { 'aria-label': 'Edit queued message', rows: 2 })
    input.value = message.text
    const finish = (save: boolean) => {
      if (this.editing?.id !== message.id) return
      this.editing = null
      if (save) this.session.editQueued(threadId, message.id, input.value)
      this.session.holdQueued(message.id, false)
      this.render()
      this.textarea.focus()
    }
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault()
        finish(true)
      } else if (event.key === 'Escape') {
        event.preventDefault()
        finish(false)
      }
    })
    const element = h(
      'li',
      { class: 'queued-message', 'data-queued-id': message.id, 'data-state': 'editing' },
      h('span', { class: 'queued-label' }, 'Editing (held until saved)'),
      input,
      h(
        'div',
        { class: 'queued-actions' },
        h('button', { type: 'button', class: 'primary', onclick: () => finish(true) }, 'Save'),
        h('button', { type: 'button', onclick: () => finish(false) }, 'Cancel'),
      ),
    )
    this.editing = { threadId, id: message.id, element, input }
    this.render()
    input.focus()
  }
}
