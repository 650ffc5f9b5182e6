import { describe, expect, it } from 'vitest'
import {
  createLoggerFactory,
  loggerFromEnv,
  parseLevelSpec,
  redact,
  scrubSecrets,
} from '../../src/worker/util/log'

function capture() {
  const lines: string[] = []
  return { lines, sink: { write: (text: string) => lines.push(text) } }
}

describe('logger', () => {
  it('writes one JSON object per line with time, level, target, message and fields', () => {
    const { lines, sink } = capture()
    const logs = createLoggerFactory({ format: 'json', destination: sink })
    logs.get('server').info({ connectionId: 3, method: 'initialize', requestId: 0 }, 'request handled')
    const record = JSON.parse(lines[0] as string) as Record<string, unknown>
    expect(Object.keys(record)).toEqual([
      'time',
      'level',
      'target',
      'message',
      'connectionId',
      'method',
      'requestId',
    ])
    expect(record).toMatchObject({
      level: 'info',
      target: 'server',
      message: 'request handled',
      connectionId: 3,
    })
    expect(new Date(record.time as string).getTime()).toBeGreaterThan(0)
  })

  it('writes readable text by default', () => {
    const { lines, sink } = capture()
    createLoggerFactory({ destination: sink, color: false })
      .get('cli')
      .warn({ url: 'ws://127.0.0.1:1' }, 'listening')
    expect(lines[0]).toMatch(/^\S+Z WARN {2}cli: listening url=ws:\/\/127\.0\.0\.1:1\n$/)
  })

  it('applies a default level and per-target levels from CODEX_DESK_LOG', () => {
    const { lines, sink } = capture()
    const logs = loggerFromEnv({ CODEX_DESK_LOG: 'warn,transport=debug', LOG_FORMAT: 'json' }, sink)
    logs.get('server').info('hidden')
    logs.get('server').warn('shown-1')
    logs.get('transport').debug('shown-2')
    logs.get('transport').trace('hidden')
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['shown-1', 'shown-2'])
    expect(parseLevelSpec('loud').problems).toEqual([
      'unknown log level `loud` in CODEX_DESK_LOG (expected one of trace, debug, info, warn, error, fatal, silent)',
    ])
  })

  it('censors secret fields at any depth and scrubs credentials from strings', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl'
    expect(
      redact({
        headers: { Authorization: 'Bearer abc', cookie: 'x' },
        params: { accessToken: 'a', apiKey: 'b', nested: [{ refresh_token: 'c' }] },
        note: `key sk-proj-1234567890abcdef and ${jwt}`,
        error: new Error('failed with Bearer zzz'),
      }),
    ).toEqual({
      headers: { Authorization: '[redacted]', cookie: '[redacted]' },
      params: { accessToken: '[redacted]', apiKey: '[redacted]', nested: [{ refresh_token: '[redacted]' }] },
      note: 'key [redacted] and [redacted]',
      error: { name: 'Error', message: 'failed with Bearer [redacted]' },
    })
    expect(scrubSecrets('authorization: bearer tok_123')).toBe('authorization: bearer [redacted]')
    const { lines, sink } = capture()
    createLoggerFactory({ format: 'json', destination: sink }).get('x').error(`upstream said Bearer ${jwt}`)
    expect(lines.join('')).not.toContain(jwt)
  })
})
