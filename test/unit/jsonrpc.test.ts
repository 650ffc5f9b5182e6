import { describe, expect, it } from 'vitest'
import {
  classify,
  encodeError,
  encodeResponse,
  ExactId,
  MAX_NESTING,
  nestingBeyond,
  nestsTooDeep,
  rawTopLevelId,
} from '../../src/worker/protocol/jsonrpc'

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

describe('ids beyond 2^53', () => {
  const frame = '{"params":{"id":1,"x":"\\"id\\":5"},"id" : 9007199254740993,"method":"m"}'

  it('keep the digits the client wrote and answer with them unquoted', () => {
    const incoming = classify(JSON.parse(frame), frame)
    expect(incoming.kind).toBe('request')
    const id = incoming.kind === 'request' ? incoming.message.id : null
    expect(id).toEqual(new ExactId('9007199254740993'))
    expect(encodeResponse(id as ExactId, { ok: true })).toBe('{"id":9007199254740993,"result":{"ok":true}}')
    expect(encodeError(new ExactId('-9223372036854775808'), { code: -32600, message: 'no' })).toBe(
      '{"id":-9223372036854775808,"error":{"code":-32600,"message":"no"}}',
    )
  })

  it('leave safe integers and strings alone, without looking at the frame', () => {
    expect(classify({ id: 9007199254740991, method: 'm' }, 'not even json')).toMatchObject({
      message: { id: 9007199254740991 },
    })
    expect(encodeResponse(7, null)).toBe('{"id":7,"result":null}')
    expect(encodeResponse('9007199254740993', 1)).toBe('{"id":"9007199254740993","result":1}')
  })

  it('read only the top-level id member, skipping strings and nested objects', () => {
    expect(rawTopLevelId(frame)).toBe('9007199254740993')
    expect(rawTopLevelId('{"a":{"id":123456789012345678901}}')).toBeUndefined()
    expect(rawTopLevelId('{"id":"12345678901234567890"}')).toBeUndefined()
  })
})

describe('nesting depth', () => {
  const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`

  it("allows codex's 127 levels and finds the bracket that opens the 128th", () => {
    expect(MAX_NESTING).toBe(127)
    expect(nestingBeyond(nested(127))).toBe(-1)
    expect(nestingBeyond(nested(128))).toBe(127)
    expect(nestingBeyond(`{"a":${nested(127)}}`)).toBe(5 + 126)
    for (const [levels, deep] of [
      [127, false],
      [128, true],
      [100_000, true],
    ] as const) {
      const frame = `{"x":${nested(levels - 1)}}`
      expect(nestsTooDeep(JSON.parse(frame), frame)).toBe(deep)
    }
    const objects = `${'{"a":'.repeat(128)}1${'}'.repeat(128)}`
    expect(nestsTooDeep(JSON.parse(objects), objects)).toBe(true)
  })

  it('does not count brackets inside strings, escaped quotes included', () => {
    const text = `{"s":"${'['.repeat(500)}\\"${'{'.repeat(500)}","t":"\\\\"}`
    expect(() => JSON.parse(text)).not.toThrow()
    expect(nestingBeyond(text)).toBe(-1)
  })
})
