import { describe, expect, it } from 'vitest'
import { classify } from '../../src/worker/protocol/jsonrpc'

describe('classify', () => {
  it('reads requests, notifications, responses and errors, ignoring the jsonrpc member', () => {
    expect(classify({ jsonrpc: '2.0', id: 1, method: 'm', params: {} })).toEqual({
      kind: 'request',
      message: { id: 1, method: 'm', params: {} },
    })
    expect(classify({ id: 'x', method: 'm' })).toEqual({ kind: 'request', message: { id: 'x', method: 'm' } })
    expect(classify({ method: 'initialized' })).toEqual({
      kind: 'notification',
      message: { method: 'initialized', params: undefined },
    })
    expect(classify({ id: 3, result: { ok: true } })).toEqual({
      kind: 'response',
      message: { id: 3, result: { ok: true } },
    })
    expect(classify({ id: 3, error: { code: -1, message: 'no' } })).toMatchObject({ kind: 'error' })
  })

  it('keeps the W3C trace context of a request', () => {
    const incoming = classify({ id: 1, method: 'm', trace: { traceparent: '00-abc-def-01' } })
    expect(incoming).toMatchObject({ kind: 'request', message: { trace: { traceparent: '00-abc-def-01' } } })
  })

  it('calls out float, null and object ids, non-objects and batches with a reason', () => {
    for (const id of [1.5, null, { a: 1 }, true]) {
      expect(classify({ id, method: 'm' })).toEqual({
        kind: 'invalid',
        id: null,
        reason: '`id` must be a string or an integer',
      })
    }
    expect(classify('hello')).toEqual({ kind: 'invalid', id: null, reason: 'expected a JSON object' })
    expect(classify([])).toEqual({ kind: 'invalid', id: null, reason: 'batch requests are not supported' })
    expect(classify({ id: 4, method: 7 })).toEqual({
      kind: 'invalid',
      id: 4,
      reason: '`method` must be a string',
    })
    expect(classify({ id: 5 })).toMatchObject({ kind: 'invalid', id: 5 })
  })
})
