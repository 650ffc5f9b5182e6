/**
 * The composer: a message typed while a turn runs is queued (shown as queued, editable, removable)
 * and runs as the next turn when this one ends, completed or interrupted, and after a reload exactly
 * once; Steer gives the text to the running turn; a failed turn reads as one sentence with a Retry
 * that sends the same message again. Checked against the model requests the core made.
 */
import { httpError, stall, text, type RecordedRequest } from '../test/support/modelServer'
import { expect, test } from './fixtures'
import {
  composer,
  connection,
  expectBadge,
  items,
  newThreadButton,
  screenshot,
  startThread,
  threadRow,
  threadView,
  turns,
} from './ui'
import type { Locator, Page } from 'playwright/test'

const messageBox = (page: Page): Locator => composer(page).getByRole('textbox', { name: 'Message' })
const queued = (page: Page): Locator =>
  composer(page).getByRole('list', { name: 'Queued messages' }).getByRole('listitem')
const userTexts = (turn: Locator): Locator => items(turn, 'userMessage').locator('.item-text')

/** The text of every user message the model was sent in this request, in order. */
function userInputs(request: RecordedRequest | undefined): string[] {
  const input = (request?.body as { input?: unknown[] } | undefined)?.input ?? []
  const texts: string[] = []
  for (const entry of input as { type?: string; role?: string; content?: { text?: string }[] }[]) {
    if (entry.type === 'message' && entry.role === 'user') {
      for (const part of entry.content ?? []) {
        // The core's own context blocks (<environment_context> ...) are not what the user typed.
        if (typeof part.text === 'string' && !part.text.startsWith('<')) texts.push(part.text)
      }
    }
  }
  return texts
}

/** Types into the message box and presses Enter (what queues while a turn runs). */
async function typeAndEnter(page: Page, message: string): Promise<void> {
  await messageBox(page).fill(message)
  await messageBox(page).press('Enter')
}

test('a message sent while a turn runs is queued, shown as queued, and runs as the next turn', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue([stall(), text('The tests pass.')], text('Here is the summary.'))
  const id = await startThread(page, 'Run the tests')
  await desk.model.waitForStall(1)
  await expect(composer(page).getByRole('button', { name: 'Interrupt' })).toBeVisible()
  const boxWidth = (await messageBox(page).boundingBox())?.width

  await typeAndEnter(page, 'Then summarize the failures')
  await expect(queued(page)).toHaveCount(1)
  await expect(queued(page).first()).toHaveAttribute('data-state', 'queued')
  await expect(queued(page).first()).toContainText('Queued')
  await expect(queued(page).first()).toContainText('Then summarize the failures')
  await expect(messageBox(page)).toHaveValue('')
  await expect(turns(page)).toHaveCount(1)
  // The box keeps its width while Interrupt and Steer show.
  expect((await messageBox(page).boundingBox())?.width).toBe(boxWidth)
  await messageBox(page).fill('A draft for later')
  await screenshot(page, 'queued-message', { readme: 'queued-message.png' })
  await messageBox(page).fill('')

  desk.model.release()
  await expect(turns(page)).toHaveCount(2)
  const next = turns(page).last()
  await expect(next).toHaveAttribute('data-status', 'completed')
  await expect(userTexts(next)).toHaveText(['Then summarize the failures'])
  await expect(items(next, 'agentMessage').locator('.item-text')).toHaveText('Here is the summary.')
  await expect(turns(page).first()).toHaveAttribute('data-status', 'completed')
  await expect(queued(page)).toHaveCount(0)
  await expectBadge(threadRow(page, id), 'idle')
  expect(desk.model.requests).toHaveLength(2)
  expect(userInputs(desk.model.requests[1]).at(-1)).toBe('Then summarize the failures')
})

