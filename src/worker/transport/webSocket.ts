/**
 * Websocket transport (`ws`) and the listener behind `--listen ws://IP:PORT`. One JSON message per
 * text frame; binary frames are dropped with a log line; pings are answered by `ws`. The same port
 * answers `GET /readyz` and `GET /healthz` with 200 (no auth, as codex), and, when given a static file
 * handler (`--web-ui`), hands every other GET/HEAD to it. Any request carrying an `Origin` that is not
 * allowed gets 403, and auth runs on the upgrade, before any JSON-RPC (401 with a plain-text reason).
 * Outgoing text frames are encoded here (once per notification, shared by every subscriber) and
 * written to the TCP socket directly; `ws` reads, answers pings and closes. Never logs a credential,
 * and never writes a frame after `ws` has started closing.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { isIP } from 'node:net'
import type { WebSocket, WebSocketServer } from 'ws'
import type { Logger } from '../util/log'
import type { StaticFileHandler } from './staticFiles'
import { DEFAULT_MAX_MESSAGE_BYTES } from './stdio'
import { TransportBase } from './transportBase'
import { CLOSE_GOING_AWAY, CLOSE_NORMAL, CLOSE_SLOW_CONSUMER, type CloseInfo, type Transport } from './types'
import { authenticate, bearerFromProtocols, WS_PROTOCOL, type WsAuthConfig } from './wsAuth'

/** Bytes written but not yet taken by the kernel before `write` reports backpressure. */
const HIGH_WATER_BYTES = 1024 * 1024
const LOW_WATER_BYTES = 256 * 1024
/** How long a closing connection may take to finish the close handshake before it is cut. */
const CLOSE_GRACE_MS = 10_000
/**
 * The same for a client closed as a slow consumer: it is not reading, so it sees the 4001 only once
 * it reads again (a laptop waking up). Until then it holds at most what `ws` buffers (HIGH_WATER_BYTES
 * and the close frame), so keep it long enough for the client to learn why it was dropped.
 */
const SLOW_CONSUMER_CLOSE_GRACE_MS = 120_000

/**
 * The last text frame encoded, as a complete unmasked websocket frame. A notification fanned out to
 * N subscribers is the same string N times in a row, so it is encoded once and the one Buffer is
 * written to every socket (server frames are never masked: the bytes are the same for all).
 */
let lastText: string | undefined
let lastFrame: Buffer = Buffer.alloc(0)
const CACHE_MAX_BYTES = 64 * 1024

/** `text` as one websocket text frame (FIN, opcode 1, no mask): header and UTF-8 payload in one Buffer. */
export function encodeTextFrame(text: string): Buffer {
  if (text === lastText) return lastFrame
  const frame = encodeFrame(text, 0x81)
  // Only small frames are kept: a big one is a response to one client, and must not stay alive.
  if (frame.length <= CACHE_MAX_BYTES) {
    lastText = text
    lastFrame = frame
  }
  return frame
}

/** One unmasked frame: `first` is the first header byte (FIN bit and opcode), then the UTF-8 payload. */
function encodeFrame(text: string, first: number): Buffer {
  const length = Buffer.byteLength(text)
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10
  const frame = Buffer.allocUnsafe(header + length)
  frame[0] = first
  if (header === 2) frame[1] = length
  else if (header === 4) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  frame.write(text, header, 'utf8')
  return frame
}

export class WebSocketTransport extends TransportBase implements Transport {
  readonly kind = 'websocket'
  readonly overflow = 'disconnect'
  private flushed = 0
  private waitingForDrain = false
  private closeTimer: NodeJS.Timeout | undefined
  /** A message is being sent in fragments (`writePiece`) and its last one has not gone yet. */
  private inMessage = false
  /** Frames written since the current tick began; the second one corks the socket until its end. */
  private writesThisTick = 0
  private readonly endTick = () => {
    this.writesThisTick = 0
    if (this.raw.writableCorked > 0) this.raw.uncork()
  }
  /** One callback for every frame (called in write order once the kernel took it). */
  private readonly afterSend = (error?: Error | null) => {
    if (error) return
    this.flushed++
    if (this.waitingForDrain && this.raw.writableLength <= LOW_WATER_BYTES) {
      this.waitingForDrain = false
      this.drainEmitter.fire()
    }
  }

