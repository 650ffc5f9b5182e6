import { describe, expect, it } from 'vitest'
import { parseCommandLine, UsageError } from '../../src/worker/cli'
import { runCli } from '../support/appServerProcess'

describe('command line', () => {
  it('parses app-server options with defaults', async () => {
    const parsed = await parseCommandLine(['app-server', '-c', 'model="o3"', '--enable', 'web_search'])
    expect(parsed).toMatchObject({
      kind: 'app-server',
      args: {
        listen: { kind: 'stdio' },
        analyticsDefaultEnabled: false,
        overrides: [
          { path: ['model'], value: 'o3' },
          { path: ['features', 'web_search'], value: true },
        ],
      },
    })
  })

  it('names the problem for usage mistakes', async () => {
    await expect(parseCommandLine([])).rejects.toThrow('missing command: expected `app-server`')
    await expect(parseCommandLine(['serve'])).rejects.toThrow(
      'unknown command `serve`: expected `app-server`',
    )
    await expect(parseCommandLine(['app-server', '--bogus'])).rejects.toThrow("Unknown option '--bogus'")
    await expect(parseCommandLine(['app-server', '--ws-auth', 'capability-token'])).rejects.toThrow(
      'websocket flags (--ws-*) need --listen ws://IP:PORT',
    )
    await expect(
      parseCommandLine(['app-server', '--listen', 'ws://127.0.0.1:0', '--ws-allow-origin', 'http://x/path']),
    ).rejects.toThrow('--ws-allow-origin expects scheme://host[:port] with no path')
  })

  it('prints help and version, and exits 2 with a hint on a usage error', async () => {
    const help = await runCli(['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('codex-desk app-server [options]')
    expect(help.stdout).toContain('--ws-allow-origin ORIGIN')
    expect(help.stdout).toMatch(
      /^ {2}codex-desk rules list \| remove N \| remove WORD\.\.\.\n {39}show or remove the "don't ask again" command rules\n/m,
    )
    const version = await runCli(['--version'])
    expect(version.stdout).toMatch(/^codex-desk \d+\.\d+\.\d+\n$/)
    const bad = await runCli(['app-server', '--listen', 'ws://localhost:1'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe(
      'error: invalid websocket --listen URL `ws://localhost:1`; expected `ws://IP:PORT`\n\nRun `codex-desk --help` for usage.\n',
    )
    const badAuth = await runCli([
      'app-server',
      '--listen',
      'ws://127.0.0.1:0',
      '--ws-auth',
      'capability-token',
    ])
    expect(badAuth.code).toBe(2)
    expect(badAuth.stderr).toContain('`--ws-token-file` or `--ws-token-sha256` is required')
  })

  it('exits 1 with the reason when the port is taken', async () => {
    const { createServer } = await import('node:net')
    const blocker = createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()))
    const port = (blocker.address() as { port: number }).port
    try {
      const result = await runCli(['app-server', '--listen', `ws://127.0.0.1:${port}`])
      expect(result.code).toBe(1)
      expect(result.stderr).toBe(`error: cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`)
    } finally {
      blocker.close()
    }
  })
})

describe('--web-ui on the command line', () => {
  const listen = ['app-server', '--listen', 'ws://127.0.0.1:4500']

  it('is off unless given, and on with a websocket listener', async () => {
    expect(await parseCommandLine(listen)).toMatchObject({ args: { webUi: false } })
    expect(await parseCommandLine([...listen, '--web-ui'])).toMatchObject({
      kind: 'app-server',
      args: { webUi: true, listen: { kind: 'ws', host: '127.0.0.1', port: 4500 } },
    })
    expect(
      await parseCommandLine([
        'app-server',
        '--listen',
        'ws://[::1]:0',
        '--web-ui',
        '--ws-allow-origin',
        'http://x:1',
      ]),
    ).toMatchObject({ args: { webUi: true, allowedOrigins: ['http://x:1'] } })
  })

  it('needs --listen ws://IP:PORT and says how to write it', async () => {
    const hint =
      '--web-ui serves the web UI on the websocket listener, so it needs --listen ws://IP:PORT, ' +
      'e.g. `codex-desk app-server --listen ws://127.0.0.1:4500 --web-ui`'
    for (const argv of [
      ['app-server', '--web-ui'],
      ['app-server', '--stdio', '--web-ui'],
      ['app-server', '--listen', 'stdio://', '--web-ui'],
      ['app-server', '--listen', 'off', '--web-ui'],
    ]) {
      await expect(parseCommandLine(argv)).rejects.toThrow(new UsageError(hint))
    }
  })

  it('refuses a wildcard address, whose origin a browser page could not match', async () => {
    for (const host of ['0.0.0.0', '[::]', '[0:0::0]']) {
      await expect(
        parseCommandLine(['app-server', '--listen', `ws://${host}:4500`, '--web-ui']),
      ).rejects.toThrow(/^--web-ui needs the address browsers will open, not the wildcard /)
    }
  })

  it('takes a capability token file but refuses auth whose token it cannot put in the URL', async () => {
    expect(
      await parseCommandLine([
        ...listen,
        '--web-ui',
        '--ws-auth',
        'capability-token',
        '--ws-token-file',
        '/t',
      ]),
    ).toMatchObject({ args: { webUi: true, wsAuth: { wsAuth: 'capability-token', wsTokenFile: '/t' } } })
    await expect(
      parseCommandLine([...listen, '--web-ui', '--ws-auth', 'capability-token', '--ws-token-sha256', 'ab']),
    ).rejects.toThrow(
      '--web-ui prints a URL carrying the token, so it needs the token itself, not its SHA-256: use --ws-token-file FILE',
    )
    await expect(
      parseCommandLine([
        ...listen,
        '--web-ui',
        '--ws-auth',
        'signed-bearer-token',
        '--ws-shared-secret-file',
        '/s',
      ]),
    ).rejects.toThrow('--web-ui manages its own capability token and cannot use signed bearer tokens')
  })

  it('is described in --help with its environment variable', async () => {
    const help = await runCli(['--help'])
    expect(help.stdout).toContain('--web-ui ')
    expect(help.stdout).toContain('codex-desk web UI: http://IP:PORT/#token=TOKEN')
    expect(help.stdout).toContain('CODEX_DESK_WEB_UI_DIR')
  })
})
