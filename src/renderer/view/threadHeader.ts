/**
 * The thread's settings row under its title: the working folder, the model and the reasoning
 * effort its next turns run with, each changeable (the model picker lists the catalog, the effort
 * picker what the chosen model supports). With no thread open, or a thread with no turns yet, it
 * asks for the working folder (newThread.ts). When the last turn failed because the model cannot
 * run (not signed in, no key, an unknown provider), it says what to do next to the error.
 *
 * It must never show a protocol method name, and never re-render a control the user is using.
 */
import type { DesktopBridge } from '../bridge'
import type { DeskSession } from '../session'
import type { DeskStore } from '../state/store'
import type { ThreadRunSettings } from '../state/threadSettings'
import { h, replaceChildren } from './dom'
import { FolderForm } from './newThread'

/** A turn error that means the thread's model cannot run at all (a fix is needed, not a retry). */
const CANNOT_RUN =
  /not signed in|sign in|api key|environment variable|provider `[^`]*` not found|no base_url/i

export class ThreadHeader {
  readonly root = h('div', { class: 'thread-settings', role: 'group', 'aria-label': 'Thread settings' })
  private readonly summary = h('div', { class: 'settings-summary' })
  private readonly folder = h('code', { class: 'setting-folder', 'aria-label': 'Folder' })
  private readonly model = h('select', { 'aria-label': 'Model' })
  private readonly effort = h('select', { 'aria-label': 'Reasoning effort' })
  private readonly status = h('span', { class: 'settings-status', role: 'status' })
  private readonly hint = h('div', { class: 'cannot-run', role: 'note', hidden: true })
  private readonly newForm: FolderForm
  private readonly moveForm: FolderForm
  private editingFolder = false
  private modelKey = ''
  private effortKey = ''
  private shownThread: string | null | undefined = undefined

  constructor(
    private readonly store: DeskStore,
    private readonly session: DeskSession,
    private readonly bridge: DesktopBridge | undefined,
  ) {
    const settings = session.threadSettings
    this.newForm = new FolderForm(
      { settings, bridge, submit: (folder) => this.startIn(folder) },
      { title: 'Working folder for a new thread', submit: 'Start thread' },
    )
    this.moveForm = new FolderForm(
      {
        settings,
        bridge,
        submit: (folder) => this.moveTo(folder),
        cancel: () => {
          this.editingFolder = false
          this.render()
        },
      },
      { title: 'Working folder for this thread', submit: 'Use this folder' },
    )
    const change = h('button', { type: 'button', class: 'link-button' }, 'Change folder')
    change.addEventListener('click', () => {
      this.editingFolder = true
      this.render()
      this.moveForm.focus()
    })
    this.summary.append(
      h('span', { class: 'setting' }, h('span', { class: 'setting-label' }, 'Folder'), this.folder, change),
      h('label', { class: 'setting' }, h('span', { class: 'setting-label' }, 'Model'), this.model),
      h('label', { class: 'setting' }, h('span', { class: 'setting-label' }, 'Effort'), this.effort),
      this.status,
    )
    for (const picker of [this.model, this.effort]) {
      for (const event of ['focus', 'pointerdown']) picker.addEventListener(event, () => session.loadModels())
    }
    this.model.addEventListener('change', () => void this.changeModel(this.model.value))
    this.effort.addEventListener('change', () => void this.apply({ effort: this.effort.value || null }))
    this.root.append(this.summary, this.hint, this.moveForm.root, this.newForm.root)
    settings.subscribe(() => this.render())
  }

  render(): void {
    const view = this.store.state.view
    const threadId = view?.threadId ?? null
    if (threadId !== this.shownThread) {
      this.shownThread = threadId
      this.editingFolder = false
      this.status.textContent = ''
    }
    const settings = this.session.threadSettings
    const current = settings.of(threadId)
    const newThread = !view
    this.newForm.root.hidden = !newThread
    if (newThread) this.newForm.render(settings.recentFolders[0] ?? null)
    this.summary.hidden = newThread || !current
    const noTurns = !!view && view.phase === 'ready' && view.turns.length === 0
    this.moveForm.root.hidden = newThread || !current || !(this.editingFolder || noTurns)
    this.root.hidden = newThread ? false : !current
    if (!current || !threadId) {
      this.hint.hidden = true
      return
    }
    this.moveForm.render(current.cwd)
    this.folder.textContent = current.cwd
    this.folder.title = current.cwd
    this.renderModel(current)
    this.renderEffort(current)
    this.renderHint()
  }

  private renderModel(current: ThreadRunSettings): void {
    const models = (this.session.threadSettings.models ?? []).filter((m) => !m.hidden)
    const ids = models.map((m) => m.id)
    // Rebuilt only when what it lists changes, so a picker in use is left alone.
    const key = JSON.stringify([current.model, ids])
    if (key === this.modelKey) return
    this.modelKey = key
    const options = models.map((m) => h('option', { value: m.id }, m.displayName || m.id))
    if (!ids.includes(current.model)) options.unshift(h('option', { value: current.model }, current.model))
    replaceChildren(this.model, ...options)
    this.model.value = current.model
  }

  private renderEffort(current: ThreadRunSettings): void {
    const efforts = this.session.threadSettings.effortsFor(current.model)
    const key = JSON.stringify([current.model, current.effort, efforts])
    if (key === this.effortKey) return
    this.effortKey = key
    const options = efforts.map((e) => h('option', { value: e }, e))
    if (current.effort === null) options.unshift(h('option', { value: '' }, 'default'))
    else if (!efforts.includes(current.effort))
      options.unshift(h('option', { value: current.effort }, current.effort))
    replaceChildren(this.effort, ...options)
    this.effort.value = current.effort ?? ''
    // Until the catalog is asked for (on focus) the thread's own effort is all there is to show.
    const none = this.session.threadSettings.models !== null && efforts.length === 0
    this.effort.disabled = none
    this.effort.title = none ? 'This model has no reasoning effort to choose' : ''
  }

  /** Next to a "cannot run" failure: what to do, as buttons. */
  private renderHint(): void {
    const turns = this.store.state.view?.turns ?? []
    const last = turns[turns.length - 1]
    const message = last?.status === 'failed' ? (last.error?.message ?? '') : ''
    if (!CANNOT_RUN.test(message)) {
      this.hint.hidden = true
      return
    }
    this.hint.hidden = false
    const bridge = this.bridge
    replaceChildren(
      this.hint,
      h('span', null, 'This thread’s model cannot run until one of these is done:'),
      h('button', { type: 'button', onclick: () => this.model.focus() }, 'Choose another model'),
      bridge
        ? h(
            'button',
            {
              type: 'button',
              onclick: () =>
                void bridge.account
                  .signIn()
                  .then((r) => (r.ok ? null : this.store.setAccountError(r.message)))
                  .catch(() => undefined),
            },
            'Sign in',
          )
        : null,
    )
  }

  private async changeModel(model: string): Promise<void> {
    const current = this.session.threadSettings.of(this.shownThread)
    const efforts = this.session.threadSettings.effortsFor(model)
    const change: { model: string; effort?: string | null } = { model }
    // The old effort may not exist for the new model: take the model's default then.
    if (current?.effort && efforts.length && !efforts.includes(current.effort)) {
      change.effort = this.session.threadSettings.model(model)?.defaultReasoningEffort ?? null
    }
    await this.apply(change)
  }

  private async apply(change: { model?: string; effort?: string | null }): Promise<string | null> {
    const threadId = this.shownThread
    if (!threadId) return 'No thread is open.'
    this.status.textContent = 'Saving…'
    const problem = await this.session.changeThreadSettings(threadId, change)
    if (this.shownThread !== threadId) return problem
    this.status.textContent = problem ? `Not changed: ${problem}` : 'Applies from the next message.'
    if (problem) {
      // Put the pickers back to what the thread runs with.
      this.modelKey = this.effortKey = ''
      this.render()
    }
    return problem
  }

  private async moveTo(folder: string): Promise<string | null> {
    const threadId = this.shownThread
    if (!threadId) return 'No thread is open.'
    const problem = await this.session.changeThreadSettings(threadId, { cwd: folder })
    if (problem === null && this.shownThread === threadId) {
      this.editingFolder = false
      this.status.textContent = 'Applies from the next message.'
      this.render()
    }
    return problem
  }

  private async startIn(folder: string): Promise<string | null> {
    const id = await this.session.newThread(folder)
    return id ? null : (this.session.lastStartError ?? 'Could not start a thread.')
  }
}
