/**
 * The page: top bar (connection, core state, account, settings), the thread list on the left, the
 * thread view on the right. Store changes are collected and applied once per animation frame, so
 * a turn streaming thousands of deltas a second costs one append per item per frame.
 */
import type { DesktopBridge } from '../bridge'
import type { DeskSession } from '../session'
import { connectionText, threadTitle } from '../state/model'
import type { Change, DeskStore } from '../state/store'
import { AccountView } from './account'
import { startAttention } from './attention'
import { Diagnostics } from './diagnostics'
import { h, icon, replaceChildren } from './dom'
import type { ItemContext } from './items'
import { SettingsDialog } from './settings'
import { installShortcuts } from './shortcuts'
import { ThreadList } from './threadList'
import { ThreadPane } from './threadPane'

interface Pending {
  connection: boolean
  core: boolean
  list: boolean
  full: boolean
  meta: boolean
  approvals: boolean
  composer: boolean
  diagnostics: boolean
  account: boolean
  notices: boolean
  turns: Set<string>
  items: Map<string, string>
  appends: Map<string, string>
}

function nothingPending(): Pending {
  return {
    connection: false,
    core: false,
    list: false,
    full: false,
    meta: false,
    approvals: false,
    composer: false,
    diagnostics: false,
    account: false,
    notices: false,
    turns: new Set(),
    items: new Map(),
    appends: new Map(),
  }
}

