/**
 * Config diagnostics: a mistake in the user's config.toml shows up in the UI with its summary, the
 * compiler-style details (the source line and an underline under the exact columns), and the
 * `path:line:column` a user can copy into an editor.
 */
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
