/**
 * Figures for the UI in a real browser (Debian's Chromium through Playwright) against the built
 * `codex-desk app-server --web-ui`, the scripted model server in its own process:
 *
 * - `ui_load_to_thread_list`: a fresh tab opens the printed URL; time until the connection indicator
 *   says connected and the thread list shows the home's threads (100 stored threads).
 * - `ui_stream_render`: a turn of `deltas` deltas of 4 characters, from pressing Send until the
 *   agent message on screen holds the whole scripted text and the turn reads completed; reported as
 *   deltas per second on screen, with the longest main-thread task (PerformanceObserver `longtask`)
 *   while it streamed, so a renderer that keeps up by freezing the page is caught.
 * - `ui_markdown_stream_render`: a Markdown answer (headings, paragraphs, lists, tables, fenced code)
 *   in `deltas` deltas, from pressing Send until the agent message has rendered all of it (its
 *   `data-length`) and the turn reads completed; `ui_markdown_longest_task` is the longest
 *   main-thread task while it streamed (target: none over 50 ms), with the count of those over 50 ms.
 * - `ui_reconnect_after_core_restart`: the core is killed (SIGKILL) and started again on the same
 *   port and home; time from the new core's listening line until the page is connected again and
 *   shows the resumed thread. The renderer's reconnect backoff is part of the figure.
 * - `ui_bundle_gzip`: the renderer's JS and CSS, gzipped, as a browser would download them.
 *
 * UI_PROFILE=<file.cpuprofile> saves a CPU profile of the page over the Markdown runs.
 *
 * Runs inside `npm run bench` via `uiFigures()`, or alone with `npx tsx bench/ui.ts` (needs the
 * build). CHROMIUM_PATH overrides /usr/bin/chromium.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { chromium, type Browser, type Page } from 'playwright'
import { text, usage } from '../test/support/modelServer'
import { modelConfig } from '../test/support/threadHarness'
import { populatedHome } from './lib/threadHome'
import { REPO_ROOT, spawnServer, stdoutMatch, stopChild } from './lib/processes'
import { startRemoteModelServer, type RemoteModelServer } from './lib/remoteModelServer'
import { latencyFigure, round, summarize, type Figure } from './lib/stats'
import { runStandalone } from './lib/table'
import { scriptedDeltas } from './streaming'

export interface UiBenchOptions {
  loadRuns: number
  deltas: number
  streamRuns: number
  reconnectRuns: number
  storedThreads: number
  markdownRuns: number
}

export const UI_BENCH_DEFAULTS: UiBenchOptions = {
  loadRuns: 10,
  deltas: 20_000,
  streamRuns: 3,
  reconnectRuns: 3,
  storedThreads: 100,
  markdownRuns: 3,
}

/** What the Markdown row streams: sections of headings, prose, lists, a table and a code block. */
export function markdownAnswer(deltas: number): { chunks: string[]; sections: number } {
  const section = (n: number) =>
    [
      `## Step ${n}: update module ${n}`,
      '',
      `The change touches **module ${n}** and its \`index.ts\`; see [notes](https://example.com/${n}).`,
      'It keeps the public API as it is and moves the parsing into a helper of its own.',
      '',
      '- read the current configuration',
      '- write the new helper',
      `  - with a test for case ${n}`,
      '- [x] run the checks',
      '',
      '| File | Lines | Status |',
      '| --- | ---: | :---: |',
      `| src/module${n}.ts | ${n * 7} | changed |`,
      `| test/module${n}.test.ts | ${n * 3} | added |`,
      '',
      '```ts',
      `export function parse${n}(input: string): Record<string, number> {`,
      '  const out: Record<string, number> = {}',
      "  for (const line of input.split('\\n')) {",
      "    const [key, value] = line.split('=')",
      '    if (key && value) out[key.trim()] = Number(value) // a comment',
      '  }',
      '  return out',
      '}',
      '```',
      '',
    ].join('\n')
  let text = '# Plan\n\n'
  let sections = 0
  while (text.length < deltas * 4) text += section(++sections)
  const chunks: string[] = []
  for (let i = 0; i < deltas; i++) {
    chunks.push(
      text.slice(Math.floor((i * text.length) / deltas), Math.floor(((i + 1) * text.length) / deltas)),
    )
  }
  return { chunks, sections }
}

const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run', '--disable-sync']
const CONNECTED = '#connection[data-state="connected"]'
const WEB_UI_LINE = /^codex-desk web UI: (http:\/\/\S+)$/

interface Core {
  child: ChildProcessWithoutNullStreams
  uiUrl: string
  port: number
}

