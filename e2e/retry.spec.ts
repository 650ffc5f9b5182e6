/**
 * A model stream that breaks mid-answer and is retried: the page shows the retry notice, then only
 * the retried answer. The cut answer, which the core never completes (as codex does), leaves the
 * page rather than staying as an unfinished message until a reload.
 */
import { disconnectAfter, text } from '../test/support/modelServer'
import { expect, test } from './fixtures'
import { expectBadge, items, startThread, threadRow, turns } from './ui'

test.use({ deskStreamRetries: 1 })

test('an answer cut by a dropped connection leaves the page, and the retried answer stays', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  // created, in_progress, item added, part added, two deltas: the first answer is cut there.
  desk.model.enqueue(
    [text('A partial answer that never ends', { chunks: 4 }), disconnectAfter(6)],
    text('The whole answer.'),
  )
  const id = await startThread(page, 'Explain the failure')
  await expectBadge(threadRow(page, id), 'idle')
  const turn = turns(page).first()
  await expect(items(turn, 'agentMessage')).toHaveCount(1)
  await expect(items(turn, 'agentMessage')).toContainText('The whole answer.')
  await expect(turn).not.toContainText('A partial')
  expect(desk.model.requests).toHaveLength(2)
  // A reload reads the same thread.
  await page.reload()
  await expect(items(turns(page).first(), 'agentMessage')).toHaveText(['The whole answer.'])
})
