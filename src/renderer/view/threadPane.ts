/**
 * The thread view: title, turns and items, approval prompts and the composer. `renderAll` builds
 * it from the store; the other methods patch one turn, one item, or the end of one streaming item,
 * which is all a delta ever costs.
 */
import type { DesktopBridge } from '../bridge'
import type { DeskSession } from '../session'
import { badgeOf, parentThreadIdOf, threadTitle, turnStatusText } from '../state/model'
import type { DeskStore, TurnView } from '../state/store'
import { readableTurnError } from '../state/turnError'
import { renderApprovals } from './approvals'
import { Composer } from './composer'
import { ArchivedNotice } from './archivedNotice'
import { h, icon, replaceChildren } from './dom'
import { renderDiff, renderItem, type ItemContext, type RenderedItem } from './items'
import { ThreadHeader } from './threadHeader'

interface TurnElements {
  article: HTMLElement
  items: HTMLElement
  status: HTMLElement
  retry: HTMLElement
  /** A failed turn: the error's details and Retry. */
  failure: HTMLElement
  failureKey: string | null
  diff: HTMLElement
  diffText: string | null
}

/** Within this many pixels of the bottom, the view follows new output. */
const FOLLOW_SLACK_PX = 48

export class ThreadPane {
  readonly root: HTMLElement
  private readonly title = h('h2', { class: 'thread-title' })
  private readonly badge = h('span', { class: 'thread-status' })
  private readonly parent = h('div', { class: 'thread-parent' })
  private readonly body = h('div', { class: 'thread-body' })
  private readonly turnsEl = h('div', { class: 'turns' })
  private readonly placeholder = h('div', { class: 'thread-placeholder' })
  private readonly approvalsEl = h('div', { class: 'approvals' })
  private readonly composer: Composer
  private readonly turns = new Map<string, TurnElements>()
  private readonly items = new Map<string, RenderedItem>()
  private following = true
  /** Folder, model and effort of the open thread (or the folder for a new one). */
  private readonly settingsHeader: ThreadHeader
  /** Says an archived thread is read-only, with Unarchive (view/archivedNotice.ts). */
  private readonly archivedNotice: ArchivedNotice

  constructor(
    private readonly store: DeskStore,
    private readonly session: DeskSession,
    private readonly context: ItemContext,
    bridge?: DesktopBridge,
  ) {
    this.settingsHeader = new ThreadHeader(store, session, bridge)
    this.composer = new Composer(store, session, () => (this.following = true))
    this.archivedNotice = new ArchivedNotice(store, session)
    this.body.addEventListener('scroll', () => {
      this.following = this.atBottom()
    })
    this.body.append(this.placeholder, this.turnsEl)
    this.root = h(
      'section',
      { 'aria-label': 'Thread', class: 'thread' },
      h('header', { class: 'thread-head' }, this.parent, this.title, this.badge),
      this.settingsHeader.root,
      this.archivedNotice.root,
      this.body,
      this.approvalsEl,
      this.composer.root,
    )
  }

  private atBottom(): boolean {
    return this.body.scrollHeight - this.body.scrollTop - this.body.clientHeight < FOLLOW_SLACK_PX
  }

  /** Call after a batch of patches: keeps the newest output in view if the user was there. */
  follow(): void {
    if (this.following) this.body.scrollTop = this.body.scrollHeight
  }

  focusComposer(): void {
    this.composer.focus()
  }

  /** The composer (view/composer.ts): its buttons, draft and queued messages. */
  renderComposer(): void {
    this.composer.render()
  }

  renderMeta(): void {
    this.settingsHeader.render()
    this.archivedNotice.render(this.root)
    const state = this.store.state
    const view = state.view
    if (!view) {
      this.title.textContent = 'New thread'
      this.badge.hidden = true
      replaceChildren(this.parent)
      return
    }
    const thread = this.store.thread(view.threadId)
    this.title.textContent = threadTitle(thread)
    const badge = badgeOf(this.store.statusOf(view.threadId))
    this.badge.hidden = false
    this.badge.dataset.status = badge.status
    this.badge.textContent = badge.label
    const parentId = thread ? parentThreadIdOf(thread) : null
    if (parentId) {
      const link = this.context.threadLink(
        parentId,
        this.context.titleOf(parentId) ?? 'Parent thread',
        'parent-link',
      )
      link.prepend(icon('up'))
      link.title = 'Open the parent thread'
      replaceChildren(this.parent, link)
    } else {
      replaceChildren(this.parent)
    }
  }

  renderAll(): void {
    this.turns.clear()
    this.items.clear()
    this.turnsEl.textContent = ''
    this.renderMeta()
    this.renderPlaceholder()
    for (const turn of this.store.state.view?.turns ?? []) this.renderTurn(turn.id)
    this.renderApprovals()
    this.renderComposer()
    this.following = true
  }

  private renderPlaceholder(): void {
    const view = this.store.state.view
    let content: HTMLElement | null = null
    if (!view) {
      content = h('p', null, 'Type a message to start a new thread, or pick one on the left.')
    } else if (view.phase === 'loading') {
      content = h('p', { class: 'loading' }, 'Loading the thread…')
    } else if (view.phase === 'error') {
      const threadId = view.threadId
      content = h(
        'div',
        { class: 'thread-error', role: 'alert' },
        h('p', null, view.error ?? 'Could not open the thread.'),
        h('button', { type: 'button', onclick: () => void this.session.openThread(threadId) }, 'Try again'),
      )
    } else if (view.turns.length === 0) {
      content = h('p', null, 'No turns yet. Send a message to start one.')
    }
    this.placeholder.hidden = content === null
    replaceChildren(this.placeholder, content)
  }

