/**
 * TokenStore against a real AES-256-GCM cipher (node:crypto) and a real file-backed store (`conf`,
 * what electron-store is built on) in a temp dir: round trip, nothing readable on disk, tampering,
 * and no plain-text fallback when encryption is unavailable.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Conf from 'conf'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  EncryptionUnavailableError,
  TOKEN_STORE_KEY,
  TokenStore,
  type StoredTokens,
} from '../../src/main/auth/tokenStore'
import { aesCipher } from '../support/cipher'

const fakeJwt = (label: string) =>
  [
    Buffer.from('{"alg":"none"}').toString('base64url'),
    Buffer.from(JSON.stringify({ label, jti: randomBytes(8).toString('hex') })).toString('base64url'),
    randomBytes(16).toString('base64url'),
  ].join('.')

function sampleTokens(): StoredTokens {
  return {
    accessToken: fakeJwt('access'),
    refreshToken: `rt_${randomBytes(24).toString('base64url')}`,
    idToken: fakeJwt('id'),
    accountId: 'acct-1',
    planType: 'plus',
    email: 'ada@example.com',
    userId: 'user-1',
    savedAt: 1_700_000_000_000,
  }
}

let dir: string
const warnings: { obj: object; msg: string }[] = []
const log = { warn: (obj: object, msg: string) => void warnings.push({ obj, msg }) }

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'codex-desk-tokenstore-'))
  warnings.length = 0
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

const openConf = () =>
  new Conf<Record<string, unknown>>({ projectName: 'codex-desk-test', cwd: dir, configName: 'auth' })
const filePath = () => join(dir, 'auth.json')
const fileBytes = () => readFileSync(filePath())

function expectNoSecretIn(bytes: Buffer | string, tokens: StoredTokens) {
  const text = bytes.toString()
  for (const secret of [tokens.accessToken, tokens.refreshToken, tokens.idToken as string]) {
    expect(text).not.toContain(secret)
    // Not even a recognisable part of one (a JWT's payload segment, say).
    for (const part of secret.split('.')) expect(text).not.toContain(part)
  }
}

describe('TokenStore', () => {
  it('round-trips a sign-in through the cipher and the file, across store instances', () => {
    const cipher = aesCipher()
    const tokens = sampleTokens()
    new TokenStore(openConf(), cipher, log).save(tokens)
    expect(new TokenStore(openConf(), cipher, log).load()).toEqual(tokens)
    expect(warnings).toEqual([])
  })

  it('never writes the access, refresh or id token to disk in plain text', () => {
    const tokens = sampleTokens()
    new TokenStore(openConf(), aesCipher(), log).save(tokens)
    const bytes = fileBytes()
    expectNoSecretIn(bytes, tokens)
    expect(bytes.toString('utf8')).not.toContain('ada@example.com')
    const stored = (JSON.parse(bytes.toString('utf8')) as Record<string, unknown>)[TOKEN_STORE_KEY]
    expect(stored).toMatch(/^[A-Za-z0-9+/]+={0,2}$/)
  })

  it('returns null when nothing was saved', () => {
    expect(new TokenStore(openConf(), aesCipher(), log).load()).toBeNull()
  })

  it('treats tampered ciphertext as signed out, clears it, and warns without naming a secret', () => {
    const cipher = aesCipher()
    const tokens = sampleTokens()
    const conf = openConf()
    const store = new TokenStore(conf, cipher, log)
    store.save(tokens)
    const bytes = Buffer.from(conf.get(TOKEN_STORE_KEY) as string, 'base64')
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01
    conf.set(TOKEN_STORE_KEY, bytes.toString('base64'))

    expect(store.load()).toBeNull()
    expect(openConf().get(TOKEN_STORE_KEY)).toBeUndefined()
    expect(warnings).toHaveLength(1)
    expectNoSecretIn(JSON.stringify(warnings), tokens)
    expect(warnings[0]?.msg).toMatch(/unreadable/)
  })

  it('treats a value that decrypts but is not a sign-in as signed out', () => {
    const cipher = aesCipher()
    const conf = openConf()
    conf.set(TOKEN_STORE_KEY, cipher.encryptString('{"v":1,"tokens":{"accessToken":"x"}}').toString('base64'))
    expect(new TokenStore(conf, cipher, log).load()).toBeNull()
    expect(conf.get(TOKEN_STORE_KEY)).toBeUndefined()
    conf.set(TOKEN_STORE_KEY, { not: 'a string' })
    expect(new TokenStore(conf, cipher, log).load()).toBeNull()
    expect(conf.get(TOKEN_STORE_KEY)).toBeUndefined()
    expect(warnings).toHaveLength(2)
  })

  it('refuses to save when encryption is unavailable and writes nothing', () => {
    const store = new TokenStore(openConf(), aesCipher({ available: () => false }), log)
    const tokens = sampleTokens()
    expect(() => store.save(tokens)).toThrow(EncryptionUnavailableError)
    expect(() => store.save(tokens)).toThrow(/cannot be saved securely/)
    expect(store.encryptionAvailable).toBe(false)
    if (existsSync(filePath())) {
      expectNoSecretIn(fileBytes(), tokens)
      expect(openConf().get(TOKEN_STORE_KEY)).toBeUndefined()
    }
  })

  it("treats Electron's basic_text backend on Linux as unavailable", () => {
    const store = new TokenStore(openConf(), aesCipher({ backend: 'basic_text' }), log)
    expect(() => store.save(sampleTokens())).toThrow(/built-in key/)
    expect(openConf().get(TOKEN_STORE_KEY)).toBeUndefined()
  })

  it('keeps a saved sign-in it cannot read while encryption is unavailable, and reads it later', () => {
    let available = true
    const cipher = aesCipher({ available: () => available })
    const tokens = sampleTokens()
    const store = new TokenStore(openConf(), cipher, log)
    store.save(tokens)
    available = false
    expect(() => store.load()).toThrow(EncryptionUnavailableError)
    available = true
    expect(store.load()).toEqual(tokens)
  })

  it('clears the saved sign-in', () => {
    const store = new TokenStore(openConf(), aesCipher(), log)
    store.save(sampleTokens())
    store.clear()
    expect(store.load()).toBeNull()
    expect(openConf().get(TOKEN_STORE_KEY)).toBeUndefined()
  })

  it('refuses to save an incomplete sign-in without echoing it', () => {
    const store = new TokenStore(openConf(), aesCipher(), log)
    const tokens = { ...sampleTokens(), accountId: '' }
    expect(() => store.save(tokens)).toThrow('refusing to save an incomplete sign-in (accountId)')
  })
})
