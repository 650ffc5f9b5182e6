/**
 * Approval prompts in the thread view: a command approval showing the command, cwd and reason,
 * accepted, with the command's real output in its item; a file change declined, leaving the disk
 * alone; and a prompt answered in a second tab disappearing from the first.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { text } from '../test/support/modelServer'
import { expect, test } from './fixtures'
import {
  applyPatch,
  commandApproval,
  connection,
  escalatedCommand,
  expectBadge,
  fileChangeApproval,
  items,
  openThread,
  screenshot,
  startThread,
  threadRow,
  threadView,
  turns,
} from './ui'

test('a command approval shows the command, cwd and reason; accepted, the output shows in the item', async ({
  desk,
  page,
}) => {
  await desk.open(page)
  const reason = 'Print a greeting to check that the shell works'
  // Under the default on-request policy, a command asking to leave the sandbox prompts.
  desk.model.enqueue(
    escalatedCommand('echo hello-from-e2e', reason, 'call_hello'),
    text('The shell printed hello-from-e2e.'),
  )
  const id = await startThread(page, 'Say hello from the shell')

  const prompt = commandApproval(page)
  await expect(prompt.locator('.command')).toContainText('echo hello-from-e2e')
  await expect(prompt.locator('.cwd')).toHaveText(desk.project)
  await expect(prompt.locator('.reason')).toHaveText(reason)
  for (const name of ['Accept', 'Accept for session', 'Decline']) {
    await expect(prompt.getByRole('button', { name, exact: true })).toBeVisible()
  }
  await expectBadge(threadRow(page, id), 'waitingOnApproval')
  const turn = turns(page).last()
  const command = items(turn, 'commandExecution')
  // The item says what it waits for, not that it runs.
  await expect(command).toHaveAttribute('data-awaiting-approval', '')
  // README's approval.png is the long patch's prompt (attention.spec.ts).
  await screenshot(page, 'command-approval')

  await prompt.getByRole('button', { name: 'Accept', exact: true }).click()

  await expect(prompt).toHaveCount(0)
  await expect(command).not.toHaveAttribute('data-awaiting-approval')
  await expect(command).toHaveAttribute('data-status', 'completed')
  await expect(command.locator('.command')).toContainText('echo hello-from-e2e')
  await expect(command.locator('.output')).toHaveText('hello-from-e2e')
  await expect(command.locator('.exit-code')).toHaveText('exit 0')
  await expect(items(turn, 'agentMessage').locator('.item-text')).toHaveText(
    'The shell printed hello-from-e2e.',
  )
  await expect(turn).toHaveAttribute('data-status', 'completed')
  await screenshot(page, 'command-output')
})

test.describe('under approval_policy untrusted', () => {
  test.use({ deskConfig: 'approval_policy = "untrusted"\nsandbox_mode = "workspace-write"' })

  test('a declined file change shows as declined and the file is not created', async ({ desk, page }) => {
    await desk.open(page)
    const patch =
      '*** Begin Patch\n*** Add File: notes-from-e2e.txt\n+first line\n+second line\n*** End Patch'
    desk.model.enqueue(applyPatch(patch, 'call_notes'), text('Understood, I left the files alone.'))
    await startThread(page, 'Add a notes file')

    const prompt = fileChangeApproval(page)
    // The prompt lists the file with its line counts; the diff itself is in the item, once.
    await expect(prompt.locator('.approval-file .path')).toContainText('notes-from-e2e.txt')
    await expect(prompt.locator('.approval-file')).toContainText('+2')
    await expect(prompt.locator('.diff')).toHaveCount(0)
    const pending = items(turns(page).last(), 'fileChange')
    await expect(pending.locator('.diff')).toContainText('first line')
    await expect(pending.locator('.diff')).toContainText('second line')
    await expect(prompt.locator('.cwd')).toHaveText(desk.project)
    await screenshot(page, 'file-change-approval')
    await prompt.getByRole('button', { name: 'Decline', exact: true }).click()

    await expect(prompt).toHaveCount(0)
    const turn = turns(page).last()
    const change = items(turn, 'fileChange')
    await expect(change).toHaveAttribute('data-status', 'declined')
    await expect(change.locator('.item-label')).toContainText('declined')
    await expect(change.locator('.file-change .path')).toContainText('notes-from-e2e.txt')
    await expect(items(turn, 'agentMessage').locator('.item-text')).toHaveText(
      'Understood, I left the files alone.',
    )
    await expect(turn).toHaveAttribute('data-status', 'completed')
    expect(existsSync(join(desk.project, 'notes-from-e2e.txt'))).toBe(false)
  })
})

test('a prompt answered in a second tab disappears from the first', async ({ desk, page }) => {
  await desk.open(page)
  desk.model.enqueue(
    escalatedCommand('echo from-the-second-tab', 'Show that either tab can answer', 'call_tab'),
    text('Answered from the other tab.'),
  )
  const title = 'Run it from either tab'
  const id = await startThread(page, title)
  await expect(commandApproval(page)).toBeVisible()

  // Same browser context, a fresh tab: its sessionStorage is empty, so it needs the printed URL.
  const second = await page.context().newPage()
  try {
    await second.goto(desk.uiUrl)
    await expect(connection(second)).toHaveAttribute('data-state', 'connected')
    await expectBadge(threadRow(second, id), 'waitingOnApproval')
    await openThread(second, id, title)
    const secondPrompt = commandApproval(second)
    await expect(secondPrompt.locator('.command')).toContainText('echo from-the-second-tab')
    await secondPrompt.getByRole('button', { name: 'Accept', exact: true }).click()

    await expect(commandApproval(page)).toHaveCount(0)
    await expect(secondPrompt).toHaveCount(0)
    for (const tab of [page, second]) {
      const turn = turns(tab).last()
      await expect(turn).toHaveAttribute('data-status', 'completed')
      await expect(items(turn, 'commandExecution').locator('.output')).toHaveText('from-the-second-tab')
      await expect(items(turn, 'agentMessage').locator('.item-text')).toHaveText(
        'Answered from the other tab.',
      )
      await expectBadge(threadRow(tab, id), 'idle')
    }
    await expect(threadView(page).getByRole('alertdialog')).toHaveCount(0)
  } finally {
    await second.close()
  }
})

test('a prompt of a thread that is not open is announced, and its title opens it', async ({ desk, page }) => {
  await desk.open(page)
  desk.model.enqueue(text('Nothing to run here.'))
  const quiet = await startThread(page, 'A quiet thread')
  desk.model.enqueue(
    escalatedCommand('echo from-the-background', 'Answer me from another thread', 'call_bg'),
    text('Done in the background.'),
  )
  const busyTitle = 'A thread that needs me'
  const busy = await startThread(page, busyTitle)
  await expect(commandApproval(page)).toBeVisible()

  await openThread(page, quiet, 'A quiet thread')
  await expect(commandApproval(page)).toHaveCount(0)
  const note = threadView(page).locator('.approval-elsewhere')
  await expect(note).toHaveText(`${busyTitle} is waiting for your approval.`)
  await expectBadge(threadRow(page, busy), 'waitingOnApproval')

  await note.getByRole('button', { name: busyTitle, exact: true }).click()
  await expect(threadRow(page, busy)).toHaveAttribute('aria-current', 'true')
  const prompt = commandApproval(page)
  await expect(prompt.locator('.command')).toContainText('echo from-the-background')
  await prompt.getByRole('button', { name: 'Accept', exact: true }).click()
  await expect(items(turns(page).last(), 'agentMessage').locator('.item-text')).toHaveText(
    'Done in the background.',
  )
  await expect(note).toHaveCount(0)
  await expectBadge(threadRow(page, busy), 'idle')
})
