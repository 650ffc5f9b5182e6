/**
 * Headless entry: `codex-desk app-server [--listen stdio://|ws://IP:PORT|off] [-c key=value] ...`,
 * the same command line as `codex app-server` for what codex-desk implements, plus `--web-ui` (the
 * built renderer served on the websocket port). Usage mistakes exit 2 with a message that says what
 * to write instead; SIGINT/SIGTERM close every connection and exit 0.
 */
import { realpathSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import {
  ConfigOverrideError,
  featureOverride,
  loadTomlParser,
  parseConfigOverride,
  type ConfigOverride,
} from './config/overrides'
import { ConfigService } from './config/service'
import { prepareHome, resolveCodexDeskHome } from './home'
import { AppServer } from './server/appServer'
import { publishListener } from './server/endpointFile'
import { ListenUrlError, parseListenUrl, type ListenTarget } from './transport/listenUrl'
import { StdioTransport } from './transport/stdio'
import type { Transport } from './transport/types'
import type { WebSocketListener } from './transport/webSocket'
import { loadWsAuthConfig, WsAuthConfigError, type WsAuthOptions } from './transport/wsAuth'
import { loggerFromEnv, type LoggerFactory } from './util/log'
import { VERSION } from './version'
import {
  assertWebUiBuilt,
  capabilityTokenAuth,
  loadOrCreateWebUiToken,
  resolveWebUiDir,
  webUiAuthConflict,
  webUiPageUrl,
  webUiTokenFromFile,
  webUiUrl,
} from './webUi'

const HELP = `codex-desk ${VERSION}: a desktop host for the Codex app-server protocol

Usage:
  codex-desk app-server [options]     serve the app-server protocol (headless)
  codex-desk mcp-server [-c key=value]...
                                       serve the agent as an MCP server on stdio (tools \`codex\` and
                                       \`codex-reply\`); attaches to the core that owns the home if one
                                       listens, else runs one in this process
  codex-desk rules list | remove N | remove WORD...
                                       show or remove the "don't ask again" command rules
  codex-desk --version | --help

Options for app-server:
  --listen URL                  stdio:// (default), ws://IP:PORT (an IP literal; port 0 picks a free
                                port and prints it) or off
  --stdio                       same as --listen stdio://
  -c, --config key=value        override a config value (repeatable); the value is TOML, or a string
  --enable FEATURE              same as -c features.FEATURE=true (repeatable)
  --disable FEATURE             same as -c features.FEATURE=false (repeatable)
  --analytics-default-enabled   turn analytics on unless config says [analytics] enabled = false
  --web-ui                      also serve the web UI (the built renderer) on the websocket port and
                                print its URL with a capability token; needs --listen ws://IP:PORT

Websocket listener:
  --ws-auth MODE                capability-token | signed-bearer-token (required off loopback)
  --ws-token-file ABS_PATH      capability token file (trimmed, must not be empty)
  --ws-token-sha256 HEX         SHA-256 of the capability token, instead of the file
  --ws-shared-secret-file ABS_PATH
                                HS256 secret for signed bearer tokens (at least 32 bytes)
  --ws-issuer ISS               required JWT issuer
  --ws-audience AUD             required JWT audience
  --ws-max-clock-skew-seconds N leeway for exp/nbf (default 30)
  --ws-allow-origin ORIGIN      allow browser requests from this exact origin (repeatable);
                                any other Origin gets 403
  --ws-max-payload BYTES        largest accepted frame (default 16 MiB); larger ones close with 1009

Clients send the token as "Authorization: Bearer <token>"; browsers, which cannot set that header,
offer the subprotocols "codex-desk" and "codex-desk.bearer.<token>" instead.

Web UI (--web-ui):
  Prints "codex-desk web UI: http://IP:PORT/#token=TOKEN" after the listening line; open it in a
  browser on this machine. The token is kept in $CODEX_DESK_HOME/web-ui-token (created on first use,
  mode 0600), so a restart prints the same URL; delete the file for a new token. With
  --ws-auth capability-token --ws-token-file FILE the URL carries that token instead. The page's own
  origin (and http://localhost:PORT on loopback) is allowed; --ws-allow-origin adds more.

Environment:
  CODEX_DESK_HOME               home folder (default ~/.codex-desk)
  CODEX_DESK_LOG                log levels, e.g. info,transport=debug (default info)
  CODEX_DESK_WEB_UI_DIR         the built renderer served by --web-ui (default: out/renderer beside
                                the CLI bundle)
  LOG_FORMAT=json               one JSON object per log line on stderr (default: readable text)
  CODEX_INTERNAL_ORIGINATOR_OVERRIDE
                                fixes the originator reported in user agents
`

const OPTIONS = {
  listen: { type: 'string' },
  stdio: { type: 'boolean' },
  config: { type: 'string', short: 'c', multiple: true },
  enable: { type: 'string', multiple: true },
  disable: { type: 'string', multiple: true },
  'analytics-default-enabled': { type: 'boolean' },
  'ws-auth': { type: 'string' },
  'ws-token-file': { type: 'string' },
  'ws-token-sha256': { type: 'string' },
  'ws-shared-secret-file': { type: 'string' },
  'ws-issuer': { type: 'string' },
  'ws-audience': { type: 'string' },
  'ws-max-clock-skew-seconds': { type: 'string' },
  'ws-allow-origin': { type: 'string', multiple: true },
  'ws-max-payload': { type: 'string' },
  'web-ui': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies ParseArgsConfig['options']

/** A mistake on the command line: printed with a hint, exit code 2. */
export class UsageError extends Error {}

export interface AppServerArgs {
  listen: ListenTarget
  overrides: ConfigOverride[]
  analyticsDefaultEnabled: boolean
  wsAuth: WsAuthOptions
  allowedOrigins: string[]
  maxPayload: number | undefined
  /** `--web-ui`: serve the built renderer on the websocket listener (needs a ws listen target). */
  webUi?: boolean
}

export type ParsedCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'app-server'; args: AppServerArgs }
  | { kind: 'mcp-server'; args: AppServerArgs }

export async function parseCommandLine(argv: readonly string[]): Promise<ParsedCommand> {
  let parsed
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help) return { kind: 'help' }
  if (values.version) return { kind: 'version' }
  if (positionals.length === 0) throw new UsageError('missing command: expected `app-server` or `mcp-server`')
  const command = positionals[0]
  if ((command !== 'app-server' && command !== 'mcp-server') || positionals.length > 1) {
    throw new UsageError(
      `unknown command \`${positionals.join(' ')}\`: expected \`app-server\` or \`mcp-server\``,
    )
  }
  if (command === 'mcp-server') {
    const serverOnly = ['listen', 'stdio', 'web-ui'].filter(
      (flag) => values[flag as keyof typeof values] !== undefined,
    )
    const wsFlags = Object.keys(values).filter((k) => k.startsWith('ws-'))
    const refused = [...serverOnly, ...wsFlags]
    if (refused.length > 0) {
      throw new UsageError(
        `mcp-server always speaks MCP on stdio; ${refused.map((f) => `--${f}`).join(', ')} ` +
          'belong to `codex-desk app-server`',
      )
    }
  }
  if (values.stdio && values.listen !== undefined && parseListenUrl(values.listen).kind !== 'stdio') {
    throw new UsageError('--stdio conflicts with --listen ' + values.listen)
  }
  let listen: ListenTarget
  let overrides: ConfigOverride[]
  try {
    listen = parseListenUrl(values.listen ?? 'stdio://')
    const parseToml = values.config?.length ? await loadTomlParser() : undefined
    overrides = [
      ...(values.config ?? []).map((arg) =>
        parseConfigOverride(arg, parseToml as NonNullable<typeof parseToml>),
      ),
      ...(values.enable ?? []).map((f) => featureOverride(f, true)),
      ...(values.disable ?? []).map((f) => featureOverride(f, false)),
    ]
  } catch (error) {
    if (error instanceof ListenUrlError || error instanceof ConfigOverrideError)
      throw new UsageError(error.message)
    throw error
  }
  let maxPayload: number | undefined
  if (values['ws-max-payload'] !== undefined) {
    maxPayload = Number(values['ws-max-payload'])
    if (!Number.isSafeInteger(maxPayload) || maxPayload < 1024) {
      throw new UsageError(`--ws-max-payload must be a whole number of bytes, at least 1024`)
    }
  }
  const allowedOrigins = values['ws-allow-origin'] ?? []
  for (const origin of allowedOrigins) {
    if (!/^[a-z][a-z0-9+.-]*:\/\/[^/\s]+$/i.test(origin)) {
      throw new UsageError(`--ws-allow-origin expects scheme://host[:port] with no path, got \`${origin}\``)
    }
  }
  const webUi = values['web-ui'] ?? false
  if (webUi && listen.kind !== 'ws') {
    throw new UsageError(
      '--web-ui serves the web UI on the websocket listener, so it needs --listen ws://IP:PORT, ' +
        'e.g. `codex-desk app-server --listen ws://127.0.0.1:4500 --web-ui`',
    )
  }
  const wsFlagsUsed = Object.keys(values).some((k) => k.startsWith('ws-'))
  if (wsFlagsUsed && listen.kind !== 'ws') {
    throw new UsageError('websocket flags (--ws-*) need --listen ws://IP:PORT')
  }
  const wsAuth: WsAuthOptions = {
    wsAuth: values['ws-auth'],
    wsTokenFile: values['ws-token-file'],
    wsTokenSha256: values['ws-token-sha256'],
    wsSharedSecretFile: values['ws-shared-secret-file'],
    wsIssuer: values['ws-issuer'],
    wsAudience: values['ws-audience'],
    wsMaxClockSkewSeconds: values['ws-max-clock-skew-seconds'],
  }
  if (webUi && listen.kind === 'ws') {
    if (isUnspecifiedAddress(listen.host)) {
      throw new UsageError(
        `--web-ui needs the address browsers will open, not the wildcard ${listen.host}: ` +
          "listen on 127.0.0.1 (or one of this machine's addresses) instead",
      )
    }
    const conflict = webUiAuthConflict(wsAuth)
    if (conflict) throw new UsageError(conflict)
  }
  return {
    kind: command,
    args: {
      listen,
      overrides,
      analyticsDefaultEnabled: values['analytics-default-enabled'] ?? false,
      wsAuth,
      allowedOrigins,
      maxPayload,
      webUi,
    },
  }
}

