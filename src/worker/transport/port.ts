/**
 * One shape for the three kinds of message port the core meets: Node `worker_threads` ports (tests,
 * headless), Electron's `MessagePortMain` and the utility process's `process.parentPort`. Node hands
 * the payload to listeners; Electron hands `{data, ports}`. The core never imports electron: the
 * Electron objects are used only through the methods they share with these types.
 */

export interface Port {
  postMessage(data: unknown, transfer?: Port[]): void
  onMessage(listener: (message: { data: unknown; ports: Port[] }) => void): () => void
  onClose(listener: () => void): () => void
  close(): void
  readonly raw: unknown
}

export interface DataEmitterLike {
  postMessage(data: unknown, transfer?: readonly unknown[]): void
  on(event: 'message', listener: (data: unknown) => void): unknown
  on(event: 'close', listener: () => void): unknown
  off(event: string, listener: (...args: never[]) => void): unknown
  close?(): void
}

export interface EventEmitterLike {
  postMessage(data: unknown, transfer?: readonly unknown[]): void
  on(event: 'message', listener: (event: { data: unknown; ports?: unknown[] }) => void): unknown
  on(event: 'close', listener: () => void): unknown
  off(event: string, listener: (...args: never[]) => void): unknown
  start?(): void
  close?(): void
}

const unwrap = (transfer?: Port[]) => transfer?.map((p) => p.raw)

/** Node `worker_threads` MessagePort / Worker / parentPort: listeners get the payload itself. */
export function fromNodePort(port: DataEmitterLike): Port {
  return {
    raw: port,
    close: () => port.close?.(),
    postMessage: (data, transfer) => port.postMessage(data, unwrap(transfer)),
    onMessage(listener) {
      const l = (data: unknown) => listener({ data, ports: [] })
      port.on('message', l)
      return () => port.off('message', l)
    },
    onClose(listener) {
      port.on('close', listener)
      return () => port.off('close', listener)
    },
  }
}

/** Electron `MessagePortMain` and `process.parentPort`: listeners get `{data, ports}`. */
export function fromElectronPort(port: EventEmitterLike): Port {
  return {
    raw: port,
    close: () => port.close?.(),
    postMessage: (data, transfer) =>
      transfer?.length ? port.postMessage(data, unwrap(transfer)) : port.postMessage(data),
    onMessage(listener) {
      const l = (event: { data: unknown; ports?: unknown[] }) =>
        listener({
          data: event.data,
          ports: (event.ports ?? []).map((p) => fromElectronPort(p as EventEmitterLike)),
        })
      port.on('message', l)
      port.start?.()
      return () => port.off('message', l)
    },
    onClose(listener) {
      port.on('close', listener)
      return () => port.off('close', listener)
    },
  }
}
