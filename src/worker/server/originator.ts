/**
 * The process-wide originator and the user agent that `initialize` reports and upstream requests
 * carry: `<originator>/<version> (<os> <osver>; <arch>) <terminal> (<client name>; <client version>)`.
 * The first initialize in the process fixes the originator; CODEX_INTERNAL_ORIGINATOR_OVERRIDE
 * pre-empts it (protocol.md §3).
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

export class Originator {
  private current: string | undefined
  private firstUserAgent: string | undefined

  constructor(private readonly override?: string) {}

  /** The first client's user agent is the process's: upstream requests carry it. */
  recordUserAgent(userAgent: string): void {
    this.firstUserAgent ??= userAgent
  }

  /** `originator` and `User-Agent` for model requests (a generic agent until a client initializes). */
  upstreamHeaders(version: string): Record<string, string> {
    const originator = this.value ?? 'codex-desk'
    return {
      originator,
      'User-Agent': this.firstUserAgent ?? `${originator}/${version} (${platformDescription()})`,
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

export function userAgent(opts: {
  originator: string
  version: string
  clientName: string
  clientVersion: string
  env?: NodeJS.ProcessEnv
}): string {
  const terminal = terminalDescription(opts.env ?? process.env)
  return `${opts.originator}/${opts.version} (${platformDescription()}) ${terminal} (${opts.clientName}; ${opts.clientVersion})`
}

export const platformFamily = (): 'unix' | 'windows' => (process.platform === 'win32' ? 'windows' : 'unix')
export const platformOs = (): 'linux' | 'macos' | 'windows' =>
  process.platform === 'win32' ? 'windows' : process.platform === 'darwin' ? 'macos' : 'linux'
