/**
 * Tiny typed events with disposable subscriptions (VS Code's pattern). Runtime-free, so the
 * renderer's client can use it too. An event never buffers. Listeners must not throw, unless the
 * emitter was given `onListenerError`: then a throwing listener is reported there and the others
 * still run (for events that call code from elsewhere, such as the main process's UI wiring).
 */

export interface Disposable {
  dispose(): void
}

export type Event<T> = (listener: (value: T) => void) => Disposable

export class Emitter<T> implements Disposable {
  private readonly listeners = new Set<(value: T) => void>()

  constructor(private readonly onListenerError?: (error: unknown) => void) {}

  readonly event: Event<T> = (listener) => {
    this.listeners.add(listener)
    return { dispose: () => this.listeners.delete(listener) }
  }

  fire(value: T): void {
    const onError = this.onListenerError
    if (!onError) {
      for (const listener of this.listeners) listener(value)
      return
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(value)
      } catch (error) {
        onError(error)
      }
    }
  }

  dispose(): void {
    this.listeners.clear()
  }
}

/** Disposes everything added to it, once, in reverse order. */
export class DisposableStore implements Disposable {
  private items: Disposable[] = []
  private disposed = false

  add<D extends Disposable>(item: D): D {
    if (this.disposed) item.dispose()
    else this.items.push(item)
    return item
  }

  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    for (const item of this.items.reverse()) item.dispose()
    this.items = []
  }
}
