/**
 * The main-process side of "choose a working folder": the bridge's chooseFolder through DesktopIpc
 * (sender check, argument schema) to folderDialog.ts, with a stand-in for Electron's dialog that
 * records what it was asked and answers as the user would. Folders are real temp directories.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DesktopIpc, type DesktopIpcDeps } from '../../src/main/desktopIpc'
import {
  electronFolderDialog,
  type FolderDialog,
  type FolderDialogAnswer,
  type FolderDialogOptions,
} from '../../src/main/folderDialog'
import { IPC_INVOKE } from '../../src/main/ipcChannels'
import type { IpcSender } from '../../src/main/ipcSchemas'
import { makeTempDir } from '../support/appServerProcess'

const RENDERER_URL = pathToFileURL('/opt/codex-desk/out/renderer/index.html').href
const OURS: IpcSender = { webContentsId: 7, frameUrl: RENDERER_URL, isMainFrame: true }

let temp: { path: string; remove(): Promise<void> }
beforeEach(async () => {
  temp = await makeTempDir('codex-desk folder ')
})
afterEach(async () => {
  await temp.remove()
})

/** A stand-in for the native dialog: records each call and gives the scripted answer. */
function standIn(answer: FolderDialogAnswer | Error) {
  const calls: { options: FolderDialogOptions; sender: IpcSender }[] = []
  const dialog: FolderDialog = {
    show(options, sender) {
      calls.push({ options, sender })
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer)
    },
  }
  return { dialog, calls }
}

const unused = () => {
  throw new Error('not used by these tests')
}

function ipcWith(folderDialog: FolderDialog | undefined): DesktopIpc {
  const deps: DesktopIpcDeps = {
    trusted: { isAppWindow: (id) => id === OURS.webContentsId, rendererUrl: RENDERER_URL },
    settings: { get: unused, update: unused, regenerateToken: unused },
    listenerStatus: unused,
    account: { summary: unused, signIn: unused, signOut: unused },
    coreState: unused,
    retryCore: unused,
    openFile: unused,
    copyText: unused,
    appInfo: unused,
    confirmEditorCommand: unused,
    log: { warn: () => {} },
    ...(folderDialog ? { folderDialog } : {}),
  }
  return new DesktopIpc(deps)
}

describe('the folder dialog handler', () => {
  it('answers with the folder the user picked, from a dialog for folders over the asking window', async () => {
    const picked = join(temp.path, 'project')
    await mkdir(picked)
    const { dialog, calls } = standIn({ canceled: false, filePaths: [picked] })
    const answer = await ipcWith(dialog).invoke(IPC_INVOKE.chooseFolder, OURS, [temp.path])
    expect(answer).toEqual({ ok: true, path: picked })
    expect(calls).toHaveLength(1)
    expect(calls[0]?.sender).toEqual(OURS)
    expect(calls[0]?.options.properties).toContain('openDirectory')
    expect(calls[0]?.options.defaultPath).toBe(temp.path)
    expect(calls[0]?.options.title).toMatch(/working folder/i)
  })

  it('says the user canceled, and opens without a start folder that no longer exists', async () => {
    const { dialog, calls } = standIn({ canceled: true, filePaths: [] })
    const answer = await ipcWith(dialog).invoke(IPC_INVOKE.chooseFolder, OURS, [join(temp.path, 'gone')])
    expect(answer).toEqual({ ok: false, canceled: true })
    expect(calls[0]?.options.defaultPath).toBeUndefined()
  })

  it('refuses a picked path that is not an existing folder, with a sentence', async () => {
    const missing = join(temp.path, 'missing')
    const { dialog } = standIn({ canceled: false, filePaths: [missing] })
    expect(await ipcWith(dialog).invoke(IPC_INVOKE.chooseFolder, OURS, [null])).toEqual({
      ok: false,
      canceled: false,
      message: `The folder ${missing} does not exist.`,
    })
  })

  it('turns a dialog that fails into a message, and a missing dialog into "type the folder"', async () => {
    const { dialog } = standIn(new Error('no display'))
    expect(await ipcWith(dialog).invoke(IPC_INVOKE.chooseFolder, OURS, [null])).toEqual({
      ok: false,
      canceled: false,
      message: 'Could not open the folder dialog: no display',
    })
    expect(await ipcWith(undefined).invoke(IPC_INVOKE.chooseFolder, OURS, [null])).toMatchObject({
      ok: false,
      message: expect.stringMatching(/type the folder/),
    })
  })

  it('never opens the dialog for a foreign frame or a bad argument', async () => {
    const { dialog, calls } = standIn({ canceled: true, filePaths: [] })
    const ipc = ipcWith(dialog)
    const iframe = { ...OURS, isMainFrame: false }
    await expect(ipc.invoke(IPC_INVOKE.chooseFolder, iframe, [null])).rejects.toThrow(/not the main frame/)
    await expect(ipc.invoke(IPC_INVOKE.chooseFolder, OURS, [42])).rejects.toThrow(/folder path or null/)
    await expect(ipc.invoke(IPC_INVOKE.chooseFolder, OURS, ['a\0b'])).rejects.toThrow(/NUL/)
    expect(calls).toHaveLength(0)
  })

  it("adapts Electron's dialog: over the sender's window when it has one", async () => {
    const seen: unknown[][] = []
    const electronDialog = {
      showOpenDialog: (...args: unknown[]) => {
        seen.push(args)
        return Promise.resolve({ canceled: true, filePaths: [] })
      },
    }
    const windows = new Map([[7, 'window-7']])
    const dialog = electronFolderDialog<string>(electronDialog, (id) => windows.get(id))
    const options: FolderDialogOptions = { title: 't', buttonLabel: 'b', properties: ['openDirectory'] }
    await dialog.show(options, OURS)
    await dialog.show(options, { ...OURS, webContentsId: 8 })
    expect(seen).toEqual([['window-7', options], [options]])
  })
})