test('a queued message can be edited and removed before it goes out; the rest run in order', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue([stall(), text('First done.')], text('Second done.'), text('Third done.'))
  await startThread(page, 'Step one')
  await desk.model.waitForStall(1)

  await typeAndEnter(page, 'Step two')
  await typeAndEnter(page, 'Step three')
  await typeAndEnter(page, 'Step four')
  await expect(queued(page)).toHaveCount(3)

  const second = queued(page).filter({ hasText: 'Step two' })
  await second.getByRole('button', { name: 'Edit' }).click()
  const editor = composer(page).getByRole('textbox', { name: 'Edit queued message' })
  await editor.fill('Step two, but carefully')
  await editor.press('Enter')
  await expect(queued(page).nth(0)).toContainText('Step two, but carefully')

  await queued(page).filter({ hasText: 'Step three' }).getByRole('button', { name: 'Remove' }).click()
  await expect(queued(page)).toHaveCount(2)
  await expect(queued(page).nth(1)).toContainText('Step four')

  desk.model.release()
  await expect(turns(page)).toHaveCount(3)
  await expect(turns(page).nth(2)).toHaveAttribute('data-status', 'completed')
  await expect(userTexts(turns(page).nth(1))).toHaveText(['Step two, but carefully'])
  await expect(userTexts(turns(page).nth(2))).toHaveText(['Step four'])
  await expect(queued(page)).toHaveCount(0)
  expect(desk.model.requests.map((r) => userInputs(r).at(-1))).toEqual([
    'Step one',
    'Step two, but carefully',
    'Step four',
  ])
})

test('a queued message survives Interrupt and runs as the next turn', async ({ desk, page }) => {
  await desk.open(page)
  desk.model.enqueue([stall(), text('Never finished.')], text('Done after the interrupt.'))
  const id = await startThread(page, 'Start a long job')
  await desk.model.waitForStall(1)
  await typeAndEnter(page, 'Do this instead')
  await expect(queued(page)).toHaveCount(1)

  await composer(page).getByRole('button', { name: 'Interrupt' }).click()

  await expect(turns(page).first()).toHaveAttribute('data-status', 'interrupted')
  await expect(turns(page)).toHaveCount(2)
  const next = turns(page).last()
  await expect(next).toHaveAttribute('data-status', 'completed')
  await expect(userTexts(next)).toHaveText(['Do this instead'])
  await expect(items(next, 'agentMessage').locator('.item-text')).toHaveText('Done after the interrupt.')
  await expect(queued(page)).toHaveCount(0)
  await expectBadge(threadRow(page, id), 'idle')
})

test('a queued message and the draft survive a reload mid-turn; the message runs exactly once', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue([stall(), text('Long job done.')], text('Follow-up done.'))
  const id = await startThread(page, 'Start the long job')
  await desk.model.waitForStall(1)
  await typeAndEnter(page, 'Then clean up')
  await expect(queued(page)).toHaveCount(1)
  await messageBox(page).fill('An unsent thought')

  await page.reload()
  await expect(connection(page)).toHaveAttribute('data-state', 'connected')
  await expect(threadRow(page, id)).toHaveAttribute('aria-current', 'true')
  await expect(turns(page).last()).toHaveAttribute('data-status', 'inProgress')
  await expect(queued(page)).toHaveCount(1)
  await expect(queued(page).first()).toContainText('Then clean up')
  await expect(messageBox(page)).toHaveValue('An unsent thought')

  desk.model.release()
  await expect(turns(page)).toHaveCount(2)
  await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
  await expect(userTexts(turns(page).last())).toHaveText(['Then clean up'])
  await expect(queued(page)).toHaveCount(0)
  await expectBadge(threadRow(page, id), 'idle')

  // Once more from scratch: the thread holds two turns, and nothing is sent again.
  await page.reload()
  await expect(connection(page)).toHaveAttribute('data-state', 'connected')
  await expect(turns(page)).toHaveCount(2)
  await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
  await expect(queued(page)).toHaveCount(0)
  await expect(messageBox(page)).toHaveValue('An unsent thought')
  expect(desk.model.requests.map((r) => userInputs(r).at(-1))).toEqual([
    'Start the long job',
    'Then clean up',
  ])
})

