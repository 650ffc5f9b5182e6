/**
 * The thread list beyond its badges, against the real --web-ui core and the scripted model: the
 * search (the core filters by name and preview), archive with its Undo, the archived view with
 * Unarchive, the time of each row (the last activity: it moves when a turn ends, open or not, and
 * not when a thread is clicked or the page reloads), the keyboard shortcuts with their help, and a
 * past turn's diff after a reload.
 */
import type { Page } from 'playwright/test'
import { stall, text } from '../test/support/modelServer'
import { expect, test } from './fixtures'
import {
  applyPatch,
  composer,
  newThreadButton,
  openThread,
  screenshot,
  startThread,
  threadList,
  threadRow,
  threadRows,
  threadView,
  turns,
  send,
} from './ui'

const search = (page: Page) => threadList(page).getByRole('searchbox', { name: 'Search threads' })
const archivedToggle = (page: Page) => threadList(page).getByRole('button', { name: 'Archived', exact: true })
const rowTime = (page: Page, id: string) => threadRow(page, id).locator('time.thread-time')

/** A row's time as the page shows it (its `datetime`), in ms. */
async function shownTime(page: Page, id: string): Promise<number> {
  const value = await rowTime(page, id).getAttribute('datetime')
  return value ? Date.parse(value) : Number.NaN
}

test('the search finds threads by name and preview, says when none match, and Esc clears it', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue(text('On it.'), text('Sure.'), text('Will do.'))
  const login = await startThread(page, 'Fix the login bug')
  const notes = await startThread(page, 'Write the release notes')
  const styles = await startThread(page, 'Polish the page styles')
  // A name matches too: rename the styles thread to mention the login page.
  await threadRow(page, styles).getByRole('button', { name: 'Rename thread' }).click()
  const name = threadRow(page, styles).getByRole('textbox', { name: 'Thread name' })
  await name.fill('Login page styles')
  await name.press('Enter')
  await expect(threadRow(page, styles).getByRole('button', { name: 'Login page styles' })).toBeVisible()

  await search(page).fill('login')
  await expect(threadRows(page)).toHaveCount(2)
  await expect(threadRow(page, login)).toBeVisible()
  await expect(threadRow(page, styles)).toBeVisible()
  await expect(threadRow(page, notes)).toHaveCount(0)
  await screenshot(page, 'search', { readme: 'search.png' })

  await search(page).fill('nothing like this')
  await expect(threadRows(page)).toHaveCount(0)
  await expect(threadList(page).locator('.thread-list-empty')).toHaveText(
    'No threads match “nothing like this”.',
  )

  await search(page).press('Escape')
  await expect(search(page)).toHaveValue('')
  await expect(threadRows(page)).toHaveCount(3)

  // New thread during a search: the search is cleared, so the new thread is in the list.
  await search(page).fill('notes')
  await expect(threadRows(page)).toHaveCount(1)
  await newThreadButton(page).click()
  await expect(search(page)).toHaveValue('')
  await expect(threadRows(page)).toHaveCount(4)
  await expect(threadList(page).locator('li[aria-current="true"]')).toHaveCount(1)
})

test('archive offers Undo; the archived view lists the thread and Unarchive brings it back', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue(text('Kept.'), text('Archived soon.'))
  const kept = await startThread(page, 'A thread to keep')
  const id = await startThread(page, 'A thread to archive')
  const toast = threadList(page).getByRole('status', { name: 'Archived' })

  await threadRow(page, id).getByRole('button', { name: 'Archive thread' }).click()
  await expect(threadRow(page, id)).toHaveCount(0)
  await expect(toast).toContainText('Archived “A thread to archive”.')
  await toast.getByRole('button', { name: 'Undo' }).click()
  await expect(threadRow(page, id)).toBeVisible()
  await expect(toast).toBeHidden()

  await threadRow(page, id).getByRole('button', { name: 'Archive thread' }).click()
  await expect(threadRow(page, id)).toHaveCount(0)
  await archivedToggle(page).click()
  await expect(archivedToggle(page)).toHaveAttribute('aria-pressed', 'true')
  await expect(threadList(page).getByRole('heading', { name: 'Archived threads' })).toBeVisible()
  await expect(threadRows(page)).toHaveCount(1)
  await expect(threadRow(page, kept)).toHaveCount(0)
  await threadRow(page, id).getByRole('button', { name: 'Unarchive' }).click()
  await expect(threadRows(page)).toHaveCount(0)
  await expect(threadList(page).locator('.thread-list-empty')).toHaveText('No archived threads.')

  await archivedToggle(page).click()
  await expect(threadRow(page, id)).toBeVisible()
  await expect(threadRow(page, kept)).toBeVisible()
  // The archive survives a reload in the core, not only in the page.
  await page.reload()
  await expect(threadRows(page)).toHaveCount(2)
})

