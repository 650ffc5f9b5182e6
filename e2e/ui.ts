/**
 * The renderer as the e2e tests see it: locators built only from the UI contract in docs/renderer.md
 * (roles, accessible names, data- attributes and the classes it names), user actions, model scripts
 * for the scenarios, and screenshots. Nothing here reaches into the renderer's code or state.
 */
import { copyFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, type Locator, type Page, test } from 'playwright/test'
import { event, functionCall, stall, type Step } from '../test/support/modelServer'

// ---- Locators -------------------------------------------------------------------------------------

export const connection = (page: Page): Locator => page.getByRole('status', { name: 'Connection' })
export const threadList = (page: Page): Locator => page.getByRole('navigation', { name: 'Threads' })
export const threadRows = (page: Page): Locator => threadList(page).locator('li[data-thread-id]')
export const threadRow = (page: Page, threadId: string): Locator =>
  threadList(page).locator(`li[data-thread-id="${threadId}"]`)
export const statusBadge = (row: Locator): Locator => row.locator('.status-badge')
export const threadView = (page: Page): Locator => page.getByRole('region', { name: 'Thread' })
export const composer = (page: Page): Locator => page.getByRole('form', { name: 'Composer' })
export const turns = (page: Page): Locator => threadView(page).locator('article.turn')
export const items = (scope: Locator, type?: string): Locator =>
  scope.locator(type ? `.item[data-item-type="${type}"]` : '.item')
export const commandApproval = (page: Page): Locator =>
  threadView(page).getByRole('alertdialog', { name: 'Command approval' })
export const fileChangeApproval = (page: Page): Locator =>
  threadView(page).getByRole('alertdialog', { name: 'File change approval' })
export const diagnostics = (page: Page): Locator => page.getByRole('region', { name: 'Config diagnostics' })

/** The badge texts of docs/renderer.md, by `data-status`. */
export const BADGE = {
  idle: 'idle',
  active: 'running',
  waitingOnApproval: 'waiting for approval',
  systemError: 'error',
  notLoaded: 'idle',
} as const

/** Asserts a thread's badge: its `data-status` and the text the user reads. */
export async function expectBadge(row: Locator, status: keyof typeof BADGE): Promise<void> {
  const badge = statusBadge(row)
  await expect(badge).toHaveAttribute('data-status', status)
  await expect(badge).toHaveText(BADGE[status])
}

/** The list's own `New thread` button (rows of threads without a name or preview are titled so too). */
export const newThreadButton = (page: Page): Locator =>
  threadList(page)
    .locator('button:not(li *)')
    .and(page.getByRole('button', { name: 'New thread', exact: true }))

// ---- Actions --------------------------------------------------------------------------------------

/** Types a message into the composer and sends it with the Send button. */
export async function send(page: Page, message: string): Promise<void> {
  const form = composer(page)
  await form.getByRole('textbox', { name: 'Message' }).fill(message)
  await form.getByRole('button', { name: 'Send' }).click()
}

/**
 * Starts a new thread from the thread list and sends its first message; returns the thread id of
 * the row that is now open (`aria-current="true"`).
 */
export async function startThread(page: Page, message: string): Promise<string> {
  await newThreadButton(page).click()
  // Type only once the new thread is open and shown, as a user would: until then the view (and the
  // composer) still belong to the thread open before.
  const open = threadList(page).locator('li[data-thread-id][aria-current="true"]')
  await expect(open.getByRole('button', { name: 'New thread', exact: true })).toBeVisible()
  await expect(threadView(page).getByRole('heading', { level: 2 })).toHaveText('New thread')
  await expect(turns(page)).toHaveCount(0)
  await send(page, message)
  await expect(open).toHaveCount(1)
  // The first message becomes the thread's preview, and so its title.
  await expect(open.getByRole('button', { name: message, exact: true })).toBeVisible()
  const id = await open.getAttribute('data-thread-id')
  if (!id) throw new Error('the open thread row has no data-thread-id')
  return id
}

/** Opens a thread by clicking its title in the list. */
export async function openThread(page: Page, threadId: string, title: string): Promise<void> {
  const row = threadRow(page, threadId)
  await row.getByRole('button', { name: title, exact: true }).click()
  await expect(row).toHaveAttribute('aria-current', 'true')
}

