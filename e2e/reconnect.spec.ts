/**
 * Rejoin: the page reloads in the middle of a streaming turn and the turn goes on to its exact final
 * text with nothing doubled; the core is killed mid-turn and restarted on the same port, and the open
 * page reconnects by itself and shows the turn as interrupted.
 */
import { text } from '../test/support/modelServer'
import { expect, test } from './fixtures'
import { connection, expectBadge, items, pausedMessage, send, startThread, threadRow, turns } from './ui'

test('a reload in the middle of a streaming turn rejoins it; the turn ends with the exact final text, nothing doubled', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue(pausedMessage(['Part one, '], ['part two, ', 'part three.']))
  const title = 'Tell me in three parts'
  const id = await startThread(page, title)
  const agentText = () => items(turns(page).last(), 'agentMessage').locator('.item-text')
  await expect(agentText()).toHaveText('Part one,')

  await page.reload()

  await expect(connection(page)).toHaveAttribute('data-state', 'connected')
  // The same thread is open again, its turn still running.
  await expect(threadRow(page, id)).toHaveAttribute('aria-current', 'true')
  await expectBadge(threadRow(page, id), 'active')
  await expect(turns(page)).toHaveCount(1)
  await expect(turns(page).last()).toHaveAttribute('data-status', 'inProgress')

  desk.model.release()

  const turn = turns(page).last()
  await expect(turn).toHaveAttribute('data-status', 'completed')
  await expect(agentText()).toHaveText('Part one, part two, part three.')
  await expect(turns(page)).toHaveCount(1)
  await expect(items(turn, 'userMessage')).toHaveCount(1)
  await expect(items(turn, 'userMessage').locator('.item-text')).toHaveText(title)
  await expect(items(turn, 'agentMessage')).toHaveCount(1)
  await expect(items(turn)).toHaveCount(2)
  await expectBadge(threadRow(page, id), 'idle')
  // One model request: the rejoin did not start the turn again.
  expect(desk.model.requests).toHaveLength(1)
})

test('the core is killed and restarted mid-turn; the page reconnects by itself and shows the turn interrupted', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  desk.model.enqueue(pausedMessage(['Working on it'], [' and done.']))
  const id = await startThread(page, 'A long task')
  await expect(items(turns(page).last(), 'agentMessage').locator('.item-text')).toHaveText('Working on it')

  await desk.core().kill('SIGKILL')
  await expect(connection(page)).toHaveAttribute('data-state', 'reconnecting')
  await desk.restart()

  // No reload, no click: the page finds the new core on the same port with the token it kept.
  await expect(connection(page)).toHaveAttribute('data-state', 'connected')
  await expect(threadRow(page, id)).toHaveAttribute('aria-current', 'true')
  const interrupted = turns(page).last()
  await expect(interrupted).toHaveAttribute('data-status', 'interrupted')
  await expect(interrupted.locator('.turn-status')).toHaveText('interrupted')
  await expect(turns(page)).toHaveCount(1)
  await expectBadge(threadRow(page, id), 'idle')

  // The thread goes on with the new core.
  desk.model.enqueue(text('Back and ready.'))
  await send(page, 'Are you there?')
  await expect(turns(page)).toHaveCount(2)
  const next = turns(page).last()
  await expect(next).toHaveAttribute('data-status', 'completed')
  await expect(items(next, 'agentMessage').locator('.item-text')).toHaveText('Back and ready.')
  await expect(turns(page).first()).toHaveAttribute('data-status', 'interrupted')
})
