/**
 * The real desktop app (out/main/index.js) under Playwright's Electron support: the window opens
 * with the sandboxed bridge and nothing else, the renderer connects to the core (a utility process)
 * through the nonce-checked MessagePort, a new thread runs a turn against the scripted model server
 * and the agent's text appears, and quitting stops the core through its control port.
 *
 * It needs the Electron binary, which npm downloads lazily (`npx install-electron`, or any Electron
 * command). Where the binary is missing (this CI cannot reach its download), the test is skipped
 * with the reason instead of trying to download it. Linux without a display: run under `xvfb-run`.
 * Every run gets its own CODEX_DESK_HOME and user-data folder (settings, sign-in, logs, lock).
 */
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { _electron as electron, expect, test, type ElectronApplication } from 'playwright/test'
import { startModelServer, text, type ModelServer } from '../test/support/modelServer'
import { modelConfig } from '../test/support/threadHarness'
import { connection, items, startThread, threadView, turns } from './ui'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const mainEntry = join(repoRoot, 'out', 'main', 'index.js')

/**
 * The Electron executable if it is installed, found the way `require('electron')` finds it but
 * without its side effect: requiring the package downloads a missing binary.
 */
function installedElectron(): { path: string } | { missing: string } {
  let packageDir: string
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'))
  } catch {
    return { missing: 'the electron package is not installed' }
  }
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH
  const pathFile = join(packageDir, 'path.txt')
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : ''
  if (override) return { path: join(override, relative || 'electron') }
  if (!relative) {
    return {
      missing: `the Electron binary was never downloaded (${pathFile} is missing; run npx install-electron)`,
    }
  }
  const binary = join(packageDir, 'dist', relative)
  return existsSync(binary) ? { path: binary } : { missing: `the Electron binary ${binary} is missing` }
}

const found = installedElectron()
test.skip('missing' in found, `Electron cannot run here: ${'missing' in found ? found.missing : ''}`)

test.describe('the desktop app', () => {
  let app: ElectronApplication | undefined
  let model: ModelServer | undefined
  let temp: string | undefined
  let output = ''

  test.beforeEach(async () => {
    if (!existsSync(mainEntry)) throw new Error(`${mainEntry} is missing: run npm run build first`)
    temp = await mkdtemp(join(tmpdir(), 'codex-desk-electron-'))
    model = await startModelServer()
  })

  test.afterEach(async () => {
    const testInfo = test.info()
    await app?.close().catch(() => undefined)
    app = undefined
    await model?.close()
    if (testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach('electron output', { body: output, contentType: 'text/plain' })
    }
    if (temp) await rm(temp, { recursive: true, force: true })
  })

  test('opens a window that connects to the core and runs a turn', async () => {
    const home = join(temp!, 'home')
    const userData = join(temp!, 'user-data')
    await mkdir(home, { recursive: true })
    await writeFile(join(home, 'config.toml'), modelConfig(model!.url))

    const env: Record<string, string> = {}
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && key !== 'ELECTRON_RUN_AS_NODE' && key !== 'ELECTRON_RENDERER_URL')
        env[key] = value
    }
    app = await electron.launch({
      executablePath: (found as { path: string }).path,
      // Chromium refuses to start as root with its sandbox on (containers); the page keeps `sandbox: true`.
      args: [...(process.getuid?.() === 0 ? ['--no-sandbox'] : []), mainEntry],
      cwd: repoRoot,
      env: { ...env, CODEX_DESK_HOME: home, CODEX_DESK_USER_DATA_DIR: userData },
      timeout: 30_000,
    })
    app.process().stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()))
    app.process().stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))

    const page = await app.firstWindow()
    await expect(connection(page)).toHaveAttribute('data-state', 'connected', { timeout: 30_000 })

    // The page has the bridge and nothing of Node or Electron.
    expect(
      await page.evaluate(() => ({
        bridge: Object.keys(window.codexDesk ?? {}).sort(),
        require: typeof (window as unknown as { require?: unknown }).require,
        process: typeof (globalThis as unknown as { process?: unknown }).process,
      })),
    ).toEqual({
      bridge: [
        'account',
        'appInfo',
        'attention',
        'chooseFolder',
        'connect',
        'copyText',
        'core',
        'openFile',
        'settings',
      ],
      require: 'undefined',
      process: 'undefined',
    })
    const info = await page.evaluate(() => window.codexDesk!.appInfo())
    expect(info.codexDeskHome).toBe(home)
    expect(info.coreLogPath).toBe(join(userData, 'logs', 'core.log'))
    expect(await page.evaluate(() => window.codexDesk!.core.state())).toMatchObject({
      kind: 'running',
      generation: 1,
    })

    model!.enqueue(text('Hello from the desktop app.'))
    await startThread(page, 'Say hello')
    await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
    await expect(items(threadView(page), 'agentMessage').last().locator('.item-text')).toHaveText(
      'Hello from the desktop app.',
    )
    const screenshot = test.info().outputPath('electron-turn.png')
    await page.screenshot({ path: screenshot })
    await test.info().attach('the app after a turn', { path: screenshot, contentType: 'image/png' })

    // Quitting stops the core through its control port, not by a kill.
    await app.close()
    app = undefined
    const log = readFileSync(info.coreLogPath, 'utf8')
    expect(log).toMatch(/core started \(pid \d+\)/)
    expect(log).toMatch(/core exited \(pid \d+, code 0, signal none, requested\)/)
    expect(log).not.toContain('sending SIGKILL')
  })
})
