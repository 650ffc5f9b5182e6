/**
 * An archived thread opens from the archived view to be read: its whole history, marked archived,
 * with Unarchive at hand and the composer saying why it takes no message (codex resumes no archived
 * thread). A reload keeps it open that way; Unarchive makes it a normal thread that goes on.
 */
import type { Page } from 'playwright/test'
import { text } from '../test/support/modelServer'
import { expect, test } from './fixtures'
import {
  composer,
  connection,
  items,
  screenshot,
  startThread,
  threadList,
  threadRow,
  threadView,
  turns,
} from './ui'

const archivedToggle = (page: Page) => threadList(page).getByRole('button', { name: 'Archived', exact: true })
const archivedNote = (page: Page) => threadView(page).getByRole('note', { name: 'Archived thread' })
const answer = (page: Page) => items(turns(page).last(), 'agentMessage').locator('.item-text')

test('an archived thread opens read-only from the archived view, and Unarchive lets it go on', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue(text('Here is the plan, kept for later.'))
  const id = await startThread(page, 'Plan the migration')
  await expect(answer(page)).toHaveText('Here is the plan, kept for later.')
  await threadRow(page, id).getByRole('button', { name: 'Archive thread' }).click()
  await expect(threadRow(page, id)).toHaveCount(0)

  // Opened from the archived view: the history, marked archived, and no way to send.
  await archivedToggle(page).click()
  await threadRow(page, id).getByRole('button', { name: 'Plan the migration', exact: true }).click()
  await expect(threadRow(page, id)).toHaveAttribute('aria-current', 'true')
  await expect(threadView(page).getByRole('heading', { level: 2 })).toHaveText('Plan the migration')
  await expect(answer(page)).toHaveText('Here is the plan, kept for later.')
  await expect(archivedNote(page)).toContainText('unarchive it to continue')
  const box = composer(page).getByRole('textbox', { name: 'Message' })
  await expect(box).toBeDisabled()
  await expect(box).toHaveAttribute('placeholder', 'This thread is archived. Unarchive it to send a message.')
  await expect(composer(page).getByRole('button', { name: 'Send' })).toBeDisabled()
  await screenshot(page, 'archived-thread')

  // A reload opens it again the same way (the core still refuses to resume it; it is read).
  await page.reload()
  await expect(connection(page)).toHaveAttribute('data-state', 'connected')
  await expect(answer(page)).toHaveText('Here is the plan, kept for later.')
  await expect(archivedNote(page)).toBeVisible()
  await expect(box).toBeDisabled()
  // Not listed among the active threads meanwhile.
  await expect(threadRow(page, id)).toHaveCount(0)

  // Unarchive from the note: a normal thread again, in the list, and it takes the next message.
  await archivedNote(page).getByRole('button', { name: 'Unarchive' }).click()
  await expect(archivedNote(page)).toBeHidden()
  await expect(threadRow(page, id)).toHaveAttribute('aria-current', 'true')
  await expect(box).toBeEnabled()
  desk.model.enqueue(text('Picking the plan up again.'))
  await box.fill('Go on with it')
  await box.press('Enter')
  await expect(answer(page)).toHaveText('Picking the plan up again.')
  await expect(turns(page)).toHaveCount(2)
})

test('Unarchive in the archived list turns the open archived thread into a normal one', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue(text('Old answer.'))
  const id = await startThread(page, 'An old question')
  await expect(answer(page)).toHaveText('Old answer.')
  await threadRow(page, id).getByRole('button', { name: 'Archive thread' }).click()
  await archivedToggle(page).click()
  await threadRow(page, id).getByRole('button', { name: 'An old question', exact: true }).click()
  await expect(archivedNote(page)).toBeVisible()

  await threadRow(page, id).getByRole('button', { name: 'Unarchive' }).click()
  await expect(archivedNote(page)).toBeHidden()
  await expect(threadList(page).locator('.thread-list-empty')).toHaveText('No archived threads.')
  await expect(composer(page).getByRole('textbox', { name: 'Message' })).toBeEnabled()
  await expect(answer(page)).toHaveText('Old answer.')
  await archivedToggle(page).click()
  await expect(threadRow(page, id)).toHaveAttribute('aria-current', 'true')
})
