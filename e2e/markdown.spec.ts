/**
 * Rendered answers as a user sees them: an answer streamed in small deltas shows as Markdown (a
 * heading, a list, a table, a task list, a highlighted TypeScript block in a monospace font with a
 * working Copy button); HTML the model writes stays text and never runs; a long command output is
 * collapsed with "Show all" and "Jump to end"; a declined patch reads as not applied.
 */
import { text } from '../test/support/modelServer'
import { expect, test } from './fixtures'
import {
  applyPatch,
  commandApproval,
  escalatedCommand,
  fileChangeApproval,
  items,
  screenshot,
  startThread,
  turns,
} from './ui'

const CODE = [
  'export function total(sizes: number[]): number {',
  '  // Sum of every size, in bytes.',
  '  return sizes.reduce((sum, size) => sum + size, 0)',
  '}',
].join('\n')

const ANSWER = [
  '# Release plan',
  '',
  'Three steps, then **ship**. See [the docs](https://example.com/docs) and [this](javascript:alert(1)).',
  '',
  '- Build the bundle',
  '- Run the tests',
  '- Tag the release',
  '',
  '| File | Size |',
  '| --- | ---: |',
  '| main.js | 120 kB |',
  '| style.css | 18 kB |',
  '',
  '- [x] Changelog written',
  '- [ ] Announcement sent',
  '',
  '```ts',
  CODE,
  '```',
  '',
  'Raw HTML stays text: <img src=x onerror="window.__injected = \'img\'"> and',
  '',
  '<script>window.__injected = "script"</script>',
  '',
].join('\n')

/** The answer in deltas of about 7 characters, as a model streams it. */
const CHUNKS = ANSWER.match(/[\s\S]{1,7}/g) ?? []

test('an answer shows as Markdown: headings, lists, a table, tasks and highlighted code', async ({
  desk,
  page,
}) => {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: desk.origin })
  const requests: string[] = []
  page.on('request', (request) => requests.push(request.url()))
  await desk.open(page)
  desk.model.enqueue(text(ANSWER, { chunks: CHUNKS }))
  await startThread(page, 'Plan the release')
  const turn = turns(page).last()
  await expect(turn).toHaveAttribute('data-status', 'completed', { timeout: 60_000 })
  const answer = items(turn, 'agentMessage').locator('.item-text')

  await expect(answer.getByRole('heading', { level: 1 })).toHaveText('Release plan')
  await expect(answer.locator('strong')).toHaveText('ship')
  await expect(answer.getByRole('listitem').filter({ hasText: 'Run the tests' })).toBeVisible()

  // The table, cell by cell.
  const table = answer.getByRole('table')
  await expect(table.getByRole('columnheader')).toHaveText(['File', 'Size'])
  await expect(table.getByRole('row')).toHaveCount(3)
  await expect(table.getByRole('row').nth(1).getByRole('cell')).toHaveText(['main.js', '120 kB'])
  await expect(table.getByRole('row').nth(2).getByRole('cell')).toHaveText(['style.css', '18 kB'])

  // Tasks show their state and cannot be ticked.
  const boxes = answer.getByRole('checkbox')
  await expect(boxes).toHaveCount(2)
  await expect(boxes.nth(0)).toBeChecked()
  await expect(boxes.nth(1)).not.toBeChecked()
  await expect(boxes.nth(0)).toBeDisabled()

  // Links open outside the page; a script link is no link.
  const docs = answer.getByRole('link', { name: 'the docs' })
  await expect(docs).toHaveAttribute('href', 'https://example.com/docs')
  await expect(docs).toHaveAttribute('target', '_blank')
  await expect(docs).toHaveAttribute('rel', 'noopener noreferrer')
  await expect(answer.getByRole('link', { name: 'this' })).toHaveCount(0)
  await expect(answer.locator('a', { hasText: 'this' })).not.toHaveAttribute('href')

  // The code: monospace, highlighted, copied as written.
  const block = answer.locator('.code-block')
  await expect(block).toHaveCount(1)
  const code = block.locator('pre code')
  await expect(code).toHaveText(CODE + '\n')
  await expect(block.locator('.code-lang')).toHaveText('ts')
  const font = await code.evaluate((element) => getComputedStyle(element).fontFamily)
  expect(font).toMatch(/monospace/)
  await expect(code.locator('span.hljs-keyword').first()).toBeVisible()
  await expect(code.locator('span.hljs-comment')).toHaveText('// Sum of every size, in bytes.')
  const keywordColor = await code
    .locator('span.hljs-keyword')
    .first()
    .evaluate((element) => getComputedStyle(element).color)
  const plainColor = await code.evaluate((element) => getComputedStyle(element).color)
  expect(keywordColor).not.toBe(plainColor)
  await block.getByRole('button', { name: 'Copy' }).click()
  await expect(block.getByRole('button', { name: 'Copied' })).toBeVisible()
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(CODE + '\n')
  await screenshot(page, 'markdown', { readme: 'markdown.png' })

  // HTML in the answer is shown as the model wrote it, never as elements, and nothing of it ran.
  await expect(answer).toContainText('<img src=x onerror="window.__injected = \'img\'">')
  await expect(answer).toContainText('<script>window.__injected = "script"</script>')
  await expect(answer.locator('img, script, iframe, style')).toHaveCount(0)
  expect(await page.evaluate(() => (window as unknown as { __injected?: string }).__injected)).toBeUndefined()
  expect(requests.filter((url) => new URL(url).pathname === '/x')).toEqual([])
})

