/**
 * The native "choose a working folder" dialog behind the bridge's `chooseFolder`: main shows
 * Electron's open dialog (folders only) over the asking window and answers with the folder, a
 * cancel, or a sentence saying what is wrong. The dialog is an interface (Electron's `dialog` in the
 * app, a stand-in in tests), so this runs under Node with no electron import.
 *
 * It must never answer with a path that is not an existing folder, and never open a dialog for a
 * window that is not one of ours (desktopIpc.ts checks the sender first).
 */
import { stat } from 'node:fs/promises'
import type { ChooseFolderResult } from '../renderer/bridge'
import type { IpcSender } from './ipcSchemas'

/** What the dialog is asked for: a subset of Electron's OpenDialogOptions. */
export interface FolderDialogOptions {
  title: string
  buttonLabel: string
  defaultPath?: string
  properties: ('openDirectory' | 'createDirectory')[]
}

/** Electron's `dialog.showOpenDialog` result. */
export interface FolderDialogAnswer {
  canceled: boolean
  filePaths: string[]
}

export interface FolderDialog {
  /** Shows the dialog over the sender's window (or on its own when the window is gone). */
  show(options: FolderDialogOptions, sender: IpcSender): Promise<FolderDialogAnswer>
}

/** Where the folder's existence is checked (node:fs by default). */
export type IsFolder = (path: string) => Promise<boolean>

const isFolderOnDisk: IsFolder = async (path) => (await stat(path).catch(() => null))?.isDirectory() ?? false

/** Asks the user for a working folder, starting at `defaultPath` when it is still a folder. */
export async function chooseFolder(
  dialog: FolderDialog,
  sender: IpcSender,
  defaultPath: string | null,
  isFolder: IsFolder = isFolderOnDisk,
): Promise<ChooseFolderResult> {
  const options: FolderDialogOptions = {
    title: 'Working folder for the new thread',
    buttonLabel: 'Use this folder',
    properties: ['openDirectory', 'createDirectory'],
  }
  if (defaultPath && (await isFolder(defaultPath))) options.defaultPath = defaultPath
  let answer: FolderDialogAnswer
  try {
    answer = await dialog.show(options, sender)
  } catch (error) {
    return { ok: false, canceled: false, message: `Could not open the folder dialog: ${messageOf(error)}` }
  }
  const path = answer.filePaths[0]
  if (answer.canceled || !path) return { ok: false, canceled: true }
  if (!(await isFolder(path)))
    return { ok: false, canceled: false, message: `The folder ${path} does not exist.` }
  return { ok: true, path }
}

/** The shape of Electron's `dialog` this needs (a structural type: no electron import here). */
export interface ElectronDialogLike<W> {
  showOpenDialog(window: W, options: FolderDialogOptions): Promise<FolderDialogAnswer>
  showOpenDialog(options: FolderDialogOptions): Promise<FolderDialogAnswer>
}

/** Electron's dialog as a FolderDialog; `windowOf` finds the sender's BrowserWindow. */
export function electronFolderDialog<W>(
  dialog: ElectronDialogLike<W>,
  windowOf: (webContentsId: number) => W | undefined,
): FolderDialog {
  return {
    show(options, sender) {
      const window = windowOf(sender.webContentsId)
      return window ? dialog.showOpenDialog(window, options) : dialog.showOpenDialog(options)
    },
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