/**
 * Holds the core's answers to `method` for `ms` on their way to the page, as a busy core would
 * (the websocket is routed through Playwright; everything else passes untouched). Call before the
 * page connects. Counts the requests and the delivered answers.
 */
export async function delayAnswers(
  page: Page,
  method: string,
  ms: number,
): Promise<{ requested(): number; delivered(): number }> {
  const ids = new Set<unknown>()
  let delivered = 0
  await page.routeWebSocket(/^wss?:\/\//, (ws) => {
    const server = ws.connectToServer()
    ws.onMessage((message) => {
      const parsed = JSON.parse(String(message)) as { id?: unknown; method?: string }
      if (parsed.method === method) ids.add(parsed.id)
      server.send(message)
    })
    server.onMessage((message) => {
      const parsed = JSON.parse(String(message)) as { id?: unknown; method?: string }
      if (parsed.method !== undefined || !ids.has(parsed.id)) return ws.send(message)
      setTimeout(() => {
        ws.send(message)
        delivered += 1
      }, ms)
    })
  })
  return { requested: () => ids.size, delivered: () => delivered }
}

// ---- Model scripts --------------------------------------------------------------------------------

let messageCounter = 0

/**
 * An assistant message streamed as separate deltas that stops after `before` and holds the stream
 * open (a model-server stall) until `model.release()`, then sends `after` and completes. Pass the
 * `outputIndex` when other output items come before it in the same response. Built from
 * raw Responses events because the core streams from `output_item.added`, the deltas and
 * `output_item.done`, so a test can look at the page while the turn is mid-message.
 */
export function pausedMessage(
  before: readonly string[],
  after: readonly string[],
  options: { outputIndex?: number } = {},
): Step[] {
  const id = `msg_e2e_${++messageCounter}`
  const full = [...before, ...after].join('')
  const outputIndex = options.outputIndex ?? 0
  const base = { item_id: id, output_index: outputIndex, content_index: 0 }
  const part = { type: 'output_text', annotations: [], logprobs: [], text: '' }
  const item = { id, type: 'message', role: 'assistant' }
  const delta = (text: string) => event('response.output_text.delta', { ...base, delta: text, logprobs: [] })
  return [
    event('response.output_item.added', {
      output_index: outputIndex,
      item: { ...item, status: 'in_progress', content: [] },
    }),
    event('response.content_part.added', { ...base, part }),
    ...before.map(delta),
    stall(),
    ...after.map(delta),
    event('response.output_text.done', { ...base, text: full, logprobs: [] }),
    event('response.content_part.done', { ...base, part: { ...part, text: full } }),
    event('response.output_item.done', {
      output_index: outputIndex,
      item: { ...item, status: 'completed', content: [{ ...part, text: full }] },
    }),
  ]
}

/**
 * The model runs a shell command asking to leave the sandbox, with a justification: under the
 * default `on-request` policy this is the command that prompts, and once accepted it runs outside
 * the sandbox, so it behaves the same with or without bubblewrap.
 */
export function escalatedCommand(command: string, justification: string, callId: string): Step {
  return functionCall({
    name: 'shell_command',
    arguments: { command, sandbox_permissions: 'require_escalated', justification },
    callId,
  })
}

/** The model calls apply_patch with this patch body. */
export function applyPatch(body: string, callId: string): Step {
  return functionCall({ name: 'apply_patch', arguments: { input: body }, callId })
}

// ---- Screenshots ----------------------------------------------------------------------------------

const screenshotsDir = fileURLToPath(new URL('../docs/screenshots/', import.meta.url))

/**
 * Saves a PNG of the page to the test's output folder and attaches it to the report. With
 * `UPDATE_SCREENSHOTS=1`, a screenshot given a `readme` name is also copied to docs/screenshots/.
 */
export async function screenshot(page: Page, name: string, options: { readme?: string } = {}): Promise<void> {
  const info = test.info()
  const path = info.outputPath(`${name}.png`)
  await page.screenshot({ path, animations: 'disabled', caret: 'hide' })
  await info.attach(name, { path, contentType: 'image/png' })
  if (options.readme && process.env.UPDATE_SCREENSHOTS === '1') {
    await mkdir(screenshotsDir, { recursive: true })
    await copyFile(path, join(screenshotsDir, options.readme))
  }
}
