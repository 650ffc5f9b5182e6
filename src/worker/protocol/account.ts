/**
 * Account shapes (protocol.md §8): `account/read`, `account/login/start|cancel`, `account/logout`,
 * their notifications, and the token-refresh server request. Runtime-free.
 */
import * as z from 'zod/mini'

/** codex's AuthMode values; codex-desk itself reports `apikey` and `chatgptAuthTokens`. */
export const AUTH_MODES = [
  'apikey',
  'chatgpt',
  'chatgptAuthTokens',
  'headers',
  'agentIdentity',
  'personalAccessToken',
  'bedrockApiKey',
  'bedrockAccessKeys',
] as const
export const AuthMode = z.enum(AUTH_MODES)
export type AuthMode = z.infer<typeof AuthMode>

export const AccountReadParams = z.object({
  /** codex refreshes its own managed tokens first; external tokens are refreshed only on a 401. */
  refreshToken: z.optional(z.boolean()),
})

export const Account = z.discriminatedUnion('type', [
  z.object({ type: z.literal('apiKey') }),
  z.object({
    type: z.literal('chatgpt'),
    email: z.nullable(z.string()),
    /** codex's PlanType (`free`, `plus`, `pro`, `team`, ..., `unknown`); kept open for new plans. */
    planType: z.string(),
    workspaceName: z.nullish(z.string()),
  }),
])
export type Account = z.infer<typeof Account>

export const AccountReadResponse = z.object({
  account: z.nullable(Account),
  requiresOpenaiAuth: z.boolean(),
  userId: z.nullish(z.string()),
})

export const LoginAccountParams = z.discriminatedUnion('type', [
  z.object({ type: z.literal('apiKey'), apiKey: z.string() }),
  z.object({
    type: z.literal('chatgpt'),
    codexStreamlinedLogin: z.nullish(z.boolean()),
    useHostedLoginSuccessPage: z.nullish(z.boolean()),
    appBrand: z.nullish(z.string()),
  }),
  z.object({ type: z.literal('chatgptDeviceCode') }),
  z.object({
    type: z.literal('chatgptAuthTokens'),
    accessToken: z.string(),
    chatgptAccountId: z.string(),
    chatgptPlanType: z.nullish(z.string()),
  }),
])
export type LoginAccountParams = z.infer<typeof LoginAccountParams>

export const LoginAccountResponse = z.discriminatedUnion('type', [
  z.object({ type: z.literal('apiKey') }),
  z.object({ type: z.literal('chatgpt'), loginId: z.string(), authUrl: z.string() }),
  z.object({
    type: z.literal('chatgptDeviceCode'),
    loginId: z.string(),
    verificationUrl: z.string(),
    userCode: z.string(),
  }),
  z.object({ type: z.literal('chatgptAuthTokens') }),
])

export const CancelLoginAccountParams = z.object({ loginId: z.string() })
export const CancelLoginAccountResponse = z.object({ status: z.enum(['canceled', 'notFound']) })

export const LogoutAccountResponse = z.object({})

export const AccountLoginCompletedNotification = z.object({
  loginId: z.nullable(z.string()),
  success: z.boolean(),
  error: z.nullable(z.string()),
})

export const AccountUpdatedNotification = z.object({
  authMode: z.nullable(AuthMode),
  planType: z.nullable(z.string()),
})

export const ChatgptAuthTokensRefreshParams = z.object({
  reason: z.enum(['unauthorized']),
  previousAccountId: z.nullish(z.string()),
})

export const ChatgptAuthTokensRefreshResponse = z.object({
  accessToken: z.string(),
  chatgptAccountId: z.string(),
  chatgptPlanType: z.nullish(z.string()),
})
export type ChatgptAuthTokensRefreshResponse = z.infer<typeof ChatgptAuthTokensRefreshResponse>
