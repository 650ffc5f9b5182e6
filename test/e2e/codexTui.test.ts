/**
 * The acceptance test of "a client written for codex works unchanged": the real Codex TUI
 * (`codex --remote`, codex-cli 0.169.0, installed by `node scripts/installCodex.mjs`) runs a whole
 * session against `codex-desk app-server --listen ws://127.0.0.1:PORT --ws-auth capability-token`,
 * driven in tmux as a person would, with the scripted model server as the only fake. Each step's
 * screen is saved under test-results/codex-tui/. Skips, with the reason, where tmux or the codex CLI
 * is missing (.ci/run installs both).
 */
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeTempDir, REPO_ROOT, spawnAppServer, type AppServerProcess } from '../support/appServerProcess'
import {
  functionCall,
  startModelServer,
  text,
  usage,
  type ModelServer,
  type RecordedRequest,
} from '../support/modelServer'
import { TmuxSession, tmuxMissing } from '../support/tmux'

const CODEX_BIN = process.env.CODEX_TUI_BIN ?? join(REPO_ROOT, '.cache/codex-0.169.0/node_modules/.bin/codex')
const ARTIFACTS = join(REPO_ROOT, 'test-results/codex-tui')

function missing(): string | null {
  const tmux = tmuxMissing()
  if (tmux) return tmux
  if (!existsSync(CODEX_BIN)) return `the codex CLI 0.169.0 is not installed (node scripts/installCodex.mjs)`
  const version = execFileSync(CODEX_BIN, ['--version'], { encoding: 'utf8' })
  if (!version.includes('0.169.0')) return `${CODEX_BIN} is ${version.trim()}, not 0.169.0`
  return null
}

const skipReason = missing()
if (skipReason) console.warn(`skipping the Codex TUI session test: ${skipReason}`)

type InputItem = { type?: string; role?: string; content?: { type: string; text?: string }[] }

/** The text of the last user message a model request carries. */
function lastUserText(request: RecordedRequest): string {
  const input = ((request.body as { input?: InputItem[] } | undefined)?.input ?? []).filter(
    (i) => i.role === 'user',
  )
  const last = input.at(-1)
  return (last?.content ?? []).map((c) => c.text ?? '').join('')
}

function lastItemType(request: RecordedRequest): string | undefined {
  return ((request.body as { input?: InputItem[] } | undefined)?.input ?? []).at(-1)?.type
}

