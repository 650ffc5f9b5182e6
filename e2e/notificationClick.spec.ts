/**
 * A click on a browser notification (turn finished while the page was hidden) opens the thread it
 * is about, even when another thread is open by then.
 */
import { text } from '../test/support/modelServer'
import { expect, test } from './fixtures'
import { items, startThread, threadRow, threadView, turns } from './ui'

interface Recorded {
  title: string
  body: string
  tag: string
}

test.beforeEach(async ({ page }) => {
  await page.addInitScript(() => {
    const w = window as unknown as {
      __notifications: { title: string; body: string; tag: string; onclick: (() => void) | null }[]
      __away: boolean
    }
    w.__notifications = []
    w.__away = false
    class RecordingNotification {
      onclick: (() => void) | null = null
      constructor(title: string, options?: NotificationOptions) {
        w.__notifications.push(
          Object.assign(this, { title, body: options?.body ?? '', tag: options?.tag ?? '' }),
        )
      }
      close(): void {}
      static get permission(): NotificationPermission {
        return 'granted'
      }
      static requestPermission(): Promise<NotificationPermission> {
        return Promise.resolve('granted')
      }
    }
    Object.defineProperty(window, 'Notification', { value: RecordingNotification, configurable: true })
    Object.defineProperty(document, 'visibilityState', {
      get: () => (w.__away ? 'hidden' : 'visible'),
      configurable: true,
    })
    document.hasFocus = () => !w.__away
  })
})

test('clicking a "turn finished" notification opens that thread', async ({ desk, page }) => {
  await desk.open(page)
  const setAway = (away: boolean) =>
    page.evaluate((value) => ((window as unknown as { __away: boolean }).__away = value), away)
  const recorded = () =>
    page.evaluate(() =>
      (window as unknown as { __notifications: Recorded[] }).__notifications.map(({ title, body, tag }) => ({
        title,
        body,
        tag,
      })),
    )

  await setAway(true)
  desk.model.enqueue(text('First answer.'))
  const first = await startThread(page, 'The first thread')
  await expect(items(turns(page).last(), 'agentMessage').locator('.item-text')).toHaveText('First answer.')
  desk.model.enqueue(text('Second answer.'))
  const second = await startThread(page, 'The second thread')
  await expect(items(turns(page).last(), 'agentMessage').locator('.item-text')).toHaveText('Second answer.')
  await expect.poll(recorded).toEqual([
    { title: 'Turn finished: The first thread', body: 'The answer is ready.', tag: `codex-desk:${first}` },
    { title: 'Turn finished: The second thread', body: 'The answer is ready.', tag: `codex-desk:${second}` },
  ])
  await expect(threadRow(page, second)).toHaveAttribute('aria-current', 'true')

  // The user comes back by clicking the first notification: the first thread opens.
  await setAway(false)
  await page.evaluate(() =>
    (
      window as unknown as { __notifications: { onclick: (() => void) | null }[] }
    ).__notifications[0]?.onclick?.(),
  )
  await expect(threadRow(page, first)).toHaveAttribute('aria-current', 'true')
  await expect(threadView(page).getByRole('heading', { level: 2 })).toHaveText('The first thread')
  await expect(items(turns(page).last(), 'agentMessage').locator('.item-text')).toHaveText('First answer.')
})
