/**
 * Config diagnostics (docs/renderer.md): each `configWarning` with its summary, the compiler-style
 * details, and `path:line:column`, which opens the file in the app (through the bridge) and is
 * copied to the clipboard in a browser.
 */
import type { DesktopBridge } from '../bridge'
import type { ConfigWarningNotification } from '../../worker/protocol/notifications'
import { h, replaceChildren } from './dom'

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

function diagnostic(warning: ConfigWarningNotification, bridge: DesktopBridge | undefined): HTMLElement {
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
    h('p', { class: 'summary' }, warning.summary),
    warning.details ? h('pre', { class: 'details' }, warning.details) : null,
    location ? h('div', { class: 'location-line' }, location, feedback) : null,
  )
}

export class Diagnostics {
  readonly root = h('section', { 'aria-label': 'Config diagnostics', class: 'diagnostics' })

  constructor(
    private readonly warnings: () => ConfigWarningNotification[],
    private readonly bridge: DesktopBridge | undefined,
  ) {}

  /** Returns whether the section should be in the page (only while there is a warning). */
  render(): boolean {
    const warnings = this.warnings()
    const heading = h(
      'h2',
      { class: 'diagnostics-title' },
      warnings.length === 1 ? 'Config problem' : `${warnings.length} config problems`,
    )
    replaceChildren(this.root, heading, ...warnings.map((w) => diagnostic(w, this.bridge)))
    return warnings.length > 0
  }
}
