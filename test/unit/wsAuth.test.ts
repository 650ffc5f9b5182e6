/**
 * Websocket auth: every `--ws-*` flag misuse message and every 401 body, checked against the exact
 * texts codex app-server 0.169.0 prints. Real files in a temp dir; test JWTs are signed with jose.
 * Never reuses a temp dir between tests, never depends on the wall clock (the clock is pinned).
 */
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { SignJWT } from 'jose'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  WS_BEARER_PROTOCOL_PREFIX,
  WS_PROTOCOL,
  WsAuthConfigError,
  authenticate,
  bearerFromProtocols,
  loadWsAuthConfig,
  type WsAuthConfig,
  type WsAuthOptions,
} from '../../src/worker/transport/wsAuth'

const SECRET = '0123456789abcdef0123456789abcdef'
const NOW_S = 1_700_000_000
const NOW_MS = NOW_S * 1000 + 500

let dir: string

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'codex-desk-wsauth-'))
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function file(name: string, contents: string | Buffer): Promise<string> {
  const p = path.join(dir, name)
  await writeFile(p, contents)
  return p
}

async function loadError(opts: WsAuthOptions): Promise<WsAuthConfigError> {
  const err = await loadWsAuthConfig(opts).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(WsAuthConfigError)
  return err as WsAuthConfigError
}

const deny = (body: string) => ({ ok: false, status: 401, body })
const sha256Hex = (s: string) => createHash('sha256').update(s).digest('hex')

