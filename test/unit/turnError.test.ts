import { describe, expect, it } from 'vitest'
import { readableTurnError } from '../../src/renderer/state/turnError'
import type { TurnError } from '../../src/worker/protocol/items'

function error(message: string, extra: Partial<TurnError> = {}): TurnError {
  return { message, codexErrorInfo: 'other', additionalDetails: null, misalignment: null, ...extra }
}

describe('readableTurnError', () => {
  it('says a refused connection in one sentence and keeps the raw message as details', () => {
    const raw = 'Connection failed: Connection error.: fetch failed: connect ECONNREFUSED 127.0.0.1:43123'
    const readable = readableTurnError(
      error(raw, { codexErrorInfo: { responseTooManyFailedAttempts: { httpStatusCode: null } } }),
    )
    expect(readable.summary).toBe(
      'Could not reach the model server (127.0.0.1:43123 refused the connection).',
    )
    expect(readable.details).toBe(raw)
  })

  it('names other network failures without the codes', () => {
    expect(readableTurnError(error('fetch failed: getaddrinfo ENOTFOUND api.example.test')).summary).toBe(
      'Could not reach the model server (the name api.example.test was not found).',
    )
    expect(readableTurnError(error('Connection failed: request timed out')).summary).toBe(
      'The model server did not answer in time.',
    )
    expect(readableTurnError(error('Connection failed: socket hang up')).summary).toBe(
      'The connection to the model server broke off.',
    )
  })

  it('uses the error kind for credentials, limits and the context window', () => {
    expect(readableTurnError(error('401 Unauthorized', { codexErrorInfo: 'unauthorized' })).summary).toMatch(
      /refused the credentials/,
    )
    expect(readableTurnError(error('too long', { codexErrorInfo: 'contextWindowExceeded' })).summary).toMatch(
      /context window/,
    )
  })

  it("keeps the core's sign-in guidance, which names the fixes, as the summary", () => {
    const message =
      'Not signed in: the model provider `openai` needs an OpenAI account. Sign in (with ChatGPT or an API key), set the `OPENAI_API_KEY` environment variable, or choose a model from another provider.'
    const readable = readableTurnError(error(message, { codexErrorInfo: 'unauthorized' }))
    expect(readable.summary).toBe(message)
    expect(readable.details).toBeNull()
  })

  it('quotes what the server said for a rejected request', () => {
    const readable = readableTurnError(
      error('unexpected status 400 Bad Request', {
        codexErrorInfo: 'badRequest',
        additionalDetails: 'the request was malformed',
      }),
    )
    expect(readable.summary).toBe('The model server rejected the request: the request was malformed.')
    expect(readable.details).toBe('unexpected status 400 Bad Request\nthe request was malformed')
  })

  it('does not repeat details the message already holds', () => {
    const readable = readableTurnError(
      error('unexpected status 400 Bad Request: the request was malformed', {
        codexErrorInfo: 'badRequest',
        additionalDetails: 'the request was malformed',
      }),
    )
    expect(readable.details).toBe('unexpected status 400 Bad Request: the request was malformed')
  })

  it('falls back to the message as a sentence, with no details when they would repeat it', () => {
    expect(readableTurnError(error('something odd happened'))).toEqual({
      summary: 'Something odd happened.',
      details: 'something odd happened',
    })
    expect(readableTurnError(error('Already a sentence.'))).toEqual({
      summary: 'Already a sentence.',
      details: null,
    })
    expect(readableTurnError(null).summary).toBe('The turn failed for an unknown reason.')
  })
})
