/**
 * The connection indicator against the real headless core: the web UI opened from the URL the core
 * prints (token handed over in the fragment, kept across reloads), a page without the token, a page
 * from another origin refused by the Origin check, the core dying, and the dev-mode page (a separate
 * static server with `?ws=`) with and without a core address.
 */
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Page } from 'playwright/test'
import { expect, rendererDir, test } from './fixtures'
import { connection, screenshot } from './ui'

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Chromium logs the HTTP status of a refused websocket upgrade, which the page itself never sees. */
function consoleErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  return errors
}

test('opens from the printed URL, connects, shows the user agent, and keeps the token out of the address bar', async ({
  desk,
  page,
}) => {
  const pageErrors: Error[] = []
  page.on('pageerror', (error) => pageErrors.push(error))
  expect(desk.uiUrl).toBe(`${desk.origin}/#token=${encodeURIComponent(desk.token)}`)

  await page.goto(desk.uiUrl)

  const status = connection(page)
  await expect(status).toHaveAttribute('data-state', 'connected')
  await expect(status).toHaveText('Connected')
  // A codex user agent: originator/version (os; arch) ...
  await expect(status).toHaveAttribute('title', /^[\w.-]+\/\d+\.\d+\.\d+/)
  // The token must not stay where a screenshot, a bookmark or the history would keep it.
  await expect(page).toHaveURL(`${desk.origin}/`)

  // A reload has no fragment any more: the page finds the token again in its session.
  await page.reload()
  await expect(status).toHaveAttribute('data-state', 'connected')
  await expect(page).toHaveURL(`${desk.origin}/`)
  expect(pageErrors).toEqual([])
})

test('the web UI without its token, or with a wrong one, cannot connect', async ({ desk, browser }) => {
  // A fresh context: nothing in sessionStorage. Each tab has its own session anyway.
  const context = await browser.newContext()
  try {
    for (const url of [`${desk.origin}/`, `${desk.origin}/#token=not-the-token`]) {
      const page = await context.newPage()
      const errors = consoleErrors(page)
      await page.goto(url)
      const status = connection(page)
      await expect(status).toHaveAttribute('data-state', 'reconnecting')
      await expect(status).toHaveText(/^Cannot connect to the core: .+\. Retrying in \d+ s…$/)
      // Chromium's words for a 401 on the upgrade.
      await expect.poll(() => errors.join('\n')).toContain('HTTP Authentication failed')
    }
  } finally {
    await context.close()
  }
})

test('a page without a token, or with a refused one, says in a banner to open the printed URL', async ({
  desk,
  browser,
}) => {
  const context = await browser.newContext()
  try {
    for (const [url, why] of [
      [`${desk.origin}/`, 'this page has no token'],
      [`${desk.origin}/#token=not-the-token`, "the core did not accept this page's token"],
    ] as const) {
      const page = await context.newPage()
      await page.goto(url)
      const status = connection(page)
      const expected = `Cannot connect to the core: ${why}; open the URL printed by \`npm run serve\` (it carries the token).`
      await expect(status).toHaveText(new RegExp(`^${escapeRegExp(expected)} Retrying in \\d+ s…$`))
      // A banner under the top bar, not squeezed into it.
      await expect(page.locator('.connection-banner')).toBeVisible()
      await screenshot(page, `token-refused-${why.split(' ')[1]}`)
      await expect(page.locator('header.topbar').getByRole('status', { name: 'Connection' })).toHaveCount(0)
      await page.close()
    }
  } finally {
    await context.close()
  }
})

test('pasting the printed #token URL into a tab that could not connect connects it without a reload', async ({
  desk,
  browser,
}) => {
  const context = await browser.newContext()
  try {
    const page = await context.newPage()
    await page.goto(`${desk.origin}/`)
    const status = connection(page)
    await expect(status).toHaveText(/this page has no token/)
    // Mark the document: a reload would lose the mark.
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true))

    // What pasting the URL into the address bar does to an open page: only the fragment changes.
    await page.goto(desk.uiUrl)

    await expect(status).toHaveAttribute('data-state', 'connected')
    await expect(status).toHaveText('Connected')
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true)
    await expect(page).toHaveURL(`${desk.origin}/`)
    await expect(page.locator('.connection-banner')).toBeHidden()
    await expect(page.locator('header.topbar').getByRole('status', { name: 'Connection' })).toHaveCount(1)
  } finally {
    await context.close()
  }
})

test('a page from another origin is refused by the Origin check', async ({ desk, page }) => {
  // The --web-ui core allows only its own origin; this page comes from a separate static server.
  const other = await desk.serveStatic()
  const errors = consoleErrors(page)

  await page.goto(other.pageUrl(desk.wsUrl))

  const status = connection(page)
  await expect(status).toHaveAttribute('data-state', 'reconnecting')
  await expect(status).toHaveText(/^Cannot connect to the core: .+\. Retrying in \d+ s…$/)
  // A 403 (origin), not a 401 (token) or a refused port.
  await expect.poll(() => errors.join('\n')).toContain('Unexpected response code: 403')
})

test('the dev page on another origin connects with ?ws= to a core that allows that origin', async ({
  desk,
  page,
}) => {
  const other = await desk.serveStatic()
  const core = await desk.startAppServer({ allowOrigins: [other.origin] })

  await page.goto(other.pageUrl(core.url))

  await expect(connection(page)).toHaveAttribute('data-state', 'connected')
  await expect(connection(page)).toHaveText('Connected')
})

test('shows the disconnect and retries when the core process dies', async ({ desk, page }) => {
  await desk.open(page)
  const status = connection(page)

  await desk.core().kill('SIGKILL')

  await expect(status).toHaveAttribute('data-state', 'reconnecting')
  await expect(status).toHaveText(/^Disconnected from the core \(1006[^)]*\)\. Reconnecting in \d+ s…$/)
})

test('explains how to connect when the page has no core address', async ({ page }) => {
  // Opened as a file, outside the app: there is nothing to connect to and nothing to retry.
  await page.goto(pathToFileURL(join(rendererDir, 'index.html')).href)

  const status = connection(page)
  await expect(status).toHaveAttribute('data-state', 'offline')
  await expect(status).toHaveText(/^Cannot connect to the core: .*--web-ui.*\?ws=ws:\/\/127\.0\.0\.1:PORT/)
  await expect(status).not.toContainText('Retrying')
})

test('says what is wrong with a ?ws= address that is not a websocket URL', async ({ desk, page }) => {
  const other = await desk.serveStatic()

  await page.goto(other.pageUrl('http://127.0.0.1:1/'))

  const status = connection(page)
  await expect(status).toHaveAttribute('data-state', 'offline')
  await expect(status).toContainText('http://127.0.0.1:1/')
  await expect(status).not.toContainText('Retrying')
})
