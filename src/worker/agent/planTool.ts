/**
 * The `update_plan` tool: the model records its plan (steps, each `pending`, `in_progress` or
 * `completed`, and an optional explanation) and the thread's subscribers get `turn/plan/updated`
 * with the whole plan. The model reads `Plan updated`; arguments codex would reject go back to it
 * as codex's parse message and the turn goes on; in Plan mode the model is told, as codex tells it,
 * that the tool is not for that mode.
 *
 * No item, as in codex. The call and its output are in the thread's model history (the rollout),
 * which is where the last plan is found again (protocol/plan.ts `latestPlan`).
 *
 * Offered by default, unlike codex (which offers it to unknown models only with
 * `[tools.update_plan] enabled = true`): the same key set to `false` hides it. It must never fail
 * the turn over bad arguments, and never publish a plan it did not accept.
 */
import type { EffectiveConfig } from '../config/schema'
import { PLAN_UPDATED_OUTPUT, UPDATE_PLAN_TOOL_NAME, parseUpdatePlanArguments } from '../protocol/plan'
import type { Tool, ToolCall, ToolOutput, ToolServices } from './tools'

/** The definition the model gets: codex 0.169's schema (status enum included), our wording. */
export const updatePlanToolSpec = {
  type: 'function',
  name: UPDATE_PLAN_TOOL_NAME,
  description:
    'Updates the task plan shown to the user.\n' +
    'Give an optional explanation and the whole list of steps, each with a step and a status.\n' +
    'At most one step can be in_progress at a time.\n',
  strict: false,
  parameters: {
    type: 'object',
    properties: {
      explanation: { type: 'string', description: 'Why the plan changed, when it did.' },
      plan: {
        type: 'array',
        description: 'The list of steps',
        items: {
          type: 'object',
          properties: {
            step: { type: 'string', description: 'What the step does.' },
            status: {
              type: 'string',
              description: 'Where the step stands.',
              enum: ['pending', 'in_progress', 'completed'],
            },
          },
          required: ['step', 'status'],
          additionalProperties: false,
        },
      },
    },
    required: ['plan'],
    additionalProperties: false,
  },
} as const

/** `[tools.update_plan] enabled` (codex's key); absent means on. */
export function planToolEnabled(config: EffectiveConfig): boolean {
  const tools = (config as { tools?: unknown }).tools
  if (typeof tools !== 'object' || tools === null) return true
  const plan = (tools as { update_plan?: unknown }).update_plan
  if (typeof plan !== 'object' || plan === null) return true
  return (plan as { enabled?: unknown }).enabled !== false
}

export function createPlanTool(): Tool {
  return {
    name: UPDATE_PLAN_TOOL_NAME,
    spec: (_thread, settings) => (planToolEnabled(settings.config) ? updatePlanToolSpec : null),
    call: updatePlan,
  }
}

/** codex's answer in Plan mode, where the plan is the proposal itself, not a checklist. */
export const PLAN_MODE_REFUSAL = 'update_plan is a TODO/checklist tool and is not allowed in Plan mode'

async function updatePlan(call: ToolCall, services: ToolServices): Promise<ToolOutput> {
  const mode = services.thread.sticky.collaborationMode as { mode?: unknown } | undefined
  if (mode?.mode === 'plan') return PLAN_MODE_REFUSAL
  const parsed = parseUpdatePlanArguments(call.arguments)
  if (!parsed.ok) return parsed.message
  await services.publish('turn/plan/updated', {
    threadId: services.threadId,
    turnId: services.turnId,
    ...parsed.value,
  })
  return PLAN_UPDATED_OUTPUT
}