describe('websocket auth flags', () => {
  it('gives no auth when no flag is set', async () => {
    expect(await loadWsAuthConfig({})).toEqual({ mode: 'none' })
  })

  it('rejects an unknown --ws-auth value with clap wording', async () => {
    const err = await loadError({ wsAuth: 'password' })
    expect(err.message).toBe(
      "invalid value 'password' for '--ws-auth <MODE>'\n  [possible values: capability-token, signed-bearer-token]",
    )
  })

  it('rejects an empty --ws-auth value with clap wording', async () => {
    const err = await loadError({ wsAuth: '' })
    expect(err.message).toBe(
      "a value is required for '--ws-auth <MODE>' but none was supplied\n  [possible values: capability-token, signed-bearer-token]",
    )
  })

  it('rejects a clock skew that is not an unsigned integer', async () => {
    const signed = { wsAuth: 'signed-bearer-token', wsSharedSecretFile: '/nope' }
    expect((await loadError({ ...signed, wsMaxClockSkewSeconds: '-1' })).message).toBe(
      "invalid value '-1' for '--ws-max-clock-skew-seconds <SECONDS>': invalid digit found in string",
    )
    expect((await loadError({ ...signed, wsMaxClockSkewSeconds: '' })).message).toBe(
      "invalid value '' for '--ws-max-clock-skew-seconds <SECONDS>': cannot parse integer from empty string",
    )
    expect((await loadError({ ...signed, wsMaxClockSkewSeconds: '18446744073709551616' })).message).toBe(
      "invalid value '18446744073709551616' for '--ws-max-clock-skew-seconds <SECONDS>': number too large to fit in target type",
    )
  })

  it('rejects any auth flag without --ws-auth', async () => {
    const message =
      'websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token`'
    for (const opts of [
      { wsTokenFile: '/tmp/token' },
      { wsTokenSha256: 'ab'.repeat(32) },
      { wsSharedSecretFile: '/tmp/secret' },
      { wsIssuer: 'issuer' },
      { wsAudience: 'audience' },
      { wsMaxClockSkewSeconds: '5' },
    ]) {
      expect((await loadError(opts)).message).toBe(message)
    }
  })

  it('rejects signed-bearer flags in capability-token mode', async () => {
    const message =
      '`--ws-shared-secret-file`, `--ws-issuer`, `--ws-audience`, and `--ws-max-clock-skew-seconds` require `--ws-auth signed-bearer-token`'
    const base = { wsAuth: 'capability-token', wsTokenSha256: 'ab'.repeat(32) }
    for (const extra of [
      { wsSharedSecretFile: '/tmp/secret' },
      { wsIssuer: 'issuer' },
      { wsAudience: 'audience' },
      { wsMaxClockSkewSeconds: '5' },
    ]) {
      expect((await loadError({ ...base, ...extra })).message).toBe(message)
    }
  })

  it('rejects both capability token sources at once', async () => {
    const err = await loadError({
      wsAuth: 'capability-token',
      wsTokenFile: '/tmp/token',
      wsTokenSha256: 'ab'.repeat(32),
    })
    expect(err.message).toBe('`--ws-token-file` and `--ws-token-sha256` are mutually exclusive')
  })

  it('requires a capability token source', async () => {
    const err = await loadError({ wsAuth: 'capability-token' })
    expect(err.message).toBe(
      '`--ws-token-file` or `--ws-token-sha256` is required when `--ws-auth capability-token` is set',
    )
  })

  it('requires the token file path to be absolute', async () => {
    const err = await loadError({ wsAuth: 'capability-token', wsTokenFile: 'token.txt' })
    expect(err.message).toBe('--ws-token-file must be an absolute path')
  })

  it('rejects a token digest that is not 64 hex characters', async () => {
    const message = '--ws-token-sha256 must be a 64-character hex SHA-256 digest'
    for (const wsTokenSha256 of ['not-a-sha256', 'ab'.repeat(31), 'zz'.repeat(32), 'ab'.repeat(33)]) {
      expect((await loadError({ wsAuth: 'capability-token', wsTokenSha256 })).message).toBe(message)
    }
  })

  it('rejects capability token sources in signed-bearer-token mode', async () => {
    const message =
      '`--ws-token-file` and `--ws-token-sha256` require `--ws-auth capability-token`, not `signed-bearer-token`'
    const base = { wsAuth: 'signed-bearer-token', wsSharedSecretFile: '/tmp/secret' }
    expect((await loadError({ ...base, wsTokenFile: '/tmp/token' })).message).toBe(message)
    expect((await loadError({ ...base, wsTokenSha256: 'ab'.repeat(32) })).message).toBe(message)
  })

  it('requires the shared secret file in signed-bearer-token mode', async () => {
    const err = await loadError({ wsAuth: 'signed-bearer-token', wsIssuer: 'issuer' })
    expect(err.message).toBe(
      '`--ws-shared-secret-file` is required when `--ws-auth signed-bearer-token` is set',
    )
  })

  it('requires the shared secret path to be absolute', async () => {
    const err = await loadError({ wsAuth: 'signed-bearer-token', wsSharedSecretFile: './secret' })
    expect(err.message).toBe('--ws-shared-secret-file must be an absolute path')
  })

  it('reports a missing token file the way Rust prints the OS error', async () => {
    const missing = path.join(dir, 'missing')
    const err = await loadError({ wsAuth: 'capability-token', wsTokenFile: missing })
    expect(err.message).toBe(
      `failed to read websocket auth secret ${missing}: No such file or directory (os error 2)`,
    )
  })

  it('reports a directory given as the secret file', async () => {
    const sub = path.join(dir, 'sub')
    await mkdir(sub)
    const err = await loadError({ wsAuth: 'signed-bearer-token', wsSharedSecretFile: sub })
    expect(err.message).toBe(`failed to read websocket auth secret ${sub}: Is a directory (os error 21)`)
  })

  it('refuses a token file that is not UTF-8', async () => {
    const p = await file('token', Buffer.from([0x74, 0xff, 0x6b]))
    const err = await loadError({ wsAuth: 'capability-token', wsTokenFile: p })
    expect(err.message).toBe(`failed to read websocket auth secret ${p}: stream did not contain valid UTF-8`)
  })

  it('refuses a token file holding only whitespace', async () => {
    const p = await file('token', ' \n\t\n')
    const err = await loadError({ wsAuth: 'capability-token', wsTokenFile: p })
    expect(err.message).toBe(`websocket auth secret ${p} must not be empty`)
  })

  it('refuses a shared secret shorter than 32 bytes after trimming', async () => {
    const p = await file('secret', `  ${SECRET.slice(0, 31)}\n`)
    const err = await loadError({ wsAuth: 'signed-bearer-token', wsSharedSecretFile: p })
    expect(err.message).toBe(`signed websocket bearer secret ${p} must be at least 32 bytes`)
  })

  it('refuses a clock skew that does not fit in a signed 64-bit integer', async () => {
    const p = await file('secret', SECRET)
    const err = await loadError({
      wsAuth: 'signed-bearer-token',
      wsSharedSecretFile: p,
      wsMaxClockSkewSeconds: '9223372036854775808',
    })
    expect(err.message).toBe('websocket auth clock skew must fit in a signed 64-bit integer')
  })

  it('normalizes the secret path before naming it in an error', async () => {
    const p = await file('secret', 'short')
    const err = await loadError({
      wsAuth: 'signed-bearer-token',
      wsSharedSecretFile: `${dir}/./sub/../secret`,
    })
    expect(err.message).toBe(`signed websocket bearer secret ${p} must be at least 32 bytes`)
  })

  it('hashes the trimmed token file contents', async () => {
    const p = await file('token', '\n  super-secret-token \n')
    const config = await loadWsAuthConfig({ wsAuth: 'capability-token', wsTokenFile: p })
    expect(config).toEqual({
      mode: 'capability-token',
      tokenSha256: Buffer.from(sha256Hex('super-secret-token'), 'hex'),
    })
  })

  it('accepts an upper-case digest surrounded by whitespace', async () => {
    const hex = sha256Hex('tok')
    const config = await loadWsAuthConfig({
      wsAuth: 'capability-token',
      wsTokenSha256: ` ${hex.toUpperCase()}\n`,
    })
    expect(config).toEqual({ mode: 'capability-token', tokenSha256: Buffer.from(hex, 'hex') })
  })

  it('defaults the clock skew to 30 and trims issuer and audience, dropping blank ones', async () => {
    const p = await file('secret', `${SECRET}\n`)
    const config = await loadWsAuthConfig({
      wsAuth: 'signed-bearer-token',
      wsSharedSecretFile: p,
      wsIssuer: ' issuer ',
      wsAudience: '   ',
    })
    expect(config).toEqual({
      mode: 'signed-bearer-token',
      secret: new Uint8Array(Buffer.from(SECRET)),
      issuer: 'issuer',
      maxClockSkewSeconds: 30,
    })
  })
})