function isUnspecifiedAddress(host: string): boolean {
  return host.includes(':') ? new URL(`http://[${host}]/`).hostname === '[::]' : host === '0.0.0.0'
}

/** Where `--web-ui` finds the renderer by default: out/renderer beside the bundle (out/main/cli.js). */
function defaultWebUiDir(): string {
  // Run from source (tsx src/worker/cli.ts) the build still lives in out/renderer, not src/renderer.
  const fromSource = import.meta.url.endsWith('.ts')
  return fileURLToPath(new URL(fromSource ? '../../out/renderer/' : '../renderer/', import.meta.url))
}

export interface RunningAppServer {
  server: AppServer
  listener: WebSocketListener | undefined
  /** Closes every connection and the listener. */
  shutdown(): Promise<void>
}

/** Starts the server for parsed arguments. Exported for tests and the `serve` entry. */
export async function startAppServer(
  args: AppServerArgs,
  io: {
    logs: LoggerFactory
    stdin: NodeJS.ReadableStream
    stdout: NodeJS.WritableStream
    env: NodeJS.ProcessEnv
  },
  onStdioClosed: () => void,
): Promise<RunningAppServer> {
  const log = io.logs.get('cli')
  let wsAuth
  try {
    wsAuth = args.listen.kind === 'ws' ? await loadWsAuthConfig(args.wsAuth) : undefined
  } catch (error) {
    if (error instanceof WsAuthConfigError) throw new UsageError(error.message)
    throw error
  }
  const codexHome = resolveCodexDeskHome(io.env)
  // Creates the home 0700 (or tightens codex-desk's own) and clears dead processes' locks, off the
  // start-up path: the thread index awaits the same promise before it reads the home.
  void prepareHome(codexHome, io.logs.get('home'))
  // Everything --web-ui needs is checked before the port is bound, so a mistake prints no URL.
  let webUi: { dir: string; token: string } | undefined
  if (args.webUi && args.listen.kind === 'ws') {
    const conflict = webUiAuthConflict(args.wsAuth)
    if (conflict) throw new UsageError(conflict)
    const dir = resolveWebUiDir(io.env, defaultWebUiDir())
    await assertWebUiBuilt(dir)
    let token: string
    if (wsAuth?.mode === 'capability-token' && args.wsAuth.wsTokenFile !== undefined) {
      token = await webUiTokenFromFile(args.wsAuth.wsTokenFile, wsAuth.tokenSha256)
    } else {
      token = await loadOrCreateWebUiToken(codexHome, log)
      wsAuth = capabilityTokenAuth(token)
    }
    webUi = { dir, token }
  }
  let config: ConfigService
  try {
    config = await ConfigService.create({
      home: codexHome,
      ...(io.env.CODEX_DESK_SYSTEM_CONFIG_DIR ? { systemDir: io.env.CODEX_DESK_SYSTEM_CONFIG_DIR } : {}),
      overrides: args.overrides,
      analyticsDefaultEnabled: args.analyticsDefaultEnabled,
      log: io.logs.get('config'),
    })
  } catch (error) {
    if (error instanceof ConfigOverrideError) throw new UsageError(error.message)
    throw error
  }
  const server = new AppServer({
    codexHome,
    version: VERSION,
    logs: io.logs,
    env: io.env,
    config,
    ...(args.maxPayload ? { maxMessageBytes: args.maxPayload } : {}),
  })
  let listener: WebSocketListener | undefined
  if (args.listen.kind === 'stdio') {
    const transport = new StdioTransport(io.stdin as NodeJS.ReadStream, io.stdout as NodeJS.WriteStream, {
      ...(args.maxPayload ? { maxMessageBytes: args.maxPayload } : {}),
    })
    server.addTransport(transport)
    transport.onClose(() => onStdioClosed())
  } else if (args.listen.kind === 'ws') {
    const { WebSocketListener, InsecureListenerError } = await import('./transport/webSocket')
    try {
      const staticFiles = webUi
        ? await (await import('./transport/staticFiles')).StaticFiles.open(webUi.dir)
        : undefined
      listener = await WebSocketListener.start(
        {
          host: args.listen.host,
          port: args.listen.port,
          auth: wsAuth ?? { mode: 'none' },
          allowedOrigins: args.allowedOrigins,
          ...(staticFiles ? { staticFiles, allowOwnOrigin: true } : {}),
          ...(args.maxPayload ? { maxPayload: args.maxPayload } : {}),
          log: io.logs.get('transport'),
        },
        (transport) => server.addTransport(transport),
      )
    } catch (error) {
      await server.close()
      throw error instanceof InsecureListenerError ? new UsageError(error.message) : error
    }
    const lines = [`codex-desk app-server listening on ${listener.url}\n`]
    if (webUi) lines.push(`codex-desk web UI: ${webUiUrl(args.listen.host, listener.port, webUi.token)}\n`)
    io.stdout.write(lines.join(''))
    log.info({ url: listener.url, auth: wsAuth?.mode ?? 'none' }, 'websocket listener ready')
    if (webUi) {
      // The token stays out of the log: the URL line on stdout is its only appearance.
      const url = webUiPageUrl(args.listen.host, listener.port)
      log.info({ url, dir: webUi.dir }, 'web UI ready; open the URL printed on stdout')
    }
  } else {
    log.info('no listener (--listen off); waiting for a signal')
  }
  // Recorded in the background: the caller installs its signal handlers as soon as this returns.
  const published = listener
    ? publishListener(codexHome, listener.url, () => listenerToken(args, webUi?.token), log)
    : undefined
  return {
    server,
    listener,
    async shutdown() {
      await Promise.all([server.close(), listener?.close(), published?.then((unpublish) => unpublish?.())])
    },
  }
}

