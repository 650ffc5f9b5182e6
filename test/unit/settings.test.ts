/**
 * Settings over a real file-backed store (`conf`, what electron-store is built on) in a temp dir:
 * defaults, the capability token, the editor command, validated updates that write nothing when refused, repair of a
 * hand-edited file, change events, and the listener settings handed to the core.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Conf from 'conf'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  Settings,
  SettingsError,
  webSocketListenerSettings,
  type AppSettings,
  type SettingsLog,
} from '../../src/main/settings'
import { makeTempDir } from '../support/appServerProcess'

let temp: { path: string; remove(): Promise<void> }
let opened: Settings[]

beforeEach(async () => {
  temp = await makeTempDir('codex-desk-settings-')
  opened = []
})

afterEach(async () => {
  for (const settings of opened) settings.dispose()
  await temp.remove()
})

const openStore = () =>
  new Conf<Record<string, unknown>>({
    projectName: 'codex-desk-test',
    cwd: temp.path,
    configName: 'settings',
  })
const settingsFile = () => join(temp.path, 'settings.json')

function open(store = openStore()): {
  settings: Settings
  warnings: string[]
  store: Conf<Record<string, unknown>>
} {
  const warnings: string[] = []
  const log: SettingsLog = { warn: (_fields, message) => warnings.push(message) }
  const settings = new Settings({ store, log })
  opened.push(settings)
  return { settings, warnings, store }
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/

describe('Settings', () => {
  it('a fresh store reads as the defaults with a new capability token that survives a restart', () => {
    const { settings, warnings } = open()
    const first = settings.get()
    expect(first).toEqual({
      webSocketListener: { enabled: false, port: 0, allowedOrigins: [] },
      capabilityToken: expect.stringMatching(TOKEN),
      editorCommand: '',
      oauth: {},
    })
    expect(Buffer.from(first.capabilityToken, 'base64url')).toHaveLength(32)
    expect(settings.get().capabilityToken).toBe(first.capabilityToken)
    // A new process reading the same file gets the same token.
    const { settings: reopened } = open()
    expect(reopened.get().capabilityToken).toBe(first.capabilityToken)
    expect(warnings).toEqual([])
  })

  it('regenerating the token stores a different one and announces the change', () => {
    const { settings } = open()
    const before = settings.get().capabilityToken
    const changes: { settings: AppSettings; previous: AppSettings }[] = []
    settings.onDidChange((change) => changes.push(change))
    const after = settings.regenerateToken()
    expect(after).toMatch(TOKEN)
    expect(after).not.toBe(before)
    expect(JSON.parse(readFileSync(settingsFile(), 'utf8')).capabilityToken).toBe(after)
    expect(changes).toHaveLength(1)
    expect(changes[0]?.previous.capabilityToken).toBe(before)
    expect(changes[0]?.settings.capabilityToken).toBe(after)
  })

  it('an update merges into the listener settings, persists, and fires one change', () => {
    const { settings } = open()
    const changes: AppSettings[] = []
    settings.onDidChange(({ settings: next }) => changes.push(next))
    const next = settings.update({ webSocketListener: { enabled: true, port: 4500 } })
    expect(next.webSocketListener).toEqual({ enabled: true, port: 4500, allowedOrigins: [] })
    settings.update({ webSocketListener: { allowedOrigins: ['http://localhost:5173'] } })
    expect(openStore().get('webSocketListener')).toEqual({
      enabled: true,
      port: 4500,
      allowedOrigins: ['http://localhost:5173'],
    })
    expect(changes.map((c) => c.webSocketListener)).toEqual([
      { enabled: true, port: 4500, allowedOrigins: [] },
      { enabled: true, port: 4500, allowedOrigins: ['http://localhost:5173'] },
    ])
    // The same values again change nothing.
    settings.update({ webSocketListener: { port: 4500 } })
    expect(changes).toHaveLength(2)
  })

  it.each([
    [{ webSocketListener: { port: 70000 } }, 'webSocketListener.port', 'must be an integer from 0 to 65535'],
    [{ webSocketListener: { port: 1.5 } }, 'webSocketListener.port', 'must be an integer from 0 to 65535'],
    [{ webSocketListener: { port: -1 } }, 'webSocketListener.port', 'must be an integer from 0 to 65535'],
    [{ webSocketListener: { enabled: 'yes' } }, 'webSocketListener.enabled', 'must be true or false'],
    [
      { webSocketListener: { allowedOrigins: ['http://localhost:5173', 'http://localhost:5173/'] } },
      'webSocketListener.allowedOrigins.1',
      'must be an origin such as http://localhost:5173',
    ],
    [{ webSocketListener: { host: '0.0.0.0' } }, 'webSocketListener.host', 'is not a setting'],
    [{ webSocketListener: 'on' }, 'webSocketListener', 'must be an object'],
    [{ oauth: ['openid'] }, 'oauth', 'must be an object'],
    [{ capabilityToken: 'chosen-by-me' }, 'capabilityToken', 'it cannot be set'],
    [{ theme: 'dark' }, 'theme', 'is not a setting'],
    [{ editorCommand: 'code --goto' }, 'editorCommand', 'must contain {path} where the file goes'],
    [{ editorCommand: 'code "{path}' }, 'editorCommand', 'has an unclosed " quote'],
    [{ editorCommand: '{path}' }, 'editorCommand', 'must start with the editor program'],
    [{ editorCommand: 'code {file}' }, 'editorCommand', 'has an unknown placeholder {file}'],
    [{ editorCommand: ['code', '{path}'] }, 'editorCommand', 'must be a string'],
    [
      { editorCommand: `code {path} ${'x'.repeat(4100)}` },
      'editorCommand',
      'must be at most 4096 characters',
    ],
  ])('an update of %j is refused naming %s and writes nothing', (patch, field, message) => {
    const { settings } = open()
    settings.update({ webSocketListener: { enabled: true, port: 4500 }, oauth: { clientId: 'app' } })
    const before = readFileSync(settingsFile(), 'utf8')
    const changes: unknown[] = []
    settings.onDidChange((change) => changes.push(change))

    let thrown: unknown
    try {
      settings.update({ webSocketListener: { enabled: false }, ...(patch as object) })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(SettingsError)
    expect((thrown as SettingsError).field).toBe(field)
    expect((thrown as SettingsError).message).toContain(`Invalid setting ${field}`)
    expect((thrown as SettingsError).message).toContain(message)
    expect(readFileSync(settingsFile(), 'utf8')).toBe(before)
    expect(settings.get().webSocketListener.enabled).toBe(true)
    expect(changes).toEqual([])
  })

  it('the oauth settings are stored and returned as given, without being interpreted', () => {
    const { settings } = open()
    const oauth = {
      issuer: 'https://auth.example.com',
      clientId: 'app_123',
      scopes: ['openid'],
      redirectPort: 1455,
    }
    settings.update({ oauth })
    expect(open().settings.get().oauth).toEqual(oauth)
    settings.update({ oauth: { anything: { nested: true } } })
    expect(settings.get().oauth).toEqual({ anything: { nested: true } })
  })

  it('a hand-edited file with bad values reads as defaults for those fields, with one warning each', () => {
    const token = Buffer.alloc(32, 7).toString('base64url')
    writeFileSync(
      settingsFile(),
      JSON.stringify({
        webSocketListener: {
          enabled: true,
          port: 'forty-five hundred',
          allowedOrigins: ['*'],
          bind: '0.0.0.0',
        },
        capabilityToken: token,
        oauth: 'https://auth.example.com',
      }),
    )
    const { settings, warnings } = open()
    expect(settings.get()).toEqual({
      webSocketListener: { enabled: true, port: 0, allowedOrigins: [] },
      capabilityToken: token,
      editorCommand: '',
      oauth: {},
    })
    expect(warnings).toHaveLength(2)
    expect(warnings[0]).toContain('webSocketListener.bind is not a setting')
    expect(warnings[0]).toContain('webSocketListener.port must be an integer from 0 to 65535')
    expect(warnings[0]).toContain('webSocketListener.allowedOrigins.0 must be an origin')
    expect(warnings[1]).toContain('oauth must be an object')
    // The repair was written back, so the next read is clean and quiet.
    expect(JSON.parse(readFileSync(settingsFile(), 'utf8'))).toEqual({
      webSocketListener: { enabled: true, port: 0, allowedOrigins: [] },
      capabilityToken: token,
      oauth: {},
    })
    settings.get()
    expect(warnings).toHaveLength(2)
  })

  it('a malformed token is replaced by a new one and never appears in the warning', () => {
    writeFileSync(settingsFile(), JSON.stringify({ capabilityToken: 'short-secret-value' }))
    const { settings, warnings } = open()
    expect(settings.get().capabilityToken).toMatch(TOKEN)
    expect(warnings).toEqual(['settings: the capability token was malformed; made a new one'])
  })

  it('a change made through another handle on the store is announced', () => {
    const { settings, store } = open()
    const changes: AppSettings[] = []
    const subscription = settings.onDidChange(({ settings: next }) => changes.push(next))
    store.set('webSocketListener', { enabled: true, port: 4600, allowedOrigins: [] })
    expect(changes.map((c) => c.webSocketListener.port)).toEqual([4600])
    subscription.dispose()
    store.set('webSocketListener', { enabled: true, port: 4700, allowedOrigins: [] })
    expect(changes).toHaveLength(1)
  })

  it('an editor command is stored trimmed, read back by a new process, and cleared with an empty one', () => {
    const { settings } = open()
    const changes: string[] = []
    settings.onDidChange(({ settings: next }) => changes.push(next.editorCommand))
    const next = settings.update({ editorCommand: '  code --goto {path}:{line}:{column}  ' })
    expect(next.editorCommand).toBe('code --goto {path}:{line}:{column}')
    expect(open().settings.get().editorCommand).toBe('code --goto {path}:{line}:{column}')
    expect(settings.update({ editorCommand: '' }).editorCommand).toBe('')
    expect(changes).toEqual(['code --goto {path}:{line}:{column}', ''])
  })

  it('a hand-edited editor command that cannot be used falls back to the OS default app, with a warning', () => {
    writeFileSync(settingsFile(), JSON.stringify({ editorCommand: 'code --goto' }))
    const { settings, warnings } = open()
    expect(settings.get().editorCommand).toBe('')
    expect(warnings).toEqual([
      'settings: editorCommand must contain {path} where the file goes, e.g. code --goto {path}:{line}:{column}; using the OS default app instead',
    ])
    expect(JSON.parse(readFileSync(settingsFile(), 'utf8')).editorCommand).toBe('')
  })

  it('the listener settings for the core are loopback-only and carry the token', () => {
    const { settings } = open()
    const current = settings.update({
      webSocketListener: { enabled: true, port: 4500, allowedOrigins: ['https://tools.example.com'] },
    })
    expect(webSocketListenerSettings(current)).toEqual({
      host: '127.0.0.1',
      port: 4500,
      allowedOrigins: ['https://tools.example.com'],
      capabilityToken: current.capabilityToken,
    })
  })
})
