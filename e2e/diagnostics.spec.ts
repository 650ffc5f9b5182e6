/**
 * Config diagnostics: a mistake in the user's config.toml shows up in the UI with its summary, the
 * compiler-style details (the source line and an underline under the exact columns), and the
 * `path:line:column` a user can copy into an editor. The banner follows the file as it is edited
 * (fixed, moved, dismissed), and a machine notice (no sandbox) is apart from it.
 */
import { writeFile } from 'node:fs/promises'
import { expect, test } from './fixtures'
import { connection, diagnostics, screenshot } from './ui'

/** The 1-based line of `line` in the config the fixture wrote. */
function lineOf(configText: string, line: string): number {
  const index = configText.split('\n').indexOf(line)
  if (index < 0) throw new Error(`${line} is not in the generated config`)
  return index + 1
}

test.describe('a setting with the wrong type', () => {
  const badLine = 'collaboration_modes = "true"'
  test.use({ deskConfig: `[features]\n${badLine}` })

  test('shows the diagnostic with its path:line:column, the source line and the underline', async ({
    desk,
    page,
    context,
  }) => {
    await desk.open(page)
    const line = lineOf(desk.configText, badLine)
    const column = badLine.indexOf('"true"') + 1
    const location = `${desk.configPath}:${line}:${column}`

    const diagnostic = diagnostics(page).locator('.diagnostic')
    await expect(diagnostic).toHaveCount(1)
    await expect(diagnostic.locator('.summary')).toHaveText(
      'Invalid value for `features.collaboration_modes` in the user config; that setting is ignored and the rest of the file applies.',
    )
    await expect(diagnostic.locator('.location')).toHaveText(location)
    // toHaveText would collapse the spaces that put the underline under the value: compare verbatim.
    const details = diagnostic.locator('pre.details')
    await expect(details).toBeVisible()
    expect(await details.textContent()).toBe(
      [
        `${location}: invalid type: string "true", expected a boolean in \`features.collaboration_modes\``,
        '  |',
        `${line} | ${badLine}`,
        `  | ${' '.repeat(column - 1)}^^^^^^`,
      ].join('\n'),
    )
    await screenshot(page, 'config-diagnostic', { readme: 'config-diagnostic.png' })

    // In a browser the location is copied, for pasting into an editor's "go to file".
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: desk.origin })
    await diagnostic
      .locator('.location')
      .getByRole('button')
      .or(diagnostic.locator('button.location'))
      .click()
    await expect(diagnostic.locator('.location-feedback')).toHaveText('Copied')
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(location)
  })
})

test.describe('a syntax error', () => {
  const badLine = '[features'
  test.use({ deskConfig: badLine })

  test('points at the line and column where the table header breaks off, and the UI still connects', async ({
    desk,
    page,
  }) => {
    await desk.open(page)
    await expect(connection(page)).toHaveAttribute('data-state', 'connected')
    const line = lineOf(desk.configText, badLine)
    const column = badLine.length + 1
    const location = `${desk.configPath}:${line}:${column}`

    const diagnostic = diagnostics(page).locator('.diagnostic')
    await expect(diagnostic).toHaveCount(1)
    await expect(diagnostic.locator('.summary')).toHaveText(
      'Invalid configuration in the user config; the whole file is ignored.',
    )
    await expect(diagnostic.locator('.location')).toHaveText(location)
    const details = diagnostic.locator('pre.details')
    await expect(details).toBeVisible()
    const lines = (await details.textContent())?.split('\n') ?? []
    expect(lines[0]).toMatch(new RegExp(`^${escapeRegExp(location)}: Expected "\\.", "\\]"`))
    expect(lines.slice(1)).toEqual(['  |', `${line} | ${badLine}`, `  | ${' '.repeat(column - 1)}^`])
  })
})

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

