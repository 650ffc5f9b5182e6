/**
 * Approval prompts (docs/renderer.md, Approval prompts): one alertdialog per pending request of the
 * open thread, above the composer, and a line for each prompt waiting in another thread. Prompts
 * are never focused on arrival, so an Enter meant for the composer cannot answer one.
 */
import type { Decision, DeskSession } from '../session'
import { threadTitle } from '../state/model'
import type { Approval, DeskStore } from '../state/store'
import { h, replaceChildren } from './dom'
import { renderFileChanges } from './items'

const BUTTONS: [Decision, string][] = [
  ['accept', 'Accept'],
  ['acceptForSession', 'Accept for session'],
  ['decline', 'Decline'],
]

function prompt(approval: Approval, store: DeskStore, session: DeskSession): HTMLElement {
  const actions = h('div', { class: 'approval-actions' })
  for (const [decision, text] of BUTTONS) {
    actions.appendChild(
      h(
        'button',
        {
          type: 'button',
          class: decision === 'decline' ? 'danger' : decision === 'accept' ? 'primary' : null,
          disabled: approval.stale,
          onclick: () => session.answerApproval(approval.key, decision),
        },
        text,
      ),
    )
  }
  let body: (HTMLElement | null)[]
  if (approval.kind === 'command') {
    body = [
      h('p', { class: 'approval-title' }, 'Run this command?'),
      h('pre', { class: 'command' }, approval.command ?? ''),
      h('div', { class: 'cwd-line' }, 'in ', h('span', { class: 'cwd' }, approval.cwd ?? '')),
    ]
  } else {
    const found = store.item(approval.itemId)
    const changes = found?.item.type === 'fileChange' ? renderFileChanges(found.item.changes) : []
    const cwd = approval.grantRoot ?? store.thread(approval.threadId)?.cwd ?? ''
    body = [
      h('p', { class: 'approval-title' }, 'Apply these file changes?'),
      ...(changes.length ? changes : [h('pre', { class: 'diff' }, '(the changes are not available yet)')]),
      h(
        'div',
        { class: 'cwd-line' },
        approval.grantRoot ? 'grant write access to ' : 'in ',
        h('span', { class: 'cwd' }, cwd),
      ),
    ]
  }
  return h(
    'div',
    {
      role: 'alertdialog',
      'aria-label': approval.kind === 'command' ? 'Command approval' : 'File change approval',
      'data-request-id': String(approval.requestId),
      'data-stale': approval.stale || null,
      class: 'approval',
    },
    ...body,
    h('p', { class: 'reason' }, approval.reason ?? ''),
    approval.stale ? h('p', { class: 'approval-note' }, 'Reconnecting; answer once it is back.') : null,
    actions,
  )
}

export function renderApprovals(container: HTMLElement, store: DeskStore, session: DeskSession): void {
  const open = store.state.openThreadId
  const here: HTMLElement[] = []
  const elsewhere = new Map<string, number>()
  for (const approval of store.state.approvals.values()) {
    if (approval.threadId === open) here.push(prompt(approval, store, session))
    else elsewhere.set(approval.threadId, (elsewhere.get(approval.threadId) ?? 0) + 1)
  }
  const notes = [...elsewhere].map(([threadId, count]) =>
    h(
      'p',
      { class: 'approval-elsewhere' },
      h(
        'button',
        { type: 'button', class: 'link', onclick: () => void session.openThread(threadId) },
        threadTitle(store.thread(threadId)),
      ),
      count === 1 ? ' is waiting for your approval.' : ` is waiting for ${count} approvals.`,
    ),
  )
  replaceChildren(container, ...notes, ...here)
  container.hidden = here.length === 0 && notes.length === 0
}
