/**
 * Main's side of the desktop bridge (src/renderer/bridge.ts): one handler per invoke channel, each
 * behind the sender check and the argument schemas of ipcSchemas.ts, answering with the bridge's
 * result types. index.ts registers `invoke` with `ipcMain.handle`; everything it calls is injected,
 * so the whole surface is tested under Node.
 *
 * It must never act on a message from a frame that is not our page in our window, never pass an
 * unvalidated argument on, and never let the renderer change where tokens go (the OAuth issuer; only
 * the client id may be set) or set the capability token. A new editor command (a program main will run) takes effect only after the
 * user confirms it in a native dialog, so a compromised page cannot pick one silently.
 */
import type { Attention } from './attention'
import type {
  AccountActionResult,
  AttentionNoticeView,
  AccountSummaryView,
  AppInfo,
  ChooseFolderResult,
  CoreStateView,
  FileLocation,
  OpenFileResult,
  SettingsUpdateResult,
  SettingsView,
} from '../renderer/bridge'
import { parseOAuthSettings } from './auth/settings'
import type { ListenerStatus } from './coreSession'
import { editorCommandProblem } from './editorCommand'
import { chooseFolder, type FolderDialog } from './folderDialog'
import { IPC_INVOKE, type InvokeChannel } from './ipcChannels'
import {
  INVOKE_ARGS,
  describeArgsIssue,
  senderProblem,
  type IpcSender,
  type TrustedRenderer,
} from './ipcSchemas'
import { SettingsError, type AppSettings, type SettingsPatch } from './settings'

export interface DesktopIpcLog {
  warn(fields: object, message: string): void
}

export interface DesktopIpcDeps {
  trusted: TrustedRenderer
  settings: {
    get(): AppSettings
    update(patch: SettingsPatch): AppSettings
    regenerateToken(): string
  }
  listenerStatus(): ListenerStatus
  account: {
    summary(): AccountSummaryView
    signIn(): Promise<unknown>
    signOut(): Promise<unknown>
  }
  coreState(): CoreStateView
  retryCore(): void
  openFile(location: FileLocation): Promise<OpenFileResult>
  copyText(text: string): void
  appInfo(): AppInfo
  /** The native folder dialog (folderDialog.ts); without it, `chooseFolder` says it is unavailable. */
  folderDialog?: FolderDialog
  /** Asks the user before a new, non-empty editor command is saved; false keeps the old one. */
  confirmEditorCommand(command: string, sender: IpcSender): Promise<boolean>
  /** OS notifications and the badge; without it they are quietly not shown. */
  attention?: Pick<Attention, 'notify' | 'setBadgeCount'>
  log: DesktopIpcLog
}

/** The settings as the dialog shows them: the stored values and the listener's live URL or error. */
export function settingsView(settings: AppSettings, listener: ListenerStatus): SettingsView {
  return {
    webSocketListener: {
      enabled: settings.webSocketListener.enabled,
      port: settings.webSocketListener.port,
      allowedOrigins: [...settings.webSocketListener.allowedOrigins],
      url: settings.webSocketListener.enabled ? listener.url : null,
      error: settings.webSocketListener.enabled ? listener.error : null,
    },
    capabilityToken: settings.capabilityToken,
    editorCommand: settings.editorCommand,
    oauthClientId: storedClientId(settings.oauth),
  }
}

/** The stored client id, or '' when the oauth settings are unreadable (the app then uses defaults). */
function storedClientId(oauth: Record<string, unknown>): string {
  try {
    return parseOAuthSettings(oauth).clientId
  } catch {
    return ''
  }
}

/** Client ids are opaque printable tokens (RFC 6749 VSCHAR without spaces). */
const CLIENT_ID = /^[\x21-\x7e]{0,256}$/

type DialogPatch = SettingsPatch & { oauthClientId?: unknown }

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

type Handler = (args: never, sender: IpcSender) => Promise<unknown> | unknown

export class DesktopIpc {
  private readonly handlers: Record<InvokeChannel, Handler>

  constructor(private readonly deps: DesktopIpcDeps) {
    this.handlers = {
      [IPC_INVOKE.openFile]: ([location]: [FileLocation]) => deps.openFile(location),
      [IPC_INVOKE.copyText]: ([text]: [string]) => deps.copyText(text),
      [IPC_INVOKE.chooseFolder]: ([defaultPath]: [string | null], sender: IpcSender) =>
        this.chooseFolder(defaultPath, sender),
      [IPC_INVOKE.appInfo]: () => deps.appInfo(),
      [IPC_INVOKE.settingsGet]: () => this.view(),
      [IPC_INVOKE.settingsUpdate]: ([patch]: [DialogPatch], sender: IpcSender) => this.update(patch, sender),
      [IPC_INVOKE.settingsRegenerateToken]: () => {
        deps.settings.regenerateToken()
        return this.view()
      },
      [IPC_INVOKE.accountSummary]: () => deps.account.summary(),
      [IPC_INVOKE.accountSignIn]: () => this.accountAction(() => deps.account.signIn()),
      [IPC_INVOKE.accountSignOut]: () => this.accountAction(() => deps.account.signOut()),
      [IPC_INVOKE.coreState]: () => deps.coreState(),
      [IPC_INVOKE.coreRetry]: () => deps.retryCore(),
      [IPC_INVOKE.attentionNotify]: ([notice]: [AttentionNoticeView], sender: IpcSender) =>
        deps.attention?.notify(notice, sender.webContentsId) ?? false,
      [IPC_INVOKE.attentionBadge]: ([count]: [number]) => deps.attention?.setBadgeCount(count),
    }
  }