describe('capability token upgrades', () => {
  const config: WsAuthConfig = {
    mode: 'capability-token',
    tokenSha256: Buffer.from(sha256Hex('tok-123'), 'hex'),
  }

  it('lets every request through when auth is off', async () => {
    expect(await authenticate({ mode: 'none' }, undefined)).toEqual({ ok: true })
  })

  it('accepts the right token', async () => {
    expect(await authenticate(config, 'Bearer tok-123')).toEqual({ ok: true })
  })

  it('accepts the scheme in any case and trims the token', async () => {
    expect(await authenticate(config, 'bearer tok-123')).toEqual({ ok: true })
    expect(await authenticate(config, 'BEARER   tok-123  ')).toEqual({ ok: true })
  })

  it('rejects a wrong token', async () => {
    expect(await authenticate(config, 'Bearer tok-124')).toEqual(deny('invalid websocket bearer token'))
  })

  it('rejects a request with no token at all', async () => {
    expect(await authenticate(config, undefined)).toEqual(deny('missing websocket bearer token'))
    expect(await authenticate(config, undefined, undefined)).toEqual(deny('missing websocket bearer token'))
  })

  it('rejects a header that is not a bearer token', async () => {
    for (const header of [
      'Basic dG9rLTEyMw==',
      'Bearer',
      'Bearer    ',
      'Bearer\ttok-123',
      '',
      'Bearertok-123',
    ]) {
      expect(await authenticate(config, header)).toEqual(deny('invalid authorization header'))
    }
  })

  it('rejects a header with bytes outside visible ASCII', async () => {
    expect(await authenticate(config, 'Bearer tök-123')).toEqual(deny('invalid authorization header'))
  })

  it('accepts the token offered as a subprotocol entry', async () => {
    const token = bearerFromProtocols([WS_PROTOCOL, `${WS_BEARER_PROTOCOL_PREFIX}tok-123`])
    expect(token).toBe('tok-123')
    expect(await authenticate(config, undefined, token)).toEqual({ ok: true })
    expect(await authenticate(config, undefined, 'tok-999')).toEqual(deny('invalid websocket bearer token'))
    expect(await authenticate(config, undefined, '')).toEqual(deny('invalid authorization header'))
  })

  it('prefers the Authorization header over a subprotocol token', async () => {
    expect(await authenticate(config, 'Basic x', 'tok-123')).toEqual(deny('invalid authorization header'))
    expect(await authenticate(config, 'Bearer wrong', 'tok-123')).toEqual(
      deny('invalid websocket bearer token'),
    )
  })

  it('finds the first bearer subprotocol entry and nothing else', () => {
    expect(bearerFromProtocols(new Set([' codex-desk.bearer.a', 'codex-desk.bearer.b']))).toBe('a')
    expect(bearerFromProtocols(['codex-desk', 'Codex-Desk.Bearer.x', 'other'])).toBeUndefined()
    expect(bearerFromProtocols([])).toBeUndefined()
  })
})

