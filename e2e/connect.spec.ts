/**
 * The renderer's connection states against the real headless app-server: connected (initialize
 * answered), refused by the Origin check (HTTP 403 on the upgrade), and the core dying mid-session.
 */
import { expect, test } from './fixtures'

test('connects over the websocket and shows the user agent', async ({ desk, page }) => {
  const pageErrors: Error[] = []
  page.on('pageerror', (error) => pageErrors.push(error))

  await page.goto(desk.rendererUrl(desk.server.url))

  const status = page.getByRole('status')
  // The user agent starts with the originator, which the first initialize's clientInfo.name fixes.
  await expect(status).toHaveText(/^Connected: codex_desk_ui\//)
  await expect(page.getByRole('heading', { name: 'codex-desk' })).toBeVisible()

  const screenshot = test.info().outputPath('connected.png')
  await page.screenshot({ path: screenshot, fullPage: true })
  await test.info().attach('connected', { path: screenshot, contentType: 'image/png' })
  expect(pageErrors).toEqual([])
})

test('shows an error when the core refuses the Origin', async ({ desk, page }) => {
  // No --ws-allow-origin: the browser's upgrade carries Origin: http://127.0.0.1:<static port>.
  const strict = await desk.startAppServer({ allowOrigins: [] })
  const consoleErrors: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text())
  })

  await page.goto(desk.rendererUrl(strict.url))

  await expect(page.getByRole('status')).toHaveText(/^Cannot connect to the core/)
  // A browser WebSocket never exposes the HTTP status to the page; Chromium's console does, and it
  // tells a 403 apart from a refused or unreachable port.
  await expect.poll(() => consoleErrors.join('\n')).toContain('Unexpected response code: 403')
})

test('shows the disconnect when the app-server process dies', async ({ desk, page }) => {
  await page.goto(desk.rendererUrl(desk.server.url))
  const status = page.getByRole('status')
  await expect(status).toHaveText(/^Connected: /)

  await desk.server.kill('SIGKILL')

  await expect(status).toHaveText('Disconnected from the core (1006).')
})

test('explains how to connect when opened in a plain browser without a core address', async ({
  desk,
  page,
}) => {
  await page.goto(desk.rendererUrl(desk.server.url).replace(/\?.*$/, ''))
  await expect(page.getByRole('status')).toHaveText(
    'Cannot connect to the core: open this page inside codex-desk, or add ?ws=ws://127.0.0.1:PORT to reach a headless core',
  )
})