test('after a reload, a message queued for a thread that is not open still runs once that thread is idle', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue([stall(), text('Long job done.')], text('Follow-up done.'))
  const id = await startThread(page, 'Long job elsewhere')
  await desk.model.waitForStall(1)
  await typeAndEnter(page, 'Follow up when done')
  await expect(queued(page)).toHaveCount(1)
  await newThreadButton(page).click()
  await expect(threadView(page).getByRole('heading', { level: 2 })).toHaveText('New thread')

  await page.reload()
  await expect(connection(page)).toHaveAttribute('data-state', 'connected')
  desk.model.release()
  await expect.poll(() => desk.model.requests.length).toBe(2)
  await expectBadge(threadRow(page, id), 'idle')
  expect(userInputs(desk.model.requests[1]).at(-1)).toBe('Follow up when done')

  await threadRow(page, id).getByRole('button', { name: 'Long job elsewhere', exact: true }).click()
  await expect(turns(page)).toHaveCount(2)
  await expect(userTexts(turns(page).last())).toHaveText(['Follow up when done'])
  await expect(queued(page)).toHaveCount(0)
})

test('Steer gives the text to the running turn; the next model request carries it', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue([stall(), text('Using spaces so far.')], text('Switched to tabs.'))
  await startThread(page, 'Format the file')
  await desk.model.waitForStall(1)

  const steer = composer(page).getByRole('button', { name: /^Steer/ })
  await expect(steer).toBeVisible()
  await expect(steer).toContainText(/(Ctrl|⌘)\+Enter/)
  await messageBox(page).fill('Use tabs, not spaces')
  await steer.click()
  await expect(messageBox(page)).toHaveValue('')
  await expect(queued(page).first()).toHaveAttribute('data-state', 'steered')

  desk.model.release()
  const turn = turns(page).last()
  await expect(turn).toHaveAttribute('data-status', 'completed')
  await expect(turns(page)).toHaveCount(1)
  await expect(userTexts(turn)).toHaveText(['Format the file', 'Use tabs, not spaces'])
  await expect(queued(page)).toHaveCount(0)
  expect(desk.model.requests).toHaveLength(2)
  expect(userInputs(desk.model.requests[1])).toEqual(['Format the file', 'Use tabs, not spaces'])
})

test('a steer the turn never read (Interrupt first) is not lost: it runs as the next turn', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue([stall(), text('Never finished.')], text('Done with the steer.'))
  await startThread(page, 'Start something')
  await desk.model.waitForStall(1)
  await messageBox(page).fill('Actually, do this')
  await messageBox(page).press('Control+Enter')
  await expect(queued(page).first()).toHaveAttribute('data-state', 'steered')

  await composer(page).getByRole('button', { name: 'Interrupt' }).click()

  await expect(turns(page).first()).toHaveAttribute('data-status', 'interrupted')
  await expect(turns(page)).toHaveCount(2)
  await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
  await expect(userTexts(turns(page).last())).toHaveText(['Actually, do this'])
  await expect(queued(page)).toHaveCount(0)
  expect(desk.model.requests.map((r) => userInputs(r).at(-1))).toEqual([
    'Start something',
    'Actually, do this',
  ])
})

test('a queued message survives the core being killed and restarted, and runs once the thread is back', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue([stall(), text('Never finished.')])
  const id = await startThread(page, 'Start before the crash')
  await desk.model.waitForStall(1)
  await typeAndEnter(page, 'Run after the restart')
  await expect(queued(page)).toHaveCount(1)

  await desk.core().kill('SIGKILL')
  await expect(connection(page)).toHaveAttribute('data-state', 'reconnecting')
  await expect(queued(page)).toHaveCount(1)
  desk.model.enqueue(text('Back after the restart.'))
  await desk.restart()

  await expect(connection(page)).toHaveAttribute('data-state', 'connected')
  await expect(turns(page)).toHaveCount(2)
  await expect(turns(page).first()).toHaveAttribute('data-status', 'interrupted')
  await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
  await expect(userTexts(turns(page).last())).toHaveText(['Run after the restart'])
  await expect(queued(page)).toHaveCount(0)
  await expectBadge(threadRow(page, id), 'idle')
})

