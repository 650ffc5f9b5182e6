/**
 * `review/start` and `thread/shellCommand`: thin adapters that check the params and start a turn of
 * its own on the thread (TurnController.startJob) doing a ReviewJob (agent/reviewTurn.ts) or a
 * UserShellJob (agent/userShell.ts). A detached review first forks the thread, as codex did before
 * 0.169, and runs there. As in codex, an inline review interrupts a running turn first, and a shell
 * command sent during a turn runs inside that turn.
 */
import type { reviewRequests } from '../protocol/review'
import { invalidRequest } from '../protocol/errors'
import type { ThreadSystem } from '../agent/threadSystem'
import type { Turn } from '../protocol/items'
import type { Handler } from './context'

type ReviewHandlers = { [M in keyof typeof reviewRequests]: Handler<M> }

/**
 * The agent and thread modules load with the first review or shell command (the thread system
 * itself is loaded lazily too): the core's start-up does not pay for them.
 */
const loadJobs = async () => {
  const [review, targets, shell, live] = await Promise.all([
    import('../agent/reviewTurn'),
    import('../agent/reviewTargets'),
    import('../agent/userShell'),
    import('../threads/liveThread'),
  ])
  return { ...review, ...targets, ...shell, ...live }
}

/** codex's answer turn: in progress, holding the label as a user message with the turn's id. */
function reviewTurn(turn: Turn, hint: string, turnHeader: (turn: Turn) => Turn): Turn {
  const header = turnHeader(turn)
  return {
    ...header,
    startedAt: null,
    items: hint
      ? [
          {
            type: 'userMessage',
            id: turn.id,
            clientId: null,
            content: [{ type: 'text', text: hint, text_elements: [] }],
          },
        ]
      : [],
  }
}

export function reviewHandlers(system: () => Promise<ThreadSystem>, env: NodeJS.ProcessEnv): ReviewHandlers {
  return {
    'review/start': async (params, ctx) => {
      const { target } = params
      if (target.type === 'baseBranch' && target.branch.trim() === '') {
        throw invalidRequest('branch must not be empty')
      }
      if (target.type === 'commit' && target.sha.trim() === '') throw invalidRequest('sha must not be empty')
      if (target.type === 'custom' && target.instructions.trim() === '') {
        throw invalidRequest('instructions must not be empty')
      }
      const [threads, jobs] = await Promise.all([system(), loadJobs()])
      let live = threads.manager.require(params.threadId)
      if (params.delivery === 'detached') {
        const forked = await threads.manager.fork({ threadId: params.threadId, excludeTurns: true }, ctx)
        live = threads.manager.require(forked.thread.id)
      }
      // Like codex, an inline review interrupts the turn that is running and starts once it ended.
      while (live.running) {
        live.running.interrupt()
        await live.running.done
      }
      const turn = threads.turns.startJob(
        live,
        new jobs.ReviewJob(target),
        ctx,
        'cannot start a review while a turn is running; wait for it to end or interrupt it',
      )
      return { turn: reviewTurn(turn, jobs.reviewHint(target), jobs.turnHeader), reviewThreadId: live.id }
    },
    'thread/shellCommand': async (params, ctx) => {
      const command = params.command.trim()
      if (command === '') throw invalidRequest('command must not be empty')
      const [threads, jobs] = await Promise.all([system(), loadJobs()])
      const timeoutMs = params.timeoutMs ?? jobs.USER_SHELL_TIMEOUT_MS
      if (timeoutMs < 0) throw invalidRequest('timeoutMs must not be negative')
      const live = threads.manager.require(params.threadId)
      // In the running turn if there is one (as codex does), else in a turn of its own.
      await threads.turns.runJobInTurn(live, new jobs.UserShellJob(params.command, timeoutMs, env), ctx)
      return {}
    },
  }
}