  /** Every channel to register with `ipcMain.handle`. */
  get channels(): InvokeChannel[] {
    return Object.keys(this.handlers) as InvokeChannel[]
  }

  /**
   * One `ipcMain.handle` call. Rejects (the renderer's promise rejects with the message) for a
   * foreign sender or bad arguments, except where the bridge's result type has room for the
   * problem: `openFile` and `settings.update` answer `{ok: false, …}` instead.
   */
  async invoke(channel: string, sender: IpcSender, args: readonly unknown[]): Promise<unknown> {
    const handler = (this.handlers as Record<string, Handler | undefined>)[channel]
    if (!handler) throw new Error(`codex-desk: unknown IPC channel ${channel}`)
    const problem = senderProblem(sender, this.deps.trusted)
    if (problem) {
      this.deps.log.warn({ channel, webContentsId: sender.webContentsId, problem }, 'refused an IPC message')
      throw new Error(`codex-desk refused ${channel}: ${problem}`)
    }
    const parsed = INVOKE_ARGS[channel as InvokeChannel].safeParse(args)
    if (!parsed.success) {
      const issue = describeArgsIssue(parsed.error)
      if (channel === IPC_INVOKE.settingsUpdate) {
        const field = issue.field || 'settings'
        return {
          ok: false,
          field,
          message: `Invalid setting ${field}: ${issue.message}`,
        } satisfies SettingsUpdateResult
      }
      if (channel === IPC_INVOKE.openFile) {
        return { ok: false, message: `Cannot open the file: ${issue.text}.` } satisfies OpenFileResult
      }
      throw new Error(`codex-desk: invalid ${channel}: ${issue.text}`)
    }
    return await handler(parsed.data as never, sender)
  }

  private view(): SettingsView {
    return settingsView(this.deps.settings.get(), this.deps.listenerStatus())
  }

  private async update(dialogPatch: DialogPatch, sender: IpcSender): Promise<SettingsUpdateResult> {
    const { oauthClientId, ...patch } = dialogPatch
    if (oauthClientId !== undefined) {
      const clientId = typeof oauthClientId === 'string' ? oauthClientId.trim() : null
      if (clientId === null || !CLIENT_ID.test(clientId)) {
        return {
          ok: false,
          field: 'oauthClientId',
          message: 'Invalid setting oauthClientId: must be up to 256 printable characters without spaces',
        }
      }
      ;(patch as SettingsPatch).oauth = { ...this.deps.settings.get().oauth, clientId }
    }
    const command = patch.editorCommand
    if (typeof command === 'string' && command.trim() !== '') {
      const trimmed = command.trim()
      const problem = editorCommandProblem(trimmed)
      if (problem) {
        return { ok: false, field: 'editorCommand', message: `Invalid setting editorCommand: ${problem}` }
      }
      if (trimmed !== this.deps.settings.get().editorCommand) {
        let confirmed = false
        try {
          confirmed = await this.deps.confirmEditorCommand(trimmed, sender)
        } catch (error) {
          this.deps.log.warn({ error: errorMessage(error) }, 'could not ask about the editor command')
        }
        if (!confirmed) {
          return {
            ok: false,
            field: 'editorCommand',
            message: 'The editor command was not changed: it was not confirmed.',
          }
        }
      }
    }
    try {
      this.deps.settings.update(patch)
      return { ok: true, settings: this.view() }
    } catch (error) {
      if (error instanceof SettingsError) return { ok: false, field: error.field, message: error.message }
      throw error
    }
  }

  private chooseFolder(defaultPath: string | null, sender: IpcSender): Promise<ChooseFolderResult> {
    const dialog = this.deps.folderDialog
    if (!dialog) {
      return Promise.resolve({
        ok: false,
        canceled: false,
        message: 'The folder dialog is not available; type the folder instead.',
      })
    }
    return chooseFolder(dialog, sender, defaultPath)
  }

  private async accountAction(action: () => Promise<unknown>): Promise<AccountActionResult> {
    try {
      await action()
      return { ok: true }
    } catch (error) {
      return { ok: false, message: errorMessage(error) }
    }
  }
}
