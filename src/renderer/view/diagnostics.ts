/**
 * Config diagnostics (docs/renderer.md): the current config problems, newest first, each with its
 * summary, the compiler-style details, `path:line:column` (opens the file in the app through the
 * bridge, copied to the clipboard in a browser) and a Dismiss button; and, apart from them, the
 * machine notices (no sandbox here) as compact one-line notices. It shows the store's set as is and
 * never keeps an entry of its own.
 */
import type { DesktopBridge } from '../bridge'
import type { ConfigWarningNotification } from '../../worker/protocol/notifications'
import { visibleDiagnostics, type DiagnosticEntry } from '../state/diagnosticsSet'
import type { DeskStore } from '../state/store'
import { h, replaceChildren } from './dom'
import '../styles/attention.css'

export function locationText(warning: ConfigWarningNotification): string | null {
  if (!warning.path) return null
  const start = warning.range?.start
  return start ? `${warning.path}:${start.line}:${start.column}` : warning.path
}

/** Copies text with the async clipboard API, falling back to a hidden textarea and execCommand. */
export async function copyToClipboard(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text)
    return
  } catch {
    // Not a secure context, or permission refused: the old way still works on user gestures.
  }
  const area = h('textarea', { class: 'clipboard-fallback', readonly: true })
  area.value = text
  document.body.appendChild(area)
  area.select()
  const ok = document.execCommand('copy')
  area.remove()
  if (!ok) throw new Error('the browser refused to copy')
}

function dismissButton(label: string, onclick: () => void): HTMLElement {
  return h('button', { type: 'button', class: 'dismiss', title: label, 'aria-label': label, onclick }, '×')
}

function diagnostic(
  warning: ConfigWarningNotification,
  bridge: DesktopBridge | undefined,
  dismiss: HTMLElement,
): HTMLElement {
  const where = locationText(warning)
  const feedback = h('span', { class: 'location-feedback', 'aria-live': 'polite' })
  let location: HTMLElement | null = null
  if (where && warning.path) {
    const place = {
      path: warning.path,
      line: warning.range?.start.line ?? 1,
      column: warning.range?.start.column ?? 1,
    }
    if (bridge) {
      location = h('a', { class: 'location', href: '#', title: 'Open in the editor' }, where)
      location.addEventListener('click', (event) => {
        event.preventDefault()
        feedback.textContent = ''
        feedback.classList.remove('error')
        bridge.openFile(place).then(
          (result) => {
            if (!result.ok) {
              feedback.textContent = `Could not open the file: ${result.message}`
              feedback.classList.add('error')
            }
          },
          (error: unknown) => {
            feedback.textContent = `Could not open the file: ${(error as Error).message}`
            feedback.classList.add('error')
          },
        )
      })
    } else {
      location = h('button', { type: 'button', class: 'location', title: 'Copy path:line:column' }, where)
      location.addEventListener('click', () => {
        copyToClipboard(where).then(
          () => {
            feedback.classList.remove('error')
            feedback.textContent = 'Copied'
            setTimeout(() => {
              if (feedback.textContent === 'Copied') feedback.textContent = ''
            }, 2000)
          },
          (error: unknown) => {
            feedback.classList.add('error')
            feedback.textContent = `Could not copy: ${(error as Error).message}`
          },
        )
      })
    }
  }
  return h(
    'div',
    { class: 'diagnostic' },
    h('div', { class: 'diagnostic-head' }, h('p', { class: 'summary' }, warning.summary), dismiss),
    warning.details ? h('pre', { class: 'details' }, warning.details) : null,
    location ? h('div', { class: 'location-line' }, location, feedback) : null,
  )
}

function machineNotice(entry: DiagnosticEntry, dismiss: HTMLElement): HTMLElement {
  const { summary, details } = entry.warning
  return h(
    'div',
    { class: 'machine-notice', role: 'note' },
    details
      ? h(
          'details',
          {},
          h('summary', { class: 'summary' }, summary),
          h('p', { class: 'notice-details' }, details),
        )
      : h('p', { class: 'summary' }, summary),
    dismiss,
  )
}

export class Diagnostics {
  /** Holds the machine notices and the config problems: two regions, shown when they have entries. */
  readonly root = h('div', { class: 'diagnostics-area' })
  private readonly problems = h('section', { 'aria-label': 'Config diagnostics', class: 'diagnostics' })
  private readonly notices = h('section', { 'aria-label': 'Machine notices', class: 'machine-notices' })

  constructor(
    private readonly store: DeskStore,
    private readonly bridge: DesktopBridge | undefined,
  ) {}

  /** Returns whether the area should be in the page (only while something is to be shown). */
  render(): boolean {
    const set = this.store.state.diagnostics
    const problems = visibleDiagnostics(set, 'problem')
    const notices = visibleDiagnostics(set, 'notice')
    const dismiss = (entry: DiagnosticEntry, what: string) =>
      dismissButton(`Dismiss this ${what}`, () => this.store.dismissDiagnostic(entry.key))
    const heading = h(
      'h2',
      { class: 'diagnostics-title' },
      problems.length === 1 ? 'Config problem' : `${problems.length} config problems`,
    )
    replaceChildren(
      this.problems,
      heading,
      ...problems.map((e) => diagnostic(e.warning, this.bridge, dismiss(e, 'problem'))),
    )
    replaceChildren(this.notices, ...notices.map((e) => machineNotice(e, dismiss(e, 'notice'))))
    replaceChildren(
      this.root,
      notices.length > 0 ? this.notices : null,
      problems.length > 0 ? this.problems : null,
    )
    return problems.length > 0 || notices.length > 0
  }
}