test('a long command output is collapsed, with Show all and Jump to end', async ({ desk, page }) => {
  await desk.open(page)
  desk.model.enqueue(
    escalatedCommand('seq 1 200', 'Print numbers', 'call_seq'),
    text('Printed **200** lines.'),
  )
  await startThread(page, 'Count to 200')
  await commandApproval(page).getByRole('button', { name: 'Accept', exact: true }).click()
  const turn = turns(page).last()
  await expect(turn).toHaveAttribute('data-status', 'completed', { timeout: 60_000 })
  const command = items(turn, 'commandExecution')
  const output = command.locator('.output')
  await expect(output).toContainText('200')

  const showAll = command.getByRole('button', { name: 'Show all 200 lines' })
  await expect(showAll).toBeVisible()
  const collapsedHeight = await output.evaluate((element) => element.clientHeight)
  expect(collapsedHeight).toBeLessThan(await output.evaluate((element) => element.scrollHeight))

  await command.getByRole('button', { name: 'Jump to end' }).click()
  await expect
    .poll(() => output.evaluate((e) => e.scrollHeight - e.scrollTop - e.clientHeight))
    .toBeLessThan(2)

  await showAll.click()
  const collapse = command.getByRole('button', { name: 'Collapse' })
  await expect(collapse).toHaveAttribute('aria-expanded', 'true')
  await expect.poll(() => output.evaluate((e) => e.scrollHeight - e.clientHeight)).toBeLessThanOrEqual(1)
  await expect(items(turn, 'agentMessage').locator('strong')).toHaveText('200')
})

test.describe('under approval_policy untrusted', () => {
  test.use({ deskConfig: 'approval_policy = "untrusted"\nsandbox_mode = "workspace-write"' })

  test('a declined patch says it was not applied and keeps its diff folded and grey', async ({
    desk,
    page,
  }) => {
    await desk.open(page)
    const patch = '*** Begin Patch\n*** Add File: plan.txt\n+step one\n+step two\n*** End Patch'
    desk.model.enqueue(applyPatch(patch, 'call_plan'), text('I left the files alone.'))
    await startThread(page, 'Write a plan file')
    await fileChangeApproval(page).getByRole('button', { name: 'Decline', exact: true }).click()

    const turn = turns(page).last()
    await expect(turn).toHaveAttribute('data-status', 'completed', { timeout: 60_000 })
    const change = items(turn, 'fileChange')
    await expect(change).toHaveAttribute('data-status', 'declined')
    await expect(change.locator('.not-applied')).toHaveText(
      'Declined: not applied. These changes were not made to your files.',
    )
    await expect(change.locator('.not-applied')).toBeVisible()
    // The diff is folded away; opened, it is greyed out.
    const diff = change.locator('.diff')
    await expect(diff).toBeHidden()
    await change.getByText('Show the proposed changes (1 file)').click()
    await expect(diff).toBeVisible()
    await expect(diff).toContainText('step one')
    const filter = await change.locator('.file-change').evaluate((e) => getComputedStyle(e).filter)
    expect(filter).toContain('grayscale')
    await screenshot(page, 'patch-declined')
  })
})
