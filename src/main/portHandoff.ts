/**
 * The nonce-checked MessagePort hand-off between main and a window (VS Code's pattern): the renderer
 * asks for a port with a fresh nonce, main posts the port to the window's preload
 * (`webContents.postMessage`), the preload relays it with `window.postMessage` and the nonce, and
 * the renderer takes only the message that carries its own nonce, from its own window, with exactly
 * one port. This file holds the decisions on each side; the Electron calls stay in main/preload.
 *
 * Runtime-free (no node:, no electron, no DOM types required), so the preload and the renderer can
 * import it. It must never hand a port to a request it cannot tell apart from a replay, and never
 * accept a port it did not ask for.
 */

/** ipcRenderer.send channel: renderer (through the preload) → main, carrying the nonce. */
export const PORT_REQUEST_CHANNEL = 'codex-desk:connect'
/** webContents.postMessage channel main → preload, and the `type` of the window message preload → renderer. */
export const PORT_MESSAGE_TYPE = 'codex-desk:port'

const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/

export function isValidNonce(value: unknown): value is string {
  return typeof value === 'string' && NONCE_PATTERN.test(value)
}

/** 32 url-safe characters from 24 random bytes (Web Crypto: there in browsers and in Node ≥ 19). */
export function createNonce(): string {
  const bytes = new Uint8Array(24)
  globalThis.crypto.getRandomValues(bytes)
  let binary = ''
  for (const byte of bytes) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_')
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────────

export type PortDecision =
  | {
      ok: true
      /** Post one end to the core as `{type:'connect', client}`. */
      client: string
      /** Post the other end with `webContents.postMessage(channel, message, [port])`. */
      channel: typeof PORT_MESSAGE_TYPE
      message: { nonce: string }
    }
  | { ok: false; reason: 'invalid nonce' | 'replayed nonce' | 'rate limited' }

export interface PortBrokerOptions {
  /** Requests one sender may make per window; default 10 per second. */
  maxRequests?: number
  windowMs?: number
  /** How many used nonces are remembered to refuse replays; default 4096. */
  rememberNonces?: number
  now?: () => number
}

/**
 * Main's side: decides whether a connect request from a window gets a port. A nonce is good for one
 * port, ever (across windows); each window may ask at most `maxRequests` times per `windowMs`.
 */
export class PortBroker {
  private readonly maxRequests: number
  private readonly windowMs: number
  private readonly rememberNonces: number
  private readonly now: () => number
  /** Insertion-ordered, so the oldest is forgotten first. */
  private readonly usedNonces = new Set<string>()
  private readonly recent = new Map<string | number, number[]>()

  constructor(options: PortBrokerOptions = {}) {
    this.maxRequests = options.maxRequests ?? 10
    this.windowMs = options.windowMs ?? 1000
    this.rememberNonces = options.rememberNonces ?? 4096
    this.now = options.now ?? Date.now
  }

  /** `sender` identifies the window (`event.sender.id`); `nonce` is whatever the renderer sent. */
  request(sender: string | number, nonce: unknown): PortDecision {
    if (!isValidNonce(nonce)) return { ok: false, reason: 'invalid nonce' }
    const now = this.now()
    const times = (this.recent.get(sender) ?? []).filter((time) => now - time < this.windowMs)
    if (times.length >= this.maxRequests) {
      this.recent.set(sender, times)
      return { ok: false, reason: 'rate limited' }
    }
    if (this.usedNonces.has(nonce)) return { ok: false, reason: 'replayed nonce' }
    times.push(now)
    this.recent.set(sender, times)
    this.usedNonces.add(nonce)
    if (this.usedNonces.size > this.rememberNonces) {
      const oldest = this.usedNonces.values().next().value
      if (oldest !== undefined) this.usedNonces.delete(oldest)
    }
    return { ok: true, client: `window ${sender}`, channel: PORT_MESSAGE_TYPE, message: { nonce } }
  }

  /** The window is gone (webContents `destroyed`): drop its rate-limit record. */
  forgetSender(sender: string | number): void {
    this.recent.delete(sender)
  }
}

// ── preload ──────────────────────────────────────────────────────────────────────────────────────

/**
 * What the preload posts to its window for main's `codex-desk:port` message, or undefined when the
 * message is not one main would send. Post it with `window.postMessage(m, location.origin, ports)`.
 */
export function relayMessage(
  payload: unknown,
): { type: typeof PORT_MESSAGE_TYPE; nonce: string } | undefined {
  const nonce = (payload as { nonce?: unknown } | null)?.nonce
  return isValidNonce(nonce) ? { type: PORT_MESSAGE_TYPE, nonce } : undefined
}

// ── renderer ─────────────────────────────────────────────────────────────────────────────────────

/** The parts of a window `MessageEvent` looked at. */
export interface PortMessageEvent<P> {
  data: unknown
  source: unknown
  ports: readonly P[]
}

export type AcceptResult<P> =
  | { ok: true; port: P }
  | {
      ok: false
      reason:
        | 'foreign source'
        | 'not a port message'
        | 'wrong nonce'
        | 'no port'
        | 'more than one port'
        | 'already accepted'
    }

/**
 * The renderer's check. `expectedSource` is the renderer's own `window`: the preload posts from the
 * same window, and anything from an iframe or an opener has another source.
 */
export function acceptPort<P>(
  event: PortMessageEvent<P>,
  expectedNonce: string,
  expectedSource: unknown,
): AcceptResult<P> {
  if (event.source !== expectedSource) return { ok: false, reason: 'foreign source' }
  const data = event.data as { type?: unknown; nonce?: unknown } | null
  if (typeof data !== 'object' || data === null || data.type !== PORT_MESSAGE_TYPE) {
    return { ok: false, reason: 'not a port message' }
  }
  if (data.nonce !== expectedNonce) return { ok: false, reason: 'wrong nonce' }
  if (event.ports.length === 0) return { ok: false, reason: 'no port' }
  if (event.ports.length > 1) return { ok: false, reason: 'more than one port' }
  return { ok: true, port: event.ports[0] as P }
}

/** One request's acceptor: a fresh nonce, and one port at most, even if the message comes twice. */
export class PortAcceptor<P> {
  readonly nonce: string
  private accepted = false

  constructor(
    private readonly expectedSource: unknown,
    nonce: string = createNonce(),
  ) {
    this.nonce = nonce
  }

  accept(event: PortMessageEvent<P>): AcceptResult<P> {
    const result = acceptPort(event, this.nonce, this.expectedSource)
    if (!result.ok) return result
    if (this.accepted) return { ok: false, reason: 'already accepted' }
    this.accepted = true
    return result
  }
}

export interface MessageEventTarget<P> {
  addEventListener(type: 'message', listener: (event: PortMessageEvent<P>) => void): void
  removeEventListener(type: 'message', listener: (event: PortMessageEvent<P>) => void): void
}

/**
 * The whole renderer side: listens on `target` (the window), calls `request(nonce)` (the preload's
 * `connect`), and resolves with the one port that passes `acceptPort`; rejects after `timeoutMs`.
 * Other messages are left alone for other listeners.
 */
export function receivePort<P>(
  target: MessageEventTarget<P>,
  request: (nonce: string) => void,
  options: { source: unknown; timeoutMs?: number; nonce?: string },
): Promise<P> {
  const acceptor = new PortAcceptor<P>(options.source, options.nonce)
  const timeoutMs = options.timeoutMs ?? 10_000
  return new Promise<P>((resolve, reject) => {
    const onMessage = (event: PortMessageEvent<P>) => {
      const result = acceptor.accept(event)
      if (!result.ok) return
      finish()
      resolve(result.port)
    }
    const timer = setTimeout(() => {
      finish()
      reject(new Error(`no MessagePort from the app within ${timeoutMs} ms`))
    }, timeoutMs)
    const finish = () => {
      clearTimeout(timer)
      target.removeEventListener('message', onMessage)
    }
    target.addEventListener('message', onMessage)
    try {
      request(acceptor.nonce)
    } catch (error) {
      finish()
      reject(error as Error)
    }
  })
}