async function startCore(home: string, port: number): Promise<Core> {
  const child = spawnServer(['--listen', `ws://127.0.0.1:${port}`, '--web-ui'], home)
  const uiUrl = await stdoutMatch(child, WEB_UI_LINE, 'the web UI URL')
  return { child, uiUrl, port: Number(new URL(uiUrl).port) }
}

/** Opens the UI in a fresh context (no sessionStorage) and waits for the thread list. */
async function openUi(browser: Browser, uiUrl: string): Promise<{ page: Page; ms: number }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } })
  const page = await context.newPage()
  const t0 = performance.now()
  await page.goto(uiUrl)
  await page.locator(CONNECTED).waitFor()
  await page.locator('nav[aria-label="Threads"] li[data-thread-id]').first().waitFor()
  return { page, ms: performance.now() - t0 }
}

/** Installs a longtask observer; `longTasks()` reads and clears what it saw. */
async function observeLongTasks(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __longTasks: number[]; __longTaskObserver?: PerformanceObserver }
    w.__longTaskObserver?.disconnect()
    w.__longTasks = []
    w.__longTaskObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) w.__longTasks.push(entry.duration)
    })
    w.__longTaskObserver.observe({ type: 'longtask', buffered: false })
  })
}

async function takeLongTasks(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const w = window as unknown as { __longTasks: number[] }
    const seen = w.__longTasks
    w.__longTasks = []
    return seen
  })
}

/**
 * Sends a message in the open thread, the model answering `expected` in `chunks`, and waits until
 * the turn is completed and the last agent message has rendered all of it (`data-length`, the
 * length of the text its Markdown view shows). Returns the time from Send. Long tasks are observed
 * from just after Send (read them with `takeLongTasks`).
 */
async function streamOnScreen(page: Page, model: RemoteModelServer, chunks: string[], expected: string) {
  model.enqueue([text(expected, { chunks }), usage({ input: 10, output: chunks.length })])
  const turnsBefore = await page.locator('article.turn').count()
  // CSS selectors, not role or label queries: those compute accessible names over the whole page,
  // a long task of the test harness's own once the thread holds a few long answers.
  await page.locator('textarea[aria-label="Message"]').fill('stream')
  const t0 = performance.now()
  await page.locator('form[aria-label="Composer"] button[type="submit"]').click()
  await observeLongTasks(page)
  await page.waitForFunction(
    ({ before, length }) => {
      const turns = document.querySelectorAll('article.turn')
      const turn = turns[turns.length - 1]
      if (turns.length <= before || turn?.getAttribute('data-status') !== 'completed') return false
      const messages = turn.querySelectorAll('[data-item-type="agentMessage"] .item-text')
      return messages[messages.length - 1]?.getAttribute('data-length') === String(length)
    },
    { before: turnsBefore, length: expected.length },
    { timeout: 120_000, polling: 'raf' },
  )
  return performance.now() - t0
}

function lastAnswer(page: Page) {
  return page.locator('article.turn').last().locator('[data-item-type="agentMessage"] .item-text').last()
}

async function bundleGzipKiB(): Promise<{ js: number; css: number }> {
  const dir = join(REPO_ROOT, 'out/renderer/assets')
  let js = 0
  let css = 0
  for (const name of await readdir(dir)) {
    const size = gzipSync(await readFile(join(dir, name))).length
    if (name.endsWith('.js')) js += size
    else if (name.endsWith('.css')) css += size
  }
  return { js: round(js / 1024), css: round(css / 1024) }
}

