/**
 * Approval prompts (docs/renderer.md, Approval prompts): one alertdialog per pending request of the
 * open thread, above the composer, and a line for each prompt waiting in another thread. The
 * buttons stay in view (sticky) however long the command is; a file change prompt lists the files
 * with their line counts and points at the item, which shows the diff (once, in the thread).
 *
 * Keys answer the first prompt of the open thread: Y accept, A accept for session, N decline, when
 * no text field has the focus, and with Alt from anywhere. Prompts are never focused on arrival,
 * so an Enter (or a letter) meant for the composer can never answer one.
 */
import type { Decision, DeskSession } from '../session'
import { threadTitle } from '../state/model'
import type { Approval, DeskStore } from '../state/store'
import { h, replaceChildren } from './dom'
import '../styles/attention.css'

/** The buttons in order, with the key that presses each (shown on it). */
export const APPROVAL_KEYS: readonly { decision: Decision; text: string; key: string }[] = [
  { decision: 'accept', text: 'Accept', key: 'Y' },
  { decision: 'acceptForSession', text: 'Accept for session', key: 'A' },
  { decision: 'decline', text: 'Decline', key: 'N' },
]

type FileChanges = Extract<
  NonNullable<ReturnType<DeskStore['item']>>['item'],
  { type: 'fileChange' }
>['changes']

/** Lines added and removed by one change, as its diff counts them. */
export function lineCounts(change: FileChanges[number]): { added: number; removed: number } {
  const lines = change.diff.split('\n').filter((line, i, all) => line !== '' || i < all.length - 1)
  if (change.kind.type === 'add') return { added: lines.length, removed: 0 }
  if (change.kind.type === 'delete') return { added: 0, removed: lines.length }
  let added = 0
  let removed = 0
  for (const line of lines) {
    if (line.startsWith('+') && !line.startsWith('+++')) added++
    else if (line.startsWith('-') && !line.startsWith('---')) removed++
  }
  return { added, removed }
}

function fileSummary(changes: FileChanges): HTMLElement {
  return h(
    'ul',
    { class: 'approval-files' },
    ...changes.map((change) => {
      const { added, removed } = lineCounts(change)
      const move = change.kind.type === 'update' ? change.kind.move_path : null
      return h(
        'li',
        { class: 'approval-file', 'data-kind': change.kind.type },
        h('span', { class: 'path' }, change.path),
        move ? h('span', { class: 'move-path' }, ` → ${move}`) : null,
        h('span', { class: 'count add' }, ` +${added}`),
        h('span', { class: 'count del' }, ` −${removed}`),
      )
    }),
  )
}

/** Brings the item (and its diff) into view in the thread. */
function showItem(itemId: string): void {
  const item = document.querySelector(`[data-item-id="${CSS.escape(itemId)}"]`)
  item?.scrollIntoView({ block: 'start', behavior: 'smooth' })
}

function prompt(approval: Approval, store: DeskStore, session: DeskSession, keyed: boolean): HTMLElement {
  const actions = h('div', { class: 'approval-actions' })
  for (const { decision, text, key } of APPROVAL_KEYS) {
    actions.appendChild(
      h(
        'button',
        {
          type: 'button',
          class: decision === 'decline' ? 'danger' : decision === 'accept' ? 'primary' : null,
          disabled: approval.stale,
          'aria-keyshortcuts': keyed ? `${key} Alt+${key}` : null,
          onclick: () => session.answerApproval(approval.key, decision),
        },
        text,
        keyed ? h('kbd', { 'aria-hidden': 'true' }, key) : null,
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
    const changes = found?.item.type === 'fileChange' ? found.item.changes : []
    const cwd = approval.grantRoot ?? store.thread(approval.threadId)?.cwd ?? ''
    body = [
      h(
        'div',
        { class: 'approval-head' },
        h('p', { class: 'approval-title' }, 'Apply these file changes?'),
        found
          ? h(
              'button',
              { type: 'button', class: 'link', onclick: () => showItem(approval.itemId) },
              'Show the changes',
            )
          : null,
      ),
      changes.length
        ? fileSummary(changes)
        : h('p', { class: 'approval-note' }, 'The changes are not available yet.'),
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
      'data-keyed': keyed || null,
      class: 'approval',
    },
    ...body,
    h('p', { class: 'reason' }, approval.reason ?? ''),
    approval.stale ? h('p', { class: 'approval-note' }, 'Reconnecting; answer once it is back.') : null,
    actions,
  )
}

/** The prompt the keys answer: the open thread's first, unless it cannot be answered now. */
export function keyedApproval(store: DeskStore): Approval | undefined {
  const open = store.state.openThreadId
  if (!open) return undefined
  return store.approvalsFor(open)[0]
}

function isTextField(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false
  return target.isContentEditable || target.matches('textarea, input, select')
}

/** The decision a key press means, if it answers a prompt at all. */
export function decisionForKey(
  event: Pick<KeyboardEvent, 'key' | 'code' | 'altKey' | 'ctrlKey' | 'metaKey' | 'shiftKey' | 'repeat'>,
  inTextField: boolean,
): Decision | null {
  if (event.ctrlKey || event.metaKey || event.shiftKey || event.repeat) return null
  if (inTextField && !event.altKey) return null
  // With Alt, macOS types another character: the physical key counts.
  const letter = event.altKey ? event.code.replace(/^Key/, '') : event.key.toUpperCase()
  return APPROVAL_KEYS.find((k) => k.key === letter)?.decision ?? null
}

const installed = new WeakSet<Document>()

function installKeys(store: DeskStore, session: DeskSession): void {
  if (installed.has(document)) return
  installed.add(document)
  document.addEventListener('keydown', (event) => {
    if (event.defaultPrevented) return
    const decision = decisionForKey(event, isTextField(event.target))
    if (!decision) return
    const approval = keyedApproval(store)
    if (!approval || approval.stale) return
    event.preventDefault()
    session.answerApproval(approval.key, decision)
  })
}

export function renderApprovals(container: HTMLElement, store: DeskStore, session: DeskSession): void {
  installKeys(store, session)
  const open = store.state.openThreadId
  const keyed = keyedApproval(store)
  const here: HTMLElement[] = []
  const elsewhere = new Map<string, number>()
  for (const approval of store.state.approvals.values()) {
    if (approval.threadId === open) here.push(prompt(approval, store, session, approval === keyed))
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
