/** Account shapes (protocol.md §8). Only the token-refresh server request so far. Runtime-free. */
import * as z from 'zod/mini'

export const ChatgptAuthTokensRefreshParams = z.object({
  reason: z.enum(['unauthorized']),
  previousAccountId: z.nullish(z.string()),
})

export const ChatgptAuthTokensRefreshResponse = z.object({
  accessToken: z.string(),
  chatgptAccountId: z.string(),
  chatgptPlanType: z.nullish(z.string()),
})
