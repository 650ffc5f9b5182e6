/**
 * The client side of an app-server MessagePort for code in main: the token owner's AppServerClient
 * talks to the core through it. The framing (acks, close frames) is portFrames.ts's; this adapts the
 * `Port` shape (Electron's MessagePortMain through `fromElectronPort`, or a Node port in tests).
 * No electron import.
 */
import type { ClientChannel } from '../worker/protocol/client'
import { portClientChannel as framedChannel } from '../worker/protocol/portFrames'
import type { Port } from '../worker/transport/port'

export function portClientChannel(port: Port): ClientChannel {
  return framedChannel({
    postMessage: (data) => port.postMessage(data),
    onMessage: (listener) => port.onMessage(({ data }) => listener(data)),
    onClose: (listener) => port.onClose(listener),
    close: () => port.close(),
  })
}
