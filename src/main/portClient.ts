/**
 * The client side of an app-server MessagePort (portFrames.ts) for code in main: the token owner's
 * AppServerClient talks to the core through it. It acknowledges what it consumed, at least every
 * PORT_ACK_EVERY messages and as soon as the burst is over, so the core never takes main for a
 * stalled reader, and it turns the core's close frame or the port's end into `onClose`.
 *
 * Works on the `Port` shape (Electron's MessagePortMain through `fromElectronPort`, or a Node port
 * in tests); no electron import.
 */
import type { ClientChannel } from '../worker/protocol/client'
import { PORT_ACK_EVERY, isPortControlFrame, type CloseFrame } from '../worker/protocol/portFrames'
import type { Port } from '../worker/transport/port'

export function portClientChannel(port: Port): ClientChannel {
  const frameListeners: ((frame: string) => void)[] = []
  const closeListeners: ((info: { code: number; reason: string }) => void)[] = []
  let unacked = 0
  let ackScheduled = false
  let closed = false
  const unsubscribes: (() => void)[] = []

  const flushAcks = () => {
    ackScheduled = false
    if (unacked === 0 || closed) return
    const count = unacked
    unacked = 0
    try {
      port.postMessage({ type: 'ack', count })
    } catch {
      // The port closed under us; the close listener reports it.
    }
  }
  const finish = (info: { code: number; reason: string }) => {
    if (closed) return
    closed = true
    for (const off of unsubscribes.splice(0)) off()
    for (const listener of closeListeners) listener(info)
  }

  unsubscribes.push(
    port.onMessage(({ data }) => {
      if (closed) return
      if (typeof data === 'string') {
        for (const listener of frameListeners) listener(data)
        if (++unacked >= PORT_ACK_EVERY) flushAcks()
        else if (!ackScheduled) {
          ackScheduled = true
          setImmediate(flushAcks)
        }
        return
      }
      if (isPortControlFrame(data) && data.type === 'close') {
        finish({ code: data.code, reason: data.reason })
        port.close()
      }
    }),
    port.onClose(() => finish({ code: 1006, reason: 'port closed' })),
  )

  return {
    send(frame) {
      if (!closed) port.postMessage(frame)
    },
    onFrame: (listener) => void frameListeners.push(listener),
    onClose: (listener) => void closeListeners.push(listener),
    close() {
      if (closed) return
      const frame: CloseFrame = { type: 'close', code: 1000, reason: 'client closed' }
      try {
        port.postMessage(frame)
      } catch {
        // Already gone.
      }
      finish({ code: 1000, reason: 'client closed' })
      port.close()
    },
  }
}
