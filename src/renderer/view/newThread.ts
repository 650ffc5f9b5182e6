/**
 * The working-folder form: a path field, the recent folders as one-click choices, and, in the app,
 * a Browse button that opens the native folder dialog (bridge.chooseFolder). It asks for a folder
 * and hands it to `submit`, which starts a thread there or moves the open thread to it; a refusal
 * (a folder that does not exist) is shown under the field in the core's words.
 *
 * It must never show a protocol method name, and never lose what the user typed on a re-render.
 */
import type { DesktopBridge } from '../bridge'
import type { ThreadSettingsState } from '../state/threadSettings'
import { h, replaceChildren } from './dom'
import '../styles/thread-settings.css'

export interface FolderFormOptions {
  settings: ThreadSettingsState
  bridge: DesktopBridge | undefined
  /** Starts or moves the thread; resolves with null, or why it could not. */
  submit: (folder: string) => Promise<string | null>
  cancel?: () => void
}

/** The core's "the folder X does not exist" as a sentence for the user. */
export function folderProblem(message: string): string {
  const text = message.replace(/^Could not start a thread: /, '')
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.')
}

export class FolderForm {
  readonly root: HTMLFormElement
  readonly input = h('input', {
    type: 'text',
    'aria-label': 'Working folder',
    placeholder: '/path/to/your/project',
    spellcheck: 'false',
    autocomplete: 'off',
  })
  private readonly error = h('p', { class: 'folder-error', role: 'alert', hidden: true })
  private readonly recent = h('ul', { class: 'recent-folders', 'aria-label': 'Recent folders' })
  private readonly submitButton: HTMLButtonElement
  private busy = false

  constructor(
    private readonly options: FolderFormOptions,
    labels: { title: string; submit: string },
  ) {
    this.submitButton = h('button', { type: 'submit', class: 'primary' }, labels.submit)
    const browse = options.bridge
      ? h('button', { type: 'button', onclick: () => void this.browse() }, 'Browse…')
      : null
    const cancel = options.cancel
      ? h('button', { type: 'button', onclick: () => options.cancel?.() }, 'Cancel')
      : null
    this.root = h(
      'form',
      { class: 'folder-form', 'aria-label': labels.title },
      h('label', { class: 'folder-label' }, labels.title),
      h('div', { class: 'folder-row' }, this.input, browse, this.submitButton, cancel),
      this.error,
      this.recent,
    )
    this.root.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.apply(this.input.value)
    })
    this.input.addEventListener('input', () => this.showError(null))
  }

  /** Sets the field (when the user is not typing in it) and lists the recent folders. */
  render(current: string | null): void {
    if (document.activeElement !== this.input && current !== null) this.input.value = current
    const folders = this.options.settings.recentFolders
    this.recent.hidden = folders.length === 0
    replaceChildren(
      this.recent,
      folders.length ? h('li', { class: 'recent-title' }, 'Recent:') : null,
      ...folders.map((folder) =>
        h(
          'li',
          null,
          h(
            'button',
            { type: 'button', class: 'recent-folder', title: folder, onclick: () => void this.apply(folder) },
            folder,
          ),
        ),
      ),
    )
  }

  focus(): void {
    this.input.focus()
    this.input.select()
  }

  private showError(message: string | null): void {
    this.error.hidden = message === null
    this.error.textContent = message ?? ''
  }

  private async apply(value: string): Promise<void> {
    const folder = value.trim()
    if (this.busy) return
    if (!folder) return this.showError('Type the folder the thread works in.')
    this.input.value = folder
    this.busy = true
    this.submitButton.disabled = true
    try {
      const problem = await this.options.submit(folder)
      this.showError(problem === null ? null : folderProblem(problem))
    } finally {
      this.busy = false
      this.submitButton.disabled = false
    }
  }

  private async browse(): Promise<void> {
    const bridge = this.options.bridge
    if (!bridge) return
    const answer = await bridge
      .chooseFolder(this.input.value.trim() || null)
      .catch((error: unknown) => ({ ok: false as const, canceled: false as const, message: String(error) }))
    if (answer.ok) return this.apply(answer.path)
    if (!answer.canceled) this.showError(answer.message)
  }
}
