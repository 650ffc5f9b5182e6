/**
 * Threads and turns as the user sees them: the thread list's live status badges (driven by
 * `thread/status/changed`) through a turn that runs, waits for an approval, runs again and ends,
 * then a failed turn; and an agent message streaming into the thread view.
 */
import { delayMs, httpError, reasoning, stall, text } from '../test/support/modelServer'
import { expect, test } from './fixtures'
import {
  commandApproval,
  composer,
  delayAnswers,
  escalatedCommand,
  expectBadge,
  items,
  newThreadButton,
  openThread,
  pausedMessage,
  screenshot,
  send,
  startThread,
  threadRow,
  threadList,
  threadRows,
  threadView,
  turns,
} from './ui'

test('the thread list shows the status live: idle, running, waiting for approval, running, idle, then error', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue(text('Ready when you are.'))
  const id = await startThread(page, 'Check the build')
  const row = threadRow(page, id)
  await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
  await expectBadge(row, 'idle')

  // Each stall holds the model's answer, so every state stays on screen until the test moves on.
  desk.model.enqueue(
    [stall(), escalatedCommand('echo build-ok', 'Print the build result', 'call_build')],
    [stall(), text('The build is fine.')],
  )
  await send(page, 'Run the build check')
  await desk.model.waitForStall(1)
  await expectBadge(row, 'active')

  desk.model.release()
  await expectBadge(row, 'waitingOnApproval')
  await commandApproval(page).getByRole('button', { name: 'Accept', exact: true }).click()

  await desk.model.waitForStall(2)
  await expectBadge(row, 'active')

  desk.model.release()
  await expectBadge(row, 'idle')
  await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')

  desk.model.enqueue(
    httpError(400, { error: { message: 'the request was malformed', type: 'invalid_request_error' } }),
  )
  await send(page, 'Now break it')
  await expectBadge(row, 'systemError')
  const failed = turns(page).last()
  await expect(failed).toHaveAttribute('data-status', 'failed')
  await expect(failed.locator('.turn-status')).toHaveText(/^failed: .*the request was malformed/)
})

test('a thread that is not open keeps its badge live', async ({ desk, page }) => {
  await desk.open(page)
  desk.model.enqueue(text('First answer.'))
  const first = await startThread(page, 'First thread')
  desk.model.enqueue([stall(), text('Second answer.')])
  const second = await startThread(page, 'Second thread')
  await desk.model.waitForStall(1)
  await expectBadge(threadRow(page, second), 'active')

  // Newest first.
  await expect(threadRows(page).first()).toHaveAttribute('data-thread-id', second)
  await openThread(page, first, 'First thread')
  await expect(threadRow(page, second)).not.toHaveAttribute('aria-current', 'true')

  desk.model.release()
  await expectBadge(threadRow(page, second), 'idle')
  await expectBadge(threadRow(page, first), 'idle')
})

test('an agent message streams into the thread view and ends with the exact final text', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  // An earlier thread, so the list in the screenshot holds more than one.
  desk.model.enqueue(text('Three fixes and one new setting; nothing breaks.'))
  await startThread(page, 'Summarize the release notes')
  await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')

  const before = ['Streaming ', 'shows ', 'the ', 'answer ']
  const after = ['as ', 'it ', 'arrives, ', 'word ', 'by ', 'word.']
  const thinking = 'Deltas go straight to the open view; the final text replaces them.'
  desk.model.enqueue([delayMs(40), reasoning(thinking), ...pausedMessage(before, after, { outputIndex: 1 })])
  const id = await startThread(page, 'How does streaming look?')

  const turn = turns(page).last()
  const agentText = items(turn, 'agentMessage').locator('.item-text')
  // Mid-message: the deltas so far are on screen while the turn is still running.
  await expect(agentText).toHaveText('Streaming shows the answer')
  await expect(items(turn, 'reasoning').locator('.item-text')).toHaveText(thinking)
  await expect(turn).toHaveAttribute('data-status', 'inProgress')
  await expect(turn.locator('.turn-status')).toHaveText('running')
  await expectBadge(threadRow(page, id), 'active')
  await expect(threadView(page).getByRole('heading', { level: 2 })).toHaveText('How does streaming look?')
  await screenshot(page, 'thread-streaming', { readme: 'thread-streaming.png' })

  desk.model.release()
  await expect(turn).toHaveAttribute('data-status', 'completed')
  await expect(turn.locator('.turn-status')).toHaveText('completed')
  await expect(agentText).toHaveText('Streaming shows the answer as it arrives, word by word.')
  await expect(items(turn, 'userMessage').locator('.item-text')).toHaveText('How does streaming look?')
  await expect(items(turn)).toHaveCount(3)
  await expectBadge(threadRow(page, id), 'idle')
})