  /**
   * `raw` is the TCP socket `ws` runs on: data frames are written to it directly (after checking
   * that `ws` still considers the connection open, so nothing follows a close frame), while `ws`
   * keeps reading, answering pings and closing.
   */
  constructor(
    private readonly socket: WebSocket,
    readonly peer: string,
    log: Logger,
    private readonly raw: Socket,
  ) {
    super()
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        log.warn({ peer }, 'dropping binary websocket frame; send JSON-RPC messages as text frames')
        return
      }
      this.messageEmitter.fire(data.toString())
    })
    socket.on('close', (code, reason) => this.finish({ code, reason: reason.toString() }))
    socket.on('error', (error) => log.debug({ peer, error: error.message }, 'websocket error'))
  }

  /** Bytes written and not yet taken by the kernel. */
  get bufferedBytes(): number {
    return this.raw.writableLength
  }

  /** Frames flushed to the kernel: they move only as fast as the client reads. */
  get consumed(): number {
    return this.flushed
  }

  /**
   * The first frame of a tick goes out at once (a response costs no extra wait); further frames in
   * the same tick (a burst of deltas) are corked and leave together in one write when the tick ends.
   */
  write(frame: string): boolean {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return true
    if (this.writesThisTick++ === 0) process.nextTick(this.endTick)
    else if (this.raw.writableCorked === 0) this.raw.cork()
    this.raw.write(encodeTextFrame(frame), this.afterSend)
    if (this.raw.writableLength < HIGH_WATER_BYTES) return true
    this.waitingForDrain = true
    return false
  }

  /**
   * Part of one text message, sent as a fragment (transport/pieceGate.ts makes sure nothing else is
   * sent on the socket until the `last` one); counted and drained like `write`.
   */
  writePiece(piece: string, last: boolean): boolean {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return true
    // The first fragment is a text frame (opcode 1), the rest continuations (0); FIN on the last.
    const opcode = this.inMessage ? 0x00 : 0x01
    this.inMessage = !last
    this.raw.write(encodeFrame(piece, (last ? 0x80 : 0) | opcode), this.afterSend)
    if (this.raw.writableLength < HIGH_WATER_BYTES) return true
    this.waitingForDrain = true
    return false
  }

  close(info: CloseInfo = CLOSE_NORMAL): void {
    if (this.closed || this.closeTimer) return
    try {
      this.socket.close(info.code, info.reason)
    } catch {
      this.socket.terminate()
    }
    // A client that stopped reading never completes the close handshake; cut it loose.
    const grace = info.code === CLOSE_SLOW_CONSUMER.code ? SLOW_CONSUMER_CLOSE_GRACE_MS : CLOSE_GRACE_MS
    this.closeTimer = setTimeout(() => this.socket.terminate(), grace)
    this.closeTimer.unref()
    // The connection is over for the server now, whatever the client does.
    this.finish(info)
  }
}

export interface WebSocketListenerOptions {
  host: string
  port: number
  auth: WsAuthConfig
  /** Exact origins (scheme://host[:port]) that may connect, e.g. the app's own web UI. */
  allowedOrigins?: readonly string[]
  /**
   * Also allow the listener's own origin, `http://HOST:PORT` with the port actually bound (and
   * `http://localhost:PORT` on a loopback address): set when the listener serves the page itself.
   */
  allowOwnOrigin?: boolean
  /** Serves GET/HEAD requests other than the probes (the web UI); without it they get 400. */
  staticFiles?: StaticFileHandler
  maxPayload?: number
  log: Logger
}

export class ListenError extends Error {}

/** A non-loopback address without auth: a configuration mistake, not a runtime failure. */
export class InsecureListenerError extends ListenError {}

function isLoopback(host: string): boolean {
  if (isIP(host) === 4) return host.startsWith('127.')
  const h = host.toLowerCase()
  return h === '::1' || h.startsWith('::ffff:127.')
}

/** codex's refusal text, with the flags to add. */
function nonLoopbackWithoutAuthMessage(host: string, port: number): string {
  const addr = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
  return (
    `refusing to start non-loopback websocket listener ${addr} without auth; ` +
    'configure `--ws-auth capability-token` or `--ws-auth signed-bearer-token`'
  )
}

