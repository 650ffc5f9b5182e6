/**
 * The process-wide originator and the two user agents codex-desk sends.
 *
 * To clients, `initialize` answers the shape codex answers,
 *   `<originator>/<protocol version> (<os> <osver>; <arch>) <terminal> (<client name>; <client version>) codex-desk/<version>`,
 * because clients read the version right after the first `/` as the server's version: the Codex TUI
 * compares it with its own and warns that "a background Codex service is running v..., older than your
 * Codex CLI" when it is lower. codex-desk puts there the codex release whose protocol it speaks
 * (`CODEX_PROTOCOL_VERSION`) and names itself in a trailing product token.
 *
 * Upstream, model requests say what is really calling: `codex-desk/<version> (<os>; <arch>) <terminal>
 * (<first client name>; <its version>)`, with the client's name in the `originator` header as codex does.
 *
 * The first initialize in the process fixes the originator; CODEX_INTERNAL_ORIGINATOR_OVERRIDE
 * pre-empts it (protocol.md §3). It must never put a protocol version upstream as if it were codex.
 */
import { readFileSync } from 'node:fs'
import { arch, release, type as osType } from 'node:os'

/** What an HTTP header value may hold: visible ASCII, space, tab and non-ASCII (obs-text). */
export function isValidHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false
  }
  return true
}

/** The product token codex-desk adds to every user agent. */
export const PRODUCT = 'codex-desk'

export class Originator {
  private current: string | undefined
  private firstClient: { name: string; version: string } | undefined

  constructor(private readonly override?: string) {}

  /** The first client to initialize is the one upstream requests name. */
  recordClient(name: string, version: string): void {
    this.firstClient ??= { name, version }
  }

  /** `originator` and `User-Agent` for model requests (codex-desk's own until a client initializes). */
  upstreamHeaders(version: string): Record<string, string> {
    return {
      originator: this.value ?? PRODUCT,
      'User-Agent': upstreamUserAgent({ version, client: this.firstClient }),
    }
  }

  /** The first caller's name wins, unless the environment override is set. */
  claim(clientName: string): string {
    if (this.override) return this.override
    this.current ??= clientName
    return this.current
  }

  get value(): string | undefined {
    return this.override ?? this.current
  }
}

let platformCache: string | undefined

/** `Debian GNU/Linux 12; x86_64`, computed once. */
function platformDescription(): string {
  if (platformCache) return platformCache
  let os = `${osType()} ${release()}`
  if (process.platform === 'linux') {
    try {
      const text = readFileSync('/etc/os-release', 'utf8')
      const field = (key: string) => new RegExp(`^${key}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1]
      const name = field('NAME')
      if (name) os = `${name} ${field('VERSION_ID') ?? release()}`
    } catch {
      // Keep the kernel description.
    }
  } else if (process.platform === 'darwin') {
    os = `Mac OS ${release()}`
  }
  const cpu = { x64: 'x86_64', arm64: 'aarch64', ia32: 'x86' }[arch()] ?? arch()
  platformCache = `${os}; ${cpu}`
  return platformCache
}

function terminalDescription(env: NodeJS.ProcessEnv): string {
  if (env.TERM_PROGRAM)
    return env.TERM_PROGRAM_VERSION ? `${env.TERM_PROGRAM}/${env.TERM_PROGRAM_VERSION}` : env.TERM_PROGRAM
  return env.TERM || 'unknown'
}

/** The `initialize` user agent: codex's shape, the protocol version where clients read it, then codex-desk. */
export function userAgent(opts: {
  originator: string
  /** The codex release whose protocol codex-desk speaks, e.g. `0.169.0`. */
  protocolVersion: string
  /** codex-desk's own version. */
  version: string
  clientName: string
  clientVersion: string
  env?: NodeJS.ProcessEnv
}): string {
  const terminal = terminalDescription(opts.env ?? process.env)
  return (
    `${opts.originator}/${opts.protocolVersion} (${platformDescription()}) ${terminal} ` +
    `(${opts.clientName}; ${opts.clientVersion}) ${PRODUCT}/${opts.version}`
  )
}

/** The `User-Agent` of model requests: codex-desk first, the client that fixed the originator in parentheses. */
export function upstreamUserAgent(opts: {
  version: string
  client?: { name: string; version: string } | undefined
  env?: NodeJS.ProcessEnv
}): string {
  const terminal = terminalDescription(opts.env ?? process.env)
  const client = opts.client ? ` (${opts.client.name}; ${opts.client.version})` : ''
  return `${PRODUCT}/${opts.version} (${platformDescription()}) ${terminal}${client}`
}

export const platformFamily = (): 'unix' | 'windows' => (process.platform === 'win32' ? 'windows' : 'unix')
export const platformOs = (): 'linux' | 'macos' | 'windows' =>
  process.platform === 'win32' ? 'windows' : process.platform === 'darwin' ? 'macos' : 'linux'
