/**
 * The Settings dialog (app only, docs/renderer.md): the websocket listener (enable, port, allowed
 * origins), its URL or error, the capability token (copy, regenerate), the editor command and the
 * ChatGPT sign-in's OAuth client id, all through `bridge.settings`. A refused update names its field; the message shows beside it.
 */
import type { DesktopBridge, SettingsPatchView, SettingsView } from '../bridge'
import { h, icon, replaceChildren } from './dom'

type Field = 'enabled' | 'port' | 'origins' | 'editor' | 'clientId'

function fieldOf(path: string): Field | null {
  if (path.startsWith('webSocketListener.enabled')) return 'enabled'
  if (path.startsWith('webSocketListener.port')) return 'port'
  if (path.startsWith('webSocketListener.allowedOrigins')) return 'origins'
  if (path.startsWith('editorCommand')) return 'editor'
  if (path.startsWith('oauthClientId')) return 'clientId'
  return null
}

let ids = 0
function labelled<T extends HTMLElement>(
  text: string,
  control: T,
  help?: string,
): { row: HTMLElement; error: HTMLElement } {
  const id = `setting-${++ids}`
  control.id = id
  const error = h('p', { class: 'field-error', id: `${id}-error`, hidden: true })
  control.setAttribute('aria-describedby', `${id}-error`)
  const row = h(
    'div',
    { class: 'field' },
    h('label', { for: id }, text),
    control,
    help ? h('p', { class: 'field-help' }, help) : null,
    error,
  )
  return { row, error }
}

export class SettingsDialog {
  readonly root: HTMLElement
  private readonly enabled = h('input', { type: 'checkbox' })
  private readonly port = h('input', { type: 'number', min: 0, max: 65535, inputmode: 'numeric' })
  private readonly origins = h('textarea', { rows: 3, spellcheck: 'false' })
  private readonly editor = h('input', { type: 'text', spellcheck: 'false' })
  private readonly clientId = h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off' })
  private readonly token = h('input', { type: 'text', readonly: true, spellcheck: 'false' })
  private readonly listenerState = h('p', { class: 'listener-state' })
  private readonly tokenFeedback = h('span', { class: 'token-feedback', 'aria-live': 'polite' })
  private readonly status = h('p', { class: 'settings-status', 'aria-live': 'polite' })
  private readonly errors: Record<Field, HTMLElement>
  private readonly save = h('button', { type: 'submit', class: 'primary' }, 'Save')
  private settings: SettingsView | null = null
  private returnFocus: HTMLElement | null = null
  private unsubscribe: (() => void) | null = null

