/**
 * Folder and model per thread, as a user sees them in the browser: a new thread asks for its
 * working folder (a typed path; the recent ones are remembered), a command runs there, the header
 * shows folder, model and reasoning effort, a changed model is what the next model request names,
 * a folder that does not exist is refused in words, and a thread whose model cannot run says what
 * to do without a protocol method name, then runs once config.toml is fixed.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { Page } from 'playwright/test'
import { functionCall, text } from '../test/support/modelServer'
import { expect, modelConfig, test } from './fixtures'
import { items, newThreadButton, screenshot, send, threadView, turns } from './ui'

const settingsRow = (page: Page) => threadView(page).getByRole('group', { name: 'Thread settings' })
const folderShown = (page: Page) => settingsRow(page).getByLabel('Folder', { exact: true })
const modelPicker = (page: Page) => settingsRow(page).getByRole('combobox', { name: 'Model' })
const effortPicker = (page: Page) => settingsRow(page).getByRole('combobox', { name: 'Reasoning effort' })
const newThreadForm = (page: Page) => page.getByRole('form', { name: 'Working folder for a new thread' })
const threadFolderForm = (page: Page) => page.getByRole('form', { name: 'Working folder for this thread' })

/** A folder beside the fixture's project (the core's own working directory). */
async function workspace(project: string, name: string): Promise<string> {
  const folder = join(dirname(project), name)
  await mkdir(folder, { recursive: true })
  return folder
}

async function startIn(page: Page, folder: string): Promise<void> {
  const form = newThreadForm(page)
  await form.getByRole('textbox', { name: 'Working folder' }).fill(folder)
  await form.getByRole('button', { name: 'Start thread' }).click()
  await expect(folderShown(page)).toHaveText(folder)
}

test.describe('folder, model and effort', () => {
  test.use({ deskConfig: 'approval_policy = "never"\nsandbox_mode = "danger-full-access"' })

  test('a new thread runs in the folder typed for it, and the header shows folder, model and effort', async ({
    desk,
    page,
  }) => {
    const folder = await workspace(desk.project, 'my-app')
    await desk.open(page)
    await startIn(page, folder)
    await expect(modelPicker(page)).toHaveValue('e2e-model')
    await expect(effortPicker(page)).toBeVisible()

    desk.model.enqueue(
      functionCall({ name: 'shell_command', arguments: { command: 'pwd' }, callId: 'call_pwd' }),
      text('You are in my-app.'),
    )
    await send(page, 'Which folder is this?')
    const command = items(turns(page).last(), 'commandExecution')
    await expect(command.locator('.output')).toContainText(folder)
    await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
    await screenshot(page, 'thread-header', { readme: 'thread-header.png' })
  })

  test('a model and effort chosen in the header are what the next model request uses, also after a reload', async ({
    desk,
    page,
  }) => {
    await desk.open(page)
    await startIn(page, await workspace(desk.project, 'models'))
    desk.model.enqueue(text('first answer'))
    await send(page, 'first')
    await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
    expect((desk.model.requests.at(-1)?.body as { model: string }).model).toBe('e2e-model')

    // Any other model the catalog lists (asked for when a picker is first used), and its last effort.
    await modelPicker(page).focus()
    await expect.poll(() => modelPicker(page).locator('option').count()).toBeGreaterThan(1)
    const other = await modelPicker(page)
      .locator('option')
      .evaluateAll((options) =>
        options.map((o) => (o as HTMLOptionElement).value).find((v) => v !== 'e2e-model'),
      )
    if (!other) throw new Error('the model picker lists no other model')
    await modelPicker(page).selectOption(other)
    await expect(settingsRow(page).getByRole('status')).toHaveText('Applies from the next message.')
    const efforts = await effortPicker(page)
      .locator('option')
      .evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value))
    const effort = efforts.at(-1) ?? ''
    await effortPicker(page).selectOption(effort)
    await expect(settingsRow(page).getByRole('status')).toHaveText('Applies from the next message.')

    desk.model.enqueue(text('second answer'))
    await send(page, 'second')
    await expect(turns(page)).toHaveCount(2)
    await expect(turns(page).last()).toHaveAttribute('data-status', 'completed')
    const body = desk.model.requests.at(-1)?.body as { model: string; reasoning?: { effort?: string } }
    expect(body.model).toBe(other)
    expect(body.reasoning?.effort).toBe(effort)

    await page.reload()
    await expect(modelPicker(page)).toHaveValue(other)
    await expect(effortPicker(page)).toHaveValue(effort)
  })

  test('New thread remembers the last folder, and a folder that does not exist is refused in words', async ({
    desk,
    page,
  }) => {
    const folder = await workspace(desk.project, 'remembered')
    await desk.open(page)
    await startIn(page, folder)

    await page.reload()
    await newThreadButton(page).click()
    await expect(threadView(page).getByRole('heading', { level: 2 })).toHaveText('New thread')
    await expect(folderShown(page)).toHaveText(folder)
    const form = threadFolderForm(page)
    await expect(form.getByRole('list', { name: 'Recent folders' })).toContainText(folder)

    const missing = join(folder, 'not-there')
    await form.getByRole('textbox', { name: 'Working folder' }).fill(missing)
    await form.getByRole('button', { name: 'Use this folder' }).click()
    await expect(form.getByRole('alert')).toHaveText(`The folder ${missing} does not exist.`)
    await expect(folderShown(page)).toHaveText(folder)
  })
})

test.describe('a model that cannot run', () => {
  // A duplicate key: config.toml does not parse, so the core starts on the built-in `openai`
  // provider, with no account and no key.
  test.use({ deskConfig: 'model_provider = "openai"' })

  test('says what to do without a method name, and the thread runs once config.toml is fixed', async ({
    desk,
    page,
  }) => {
    await desk.open(page)
    await startIn(page, await workspace(desk.project, 'broken'))
    await send(page, 'hello?')
    const failed = turns(page).last()
    await expect(failed).toHaveAttribute('data-status', 'failed')
    await expect(failed.locator('.turn-status')).toContainText('Not signed in')
    await expect(failed.locator('.turn-status')).toContainText('choose a model from another provider')
    const hint = settingsRow(page).getByRole('note')
    await expect(hint.getByRole('button', { name: 'Choose another model' })).toBeVisible()
    // No protocol method (`account/login/start` and the like) anywhere the user can read.
    expect(await page.locator('body').innerText()).not.toMatch(
      /\b(account|thread|turn|model|config|item|command)\/[a-z]/,
    )

    await writeFile(desk.configPath, modelConfig(desk.model.url, ''))
    // The core picks the file up when it changes; until then a message fails as before.
    await expect
      .poll(
        async () => {
          desk.model.enqueue(text('Now it works.'))
          const before = await turns(page).count()
          await send(page, 'and now?')
          await expect(turns(page)).toHaveCount(before + 1)
          await expect(turns(page).last()).not.toHaveAttribute('data-status', 'inProgress')
          return turns(page).last().getAttribute('data-status')
        },
        { timeout: 30_000, intervals: [250, 500, 1000] },
      )
      .toBe('completed')
    await expect(turns(page).last()).toContainText('Now it works.')
    await expect(modelPicker(page)).toHaveValue('e2e-model')
  })
})
