/**
 * The thread list (docs/renderer.md, Thread list): newest first, a live status badge per thread,
 * rename in place and archive. Rows are keyed by thread id and patched, so a status change moves
 * nothing and an open rename input survives every update.
 */
import type { DeskSession } from '../session'
import { badgeOf, threadTitle } from '../state/model'
import type { DeskStore } from '../state/store'
import { h, icon } from './dom'

interface Row {
  li: HTMLLIElement
  open: HTMLButtonElement
  time: HTMLTimeElement
  badge: HTMLSpanElement
  rename: HTMLInputElement | null
}

function relativeTime(seconds: number, now = Date.now()): string {
  const diff = Math.max(0, Math.round(now / 1000 - seconds))
  if (diff < 60) return 'just now'
  if (diff < 3600) return `${Math.floor(diff / 60)} min ago`
  if (diff < 86_400) return `${Math.floor(diff / 3600)} h ago`
  const date = new Date(seconds * 1000)
  return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
}

export class ThreadList {
  readonly root: HTMLElement
  private readonly list = h('ul', { class: 'thread-list' })
  private readonly more = h('button', { type: 'button', class: 'more', hidden: true }, 'Show more threads')
  private readonly empty = h('p', { class: 'thread-list-empty', hidden: true }, 'No threads yet.')
  private readonly rows = new Map<string, Row>()

  constructor(
    private readonly store: DeskStore,
    private readonly session: DeskSession,
  ) {
    const newThread = h(
      'button',
      { type: 'button', class: 'new-thread primary', onclick: () => void this.newThread() },
      icon('plus'),
      'New thread',
    )
    this.more.addEventListener('click', () => void this.session.loadMoreThreads())
    this.root = h(
      'nav',
      { 'aria-label': 'Threads', class: 'threads' },
      h('div', { class: 'threads-head' }, h('h2', { class: 'threads-title' }, 'Threads'), newThread),
      this.empty,
      this.list,
      this.more,
    )
  }

  private async newThread(): Promise<void> {
    const id = await this.session.newThread()
    if (id) this.root.dispatchEvent(new CustomEvent('thread-opened', { bubbles: true }))
  }

  render(): void {
    const order = this.store.listOrder()
    const open = this.store.state.openThreadId
    const seen = new Set(order)
    for (const [id, row] of this.rows) {
      if (!seen.has(id)) {
        row.li.remove()
        this.rows.delete(id)
      }
    }
    let previous: Element | null = null
    for (const id of order) {
      const thread = this.store.state.threads.get(id)
      if (!thread) continue
      const row = this.rows.get(id) ?? this.createRow(id)
      const title = threadTitle(thread)
      if (row.open.textContent !== title) {
        row.open.textContent = title
        row.open.title = title
      }
      const badge = badgeOf(this.store.statusOf(id))
      if (row.badge.dataset.status !== badge.status) {
        row.badge.dataset.status = badge.status
        row.badge.textContent = badge.label
      }
      const when = thread.updatedAt || thread.createdAt
      const date = new Date(when * 1000)
      row.time.dateTime = date.toISOString()
      row.time.title = date.toLocaleString()
      row.time.textContent = relativeTime(when)
      if (id === open) row.li.setAttribute('aria-current', 'true')
      else row.li.removeAttribute('aria-current')
      // Keep DOM order = list order, moving only rows that are out of place.
      const expected: Element | null = previous ? previous.nextElementSibling : this.list.firstElementChild
      if (expected !== row.li) this.list.insertBefore(row.li, expected)
      previous = row.li
    }
    this.empty.hidden = order.length > 0 || this.store.state.connection.state !== 'connected'
    this.more.hidden = !this.store.state.moreThreadsCursor
  }

  private createRow(id: string): Row {
    const open = h('button', { type: 'button', class: 'thread-open' })
    open.addEventListener('click', () => {
      void this.session.openThread(id)
      this.root.dispatchEvent(new CustomEvent('thread-opened', { bubbles: true }))
    })
    const badge = h('span', { class: 'status-badge' })
    const time = h('time', { class: 'thread-time' })
    const rename = h(
      'button',
      { type: 'button', class: 'icon-button', 'aria-label': 'Rename thread', title: 'Rename' },
      icon('pencil'),
    )
    const archive = h(
      'button',
      { type: 'button', class: 'icon-button', 'aria-label': 'Archive thread', title: 'Archive' },
      icon('archive'),
    )
    const li = h(
      'li',
      { 'data-thread-id': id, class: 'thread-row' },
      open,
      h('div', { class: 'thread-meta' }, badge, time),
      h('div', { class: 'thread-actions' }, rename, archive),
    )
    const row: Row = { li, open, time, badge, rename: null }
    rename.addEventListener('click', () => this.startRename(id, row))
    archive.addEventListener('click', () => void this.session.archive(id))
    this.rows.set(id, row)
    return row
  }

  private startRename(id: string, row: Row): void {
    if (row.rename) return row.rename.focus()
    const thread = this.store.state.threads.get(id)
    const input = h('input', {
      type: 'text',
      class: 'rename-input',
      'aria-label': 'Thread name',
      value: thread?.name ?? threadTitle(thread),
    })
    row.rename = input
    row.open.hidden = true
    row.open.before(input)
    input.focus()
    input.select()
    let done = false
    const finish = (save: boolean) => {
      if (done) return
      done = true
      const name = input.value.trim()
      input.remove()
      row.rename = null
      row.open.hidden = false
      if (save && name) void this.session.rename(id, name)
      row.open.focus()
    }
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') {
        event.preventDefault()
        finish(true)
      } else if (event.key === 'Escape') {
        event.preventDefault()
        finish(false)
      }
    })
    input.addEventListener('blur', () => finish(false))
  }
}
