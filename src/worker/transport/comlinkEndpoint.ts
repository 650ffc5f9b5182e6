/**
 * Adapts a Port (Node or Electron) to comlink's Endpoint, so the control API works over both.
 * comlink's own nodeEndpoint would double-wrap Electron's `{data}` events (stack-notes §3).
 */
import type { Endpoint } from 'comlink'
import type { Port } from './port'

export function comlinkEndpoint(port: Port): Endpoint {
  const listeners = new Map<EventListenerOrEventListenerObject, () => void>()
  return {
    postMessage: (message: unknown) => port.postMessage(message),
    addEventListener(_type: string, listener: EventListenerOrEventListenerObject) {
      const off = port.onMessage(({ data }) => {
        const event = { data } as MessageEvent
        if (typeof listener === 'function') listener(event)
        else listener.handleEvent(event)
      })
      listeners.set(listener, off)
    },
    removeEventListener(_type: string, listener: EventListenerOrEventListenerObject) {
      listeners.get(listener)?.()
      listeners.delete(listener)
    },
  }
}