describe('signed bearer token upgrades', () => {
  const key = new TextEncoder().encode(SECRET)
  const base = { mode: 'signed-bearer-token', secret: key, maxClockSkewSeconds: 30 } as const
  const withClaims = (
    config: Partial<Extract<WsAuthConfig, { mode: 'signed-bearer-token' }>>,
  ): WsAuthConfig => ({
    ...base,
    ...config,
  })

  async function sign(claims: Record<string, unknown>, alg = 'HS256', secret = key): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT' }).sign(secret)
  }
  const check = (config: WsAuthConfig, token: string) =>
    authenticate(config, `Bearer ${token}`, undefined, NOW_MS)

  it('accepts a valid token with matching issuer and audience', async () => {
    const token = await sign({ exp: NOW_S + 60, iss: 'issuer', aud: 'audience' })
    expect(await check(withClaims({ issuer: 'issuer', audience: 'audience' }), token)).toEqual({ ok: true })
  })

  it('accepts a token offered as a subprotocol entry', async () => {
    const token = await sign({ exp: NOW_S + 60 })
    expect(await authenticate(base, undefined, token, NOW_MS)).toEqual({ ok: true })
  })

  it('rejects a token signed with another secret', async () => {
    const token = await sign({ exp: NOW_S + 60 }, 'HS256', new TextEncoder().encode('x'.repeat(32)))
    expect(await check(base, token)).toEqual(deny('invalid websocket jwt'))
  })

  it('rejects a token whose payload was tampered with', async () => {
    const token = await sign({ exp: NOW_S + 60 })
    const [h, , s] = token.split('.')
    const payload = Buffer.from(JSON.stringify({ exp: NOW_S + 6000 })).toString('base64url')
    expect(await check(base, `${h}.${payload}.${s}`)).toEqual(deny('invalid websocket jwt'))
  })

  it('rejects algorithms other than HS256, including none', async () => {
    expect(await check(base, await sign({ exp: NOW_S + 60 }, 'HS512'))).toEqual(deny('invalid websocket jwt'))
    expect(await check(base, await sign({ exp: NOW_S + 60 }, 'HS384'))).toEqual(deny('invalid websocket jwt'))
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')
    const payload = Buffer.from(JSON.stringify({ exp: NOW_S + 60 })).toString('base64url')
    expect(await check(base, `${header}.${payload}.`)).toEqual(deny('invalid websocket jwt'))
  })

  it('rejects a token that is not a JWT', async () => {
    expect(await check(base, 'not-a-jwt')).toEqual(deny('invalid websocket jwt'))
  })

  it('rejects a token without exp', async () => {
    expect(await check(base, await sign({ iss: 'issuer' }))).toEqual(deny('invalid websocket jwt'))
  })

  it('rejects claims of the wrong type', async () => {
    for (const claims of [
      { exp: String(NOW_S + 60) },
      { exp: NOW_S + 60.5 },
      { exp: NOW_S + 60, nbf: 'soon' },
      { exp: NOW_S + 60, iss: 7 },
      { exp: NOW_S + 60, aud: ['audience', 7] },
    ]) {
      expect(await check(base, await sign(claims))).toEqual(deny('invalid websocket jwt'))
    }
  })

  it('treats null optional claims as absent', async () => {
    expect(await check(base, await sign({ exp: NOW_S + 60, nbf: null, iss: null, aud: null }))).toEqual({
      ok: true,
    })
  })

  it('rejects an expired token once the skew is used up', async () => {
    expect(await check(base, await sign({ exp: NOW_S - 31 }))).toEqual(deny('expired websocket jwt'))
  })

  it('accepts an expired token still within the skew', async () => {
    expect(await check(base, await sign({ exp: NOW_S - 30 }))).toEqual({ ok: true })
    expect(await check(withClaims({ maxClockSkewSeconds: 0 }), await sign({ exp: NOW_S }))).toEqual({
      ok: true,
    })
    expect(await check(withClaims({ maxClockSkewSeconds: 0 }), await sign({ exp: NOW_S - 1 }))).toEqual(
      deny('expired websocket jwt'),
    )
  })

  it('rejects a token whose nbf is beyond the skew', async () => {
    expect(await check(base, await sign({ exp: NOW_S + 600, nbf: NOW_S + 31 }))).toEqual(
      deny('websocket jwt is not valid yet'),
    )
  })

  it('accepts a token whose nbf is within the skew', async () => {
    expect(await check(base, await sign({ exp: NOW_S + 600, nbf: NOW_S + 30 }))).toEqual({ ok: true })
    expect(
      await check(withClaims({ maxClockSkewSeconds: 0 }), await sign({ exp: NOW_S + 600, nbf: NOW_S + 1 })),
    ).toEqual(deny('websocket jwt is not valid yet'))
  })

  it('checks the issuer only when one is configured', async () => {
    const token = await sign({ exp: NOW_S + 60, iss: 'someone-else' })
    expect(await check(base, token)).toEqual({ ok: true })
    expect(await check(withClaims({ issuer: 'issuer' }), token)).toEqual(
      deny('websocket jwt issuer mismatch'),
    )
    expect(await check(withClaims({ issuer: 'issuer' }), await sign({ exp: NOW_S + 60 }))).toEqual(
      deny('websocket jwt issuer mismatch'),
    )
  })

  it('checks a string audience only when one is configured', async () => {
    const token = await sign({ exp: NOW_S + 60, aud: 'other' })
    expect(await check(base, token)).toEqual({ ok: true })
    expect(await check(withClaims({ audience: 'audience' }), token)).toEqual(
      deny('websocket jwt audience mismatch'),
    )
    expect(await check(withClaims({ audience: 'audience' }), await sign({ exp: NOW_S + 60 }))).toEqual(
      deny('websocket jwt audience mismatch'),
    )
  })

  it('accepts an audience array that contains the configured audience', async () => {
    const config = withClaims({ audience: 'audience' })
    expect(await check(config, await sign({ exp: NOW_S + 60, aud: ['other', 'audience'] }))).toEqual({
      ok: true,
    })
    expect(await check(config, await sign({ exp: NOW_S + 60, aud: ['other', 'another'] }))).toEqual(
      deny('websocket jwt audience mismatch'),
    )
  })

  it('reports expiry before an issuer or audience mismatch, as codex orders its checks', async () => {
    const token = await sign({ exp: NOW_S - 100, iss: 'wrong', aud: 'wrong' })
    expect(await check(withClaims({ issuer: 'issuer', audience: 'audience' }), token)).toEqual(
      deny('expired websocket jwt'),
    )
  })

  it('verifies tokens against a secret loaded from a file', async () => {
    const p = await file('secret', `${SECRET}\n`)
    const config = await loadWsAuthConfig({
      wsAuth: 'signed-bearer-token',
      wsSharedSecretFile: p,
      wsAudience: 'audience',
      wsMaxClockSkewSeconds: '0',
    })
    expect(await check(config, await sign({ exp: NOW_S, aud: ['audience'] }))).toEqual({ ok: true })
    expect(await check(config, await sign({ exp: NOW_S - 1, aud: ['audience'] }))).toEqual(
      deny('expired websocket jwt'),
    )
  })
})
