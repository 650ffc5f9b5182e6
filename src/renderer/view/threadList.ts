/**
 * The thread list (docs/renderer.md, Thread list): newest first, a live status badge and the time
 * of the last activity per thread, rename in place, archive with an Undo, a search by name and
 * preview (the core filters; typing is debounced), and the archived threads (opened to be read)
 * with Unarchive. Rows are keyed by thread id and patched, so a status change moves nothing and an
 * open rename input survives every update. It only calls the session; it never talks to the core itself.
 */
import type { DeskSession } from '../session'
import { badgeOf, threadTitle } from '../state/model'
import type { DeskStore } from '../state/store'
import { h, icon, replaceChildren } from './dom'
import { activityTime, relativeTime } from './threadTimes'
import '../styles/threads.css'

interface Row {
  li: HTMLLIElement
  open: HTMLButtonElement
  time: HTMLTimeElement
  badge: HTMLSpanElement
  rename: HTMLInputElement | null
  /** Made for the archived view (Unarchive) or the active one (Rename, Archive). */
  archived: boolean
}

/** How long typing must pause before the search runs. */
export const SEARCH_DEBOUNCE_MS = 250
/** How long the Undo of an archive stays offered. */
export const UNDO_MS = 10_000
const TIME_REFRESH_MS = 30_000