test('with two tabs on the thread, the tab that queued a message sends it, once; the other shows it', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue([stall(), text('First done.')], text('Queued one done.'))
  const id = await startThread(page, 'Shared thread')
  await desk.model.waitForStall(1)

  const other = await page.context().newPage()
  await desk.open(other)
  await threadRow(other, id).getByRole('button', { name: 'Shared thread', exact: true }).click()
  await expect(turns(other).first()).toHaveAttribute('data-status', 'inProgress')

  await typeAndEnter(page, 'Queued in the first tab')
  await expect(queued(other)).toHaveCount(1)
  await expect(queued(other).first()).toContainText('Queued in another window')
  await expect(queued(page).first()).toContainText(/^Queued/)

  desk.model.release()
  for (const tab of [page, other]) {
    await expect(turns(tab)).toHaveCount(2)
    await expect(turns(tab).last()).toHaveAttribute('data-status', 'completed')
    await expect(userTexts(turns(tab).last())).toHaveText(['Queued in the first tab'])
    await expect(queued(tab)).toHaveCount(0)
  }
  expect(desk.model.requests.map((r) => userInputs(r).at(-1))).toEqual([
    'Shared thread',
    'Queued in the first tab',
  ])
  await other.close()
})

test('a failed turn reads as one sentence with the details folded, and Retry sends the message again', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue(
    httpError(400, { error: { message: 'the request was malformed', type: 'invalid_request_error' } }),
    text('It worked this time.'),
  )
  await startThread(page, 'Try the flaky thing')
  const failed = turns(page).first()
  await expect(failed).toHaveAttribute('data-status', 'failed')
  await expect(failed.locator('.turn-status')).toHaveText(
    /^failed: The model server rejected the request: .*the request was malformed/,
  )
  const details = failed.locator('details.turn-error-details')
  await expect(details.locator('pre')).toBeHidden()
  await details.locator('summary').click()
  await expect(details.locator('pre')).toContainText('the request was malformed')
  await screenshot(page, 'turn-failed-retry')

  await failed.getByRole('button', { name: 'Retry' }).click()
  await expect(turns(page)).toHaveCount(2)
  const retried = turns(page).last()
  await expect(retried).toHaveAttribute('data-status', 'completed')
  await expect(userTexts(retried)).toHaveText(['Try the flaky thing'])
  await expect(items(retried, 'agentMessage').locator('.item-text')).toHaveText('It worked this time.')
  expect(userInputs(desk.model.requests[1]).at(-1)).toBe('Try the flaky thing')
})

test('text typed while New thread is still starting is kept and sent in that thread', async ({
  desk,
  page,
}) => {
  // The core's answer to thread/start is held on its way to the page until the text is typed, as a
  // slow first start would hold it.
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => (release = resolve))
  const startIds = new Set<unknown>()
  await page.routeWebSocket(/^wss?:\/\//, (ws) => {
    const server = ws.connectToServer()
    ws.onMessage((message) => {
      const parsed = JSON.parse(String(message)) as { id?: unknown; method?: string }
      if (parsed.method === 'thread/start') startIds.add(parsed.id)
      server.send(message)
    })
    server.onMessage((message) => {
      const parsed = JSON.parse(String(message)) as { id?: unknown; method?: string }
      if (parsed.method === undefined && startIds.has(parsed.id)) void held.then(() => ws.send(message))
      else ws.send(message)
    })
  })
  await desk.open(page)
  desk.model.enqueue(text('Started in the new thread.'))
  await newThreadButton(page).click()
  await expect.poll(() => startIds.size).toBe(1)
  await messageBox(page).fill('Written before the thread existed')
  release()
  // The started thread opens (its row is the current one).
  await expect(page.locator('nav[aria-label="Threads"] li[aria-current="true"]')).toHaveCount(1)
  await expect(messageBox(page)).toHaveValue('Written before the thread existed')
  await messageBox(page).press('Enter')
  await expect(turns(page)).toHaveCount(1)
  await expect(userTexts(turns(page).first())).toHaveText('Written before the thread existed')
  await expect(turns(page).first()).toHaveAttribute('data-status', 'completed')
})
