import { describe, expect, it } from 'vitest'
import { INVALID_TOKEN_FORMAT, parseChatgptClaims } from '../../src/worker/auth/claims'

const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const token = (payload: unknown) => `${part({ alg: 'none' })}.${part(payload)}.c2ln`

describe('ChatGPT token claims', () => {
  it('reads email, plan, user, account and expiry from codex claim names', () => {
    const claims = parseChatgptClaims(
      token({
        email: 'ada@example.com',
        exp: 1_900_000_000,
        'https://api.openai.com/auth': {
          chatgpt_account_id: 'acct_1',
          chatgpt_plan_type: 'team',
          chatgpt_user_id: 'user_1',
        },
      }),
    )
    expect(claims).toEqual({
      email: 'ada@example.com',
      planType: 'team',
      userId: 'user_1',
      accountId: 'acct_1',
      expiresAt: 1_900_000_000,
    })
  })

  it('falls back to the profile claim for email and to user_id, and leaves unknowns null', () => {
    const claims = parseChatgptClaims(
      token({
        'https://api.openai.com/profile': { email: 'grace@example.com' },
        'https://api.openai.com/auth': { user_id: 'user_2' },
      }),
    )
    expect(claims).toEqual({
      email: 'grace@example.com',
      planType: null,
      userId: 'user_2',
      accountId: null,
      expiresAt: null,
    })
  })

  it('rejects anything that is not three base64url parts around a JSON object', () => {
    const bad = [
      'sk-not-a-jwt',
      'a.b',
      'a..c',
      `${part({})}.${part('just a string')}.c2ln`,
      `${part({})}.${Buffer.from('{not json').toString('base64url')}.c2ln`,
      `${part({})}.${part({}).replace(/./, '*')}.c2ln`,
    ]
    for (const value of bad) expect(() => parseChatgptClaims(value), value).toThrow(INVALID_TOKEN_FORMAT)
  })
})