  private turnView(turnId: string): TurnView | undefined {
    return this.store.state.view?.turnById.get(turnId)
  }

  /** Creates the turn's article if needed and updates its status line, error and diff. */
  renderTurn(turnId: string): void {
    const turn = this.turnView(turnId)
    if (!turn) return
    let elements = this.turns.get(turnId)
    if (!elements) {
      elements = {
        article: h('article', { class: 'turn', 'data-turn-id': turnId }),
        items: h('div', { class: 'turn-items' }),
        status: h('p', { class: 'turn-status' }),
        retry: h('p', { class: 'turn-retry', hidden: true }),
        failure: h('div', { class: 'turn-failure', hidden: true }),
        failureKey: null,
        diff: h('details', { class: 'turn-diff', hidden: true }),
        diffText: null,
      }
      elements.article.append(
        elements.items,
        elements.retry,
        elements.status,
        elements.failure,
        elements.diff,
      )
      this.turnsEl.appendChild(elements.article)
      this.turns.set(turnId, elements)
      for (const item of turn.items) this.renderItem(turnId, item.id)
      if (this.turns.size === 1) this.renderPlaceholder()
    }
    elements.article.dataset.status = turn.status
    this.settingsHeader.render()
    const readable = turn.status === 'failed' ? readableTurnError(turn.error) : null
    elements.status.textContent = turnStatusText(turn.status, readable?.summary)
    this.renderFailure(turnId, elements, readable?.details ?? null, readable !== null)
    elements.retry.hidden = !turn.retrying
    elements.retry.textContent = turn.retrying ? `retrying: ${turn.retrying}` : ''
    if (turn.diff !== elements.diffText) {
      elements.diffText = turn.diff
      elements.diff.hidden = !turn.diff
      replaceChildren(
        elements.diff,
        h('summary', null, 'Turn diff'),
        turn.diff ? renderDiff(turn.diff) : null,
      )
    }
  }

  /** Under a failed turn: its details (folded) and Retry, which sends its message again as a new turn. */
  private renderFailure(
    turnId: string,
    elements: TurnElements,
    details: string | null,
    failed: boolean,
  ): void {
    const key = failed ? `failed:${details ?? ''}` : null
    if (key === elements.failureKey) return
    elements.failureKey = key
    elements.failure.hidden = !failed
    if (!failed) return replaceChildren(elements.failure)
    const retry = h('button', { type: 'button', class: 'retry-turn' }, 'Retry')
    retry.title = 'Send the same message again as a new turn'
    retry.addEventListener('click', () => {
      retry.disabled = true
      void this.session.retryTurn(turnId).finally(() => (retry.disabled = false))
    })
    replaceChildren(
      elements.failure,
      retry,
      details
        ? h(
            'details',
            { class: 'turn-error-details' },
            h('summary', null, 'Details'),
            h('pre', null, details),
          )
        : null,
    )
  }

  /** Creates or replaces one item's element, in the turn's order. */
  renderItem(turnId: string, itemId: string): void {
    const turn = this.turnView(turnId)
    const item = turn?.itemById.get(itemId)
    if (!turn || !item) {
      // An item the view no longer has (a retried stream's unfinished answer): its element goes.
      this.items.get(itemId)?.element.remove()
      this.items.delete(itemId)
      return
    }
    const elements = this.turns.get(turnId)
    if (!elements) return this.renderTurn(turnId)
    const rendered = renderItem(item, this.context)
    this.markAwaiting(rendered, this.awaitingItems().has(itemId))
    const previous = this.items.get(itemId)
    this.items.set(itemId, rendered)
    if (previous) {
      previous.element.replaceWith(rendered.element)
      return
    }
    // Before the first later item already on screen (items only ever arrive at the end, but a
    // batch may hold several).
    const index = turn.items.indexOf(item)
    for (let i = index + 1; i < turn.items.length; i++) {
      const next = this.items.get(turn.items[i]?.id ?? '')
      if (next?.element.parentNode === elements.items) {
        elements.items.insertBefore(rendered.element, next.element)
        return
      }
    }
    elements.items.appendChild(rendered.element)
  }

  /** The item's streaming text grew: append the new end to its Text node. */
  appendItem(turnId: string, itemId: string): void {
    const rendered = this.items.get(itemId)
    const item = this.turnView(turnId)?.itemById.get(itemId)
    if (!rendered?.stream || !item) return this.renderItem(turnId, itemId)
    const text =
      item.type === 'agentMessage'
        ? item.text
        : item.type === 'commandExecution'
          ? (item.aggregatedOutput ?? '')
          : item.type === 'reasoning'
            ? item.summary.join('\n\n')
            : null
    if (text === null || text.length < rendered.streamLength) return this.renderItem(turnId, itemId)
    if (text.length > rendered.streamLength) {
      rendered.stream.appendData(text.slice(rendered.streamLength))
      rendered.streamLength = text.length
    }
  }

  renderApprovals(): void {
    renderApprovals(this.approvalsEl, this.store, this.session)
    const awaiting = this.awaitingItems()
    for (const [itemId, rendered] of this.items) this.markAwaiting(rendered, awaiting.has(itemId))
  }

  /** Items a prompt is open for: they read "waiting for approval", not "running". */
  private awaitingItems(): Set<string> {
    const ids = new Set<string>()
    for (const approval of this.store.state.approvals.values()) ids.add(approval.itemId)
    return ids
  }

  private markAwaiting(rendered: RenderedItem, awaiting: boolean): void {
    rendered.element.toggleAttribute('data-awaiting-approval', awaiting)
  }
}
