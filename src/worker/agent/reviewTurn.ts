/**
 * A code review as a turn of its own (`review/start`), run as codex runs it: an `enteredReviewMode`
 * item, then a conversation with a reviewer beside the thread's own (the review instructions instead
 * of the base instructions, the thread's permissions and environment context, the request naming the
 * target), which may run read-only git commands through the shell tool without asking (codex's
 * reviewer runs with approval "never"), then the reviewer's JSON answer (ReviewOutputEvent) rendered
 * as text in an `exitedReviewMode` item and a closing agent message.
 *
 * The thread's model history gets only what codex gives it: a `<user_action>` record holding the
 * rendered review and the closing message, so a later turn can act on the findings. The reviewer's
 * own conversation is never added to the thread's history.
 */
import type { ThreadItem } from '../protocol/items'
import type { ReviewTarget } from '../protocol/review'
import type { ModelHistoryEntry } from '../threads/rollout'
import { resolveCodexDeskHome } from '../home'
import { uuidv7 } from '../util/uuid'
import { buildInput, developerMessageItem, outputText } from './history'
import { REVIEW_INSTRUCTIONS } from './prompts/reviewPrompt'
import {
  parseReviewOutput,
  renderReviewOutput,
  REVIEW_FALLBACK_MESSAGE,
  type ReviewOutput,
} from './reviewOutput'
import { reviewRequest } from './reviewTargets'
import { contextUpdate } from './turnContext'
import type { SideConversation, TurnJob, TurnJobContext } from './turnRunner'

/**
 * The reviewer reads; it gets no tool that edits files or starts agents. (shellTool.ts and
 * viewImageTool.ts name them; not imported, so the tools stay out of the cold start.)
 */
const REVIEW_TOOLS = new Set(['shell_command', 'view_image'])

const textMessage = (role: 'user' | 'assistant', text: string) => ({
  type: 'message',
  role,
  content: [{ type: role === 'user' ? 'input_text' : 'output_text', text }],
})

/** What the thread's model is told about a finished review (codex's `<user_action>` record). */
export function reviewResultRecord(rendered: string): unknown {
  return textMessage(
    'user',
    [
      '<user_action>',
      '  <context>The user ran a code review. Below is the whole output of the reviewer model; the user ' +
        'may pick some of its comments for you to resolve.</context>',
      '  <action>review</action>',
      '  <results>',
      `  ${rendered}`,
      '  </results>',
      '  </user_action>',
      '',
    ].join('\n'),
  )
}

export class ReviewJob implements TurnJob {
  /** The parsed answer, once the review has ended. */
  output: ReviewOutput | null = null

  constructor(
    private readonly target: ReviewTarget,
    private readonly home: string = resolveCodexDeskHome(),
  ) {}

  async run(context: TurnJobContext): Promise<void> {
    const { turnId } = context
    const request = await reviewRequest(this.target, context.settings().cwd)
    const entered = { type: 'enteredReviewMode', id: uuidv7(), review: request.hint } as ThreadItem
    await context.startItem(entered)
    await context.completeItem({ ...entered })

    const history: ModelHistoryEntry[] = [{ turnId, item: textMessage('user', request.prompt) }]
    let answer = ''
    const side: SideConversation = {
      // codex's reviewer never asks for approval, and runs on `review_model` when one is configured.
      settings: (settings) => {
        const reviewModel = (settings.config as { review_model?: unknown }).review_model
        return {
          ...settings,
          approvalMode: 'never',
          ...(typeof reviewModel === 'string' && reviewModel !== '' ? { model: reviewModel } : {}),
        }
      },
      input: async (settings) => {
        const update = await contextUpdate(history, turnId, settings, this.home)
        if (update) history.push({ turnId, item: update })
        return buildInput(history, [developerMessageItem(REVIEW_INSTRUCTIONS)])
      },
      tools: (specs) => specs.filter((spec) => REVIEW_TOOLS.has(String((spec as { name?: unknown }).name))),
      remember: (item) => {
        history.push({ turnId, item })
        const message = item as { type?: unknown; role?: unknown; content?: unknown }
        if (message.type === 'message' && message.role === 'assistant') answer = outputText(message)
      },
    }
    try {
      await context.converse(side)
    } catch (error) {
      // As codex: review mode ends with the fallback text, and the model learns the review was cut.
      await context.remember(
        textMessage(
          'user',
          '<user_action>\n  <context>The user started a code review, but it was interrupted before it ' +
            'finished. If the user asks about it, suggest starting the review again and letting it ' +
            'complete.</context>\n  <action>review</action>\n</user_action>\n',
        ),
      )
      const exited = { type: 'exitedReviewMode', id: uuidv7(), review: REVIEW_FALLBACK_MESSAGE } as ThreadItem
      await context.startItem(exited)
      await context.completeItem({ ...exited })
      throw error
    }

    const output = parseReviewOutput(answer)
    this.output = output
    const rendered = renderReviewOutput(output)
    await context.remember(reviewResultRecord(rendered))
    const exited = { type: 'exitedReviewMode', id: uuidv7(), review: rendered } as ThreadItem
    await context.startItem(exited)
    await context.completeItem({ ...exited })
    await context.remember(textMessage('assistant', rendered))
    const message: ThreadItem = {
      type: 'agentMessage',
      id: `msg_${uuidv7()}`,
      text: rendered,
      phase: null,
      memoryCitation: null,
      delivery: null,
      questions: null,
      moderation: null,
    }
    await context.startItem(message)
    await context.completeItem({ ...message })
  }
}
