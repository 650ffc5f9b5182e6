/**
 * One client's turns for the turn-memory bench: start a turn and wait for its turn/completed while
 * counting what the client saw, and read the thread back. The client stays cheap (deltas are
 * counted, not parsed), so it does not skew the servers' numbers.
 */
import { request, type FrameChannel } from './clients'
import { withTimeout } from './processes'
import type { ReadTurn, Seen } from './turnAnswers'

export async function readThread(channel: FrameChannel, threadId: string): Promise<ReadTurn[]> {
  const frame = JSON.stringify({ id: 3, method: 'thread/read', params: { threadId, includeTurns: true } })
  const read = await request(channel, frame, 3, 60_000)
  return (read.result as { thread: { turns: ReadTurn[] } }).thread.turns
}

/**
 * Sends turn/start and resolves at that turn's turn/completed; `seen` gets what the client saw
 * (deltas are counted without parsing them: the client must stay cheap).
 */
export function runTurn(
  channel: FrameChannel,
  threadId: string,
  id: number,
  prompt: string,
  seen: Seen,
): Promise<void> {
  let turnId: string | null = null
  type Ended = { id: string; status: string; error: { message: string } | null }
  const completedEarly = new Map<string, Ended>()
  const done = new Promise<void>((resolve, reject) => {
    channel.handler = (frame) => {
      if (frame.startsWith('{"method":"item/agentMessage/delta"')) {
        seen.deltas++
        return
      }
      const message = JSON.parse(frame) as {
        id?: number
        method?: string
        error?: { message: string }
        result?: { turn: { id: string } }
        params?: {
          turn?: { id: string; status: string; error: { message: string } | null }
          error?: { message: string; additionalDetails?: string | null }
          willRetry?: boolean
        }
      }
      if (message.method) seen.methods[message.method] = (seen.methods[message.method] ?? 0) + 1
      if (message.method === 'error' && message.params?.error) {
        const { error, willRetry } = message.params
        seen.errors.push(
          `${willRetry ? 'retry' : 'final'}: ${error.message} (${error.additionalDetails ?? ''})`,
        )
      }
      const settle = (turn: Ended) => {
        seen.status = turn.status
        seen.error = turn.error?.message ?? null
        // A failed turn is the answer check's to report (with what the client and server saw).
        resolve()
      }
      if (message.id === id) {
        if (message.error) return reject(new Error(`turn/start failed: ${message.error.message}`))
        turnId = message.result?.turn.id ?? null
        const early = turnId ? completedEarly.get(turnId) : undefined
        if (early) settle(early)
      } else if (message.method === 'turn/completed' && message.params?.turn) {
        const turn = message.params.turn
        if (turnId === null) completedEarly.set(turn.id, turn)
        else if (turn.id === turnId) settle(turn)
      }
    }
  })
  channel.send(
    JSON.stringify({
      id,
      method: 'turn/start',
      params: { threadId, input: [{ type: 'text', text: prompt }] },
    }),
  )
  return withTimeout(done, 60_000, `turn/completed of request ${id}`)
}
