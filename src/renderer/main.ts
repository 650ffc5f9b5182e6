/**
 * Renderer entry. Connects to the core over a MessagePort (inside the app, through the preload) or
 * over a websocket (in a browser: `?ws=ws://127.0.0.1:PORT`), initializes, and shows the result.
 * Imports nothing from Node. The thread list, turn view and approvals arrive with the desktop work.
 */
import { PORT_ACK_EVERY } from '../worker/protocol/portFrames'
import './bridge'

interface Channel {
  send(frame: string): void
  onFrame(listener: (frame: string) => void): void
  onClose(listener: (reason: string) => void): void
}

const status = document.getElementById('status') as HTMLElement

function portChannel(): Promise<Channel> {
  const nonce = crypto.randomUUID()
  return new Promise((resolve) => {
    const onWindowMessage = (event: MessageEvent) => {
      const data = event.data as { type?: string; nonce?: string }
      if (event.source !== window || data?.type !== 'codex-desk:port' || data.nonce !== nonce) return
      window.removeEventListener('message', onWindowMessage)
      const port = event.ports[0] as MessagePort
      let unacked = 0
      const frameListeners: ((frame: string) => void)[] = []
      const closeListeners: ((reason: string) => void)[] = []
      port.onmessage = (e) => {
        if (typeof e.data === 'string') {
          for (const l of frameListeners) l(e.data)
          if (++unacked >= PORT_ACK_EVERY) {
            port.postMessage({ type: 'ack', count: unacked })
            unacked = 0
          }
        } else if ((e.data as { type?: string })?.type === 'close') {
          for (const l of closeListeners) l((e.data as { reason: string }).reason)
        }
      }
      resolve({
        send: (frame) => port.postMessage(frame),
        onFrame: (l) => frameListeners.push(l),
        onClose: (l) => closeListeners.push(l),
      })
    }
    window.addEventListener('message', onWindowMessage)
    window.codexDesk?.connect(nonce)
  })
}

function webSocketChannel(url: string): Promise<Channel> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    // The browser hides the HTTP status of a refused upgrade, so name both likely causes.
    ws.onerror = () =>
      reject(new Error(`cannot reach ${url} (is it running, and does it allow this page's origin?)`))
    ws.onopen = () =>
      resolve({
        send: (frame) => ws.send(frame),
        onFrame: (l) => ws.addEventListener('message', (e) => l(String(e.data))),
        onClose: (l) =>
          ws.addEventListener('close', (e) => l(e.reason ? `${e.code} ${e.reason}` : String(e.code))),
      })
  })
}

async function main(): Promise<void> {
  const wsUrl = new URLSearchParams(location.search).get('ws')
  if (!wsUrl && !window.codexDesk) {
    throw new Error(
      'open this page inside codex-desk, or add ?ws=ws://127.0.0.1:PORT to reach a headless core',
    )
  }
  const channel = wsUrl ? await webSocketChannel(wsUrl) : await portChannel()
  channel.onClose((reason) => {
    status.textContent = `Disconnected from the core (${reason}).`
  })
  channel.onFrame((frame) => {
    const message = JSON.parse(frame) as {
      id?: unknown
      result?: { userAgent?: string }
      error?: { message: string }
    }
    if (message.id !== 0) return
    status.textContent = message.error
      ? `The core refused the connection: ${message.error.message}`
      : `Connected: ${message.result?.userAgent ?? ''}`
  })
  channel.send(
    JSON.stringify({
      id: 0,
      method: 'initialize',
      params: { clientInfo: { name: 'codex_desk_ui', title: 'codex-desk', version: '0.1.0' } },
    }),
  )
}

main().catch((error: unknown) => {
  status.textContent = `Cannot connect to the core: ${(error as Error).message}`
})