test.describe('the banner shows the config problems as they are now', () => {
  test('fixing the file clears its problem, changing it replaces the problem, and Dismiss hides one until it changes', async ({
    desk,
    page,
  }) => {
    await desk.open(page)
    const banner = diagnostics(page)
    await expect(banner).toHaveCount(0)

    // Broken while the page is open: the problem shows without a reload.
    const broken = `${desk.configText}\n[features]\ncollaboration_modes = "true"\n`
    await writeFile(desk.configPath, broken)
    const entry = banner.locator('.diagnostic')
    await expect(entry).toHaveCount(1)
    const firstLine = broken.split('\n').indexOf('collaboration_modes = "true"') + 1
    await expect(entry.locator('.location')).toHaveText(new RegExp(`:${firstLine}:\\d+$`))

    // Fixed: the banner goes away, no reload.
    await writeFile(desk.configPath, desk.configText)
    await expect(banner).toHaveCount(0)

    // Broken again, then the broken line moves: the old line's problem is replaced, not kept.
    await writeFile(desk.configPath, broken)
    await expect(entry).toHaveCount(1)
    const moved = `${desk.configText}\n[features]\n# a comment pushes it down\ncollaboration_modes = "yes"\n`
    const movedLine = moved.split('\n').indexOf('collaboration_modes = "yes"') + 1
    await writeFile(desk.configPath, moved)
    await expect(entry.locator('.location')).toHaveText(new RegExp(`:${movedLine}:\\d+$`))
    await expect(entry).toHaveCount(1)
    await expect(banner.locator('.diagnostics-title')).toHaveText('Config problem')

    // A second problem is the newest: it is listed first, in view.
    const two = moved.replace('model = "e2e-model"', 'model = "e2e-model"\nmodel_reasoning_summary = "loud"')
    await writeFile(desk.configPath, two)
    await expect(entry).toHaveCount(2)
    await expect(banner.locator('.diagnostics-title')).toHaveText('2 config problems')
    await expect(entry.first().locator('.summary')).toContainText('model_reasoning_summary')
    await expect(entry.first()).toBeInViewport()
    await screenshot(page, 'config-diagnostics-live')

    // Dismissed: gone while it stays the same, back once it changes.
    await entry.first().getByRole('button', { name: 'Dismiss this problem' }).click()
    await expect(entry).toHaveCount(1)
    await expect(entry.locator('.summary')).toContainText('collaboration_modes')
    await entry.getByRole('button', { name: 'Dismiss this problem' }).click()
    await expect(banner).toHaveCount(0)
    await writeFile(desk.configPath, two.replace('"loud"', '"louder"'))
    await expect(entry).toHaveCount(1)
    await expect(entry.locator('.summary')).toContainText('model_reasoning_summary')
  })
})

test.describe('on a machine without a sandbox', () => {
  let saved: string | undefined
  test.beforeAll(() => {
    saved = process.env.CODEX_DESK_SANDBOX
    process.env.CODEX_DESK_SANDBOX = 'none'
  })
  test.afterAll(() => {
    if (saved === undefined) delete process.env.CODEX_DESK_SANDBOX
    else process.env.CODEX_DESK_SANDBOX = saved
  })

  test('the notice is apart from config problems, small, dismissible, and back at once after a core restart', async ({
    desk,
    page,
  }) => {
    await desk.open(page)
    const notices = page.getByRole('region', { name: 'Machine notices' })
    const notice = notices.getByRole('note')
    await expect(notice).toHaveCount(1)
    await expect(notice).toContainText('Commands cannot be sandboxed on this machine')
    // Not a config problem, and one line high.
    await expect(diagnostics(page)).toHaveCount(0)
    const box = await notice.boundingBox()
    expect(box?.height ?? 0).toBeLessThan(40)
    // Its details are one click away.
    await notice.locator('summary').click()
    await expect(notice.locator('.notice-details')).toContainText('needs your approval')
    await screenshot(page, 'machine-notice')

    // A core restart: the notice is there again as soon as the page reconnects, before any turn.
    await desk.restart()
    await expect(connection(page)).toHaveAttribute('data-state', 'connected')
    await expect(notice).toHaveCount(1)

    await notice.getByRole('button', { name: 'Dismiss this notice' }).click()
    await expect(notices).toHaveCount(0)
    // Dismissed stays dismissed across another restart: the notice did not change.
    await desk.restart()
    await expect(connection(page)).toHaveAttribute('data-state', 'connected')
    await expect(notices).toHaveCount(0)
  })
})