export class ThreadList {
  readonly root: HTMLElement
  private readonly list = h('ul', { class: 'thread-list' })
  private readonly more = h('button', { type: 'button', class: 'more', hidden: true }, 'Show more threads')
  private readonly empty = h('p', { class: 'thread-list-empty', hidden: true }, 'No threads yet.')
  private readonly search = h('input', {
    type: 'search',
    class: 'thread-search',
    'aria-label': 'Search threads',
    placeholder: 'Search threads',
    autocomplete: 'off',
    spellcheck: 'false',
  })
  private readonly archivedToggle = h(
    'button',
    { type: 'button', class: 'archived-toggle', 'aria-pressed': 'false' },
    'Archived',
  )
  private readonly title = h('h2', { class: 'threads-title' }, 'Threads')
  private readonly toast = h('div', {
    class: 'toast',
    role: 'status',
    'aria-label': 'Archived',
    hidden: true,
  })
  private readonly rows = new Map<string, Row>()
  private searchTimer: ReturnType<typeof setTimeout> | undefined
  private toastTimer: ReturnType<typeof setTimeout> | undefined

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
    this.search.addEventListener('input', () => {
      clearTimeout(this.searchTimer)
      this.searchTimer = setTimeout(
        () => void this.session.setListFilter({ search: this.search.value }),
        SEARCH_DEBOUNCE_MS,
      )
    })
    this.search.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape' || this.search.value === '') return
      event.preventDefault()
      event.stopPropagation()
      this.search.value = ''
      clearTimeout(this.searchTimer)
      void this.session.setListFilter({ search: '' })
    })
    this.archivedToggle.addEventListener('click', () =>
      this.showArchived(!this.store.state.listFilter.archived),
    )
    this.root = h(
      'nav',
      { 'aria-label': 'Threads', class: 'threads' },
      h('div', { class: 'threads-head' }, this.title, newThread),
      h('div', { class: 'threads-tools' }, this.search, this.archivedToggle),
      this.empty,
      this.list,
      this.more,
      this.toast,
    )
    setInterval(() => this.renderTimes(), TIME_REFRESH_MS)
  }

  private async newThread(): Promise<void> {
    // The new thread must be in the list: back to the active threads, unsearched.
    const filter = this.store.state.listFilter
    if (filter.archived || filter.search) {
      clearTimeout(this.searchTimer)
      this.search.value = ''
      await this.session.setListFilter({ archived: false, search: '' })
    }
    const id = await this.session.newThread()
    if (id) this.root.dispatchEvent(new CustomEvent('thread-opened', { bubbles: true }))
  }

  /** Starts a new thread (the shortcut). */
  startNewThread(): void {
    void this.newThread()
  }

  focusSearch(): void {
    this.search.focus()
    this.search.select()
  }

  /** Opens the thread `delta` rows below (or above) the open one; the first when none is open. */
  openAdjacent(delta: 1 | -1): void {
    if (this.store.state.listFilter.archived) return
    const order = this.store.listOrder()
    if (order.length === 0) return
    const at = order.indexOf(this.store.state.openThreadId ?? '')
    const next =
      at < 0 ? (delta > 0 ? 0 : order.length - 1) : Math.min(order.length - 1, Math.max(0, at + delta))
    const id = order[next]
    if (!id || id === this.store.state.openThreadId) return
    void this.session.openThread(id)
    this.rows.get(id)?.li.scrollIntoView({ block: 'nearest' })
  }

  private showArchived(archived: boolean): void {
    this.archivedToggle.setAttribute('aria-pressed', String(archived))
    void this.session.setListFilter({ archived })
  }

  render(): void {
    const filter = this.store.state.listFilter
    const archived = filter.archived
    this.archivedToggle.setAttribute('aria-pressed', String(archived))
    this.title.textContent = archived ? 'Archived threads' : 'Threads'
    this.root.classList.toggle('archived-view', archived)
    const order = this.store.listOrder()
    const open = this.store.state.openThreadId
    const seen = new Set(order)
    for (const [id, row] of this.rows) {
      if (!seen.has(id) || row.archived !== archived) {
        row.li.remove()
        this.rows.delete(id)
      }
    }
    let previous: Element | null = null
    for (const id of order) {
      const thread = this.store.state.threads.get(id)
      if (!thread) continue
      const row = this.rows.get(id) ?? this.createRow(id, archived)
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
      this.renderTime(row, activityTime(thread))
      if (id === open && archived === (this.store.state.view?.archived ?? false)) {
        row.li.setAttribute('aria-current', 'true')
      } else row.li.removeAttribute('aria-current')
      // Keep DOM order = list order, moving only rows that are out of place.
      const expected: Element | null = previous ? previous.nextElementSibling : this.list.firstElementChild
      if (expected !== row.li) this.list.insertBefore(row.li, expected)
      previous = row.li
    }
    const search = filter.search.trim()
    this.empty.textContent = search
      ? `No ${archived ? 'archived ' : ''}threads match “${search}”.`
      : archived
        ? 'No archived threads.'
        : 'No threads yet.'
    this.empty.hidden = order.length > 0 || this.store.state.connection.state !== 'connected'
    this.more.hidden = !this.store.state.moreThreadsCursor
  }

  private renderTime(row: Row, when: number): void {
    const iso = new Date(when * 1000).toISOString()
    if (row.time.dateTime !== iso) {
      row.time.dateTime = iso
      row.time.title = `Last activity: ${new Date(when * 1000).toLocaleString()}`
    }
    row.time.textContent = relativeTime(when)
  }

  /** "5 min ago" grows older while nothing else changes. */
  private renderTimes(): void {
    for (const [id, row] of this.rows) {
      const thread = this.store.state.threads.get(id)
      if (thread) this.renderTime(row, activityTime(thread))
    }
  }

  private createRow(id: string, archived: boolean): Row {
    const open = h('button', { type: 'button', class: 'thread-open' })
    const badge = h('span', { class: 'status-badge' })
    const time = h('time', { class: 'thread-time' })
    const actions = h('div', { class: 'thread-actions' })
    const li = h(
      'li',
      { 'data-thread-id': id, class: 'thread-row' },
      open,
      h('div', { class: 'thread-meta' }, badge, time),
      actions,
    )
    const row: Row = { li, open, time, badge, rename: null, archived }
    if (archived) {
      // An archived thread opens to be read (view/archivedNotice.ts); Unarchive brings it back.
      open.addEventListener('click', () => {
        void this.session.openArchivedThread(id)
        this.root.dispatchEvent(new CustomEvent('thread-opened', { bubbles: true }))
      })
      const unarchive = h('button', { type: 'button', class: 'unarchive' }, 'Unarchive')
      unarchive.addEventListener('click', () => {
        unarchive.disabled = true
        void this.session.unarchiveOpenThread(id).then((ok) => (unarchive.disabled = ok))
      })
      actions.append(unarchive)
    } else {
      open.addEventListener('click', () => {
        void this.session.openThread(id)
        this.root.dispatchEvent(new CustomEvent('thread-opened', { bubbles: true }))
      })
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
      rename.addEventListener('click', () => this.startRename(id, row))
      archive.addEventListener('click', () => void this.archive(id))
      actions.append(rename, archive)
    }
    this.rows.set(id, row)
    return row
  }

  private async archive(id: string): Promise<void> {
    const title = threadTitle(this.store.state.threads.get(id))
    if (await this.session.archive(id)) this.offerUndo(id, title)
  }

  /** The toast after an archive: its Undo unarchives the thread. */
  private offerUndo(id: string, title: string): void {
    clearTimeout(this.toastTimer)
    const undo = h('button', { type: 'button', class: 'toast-action' }, 'Undo')
    const close = () => {
      clearTimeout(this.toastTimer)
      this.toast.hidden = true
      replaceChildren(this.toast)
    }
    undo.addEventListener('click', () => {
      undo.disabled = true
      void this.session.unarchive(id).then(close)
    })
    replaceChildren(this.toast, h('span', { class: 'toast-text' }, `Archived “${title}”.`), undo)
    this.toast.hidden = false
    this.toastTimer = setTimeout(close, UNDO_MS)
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