export function mountApp(options: {
  root: HTMLElement
  store: DeskStore
  session: DeskSession
  bridge: DesktopBridge | undefined
}): void {
  const { root, store, session, bridge } = options
  const context: ItemContext = {
    titleOf(threadId) {
      const thread = store.thread(threadId)
      return thread ? thread.name || thread.agentNickname || threadTitle(thread) : null
    },
    threadLink(threadId, text, className) {
      const link = h(
        'a',
        { href: `#thread/${threadId}`, 'data-thread-link': threadId, class: className },
        text,
      )
      link.addEventListener('click', (event) => {
        event.preventDefault()
        void session.openThread(threadId)
      })
      return link
    },
  }

  // ── top bar ──
  const connection =
    (root.querySelector('#connection') as HTMLElement | null) ??
    h('p', { id: 'connection', role: 'status', 'aria-label': 'Connection' })
  const coreState = h('div', { id: 'core-state', class: 'core-state', 'aria-live': 'polite', hidden: true })
  const account = new AccountView(
    () => store.state.account,
    bridge,
    (message) => store.setAccountError(message),
  )
  const settings = bridge ? new SettingsDialog(bridge) : null
  const settingsButton = settings
    ? h(
        'button',
        { type: 'button', class: 'settings-button', onclick: () => void settings.open() },
        icon('gear'),
        'Settings',
      )
    : null
  let topbar = root.querySelector('header.topbar') as HTMLElement | null
  if (!topbar) {
    topbar = h('header', { class: 'topbar' }, h('h1', { class: 'brand' }, 'codex-desk'))
    root.prepend(topbar)
  }
  topbar.append(coreState, h('div', { class: 'spacer' }), account.root, settingsButton ?? '', connection)
  account.root.before(startAttention(store, session, bridge))

  // ── panes ──
  const threadList = new ThreadList(store, session)
  const pane = new ThreadPane(store, session, context, bridge)
  const diagnostics = new Diagnostics(store, bridge)
  const notices = h('div', { class: 'notices' })
  const main = h('main', { class: 'main' }, notices, pane.root)
  root.append(h('div', { class: 'panes' }, threadList.root, main))
  if (settings) root.append(settings.root)
  threadList.root.addEventListener('thread-opened', () => pane.focusComposer())
  const help = installShortcuts(document, root, {
    newThread: () => threadList.startNewThread(),
    search: () => threadList.focusSearch(),
    nextThread: () => threadList.openAdjacent(1),
    previousThread: () => threadList.openAdjacent(-1),
    focusComposer: () => pane.focusComposer(),
    interrupt: () => {
      if (!store.runningTurn()) return false
      void session.interrupt()
    },
  })
  topbar.insertBefore(
    h(
      'button',
      {
        type: 'button',
        class: 'icon-button shortcuts-button',
        'aria-label': 'Keyboard shortcuts',
        title: 'Keyboard shortcuts (?)',
        onclick: () => help.toggle(),
      },
      '?',
    ),
    connection,
  )
  // Connection problems get a banner of their own under the top bar; the bar keeps the short state.
  const connectionBanner = h('div', { class: 'connection-banner', hidden: true })
  topbar.after(connectionBanner)

  const renderConnection = () => {
    const view = store.state.connection
    connection.dataset.state = view.state
    connection.textContent = connectionText(view)
    connection.title = view.state === 'connected' ? view.userAgent : ''
    const problem = view.state === 'reconnecting' || view.state === 'offline'
    if (problem && connection.parentElement !== connectionBanner) connectionBanner.append(connection)
    else if (!problem && connection.parentElement !== topbar) topbar?.append(connection)
    connectionBanner.hidden = !problem
  }

  const renderCore = () => {
    const core = store.state.core
    if (!bridge || !core || (core.kind !== 'restarting' && core.kind !== 'failed')) {
      coreState.hidden = true
      delete coreState.dataset.coreState
      replaceChildren(coreState)
      return
    }
    coreState.hidden = false
    coreState.dataset.coreState = core.kind
    if (core.kind === 'restarting') {
      const text = `The core stopped (${core.reason}); restarting in ${Math.max(1, Math.ceil(core.delayMs / 1000))} s (attempt ${core.attempt})…`
      replaceChildren(coreState, h('span', { title: text }, text))
    } else {
      const retry = h('button', { type: 'button', class: 'primary' }, 'Retry')
      retry.addEventListener('click', () => {
        retry.disabled = true
        bridge.core
          .retry()
          .catch((error: unknown) =>
            store.addNotice(`Could not restart the core: ${(error as Error).message}`),
          )
      })
      const text = `The core failed: ${core.reason}`
      replaceChildren(coreState, h('span', { title: text }, text), retry)
    }
  }

  const renderNotices = () => {
    replaceChildren(
      notices,
      ...store.state.notices.map((notice) =>
        h(
          'div',
          { class: 'notice', role: 'alert' },
          h('span', null, notice.message),
          h(
            'button',
            {
              type: 'button',
              class: 'icon-button',
              'aria-label': 'Dismiss',
              onclick: () => store.dismissNotice(notice.id),
            },
            icon('close'),
          ),
        ),
      ),
    )
  }

  const renderDiagnostics = () => {
    if (diagnostics.render()) {
      if (!diagnostics.root.isConnected) main.prepend(diagnostics.root)
    } else diagnostics.root.remove()
  }

  // ── the frame loop ──
  let pending = nothingPending()
  let frame = 0
  let fallback: ReturnType<typeof setTimeout> | undefined
  const flush = () => {
    cancelAnimationFrame(frame)
    clearTimeout(fallback)
    frame = 0
    const p = pending
    pending = nothingPending()
    if (p.connection) renderConnection()
    if (p.core) renderCore()
    if (p.list) threadList.render()
    if (p.full) {
      pane.renderAll()
    } else {
      if (p.meta) pane.renderMeta()
      for (const turnId of p.turns) pane.renderTurn(turnId)
      for (const [itemId, turnId] of p.items) pane.renderItem(turnId, itemId)
      for (const [itemId, turnId] of p.appends) if (!p.items.has(itemId)) pane.appendItem(turnId, itemId)
      if (p.approvals) pane.renderApprovals()
      if (p.composer) pane.renderComposer()
    }
    if (p.diagnostics) renderDiagnostics()
    if (p.account) account.render()
    if (p.notices) renderNotices()
    pane.follow()
  }
  const onChange = (change: Change) => {
    const p = pending
    switch (change.kind) {
      case 'connection':
        p.connection = p.composer = p.list = true
        break
      case 'core':
        p.core = true
        break
      case 'threads':
        p.list = p.meta = true
        break
      case 'view':
        p.full = p.list = true
        break
      case 'viewMeta':
        p.meta = true
        break
      case 'turn':
        p.turns.add(change.turnId)
        p.composer = true
        break
      case 'item':
        p.items.set(change.itemId, change.turnId)
        break
      case 'append':
        p.appends.set(change.itemId, change.turnId)
        break
      case 'approvals':
        p.approvals = true
        break
      case 'diagnostics':
        p.diagnostics = true
        break
      case 'account':
        p.account = true
        break
      case 'notices':
        p.notices = true
        break
      case 'composer':
        p.composer = true
        break
    }
    if (!frame) {
      frame = requestAnimationFrame(flush)
      // A hidden tab gets no animation frames; it still catches up (timers there run slowly).
      fallback = setTimeout(flush, 250)
    }
  }
  store.subscribe(onChange)

  renderConnection()
  threadList.render()
  pane.renderAll()
  account.render()
  renderNotices()
  renderDiagnostics()
  renderCore()
}
