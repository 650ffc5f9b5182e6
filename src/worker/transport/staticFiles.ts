/**
 * Serves one folder of static files (the built renderer) over plain HTTP GET/HEAD for the websocket
 * listener's `--web-ui` mode: `/` is index.html, every other path is a file inside the folder or a
 * 404. It must never serve anything outside that folder: paths are decoded once, `..` segments and
 * malformed escapes are refused with 400, and the resolved real path (symlinks followed) must stay
 * under the folder's real path. Knows nothing about websockets or auth.
 */
import type { Stats } from 'node:fs'
import { open, realpath, stat } from 'node:fs/promises'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { extname, join, sep } from 'node:path'
import { pipeline } from 'node:stream/promises'

/** What the listener needs from a static file server: answer one GET or HEAD request. */
export interface StaticFileHandler {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
}

/**
 * Sent with every answer. The page's own CSP is the meta tag in index.html (owned by the renderer);
 * the header adds what a meta tag cannot express: the UI, which has approval buttons, may not be framed.
 */
export const STATIC_SECURITY_HEADERS: Readonly<OutgoingHttpHeaders> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
  'content-security-policy': "frame-ancestors 'none'",
}

export class StaticFiles implements StaticFileHandler {
  private readonly prefix: string

  private constructor(private readonly root: string) {
    this.prefix = root.endsWith(sep) ? root : root + sep
  }

  /** `dir` must exist; its real path becomes the boundary nothing may escape. */
  static async open(dir: string): Promise<StaticFiles> {
    return new StaticFiles(await realpath(dir))
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return plain(res, 405, 'only GET and HEAD are served here', { allow: 'GET, HEAD' })
    }
    const relative = requestPath(req.url ?? '')
    if (relative === undefined) return plain(res, 400, 'bad request path')
    const found = await this.find(relative)
    if (!found) return plain(res, 404, 'not found')
    const { file, stats } = found
    const etag = `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`
    const headers: OutgoingHttpHeaders = {
      ...STATIC_SECURITY_HEADERS,
      'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      etag,
    }
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers)
      res.end()
      return
    }
    const handle = await open(file, 'r').catch(() => undefined)
    if (!handle) return plain(res, 404, 'not found')
    try {
      // Sized from the open file, not the earlier stat, so the length always matches what is sent.
      const size = (await handle.stat()).size
      res.writeHead(200, { ...headers, 'content-length': size })
      if (req.method === 'HEAD') {
        res.end()
        return
      }
      // A client that goes away mid-file is not an error worth reporting.
      await pipeline(handle.createReadStream({ autoClose: false }), res).catch(() => res.destroy())
    } finally {
      await handle.close()
    }
  }

  /** The regular file for a decoded relative path, if it exists inside the root and is not hidden. */
  private async find(relative: string): Promise<{ file: string; stats: Stats } | undefined> {
    if (relative.split('/').some((segment) => segment.startsWith('.'))) return undefined
    try {
      const file = await realpath(join(this.root, relative === '' ? 'index.html' : relative))
      if (!file.startsWith(this.prefix)) return undefined
      const stats = await stat(file)
      return stats.isFile() ? { file, stats } : undefined
    } catch {
      return undefined
    }
  }
}

/**
 * The request target as a path relative to the root ('' for `/`), or undefined for a bad request:
 * not origin-form, a malformed escape, a NUL or backslash, or a `.`/`..` segment (raw or encoded).
 */
export function requestPath(target: string): string | undefined {
  if (!target.startsWith('/')) return undefined
  const rawPath = target.replace(/[?#].*$/s, '')
  let decoded: string
  try {
    decoded = decodeURIComponent(rawPath)
  } catch {
    return undefined
  }
  if (/[\0\\]/.test(decoded)) return undefined
  const segments = decoded.split('/').filter((s) => s !== '')
  if (segments.some((s) => s === '.' || s === '..')) return undefined
  return segments.join('/')
}

function plain(res: ServerResponse, status: number, body: string, extra: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, {
    ...STATIC_SECURITY_HEADERS,
    ...extra,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  })
  res.end(body)
}