test('a row shows the last activity: it moves when a turn ends, open or not, and not on a click or a reload', async ({
  desk,
  page,
}) => {
  // Set below: a frame the page receives that starts a response carrying this thread.
  let watchFor: string | null = null
  let reread = false
  page.on('websocket', (ws) =>
    ws.on('framereceived', ({ payload }) => {
      if (watchFor && typeof payload === 'string' && payload.includes(watchFor)) reread = true
    }),
  )
  await desk.open(page)
  desk.model.enqueue(text('First answer.'))
  const first = await startThread(page, 'The busy thread')
  await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
  const afterFirst = await shownTime(page, first)
  expect(afterFirst).toBeGreaterThan(0)

  // A second turn that ends (whole seconds) later: held until the clock has moved on.
  desk.model.enqueue([stall(), text('Second answer.')])
  await send(page, 'Once more')
  await desk.model.waitForStall(1)
  await expect.poll(() => Date.now()).toBeGreaterThan(afterFirst + 2000)
  desk.model.release()
  await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
  await expect.poll(() => shownTime(page, first)).toBeGreaterThan(afterFirst)
  const afterSecond = await shownTime(page, first)

  // A third turn ends while another thread is open: its row moves too.
  desk.model.enqueue([stall(), text('Third answer.')], text('Other answer.'))
  await send(page, 'And again')
  await desk.model.waitForStall(2)
  const other = await startThread(page, 'Another thread')
  await expect.poll(() => Date.now()).toBeGreaterThan(afterSecond + 2000)
  // The row moves at turn/completed, then to the core's own updatedAt once the page has read the
  // thread again (they can straddle a second): wait for that read before taking the time.
  watchFor = `"result":{"thread":{"id":"${first}"`
  desk.model.release()
  await expect.poll(() => reread).toBe(true)
  await expect.poll(() => shownTime(page, first)).toBeGreaterThan(afterSecond)
  const afterThird = await shownTime(page, first)

  // Opening it, or reloading the page (the list comes from the core again), changes nothing.
  await openThread(page, first, 'The busy thread')
  await expect(turns(page)).toHaveCount(3)
  expect(await shownTime(page, first)).toBe(afterThird)
  await page.reload()
  await expect(turns(page)).toHaveCount(3)
  await expect.poll(() => shownTime(page, first)).toBe(afterThird)
  await expect(rowTime(page, first)).toHaveText('just now')
  await expect(rowTime(page, other)).toHaveAttribute('title', /^Last activity: /)
})

test('keyboard shortcuts: help, new thread, search, next and previous thread, focus the message box, interrupt', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue(text('One.'), text('Two.'))
  const older = await startThread(page, 'Older thread')
  const newer = await startThread(page, 'Newer thread')
  const mod = process.platform === 'darwin' ? 'Meta' : 'Control'

  await page.locator('body').click({ position: { x: 5, y: 5 } })
  await page.keyboard.press('?')
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' })
  await expect(help).toBeVisible()
  await expect(help.getByRole('row', { name: /New thread/ })).toContainText(
    `${mod === 'Meta' ? '⌘⇧' : 'Ctrl+Shift+'}O`,
  )
  await expect(help.getByRole('row', { name: /Answer an approval/ })).toContainText('shown on the buttons')
  await screenshot(page, 'shortcuts')
  await page.keyboard.press('Escape')
  await expect(help).toBeHidden()

  // Alt+↓ from the newest thread opens the next one down, Alt+↑ comes back.
  await expect(threadRow(page, newer)).toHaveAttribute('aria-current', 'true')
  await page.keyboard.press('Alt+ArrowDown')
  await expect(threadRow(page, older)).toHaveAttribute('aria-current', 'true')
  await expect(threadView(page).getByRole('heading', { level: 2 })).toHaveText('Older thread')
  await page.keyboard.press('Alt+ArrowUp')
  await expect(threadRow(page, newer)).toHaveAttribute('aria-current', 'true')

  await page.keyboard.press(`${mod}+k`)
  await expect(search(page)).toBeFocused()
  await search(page).press('Tab')
  await page.locator('body').click({ position: { x: 5, y: 5 } })
  await page.keyboard.press('/')
  await expect(composer(page).getByRole('textbox', { name: 'Message' })).toBeFocused()
  await expect(composer(page).getByRole('textbox', { name: 'Message' })).toHaveValue('')

  // Esc interrupts the running turn, even from the message box.
  desk.model.enqueue([stall(), text('never sent')])
  await send(page, 'Take your time')
  await desk.model.waitForStall(1)
  await composer(page).getByRole('textbox', { name: 'Message' }).press('Escape')
  await expect(turns(page).last()).toHaveAttribute('data-status', 'interrupted')

  await page.keyboard.press(`${mod}+Shift+O`)
  await expect(threadView(page).getByRole('heading', { level: 2 })).toHaveText('New thread')
  await expect(threadList(page).locator('li[aria-current="true"]')).not.toHaveAttribute(
    'data-thread-id',
    newer,
  )
  await expect(newThreadButton(page)).toBeVisible()
})

test.describe('with patches applied without asking', () => {
  test.use({ deskConfig: 'approval_policy = "never"\nsandbox_mode = "workspace-write"' })

  test("a past turn's diff is shown after a reload", async ({ desk, page }) => {
    await desk.open(page)
    const patch = '*** Begin Patch\n*** Add File: notes/plan.txt\n+step one\n+step two\n*** End Patch'
    desk.model.enqueue(applyPatch(patch, 'call_plan'), text('I wrote the plan.'))
    await startThread(page, 'Write the plan down')
    const turn = turns(page).last()
    await expect(turn).toHaveAttribute('data-status', 'completed')
    const diff = turn.locator('details.turn-diff')
    await expect(diff).toBeVisible()

    await page.reload()
    const again = turns(page).last()
    await expect(again).toHaveAttribute('data-status', 'completed')
    const reopened = again.locator('details.turn-diff')
    await expect(reopened).toBeVisible()
    await reopened.locator('summary').click()
    await expect(reopened.locator('.diff')).toContainText('notes/plan.txt')
    await expect(reopened.locator('.diff')).toContainText('+step one')
    await expect(reopened.locator('.diff')).toContainText('+step two')
  })
})