test('Interrupt stops a running turn; the text so far stays and the model stream is closed', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue(pausedMessage(['A long answer that '], ['never finishes.']))
  const id = await startThread(page, 'Write something long')
  const turn = turns(page).last()
  const agentText = items(turn, 'agentMessage').locator('.item-text')
  await expect(agentText).toHaveText('A long answer that')

  await composer(page).getByRole('button', { name: 'Interrupt' }).click()

  await expect(turn).toHaveAttribute('data-status', 'interrupted')
  await expect(turn.locator('.turn-status')).toHaveText('interrupted')
  await expect(agentText).toHaveText('A long answer that')
  await expectBadge(threadRow(page, id), 'idle')
  await expect(composer(page).getByRole('button', { name: 'Interrupt' })).toHaveCount(0)
  await desk.model.waitForDisconnect(0)
})

test('a thread is renamed from the list, keeps its name after a reload, and is archived', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue(text('Noted.'), text('Noted again.'))
  const keep = await startThread(page, 'Keep this one')
  const id = await startThread(page, 'first draft title')
  const row = threadRow(page, id)

  await row.getByRole('button', { name: 'Rename thread' }).click()
  const input = row.getByRole('textbox', { name: 'Thread name' })
  await input.fill('Quarterly report')
  await input.press('Enter')
  await expect(row.getByRole('button', { name: 'Quarterly report', exact: true })).toBeVisible()
  await expect(threadView(page).getByRole('heading', { level: 2 })).toHaveText('Quarterly report')

  // Escape leaves the name alone.
  await row.getByRole('button', { name: 'Rename thread' }).click()
  await row.getByRole('textbox', { name: 'Thread name' }).fill('Not this')
  await row.getByRole('textbox', { name: 'Thread name' }).press('Escape')
  await expect(row.getByRole('button', { name: 'Quarterly report', exact: true })).toBeVisible()

  await page.reload()
  await expect(row.getByRole('button', { name: 'Quarterly report', exact: true })).toBeVisible()

  await row.getByRole('button', { name: 'Archive thread' }).click()
  await expect(row).toHaveCount(0)
  await expect(threadRows(page)).toHaveCount(1)
  await expect(threadRow(page, keep)).toBeVisible()
  await page.reload()
  await expect(threadRow(page, keep)).toBeVisible()
  await expect(row).toHaveCount(0)
})

// `New thread` opens the thread when thread/start answers; a message typed before that must still go
// to the new thread (once), never to the thread open before. Holding thread/start's answer makes the
// window wide enough to type into.
test.describe('a message sent while New thread is still starting', () => {
  test('goes to the new thread, not the one open before', async ({ desk, page }) => {
    const starts = await delayAnswers(page, 'thread/start', 300)
    await desk.open(page)
    desk.model.enqueue([stall(), text('First answer.')])
    const first = await startThread(page, 'First thread')
    await desk.model.waitForStall(1)
    desk.model.enqueue(text('Second answer.'))

    await newThreadButton(page).click()
    await send(page, 'Second thread')

    await expect.poll(() => starts.delivered()).toBe(2)
    await expect(threadRows(page)).toHaveCount(2)
    const open = threadList(page).locator('li[aria-current="true"]')
    await expect(open.getByRole('button', { name: 'Second thread', exact: true })).toBeVisible({
      timeout: 3000,
    })
    await expect(items(turns(page).last(), 'agentMessage').locator('.item-text')).toHaveText('Second answer.')
    await expect(threadRow(page, first)).toHaveCount(1)
  })

  test('starts exactly one thread on a page with none open', async ({ desk, page }) => {
    const starts = await delayAnswers(page, 'thread/start', 300)
    await desk.open(page)
    desk.model.enqueue(text('Only answer.'))

    await newThreadButton(page).click()
    await send(page, 'Only thread')

    await expect(items(turns(page).last(), 'agentMessage').locator('.item-text')).toHaveText('Only answer.')
    await expect.poll(() => starts.delivered()).toBe(starts.requested())
    await expect(threadRows(page)).toHaveCount(1, { timeout: 3000 })
  })
})
