/**
 * `$CODEX_DESK_HOME/app-server.json`: where the core that owns this home listens, so another
 * codex-desk process on the same home (`codex-desk mcp-server`) can attach to it instead of becoming
 * a second writer. It holds the listener's URL, its capability token when it has one, and the pid;
 * it is written atomically with mode 0600 (like the web UI token, it is a credential) and removed
 * when the listener closes.
 *
 * It must never be trusted blindly: a reader checks the pid is alive, and a listener whose token
 * codex-desk cannot know (a SHA-256 given on the command line, signed bearer tokens) writes no file.
 */
import { readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { pidAlive } from '../threads/pidLock'
import { writeFileAtomic } from '../util/atomicWrite'
import type { Logger } from '../util/log'
import { VERSION } from '../version'

export const ENDPOINT_FILE = 'app-server.json'

export interface Endpoint {
  pid: number
  /** `ws://IP:PORT`. */
  url: string
  /** The capability token to send as `Authorization: Bearer`, or null when the listener needs none. */
  token: string | null
  version: string
}

export function endpointPath(home: string): string {
  return join(home, ENDPOINT_FILE)
}

/** Records this process's listener; returns a function that removes the record if it is still ours. */
export async function publishEndpoint(
  home: string,
  endpoint: Omit<Endpoint, 'pid'>,
): Promise<() => Promise<void>> {
  const path = endpointPath(home)
  const record: Endpoint = { pid: process.pid, ...endpoint }
  await writeFileAtomic(path, JSON.stringify(record) + '\n', { mode: 0o600 })
  return async () => {
    const current = await readEndpointRecord(path)
    if (current?.pid === process.pid && current.url === record.url) await unlink(path).catch(() => undefined)
  }
}

/**
 * What a core's listener does: records itself, or logs why it could not (the core works the same
 * without the record; only `mcp-server` cannot attach). `token` resolves to undefined when
 * codex-desk cannot know what a client must send: then nothing is written.
 */
export async function publishListener(
  home: string,
  url: string,
  token: () => Promise<string | null | undefined>,
  log: Logger,
): Promise<(() => Promise<void>) | undefined> {
  try {
    const known = await token()
    if (known === undefined) return undefined
    return await publishEndpoint(home, { url, token: known, version: VERSION })
  } catch (error) {
    log.warn(
      { err: (error as Error).message },
      'could not record the listener in the home; mcp-server will not attach',
    )
    return undefined
  }
}

/** The endpoint of a live core on this home, or null (none, unreadable, or its process is gone). */
export async function findEndpoint(home: string): Promise<Endpoint | null> {
  const record = await readEndpointRecord(endpointPath(home))
  if (!record || record.pid === process.pid || !pidAlive(record.pid)) return null
  return record
}

async function readEndpointRecord(path: string): Promise<Endpoint | null> {
  let value: unknown
  try {
    value = JSON.parse(await readFile(path, 'utf8'))
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const { pid, url, token, version } = value as Record<string, unknown>
  if (!Number.isSafeInteger(pid) || (pid as number) <= 0) return null
  if (typeof url !== 'string' || !/^ws:\/\/[^/\s]+$/.test(url)) return null
  if (token !== null && typeof token !== 'string') return null
  return { pid: pid as number, url, token, version: typeof version === 'string' ? version : '' }
}
