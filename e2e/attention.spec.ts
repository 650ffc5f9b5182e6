/**
 * Approvals that get attention: with an 80-line patch the buttons stay in view, the diff shows once
 * (in the thread, the prompt lists the files), keys answer (shown on the buttons), the tab title
 * counts what waits, the prompt names the real reason, and a notification is shown while the page
 * is hidden. window.Notification and the page's visibility are replaced by an init script: that is
 * the browser's API boundary, not our code.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { text } from '../test/support/modelServer'
import { expect, test } from './fixtures'
import {
  applyPatch,
  composer,
  fileChangeApproval,
  items,
  screenshot,
  startThread,
  threadView,
  turns,
} from './ui'

function addFile(name: string, lines: number): string {
  const body = Array.from({ length: lines }, (_, i) => `+line ${i + 1} of ${name}`).join('\n')
  return `*** Begin Patch\n*** Add File: ${name}\n${body}\n*** End Patch`
}

test('an 80-line patch keeps its buttons in view, shows its diff once, names the real reason and is answered by keys', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  await expect(page).toHaveTitle('codex-desk')
  desk.model.enqueue(
    applyPatch(addFile('long-notes.txt', 80), 'call_long'),
    applyPatch(addFile('unwanted.txt', 3), 'call_unwanted'),
    text('One file written, one left alone.'),
  )
  await startThread(page, 'Write the long notes')

  const prompt = fileChangeApproval(page)
  await expect(prompt).toBeVisible()
  // The file is right in the working folder: the reason is the read-only sandbox, not "outside".
  await expect(prompt.locator('.reason')).toHaveText(
    'the sandbox is read-only, so every file change needs your approval',
  )
  await expect(prompt.locator('.approval-file')).toHaveText(/long-notes\.txt\s*\+80\s*−0/)
  const accept = prompt.getByRole('button', { name: 'Accept', exact: true })
  const decline = prompt.getByRole('button', { name: 'Decline', exact: true })
  await expect(accept).toBeInViewport()
  await expect(decline).toBeInViewport()
  await expect(accept.locator('kbd')).toHaveText('Y')
  await expect(
    prompt.getByRole('button', { name: 'Accept for session', exact: true }).locator('kbd'),
  ).toHaveText('A')
  await expect(decline.locator('kbd')).toHaveText('N')
  // The diff is in the thread's item only.
  await expect(prompt.locator('.diff')).toHaveCount(0)
  await expect(threadView(page).locator('.diff', { hasText: 'line 80 of long-notes.txt' })).toHaveCount(1)
  await expect(page).toHaveTitle('(1) codex-desk')
  await screenshot(page, 'long-patch-approval', { readme: 'approval.png' })

  // Y answers when no text field has the focus.
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur())
  await page.keyboard.press('y')
  await expect(prompt.locator('.approval-file')).toContainText('unwanted.txt')
  await expect.poll(() => existsSync(join(desk.project, 'long-notes.txt'))).toBe(true)
  expect(readFileSync(join(desk.project, 'long-notes.txt'), 'utf8').split('\n')[79]).toBe(
    'line 80 of long-notes.txt',
  )

  // In the message box a letter is text; Alt+N declines from there.
  await composer(page).getByRole('textbox').click()
  await page.keyboard.press('n')
  await expect(composer(page).getByRole('textbox')).toHaveValue('n')
  await expect(prompt).toHaveCount(1)
  await page.keyboard.press('Alt+n')
  await expect(prompt).toHaveCount(0)
  await expect(page).toHaveTitle('codex-desk')
  const turn = turns(page).last()
  await expect(items(turn, 'agentMessage').locator('.item-text')).toHaveText(
    'One file written, one left alone.',
  )
  await expect(items(turn, 'fileChange').last()).toHaveAttribute('data-status', 'declined')
  expect(existsSync(join(desk.project, 'unwanted.txt'))).toBe(false)
})

test.describe('while the page is hidden', () => {
  test.beforeEach(async ({ page }) => {
    await page.addInitScript(() => {
      const w = window as unknown as { __notifications: { title: string; body: string }[]; __away: boolean }
      w.__notifications = []
      w.__away = false
      let permission: NotificationPermission = 'default'
      class RecordingNotification {
        onclick: (() => void) | null = null
        constructor(title: string, options?: NotificationOptions) {
          w.__notifications.push({ title, body: options?.body ?? '' })
        }
        close(): void {}
        static get permission(): NotificationPermission {
          return permission
        }
        static requestPermission(): Promise<NotificationPermission> {
          permission = 'granted'
          return Promise.resolve(permission)
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

  test('after "Enable notifications", a waiting approval and a finished turn each show a notification', async ({
    desk,
    page,
  }) => {
    await desk.open(page)
    const enable = page.getByRole('button', { name: 'Enable notifications' })
    await enable.click()
    await expect(enable).toBeHidden()

    desk.model.enqueue(
      applyPatch(addFile('while-away.txt', 2), 'call_away'),
      text('Written while you were away.'),
    )
    await page.evaluate(() => ((window as unknown as { __away: boolean }).__away = true))
    await startThread(page, 'Write while I am away')
    const prompt = fileChangeApproval(page)
    await expect(prompt).toBeVisible()
    const recorded = () =>
      page.evaluate(
        () => (window as unknown as { __notifications: { title: string; body: string }[] }).__notifications,
      )
    await expect
      .poll(recorded)
      .toEqual([{ title: 'Approval needed: Write while I am away', body: 'Apply file changes?' }])

    await prompt.getByRole('button', { name: 'Accept', exact: true }).click()
    await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
    await expect.poll(recorded).toEqual([
      { title: 'Approval needed: Write while I am away', body: 'Apply file changes?' },
      { title: 'Turn finished: Write while I am away', body: 'The answer is ready.' },
    ])

    // Back at the page: nothing more is announced.
    await page.evaluate(() => ((window as unknown as { __away: boolean }).__away = false))
    desk.model.enqueue(text('Seen as it happened.'))
    const box = composer(page).getByRole('textbox')
    await box.fill('And one more')
    await box.press('Enter')
    await expect(items(turns(page).last(), 'agentMessage').locator('.item-text')).toHaveText(
      'Seen as it happened.',
    )
    expect(await recorded()).toHaveLength(2)
  })
})
