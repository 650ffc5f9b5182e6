/**
 * `--web-ui`: the pieces the headless CLI needs to serve the built renderer to a browser on the
 * websocket listener's port: where the build is, the capability token the page presents (kept in
 * `$CODEX_DESK_HOME/web-ui-token` so a restart prints the same URL), and that URL. The token appears
 * in the URL line only: never in an error, a log line or an exception message.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmod, link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { WsAuthConfig, WsAuthOptions } from './transport/wsAuth'
import { writeFileAtomic } from './util/atomicWrite'
import type { Logger } from './util/log'

export const WEB_UI_TOKEN_FILE = 'web-ui-token'
export const WEB_UI_DIR_ENV = 'CODEX_DESK_WEB_UI_DIR'

/** A web UI that cannot be served as asked (not built, a bad token file); the CLI exits 1. */
export class WebUiError extends Error {
  override name = 'WebUiError'
}

/**
 * Why the given `--ws-*` auth flags cannot go with `--web-ui`, or undefined when they can: none at
 * all (the web UI keeps its own token), or a capability token read from `--ws-token-file`, which the
 * URL then carries.
 */
export function webUiAuthConflict(opts: WsAuthOptions): string | undefined {
  const ownToken = 'let --web-ui keep its own token in $CODEX_DESK_HOME/web-ui-token'
  if (opts.wsAuth === 'signed-bearer-token') {
    return `--web-ui manages its own capability token and cannot use signed bearer tokens: drop --ws-auth and ${ownToken}`
  }
  if (opts.wsTokenSha256 !== undefined) {
    return `--web-ui prints a URL carrying the token, so it needs the token itself, not its SHA-256: use --ws-token-file FILE, or drop the --ws-* auth flags and ${ownToken}`
  }
  return undefined
}

/** `CODEX_DESK_WEB_UI_DIR` (relative to the working folder) or the default next to the bundle. */
export function resolveWebUiDir(env: NodeJS.ProcessEnv, defaultDir: string): string {
  const configured = env[WEB_UI_DIR_ENV]?.trim()
  return configured ? resolve(configured) : resolve(defaultDir)
}

export async function assertWebUiBuilt(dir: string): Promise<void> {
  const index = await stat(join(dir, 'index.html')).catch(() => undefined)
  if (!index?.isFile()) {
    throw new WebUiError(`the web UI is not built: run \`npm run build\` first (looked in ${dir})`)
  }
}

/** The page's address without the token, e.g. `http://127.0.0.1:4500/`. */
export function webUiPageUrl(host: string, port: number): string {
  return new URL(`http://${host.includes(':') ? `[${host}]` : host}:${port}/`).href
}

/** The page's address with the token in the fragment: a browser never sends that part to a server. */
export function webUiUrl(host: string, port: number, token: string): string {
  return `${webUiPageUrl(host, port)}#token=${encodeURIComponent(token)}`
}

/** Capability-token auth for a token held in memory. */
export function capabilityTokenAuth(token: string): WsAuthConfig {
  return { mode: 'capability-token', tokenSha256: sha256(token) }
}

/**
 * The token in `<home>/web-ui-token`, created on first use (32 random bytes, base64url, mode 0600).
 * Two servers starting at once on a fresh home agree on one token: the file is published with a
 * hard link, which never replaces a file another process got there first.
 */
export async function loadOrCreateWebUiToken(home: string, log: Logger): Promise<string> {
  const file = join(home, WEB_UI_TOKEN_FILE)
  const existing = await readTokenFile(file, log)
  if (existing !== undefined) return existing
  const token = randomBytes(32).toString('base64url')
  if (await publishExclusively(file, `${token}\n`)) {
    log.info({ file }, 'created a web UI token')
    return token
  }
  const winner = await readTokenFile(file, log)
  if (winner === undefined) throw new WebUiError(`cannot create the web UI token file ${file}`)
  return winner
}

/**
 * The token from an explicit `--ws-auth capability-token --ws-token-file FILE`, checked against the
 * digest the listener will compare with (so the printed URL is the one that authenticates).
 */
export async function webUiTokenFromFile(rawPath: string, expectedSha256: Buffer): Promise<string> {
  const file = rawPath === '~' || rawPath.startsWith('~/') ? join(homedir(), rawPath.slice(1)) : rawPath
  const token = (await readFile(resolve(file), 'utf8')).trim()
  const digest = sha256(token)
  if (digest.length !== expectedSha256.length || !timingSafeEqual(digest, expectedSha256)) {
    throw new WebUiError(`--ws-token-file ${rawPath} must hold only the token for --web-ui`)
  }
  if (!SUBPROTOCOL_SAFE.test(token)) throw new WebUiError(unsafeTokenMessage(`--ws-token-file ${rawPath}`))
  return token
}

// Browsers send the token as a websocket subprotocol, which must be an HTTP token (RFC 9110 tchar).
const SUBPROTOCOL_SAFE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function unsafeTokenMessage(what: string): string {
  return (
    `${what} holds characters a browser cannot send in a websocket subprotocol ` +
    "(allowed: letters, digits and !#$%&'*+-.^_`|~)"
  )
}

async function readTokenFile(file: string, log: Logger): Promise<string | undefined> {
  let raw: string
  try {
    raw = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return undefined
    throw new WebUiError(`cannot read the web UI token file ${file}: ${code ?? (error as Error).message}`)
  }
  const token = raw.trim()
  if (token === '') {
    throw new WebUiError(
      `the web UI token file ${file} is empty: delete it to have a new token generated, or put a token in it`,
    )
  }
  if (!SUBPROTOCOL_SAFE.test(token)) {
    throw new WebUiError(`${unsafeTokenMessage(`the web UI token file ${file}`)}: delete it for a new token`)
  }
  const mode = (await stat(file)).mode & 0o777
  if (mode & 0o077) {
    log.warn(
      { file, mode: mode.toString(8) },
      'the web UI token file is readable by other users; chmod 600 it',
    )
  }
  return token
}

/** Writes `data` to `file` (mode 0600) unless the file exists; false when someone else's file won. */
async function publishExclusively(file: string, data: string): Promise<boolean> {
  const dir = dirname(file)
  await mkdir(dir, { recursive: true })
  const temp = join(dir, `.${WEB_UI_TOKEN_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(temp, 'wx', 0o600)
  try {
    try {
      await handle.writeFile(data)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await chmod(temp, 0o600)
    await link(temp, file)
    return true
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return false
    // A file system without hard links: replace atomically instead (a simultaneous first start
    // on such a home could then print a token the other process overwrote).
    if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
      await writeFileAtomic(file, data, { mode: 0o600 })
      return true
    }
    throw error
  } finally {
    await unlink(temp).catch(() => undefined)
  }
}

function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}