  constructor(private readonly bridge: DesktopBridge) {
    const enabledRow = h(
      'div',
      { class: 'field checkbox' },
      h('label', null, this.enabled, ' Enable websocket listener'),
    )
    const enabledError = h('p', { class: 'field-error', hidden: true })
    enabledRow.appendChild(enabledError)
    const port = labelled('Port', this.port, '0 picks a free port at every start.')
    const origins = labelled(
      'Allowed origins',
      this.origins,
      'One origin per line, e.g. http://localhost:5173.',
    )
    const token = labelled('Capability token', this.token, 'External tools present it as a bearer token.')
    const editor = labelled(
      'Editor command',
      this.editor,
      'Opens a config file at a line, e.g. code --goto {path}:{line}:{column}. Empty: the default app.',
    )
    const clientId = labelled(
      'OAuth client id',
      this.clientId,
      'The client id the ChatGPT sign-in presents to the issuer; sign-in needs one.',
    )
    this.errors = {
      enabled: enabledError,
      port: port.error,
      origins: origins.error,
      editor: editor.error,
      clientId: clientId.error,
    }
    const copy = h('button', { type: 'button', onclick: () => void this.copyToken() }, 'Copy token')
    const regenerate = h(
      'button',
      { type: 'button', onclick: () => void this.regenerate() },
      'Regenerate token',
    )
    token.row.insertBefore(
      h('div', { class: 'token-actions' }, copy, regenerate, this.tokenFeedback),
      token.error,
    )
    const close = h(
      'button',
      { type: 'button', class: 'icon-button', 'aria-label': 'Close settings', onclick: () => this.close() },
      icon('close'),
    )
    const form = h(
      'form',
      { class: 'settings-form' },
      h(
        'fieldset',
        null,
        h('legend', null, 'Websocket listener'),
        enabledRow,
        port.row,
        origins.row,
        this.listenerState,
        token.row,
      ),
      h('fieldset', null, h('legend', null, 'Editor'), editor.row),
      h('fieldset', null, h('legend', null, 'Account'), clientId.row),
      h(
        'div',
        { class: 'dialog-actions' },
        this.status,
        h('button', { type: 'button', onclick: () => this.close() }, 'Close'),
        this.save,
      ),
    )
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      void this.submit()
    })
    const panel = h(
      'div',
      {
        role: 'dialog',
        'aria-label': 'Settings',
        'aria-modal': 'true',
        class: 'dialog',
      },
      h('header', { class: 'dialog-head' }, h('h2', null, 'Settings'), close),
      form,
    )
    panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault()
        this.close()
      }
    })
    this.root = h('div', { class: 'dialog-backdrop', hidden: true }, panel)
    this.root.addEventListener('mousedown', (event) => {
      if (event.target === this.root) this.close()
    })
  }

  get isOpen(): boolean {
    return !this.root.hidden
  }

  async open(): Promise<void> {
    this.returnFocus = document.activeElement as HTMLElement | null
    this.root.hidden = false
    this.clearErrors()
    this.status.textContent = 'Loading…'
    this.unsubscribe ??= this.bridge.settings.onDidChange((settings) => this.showListener(settings))
    try {
      this.fill(await this.bridge.settings.get())
      this.status.textContent = ''
    } catch (error) {
      this.status.textContent = `Could not read the settings: ${(error as Error).message}`
    }
    this.enabled.focus()
  }

  close(): void {
    if (this.root.hidden) return
    this.root.hidden = true
    this.unsubscribe?.()
    this.unsubscribe = null
    this.returnFocus?.focus()
  }

  private fill(settings: SettingsView): void {
    this.settings = settings
    this.enabled.checked = settings.webSocketListener.enabled
    this.port.value = String(settings.webSocketListener.port)
    this.origins.value = settings.webSocketListener.allowedOrigins.join('\n')
    this.editor.value = settings.editorCommand
    this.clientId.value = settings.oauthClientId
    this.token.value = settings.capabilityToken
    this.showListener(settings)
  }

  /** The listener's live state (it restarts after a change, so this updates on its own). */
  private showListener(settings: SettingsView): void {
    this.settings = settings
    this.token.value = settings.capabilityToken
    const listener = settings.webSocketListener
    this.listenerState.classList.toggle('error', Boolean(listener.error))
    if (listener.error) {
      replaceChildren(this.listenerState, `Not listening: ${listener.error}`)
    } else if (listener.url) {
      replaceChildren(this.listenerState, 'Listening on ', h('code', { class: 'listener-url' }, listener.url))
    } else {
      replaceChildren(this.listenerState, listener.enabled ? 'Starting…' : 'Off')
    }
  }

  private clearErrors(): void {
    for (const error of Object.values(this.errors)) {
      error.hidden = true
      error.textContent = ''
    }
  }

  private patch(): SettingsPatchView | string {
    const port = Number(this.port.value)
    if (this.port.value.trim() === '' || !Number.isInteger(port)) return 'port'
    return {
      webSocketListener: {
        enabled: this.enabled.checked,
        port,
        allowedOrigins: this.origins.value
          .split(/[\n,]/)
          .map((origin) => origin.trim())
          .filter(Boolean),
      },
      editorCommand: this.editor.value.trim(),
      oauthClientId: this.clientId.value.trim(),
    }
  }

  private async submit(): Promise<void> {
    this.clearErrors()
    const patch = this.patch()
    if (typeof patch === 'string') {
      this.errors.port.textContent = 'must be a whole number from 0 to 65535'
      this.errors.port.hidden = false
      this.port.focus()
      return
    }
    this.save.disabled = true
    this.status.textContent = 'Saving…'
    try {
      const result = await this.bridge.settings.update(patch)
      if (result.ok) {
        this.fill(result.settings)
        this.status.textContent = 'Saved'
      } else {
        const field = fieldOf(result.field)
        this.status.textContent = ''
        if (field) {
          this.errors[field].textContent = result.message
          this.errors[field].hidden = false
        } else {
          this.status.textContent = result.message
        }
      }
    } catch (error) {
      this.status.textContent = `Could not save: ${(error as Error).message}`
    } finally {
      this.save.disabled = false
    }
  }

  private async copyToken(): Promise<void> {
    if (!this.settings) return
    try {
      await this.bridge.copyText(this.settings.capabilityToken)
      this.tokenFeedback.textContent = 'Copied'
    } catch (error) {
      this.tokenFeedback.textContent = `Could not copy: ${(error as Error).message}`
    }
  }

  private async regenerate(): Promise<void> {
    try {
      this.showListener(await this.bridge.settings.regenerateToken())
      this.tokenFeedback.textContent = 'New token; external tools need it now'
    } catch (error) {
      this.tokenFeedback.textContent = `Could not regenerate: ${(error as Error).message}`
    }
  }
}
