/**
 * Dismissed diagnostics stay dismissed after a reload (they are remembered in the browser's
 * storage by their content), and a problem whose text or place changed shows again.
 */
import { writeFile } from 'node:fs/promises'
import { expect, test } from './fixtures'
import { connection, diagnostics } from './ui'

test.describe('a dismissed config problem', () => {
  const badLine = 'collaboration_modes = "true"'
  test.use({ deskConfig: `[features]\n${badLine}` })

  test('stays hidden after a reload, and shows again once the problem changes', async ({ desk, page }) => {
    await desk.open(page)
    const entry = diagnostics(page).locator('.diagnostic')
    await expect(entry).toHaveCount(1)
    await entry.getByRole('button', { name: 'Dismiss this problem' }).click()
    await expect(diagnostics(page)).toHaveCount(0)

    await page.reload()
    await expect(connection(page)).toHaveAttribute('data-state', 'connected')
    // A second problem shows once the page has the core's set: the dismissed one stays hidden.
    // (Added below the first, so the first one's place does not change.)
    const two = `${desk.configText}\n[history]\nmax_bytes = "big"\n`
    await writeFile(desk.configPath, two)
    await expect(entry.locator('.summary')).toContainText('history.max_bytes')
    await expect(entry).toHaveCount(1)

    // The same mistake with another value is another problem: it shows, and after a reload too.
    await writeFile(desk.configPath, two.replace(badLine, 'collaboration_modes = "yes"'))
    await expect(entry).toHaveCount(2)
    await expect(entry.filter({ hasText: '"yes"' })).toHaveCount(1)
    await page.reload()
    await expect(connection(page)).toHaveAttribute('data-state', 'connected')
    await expect(entry).toHaveCount(2)
    await expect(entry.filter({ hasText: '"yes"' })).toHaveCount(1)
  })
})

test.describe('the no-sandbox notice, dismissed', () => {
  let saved: string | undefined
  test.beforeAll(() => {
    saved = process.env.CODEX_DESK_SANDBOX
    process.env.CODEX_DESK_SANDBOX = 'none'
  })
  test.afterAll(() => {
    if (saved === undefined) delete process.env.CODEX_DESK_SANDBOX
    else process.env.CODEX_DESK_SANDBOX = saved
  })

  test('does not come back after a reload or a core restart', async ({ desk, page }) => {
    await desk.open(page)
    const notices = page.getByRole('region', { name: 'Machine notices' })
    await expect(notices.getByRole('note')).toHaveCount(1)
    await notices.getByRole('button', { name: 'Dismiss this notice' }).click()
    await expect(notices).toHaveCount(0)

    await page.reload()
    await expect(connection(page)).toHaveAttribute('data-state', 'connected')
    await desk.restart()
    await expect(connection(page)).toHaveAttribute('data-state', 'connected')
    await page.reload()
    await expect(connection(page)).toHaveAttribute('data-state', 'connected')
    // A config problem shows once the page has the core's set: the notice stays hidden.
    await writeFile(desk.configPath, `${desk.configText}\n[features]\ncollaboration_modes = "true"\n`)
    await expect(diagnostics(page).locator('.diagnostic')).toHaveCount(1)
    await expect(notices).toHaveCount(0)
    // What is remembered is a short hash per entry, not the text.
    const stored = await page.evaluate(() => localStorage.getItem('codex-desk.dismissedDiagnostics'))
    expect(JSON.parse(stored ?? '[]')).toEqual([expect.stringMatching(/^[0-9a-z]+\.[0-9a-z]+$/)])
  })
})
