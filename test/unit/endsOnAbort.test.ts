import { describe, expect, it } from 'vitest'
import { endsOnAbort } from '../../src/worker/agent/requestBody'

const bytes = (text: string) => new TextEncoder().encode(text)

describe('endsOnAbort', () => {
  it('passes a body through unchanged, chunk by chunk, and ends with it', async () => {
    const chunks = ['event: a\n', 'data: {}\n\n', 'event: b\ndata: {"x":1}\n\n']
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(bytes(chunk))
        controller.close()
      },
    })
    const read: string[] = []
    const reader = endsOnAbort(body, new AbortController().signal).getReader()
    for (let next = await reader.read(); !next.done; next = await reader.read())
      read.push(new TextDecoder().decode(next.value))
    expect(read).toEqual(chunks)
  })

  it('errors a pending read of a silent body when the signal aborts, and cancels the body', async () => {
    let cancelled: unknown = null
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes('first'))
      },
      cancel(reason) {
        cancelled = reason
      },
    })
    const controller = new AbortController()
    const reader = endsOnAbort(body, controller.signal).getReader()
    expect((await reader.read()).done).toBe(false)
    const pending = reader.read()
    const reason = new Error('idle timeout')
    controller.abort(reason)
    await expect(pending).rejects.toBe(reason)
    expect(cancelled).toBe(reason)
  })

  it('errors at once when the signal had already aborted', async () => {
    const controller = new AbortController()
    controller.abort(new Error('gone'))
    const body = new ReadableStream<Uint8Array>({ pull() {} })
    await expect(endsOnAbort(body, controller.signal).getReader().read()).rejects.toThrow('gone')
  })
})