export class WebSocketListener {
  private readonly sockets = new Set<WebSocket>()
  private closing = false

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly url: string,
    readonly port: number,
  ) {}

  /**
   * Binds and starts accepting. Each accepted client is handed to `onTransport`. Throws
   * `ListenError` for a non-loopback host without auth or an address that cannot be bound.
   */
  static async start(
    options: WebSocketListenerOptions,
    onTransport: (transport: WebSocketTransport) => void,
  ): Promise<WebSocketListener> {
    const { host, log } = options
    if (!isLoopback(host) && options.auth.mode === 'none') {
      throw new InsecureListenerError(nonLoopbackWithoutAuthMessage(host, options.port))
    }
    const { WebSocketServer } = await import('ws')
    const allowed = new Set(options.allowedOrigins ?? [])
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxPayload ?? DEFAULT_MAX_MESSAGE_BYTES,
      perMessageDeflate: false,
      // ws cuts a socket this long after sending a close frame (30 s by default); our own timers
      // (CLOSE_GRACE_MS, the longer slow-consumer grace) decide. ws 8.23 reads it; its types lag.
      ...({ closeTimeout: SLOW_CONSUMER_CLOSE_GRACE_MS } as object),
      // Echo our protocol name when offered; never echo the entry that carries a bearer token.
      handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    })
    const originRejected = (req: IncomingMessage) => {
      const origin = req.headers.origin
      return origin !== undefined && !allowed.has(origin)
    }

    const server = createServer((req, res) => handleHttp(req, res))
    const handleHttp = (req: IncomingMessage, res: ServerResponse) => {
      const path = (req.url ?? '/').split('?')[0]
      if (originRejected(req)) return reply(res, 403, 'forbidden origin')
      // codex serves both probes from one handler without auth: they reveal nothing but liveness.
      if (req.method === 'GET' && (path === '/readyz' || path === '/healthz')) return reply(res, 200, '')
      const { staticFiles } = options
      if (staticFiles) {
        staticFiles.handle(req, res).catch((error: unknown) => {
          log.error({ path, error: String(error) }, 'serving a static file failed')
          if (res.headersSent) res.destroy()
          else reply(res, 500, 'internal error')
        })
        return
      }
      return reply(res, 400, 'expected a websocket upgrade, GET /readyz or GET /healthz')
    }

    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      void (async () => {
        if (originRejected(req)) return rejectUpgrade(socket, 403, 'forbidden origin')
        const offered = parseProtocols(req.headers['sec-websocket-protocol'])
        const result = await authenticate(
          options.auth,
          req.headers.authorization,
          bearerFromProtocols(offered),
        )
        if (!result.ok) {
          log.info(
            { peer: socket.remoteAddress, status: result.status },
            `websocket upgrade refused: ${result.body}`,
          )
          return rejectUpgrade(socket, result.status, result.body)
        }
        if (socket.destroyed) return
        wss.handleUpgrade(req, socket, head, (ws) => {
          if (listener.closing) return ws.close(CLOSE_GOING_AWAY.code, CLOSE_GOING_AWAY.reason)
          listener.sockets.add(ws)
          ws.on('close', () => listener.sockets.delete(ws))
          const peer = `ws ${socket.remoteAddress}:${socket.remotePort}`
          onTransport(new WebSocketTransport(ws, peer, log, socket))
        })
      })().catch((error: unknown) => {
        log.error({ error: String(error) }, 'websocket upgrade failed')
        socket.destroy()
      })
    })

    const port = () => (server.address() as AddressInfo).port
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) =>
        reject(new ListenError(`cannot listen on ${host}:${options.port}: ${error.code ?? error.message}`))
      server.once('error', onError)
      server.listen(options.port, host, () => {
        server.off('error', onError)
        // Before any request is read: with port 0 the own origin is only known now.
        if (options.allowOwnOrigin) for (const origin of ownOrigins(host, port())) allowed.add(origin)
        resolve()
      })
    })
    const url = `ws://${hostForUrl(host)}:${port()}`
    const listener = new WebSocketListener(server, wss, url, port())
    return listener
  }

  /** Stops accepting, closes every client with 1001, and releases the port. */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    for (const ws of this.sockets) ws.close(CLOSE_GOING_AWAY.code, CLOSE_GOING_AWAY.reason)
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    // Give clients a moment to answer the close frame, then cut what is left.
    const deadline = setTimeout(() => {
      for (const ws of this.sockets) ws.terminate()
      this.server.closeAllConnections()
    }, 500)
    this.wss.close()
    this.server.closeIdleConnections()
    await closed
    clearTimeout(deadline)
  }
}

function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host
}

/**
 * The origins of pages this listener serves itself: its address, and `localhost` on loopback. Spelled
 * as a browser sends them (URL's serialization: canonical IPv6, no `:80`).
 */
export function ownOrigins(host: string, port: number): string[] {
  const origins = [new URL(`http://${hostForUrl(host)}:${port}`).origin]
  if (isLoopback(host)) origins.push(new URL(`http://localhost:${port}`).origin)
  return origins
}

function parseProtocols(header: string | undefined): string[] {
  return header ? header.split(',').map((p) => p.trim()) : []
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  })
  res.end(body)
}

function rejectUpgrade(socket: Socket, status: number, body: string): void {
  if (socket.destroyed) return
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Connection: close\r\n\r\n' +
      body,
  )
}