export async function uiFigures(options: UiBenchOptions = UI_BENCH_DEFAULTS): Promise<Figure[]> {
  const model = await startRemoteModelServer()
  let home: { path: string; remove(): Promise<void> } | undefined
  let browser: Browser | undefined
  let core: Core | undefined
  try {
    home = await populatedHome(options.storedThreads, 'codex-desk-bench-ui-')
    await writeFile(join(home.path, 'config.toml'), modelConfig(model.url))
    core = await startCore(home.path, 0)
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    })

    // One warm-up load (the OS file cache, Chromium's own start), then fresh contexts.
    await (await openUi(browser, core.uiUrl)).page.context().close()
    const loads: number[] = []
    for (let i = 0; i < options.loadRuns; i++) {
      const { page, ms } = await openUi(browser, core.uiUrl)
      loads.push(ms)
      await page.context().close()
    }

    const { page } = await openUi(browser, core.uiUrl)
    await page.getByRole('button', { name: 'New thread' }).click()
    await page.locator('section[aria-label="Thread"]').waitFor()
    const chunks = scriptedDeltas(options.deltas)
    const expected = chunks.join('')
    await streamOnScreen(page, model, chunks, expected) // warm-up turn
    const streams: number[] = []
    const longest: number[] = []
    for (let i = 0; i < options.streamRuns; i++) {
      streams.push(await streamOnScreen(page, model, chunks, expected))
      longest.push(Math.max(0, ...(await takeLongTasks(page))))
      // Plain text is one long paragraph: the same characters, without the Markdown's whitespace.
      const shown = (await lastAnswer(page).textContent())?.replace(/\s/g, '')
      if (shown !== expected.replace(/\s/g, '')) {
        throw new Error('the agent message on screen differs from the scripted text')
      }
    }

    const markdown = markdownAnswer(options.deltas)
    const markdownText = markdown.chunks.join('')
    const markdownMs: number[] = []
    const markdownLongest: number[] = []
    const markdownOver50: number[] = []
    const profiler = process.env.UI_PROFILE ? await page.context().newCDPSession(page) : null
    if (profiler) {
      await profiler.send('Profiler.enable')
      await profiler.send('Profiler.start')
    }
    for (let i = 0; i < options.markdownRuns; i++) {
      markdownMs.push(await streamOnScreen(page, model, markdown.chunks, markdownText))
      const tasks = await takeLongTasks(page)
      markdownLongest.push(Math.max(0, ...tasks))
      markdownOver50.push(tasks.filter((ms) => ms > 50).length)
      const answer = lastAnswer(page)
      const tables = await answer.locator('table').count()
      const code = await answer.locator('.code-block pre code .hljs-keyword').count()
      const headings = await answer.locator('h2').count()
      if (tables !== markdown.sections || headings !== markdown.sections || code < markdown.sections) {
        throw new Error(
          `the Markdown answer rendered ${headings} headings, ${tables} tables and ${code} keywords for ${markdown.sections} sections`,
        )
      }
    }
    if (profiler) {
      const { profile } = (await profiler.send('Profiler.stop')) as { profile: unknown }
      await writeFile(process.env.UI_PROFILE as string, JSON.stringify(profile))
    }

    const reconnects: number[] = []
    for (let i = 0; i < options.reconnectRuns; i++) {
      const port = core.port
      core.child.kill('SIGKILL')
      await stopChild(core.child)
      await page.locator(`#connection:not([data-state="connected"])`).waitFor()
      core = await startCore(home.path, port)
      const t0 = performance.now()
      await page.locator(CONNECTED).waitFor({ timeout: 30_000 })
      await page.locator('section[aria-label="Thread"] article.turn').first().waitFor()
      reconnects.push(performance.now() - t0)
    }

    const rates = streams.map((ms) => (options.deltas / ms) * 1000)
    const rate = summarize(rates)
    const bundle = await bundleGzipKiB()
    return [
      latencyFigure('ui_load_to_thread_list', loads, 500, 'p50', null, {
        storedThreads: options.storedThreads,
      }),
      {
        bench: 'ui_stream_render',
        unit: 'deltas/s',
        p50: round(rate.p50),
        min: round(rate.min),
        n: rates.length,
        target: null,
        targetStat: null,
        codex: null,
        pass: null,
        deltas: options.deltas,
        longestTaskMs: longest.map(round),
      },
      latencyFigure('ui_markdown_stream_render', markdownMs, null, null, null, {
        deltas: options.deltas,
        sections: markdown.sections,
        chars: markdownText.length,
      }),
      {
        bench: 'ui_markdown_longest_task',
        unit: 'ms',
        value: round(Math.max(0, ...markdownLongest)),
        n: markdownLongest.length,
        target: 50,
        targetStat: 'value',
        codex: null,
        pass: markdownLongest.every((ms) => ms <= 50),
        longestTaskMs: markdownLongest.map(round),
        longTasksOver50Ms: markdownOver50,
      },
      latencyFigure('ui_reconnect_after_core_restart', reconnects, null, null, null),
      {
        bench: 'ui_bundle_gzip',
        unit: 'KiB',
        value: round(bundle.js + bundle.css),
        n: 1,
        target: null,
        targetStat: null,
        codex: null,
        pass: null,
        jsKiB: bundle.js,
        cssKiB: bundle.css,
      },
    ]
  } finally {
    await browser?.close()
    if (core) await stopChild(core.child)
    await model.close()
    await home?.remove()
  }
}

/** `UI_BENCH_QUICK=1`: one run of each row, for a quick look. */
const QUICK: UiBenchOptions = {
  ...UI_BENCH_DEFAULTS,
  loadRuns: 2,
  streamRuns: 1,
  reconnectRuns: 1,
  markdownRuns: 1,
}

runStandalone(import.meta.url, () =>
  uiFigures(process.env.UI_BENCH_QUICK === '1' ? QUICK : UI_BENCH_DEFAULTS),
)
