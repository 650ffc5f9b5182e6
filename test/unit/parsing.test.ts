import { describe, expect, it } from 'vitest'
import toml from 'toml'
import { featureOverride, parseConfigOverride } from '../../src/worker/config/overrides'
import { parseListenUrl } from '../../src/worker/transport/listenUrl'
import { LineSplitter } from '../../src/worker/transport/lineSplitter'
import { pageOfThreadIds } from '../../src/worker/threads/loadedThreads'
import { isValidHeaderValue } from '../../src/worker/server/originator'

describe('--listen', () => {
  it('accepts stdio, off and ws with IPv4 or IPv6 literals', () => {
    expect(parseListenUrl('stdio://')).toEqual({ kind: 'stdio' })
    expect(parseListenUrl('off')).toEqual({ kind: 'off' })
    expect(parseListenUrl('ws://127.0.0.1:0')).toEqual({ kind: 'ws', host: '127.0.0.1', port: 0 })
    expect(parseListenUrl('ws://[::1]:4500')).toEqual({ kind: 'ws', host: '::1', port: 4500 })
  })

  it('rejects host names and other schemes with codex messages', () => {
    expect(() => parseListenUrl('ws://localhost:1')).toThrow(
      'invalid websocket --listen URL `ws://localhost:1`; expected `ws://IP:PORT`',
    )
    expect(() => parseListenUrl('ws://127.0.0.1')).toThrow('expected `ws://IP:PORT`')
    expect(() => parseListenUrl('ws://127.0.0.1:70000')).toThrow('expected `ws://IP:PORT`')
    expect(() => parseListenUrl('http://127.0.0.1:1')).toThrow(
      'unsupported --listen URL `http://127.0.0.1:1`; expected `stdio://`, `ws://IP:PORT`, or `off`',
    )
    expect(() => parseListenUrl('unix://')).toThrow('codex-desk does not serve unix sockets')
  })
})

describe('-c overrides', () => {
  const parse = (arg: string) => parseConfigOverride(arg, toml.parse)
  it('parses the value as TOML and falls back to the raw string', () => {
    expect(parse('model=gpt-5')).toEqual({ path: ['model'], value: 'gpt-5', source: 'model=gpt-5' })
    expect(parse('features.x=true').value).toBe(true)
    expect(parse('notify=["a", "b"]').value).toEqual(['a', 'b'])
    expect(parse('model_providers.local.request_max_retries=4')).toMatchObject({
      path: ['model_providers', 'local', 'request_max_retries'],
      value: 4,
    })
    expect(parse('notify=[not toml').value).toBe('[not toml')
    expect(featureOverride('web_search', false)).toMatchObject({
      path: ['features', 'web_search'],
      value: false,
    })
  })

  it('rejects overrides without a key', () => {
    expect(() => parse('=1')).toThrow('invalid -c override `=1`: expected key=value')
    expect(() => parse('model')).toThrow('expected key=value')
    expect(() => parse('a..b=1')).toThrow('is not a dotted key of bare words')
  })
})

describe('LineSplitter', () => {
  it('splits across chunks and multi-byte characters, strips CR, skips blank lines', () => {
    const lines: string[] = []
    const splitter = new LineSplitter(
      1024,
      (l) => lines.push(l),
      () => {},
    )
    const bytes = Buffer.from('{"a":"é"}\r\n\n{"b":1}\n{"c"')
    splitter.push(bytes.subarray(0, 7))
    splitter.push(bytes.subarray(7))
    splitter.push(Buffer.from(':2}'))
    splitter.end()
    expect(lines).toEqual(['{"a":"é"}', '{"b":1}', '{"c":2}'])
  })

  it('discards an oversized line up to its newline and reports its size once', () => {
    const lines: string[] = []
    const oversized: number[] = []
    const splitter = new LineSplitter(
      10,
      (l) => lines.push(l),
      (n) => oversized.push(n),
    )
    splitter.push(Buffer.from('ok\n' + 'x'.repeat(8)))
    splitter.push(Buffer.from('x'.repeat(8)))
    splitter.push(Buffer.from('xx\nafter\n'))
    expect(lines).toEqual(['ok', 'after'])
    expect(oversized).toEqual([18])
  })
})

describe('thread/loaded/list paging', () => {
  it('pages in id order with the last id as the cursor', () => {
    const ids = new Set(['c', 'a', 'e', 'b', 'd'])
    expect(pageOfThreadIds(ids, null, 2)).toEqual({ data: ['a', 'b'], nextCursor: 'b' })
    expect(pageOfThreadIds(ids, 'b', 2)).toEqual({ data: ['c', 'd'], nextCursor: 'd' })
    expect(pageOfThreadIds(ids, 'd', 2)).toEqual({ data: ['e'], nextCursor: null })
    expect(pageOfThreadIds(ids, undefined, undefined)).toEqual({
      data: ['a', 'b', 'c', 'd', 'e'],
      nextCursor: null,
    })
    ids.delete('c')
    expect(pageOfThreadIds(ids, 'b', 10)).toEqual({ data: ['d', 'e'], nextCursor: null })
  })
})

describe('HTTP header values', () => {
  it('allows visible ASCII, spaces, tabs and non-ASCII; rejects control characters and DEL', () => {
    expect(isValidHeaderValue('My Client\t1.0 é')).toBe(true)
    expect(isValidHeaderValue('')).toBe(true)
    expect(isValidHeaderValue('a\nb')).toBe(false)
    expect(isValidHeaderValue('a\rb')).toBe(false)
    expect(isValidHeaderValue('a\x7fb')).toBe(false)
    expect(isValidHeaderValue('a\x00b')).toBe(false)
  })
})