/**
 * The token a client of this listener sends, for the home's record (server/endpointFile.ts): none
 * on an open loopback listener, the web UI's, or the --ws-token-file's contents; undefined when only
 * a hash or a signing secret was given.
 */
async function listenerToken(
  args: AppServerArgs,
  webUiToken: string | undefined,
): Promise<string | null | undefined> {
  if (webUiToken !== undefined) return webUiToken
  if (args.wsAuth.wsAuth === undefined) return null
  if (args.wsAuth.wsAuth === 'capability-token' && args.wsAuth.wsTokenFile !== undefined) {
    return (await readFile(args.wsAuth.wsTokenFile, 'utf8')).trim()
  }
  return undefined
}

/** Runs the CLI; returns the exit code (the process stays up while a server runs). */
export async function runCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv[0] === 'rules') return (await import('./rulesCli')).runRulesCli(argv.slice(1), env)
  let command: ParsedCommand
  try {
    command = await parseCommandLine(argv)
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n\nRun \`codex-desk --help\` for usage.\n`)
      return 2
    }
    throw error
  }
  if (command.kind === 'help') {
    process.stdout.write(HELP)
    return 0
  }
  if (command.kind === 'version') {
    process.stdout.write(`codex-desk ${VERSION}\n`)
    return 0
  }
  const logs = loggerFromEnv(env)
  if (command.kind === 'mcp-server') return runMcpServer(command.args, logs, env)
  const log = logs.get('cli')
  let running: RunningAppServer | undefined
  let exiting = false
  const exit = async (reason: string) => {
    if (exiting) return
    exiting = true
    log.info({ reason }, 'shutting down')
    await running?.shutdown()
    process.exit(0)
  }
  try {
    running = await startAppServer(
      command.args,
      { logs, stdin: process.stdin, stdout: process.stdout, env },
      () => void exit('stdin closed'),
    )
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`error: ${error.message}\n`)
      return 2
    }
    process.stderr.write(`error: ${(error as Error).message}\n`)
    return 1
  }
  process.once('SIGINT', () => void exit('SIGINT'))
  process.once('SIGTERM', () => void exit('SIGTERM'))
  return new Promise<number>(() => {})
}

/** `codex-desk mcp-server` (mcpServer/): its in-process core, when it needs one, is this file's. */
async function runMcpServer(
  args: AppServerArgs,
  logs: LoggerFactory,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const { runMcpServerCommand } = await import('./mcpServer/index')
  return runMcpServerCommand({
    home: resolveCodexDeskHome(env),
    logs,
    overrides: args.overrides,
    async startInProcess() {
      // No listener, so nothing is printed; stderr rather than stdout (the MCP stream) just in case.
      const running = await startAppServer(
        { ...args, listen: { kind: 'off' } },
        { logs, stdin: process.stdin, stdout: process.stderr, env },
        () => {},
      )
      return {
        addTransport: (t: Transport) => running.server.addTransport(t),
        shutdown: () => running.shutdown(),
      }
    },
  })
}

function isMainModule(): boolean {
  const entry = process.argv[1]
  if (!entry) return false
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href
  } catch {
    return false
  }
}

if (isMainModule()) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`fatal: ${(error as Error).stack ?? String(error)}\n`)
      process.exit(1)
    },
  )
}