describe.skipIf(skipReason !== null)('the Codex TUI against codex-desk', () => {
  let model: ModelServer
  let server: AppServerProcess
  let project: { path: string; remove(): Promise<void> }
  let tuiHome: { path: string; remove(): Promise<void> }
  let tui: TmuxSession

  beforeAll(async () => {
    await rm(ARTIFACTS, { recursive: true, force: true })
    await mkdir(ARTIFACTS, { recursive: true })
    model = await startModelServer({
      defaultScript: (request) => {
        const said = lastUserText(request)
        if (said.includes('Generate a concise'))
          return [text('Greet the model'), usage({ input: 50, output: 4 })]
        if (lastItemType(request) === 'function_call_output')
          return [text('The file is made.'), usage({ input: 2400, output: 6 })]
        if (said.includes('please run touch'))
          return [
            functionCall({
              name: 'shell_command',
              arguments: {
                command: 'touch made.txt',
                sandbox_permissions: 'require_escalated',
                justification: 'make a file',
              },
            }),
            usage({ input: 2300, output: 12 }),
          ]
        return [text(`Scripted reply to: ${said.slice(0, 40)}`), usage({ input: 2000, output: 8 })]
      },
    })
    project = await makeTempDir('codex-desk-tui-project-')
    tuiHome = await makeTempDir('codex-desk-tui-home-')
    const tokenFile = join(tuiHome.path, 'server-token')
    await writeFile(tokenFile, 'tui-test-token\n', { mode: 0o600 })
    server = await spawnAppServer(
      ['--listen', 'ws://127.0.0.1:0', '--ws-auth', 'capability-token', '--ws-token-file', tokenFile],
      {
        waitForUrl: true,
        cwd: project.path,
        env: { CODEX_DESK_LOG: 'warn' },
        files: {
          'config.toml': [
            'model = "gpt-5.1-codex"',
            'model_provider = "mock"',
            '[model_providers.mock]',
            'name = "Scripted"',
            `base_url = "${model.url}"`,
            'request_max_retries = 1',
            'stream_max_retries = 1',
            '',
          ].join('\n'),
        },
      },
    )
    tui = await TmuxSession.start({
      command: `${CODEX_BIN} --remote ${server.url} --remote-auth-token-env CODEX_DESK_TUI_TOKEN 2>${join(ARTIFACTS, 'tui-stderr.txt')}`,
      cwd: project.path,
      env: { CODEX_HOME: tuiHome.path, CODEX_DESK_TUI_TOKEN: 'tui-test-token', TERM: 'xterm-256color' },
      artifactsDir: ARTIFACTS,
      stderrFile: join(ARTIFACTS, 'tui-stderr.txt'),
    })
  }, 60_000)

  afterAll(async () => {
    await tui?.dispose()
    await server?.dispose()
    await model?.close()
    await project?.remove()
    await tuiHome?.remove()
    if (server) await writeFile(join(ARTIFACTS, 'server-stderr.txt'), server.stderr())
  })

  /** True while the composer (the last `›` line) still holds `line`, i.e. it was not sent. */
  function stillInComposer(screen: string, line: string): boolean {
    const prompts = screen.split('\n').filter((l) => l.startsWith('›'))
    return prompts.at(-1)?.trim() === `› ${line}`
  }

  /**
   * Types a line, then Enter on its own. The TUI reads keys that arrive in a burst as a paste, in
   * which Enter is a newline: when the line is still in the composer after Enter, the newline is
   * taken back and Enter sent again, until the TUI takes it (a person would do the same).
   */
  async function submit(line: string): Promise<void> {
    await tui.type(line)
    await tui.waitForText(line)
    for (let attempt = 1; ; attempt++) {
      await new Promise((r) => setTimeout(r, 300 * attempt))
      await tui.keys('Enter')
      const sent = await tui
        .waitFor((screen) => !stillInComposer(screen, line), `"${line}" to be sent`, 2_000 * attempt)
        .then(() => true)
        .catch(() => false)
      if (sent) return
      if (attempt === 5) throw new Error(`the TUI never took "${line}":\n${await tui.screen()}`)
      await tui.keys('BSpace')
    }
  }

  it('runs a whole session: startup, a streamed reply, /status, /model, an approval, /new, /resume, /quit', async () => {
    // Startup: the composer, no error line, no version warning.
    const startup = await tui.waitForText('gpt-5.1-codex', 60_000)
    await tui.snapshot('startup')
    expect(startup).not.toMatch(/■/)
    expect(startup).not.toMatch(/older than your Codex CLI/)
    expect(startup).not.toMatch(/failed/i)

    // A streamed reply.
    await submit('hello there')
    await tui.waitForText('Scripted reply to: hello there')
    await tui.snapshot('first-turn')

    // /status shows the context window from the model catalog.
    await submit('/status')
    const status = await tui.waitForText(/Context window:\s+\d+% left/)
    await tui.snapshot('status')
    expect(status).toMatch(/Model provider:\s+mock/)

    // /model lists models; choosing one changes the next turn's model.
    await submit('/model')
    await tui.waitForText('Select Model')
    await tui.snapshot('model-picker')
    await tui.keys('Down')
    await tui.keys('Enter')
    await tui.waitForText(/Select Reasoning Level|Model changed to/)
    const picked = await tui.snapshot('effort-picker')
    if (!picked.includes('Model changed to')) await tui.keys('Enter')
    const changed = await tui.waitForText(/Model changed to (\S+)/)
    const chosen = /Model changed to (\S+)/.exec(changed)?.[1] as string
    expect(chosen).not.toBe('gpt-5.1-codex')
    await submit('second message')
    await tui.waitForText('Scripted reply to: second message')
    const second = model.requests.find((r) => lastUserText(r).includes('second message'))
    expect((second?.body as { model?: string }).model).toBe(chosen)
    await tui.snapshot('second-turn')

    // An approval answered with "don't ask again for commands that start with".
    await submit('please run touch')
    await tui.waitForText("don't ask again for commands that start with")
    await tui.snapshot('approval')
    await tui.keys('p')
    await tui.waitForText('The file is made.')
    await tui.snapshot('approval-done')
    expect(existsSync(join(project.path, 'made.txt'))).toBe(true)
    const rules = await readFile(join(server.home, 'rules', 'default.rules'), 'utf8')
    expect(rules).toContain('"touch"')

    // /new starts a fresh thread.
    await submit('/new')
    await tui.waitFor((s) => !s.includes('hello there'), 'a fresh screen')
    await submit('third in new thread')
    await tui.waitForText('Scripted reply to: third in new thread')
    await tui.snapshot('new-thread')

    // /resume lists both threads and shows the first one's history.
    await submit('/resume')
    await tui.waitForText('Resume a previous session')
    await tui.waitForText('hello there')
    await tui.snapshot('resume-picker')
    const picker = await tui.screen()
    const rows = picker.split('\n').filter((l) => /third in new thread|hello there/.test(l))
    if (rows[0]?.includes('third in new thread')) await tui.keys('Down')
    await tui.keys('Enter')
    const resumed = await tui.waitFor(
      (s) => s.includes('Scripted reply to: hello there') && s.includes('The file is made.'),
      'the first thread history',
    )
    await tui.snapshot('resumed')
    expect(resumed).not.toMatch(/failed to load/)

    // /quit leaves the TUI with exit code 0.
    await submit('/quit')
    await tui.waitForText('[exited with 0]')
    await tui.snapshot('quit')
  }, 240_000)
})
