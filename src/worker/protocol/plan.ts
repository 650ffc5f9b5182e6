/**
 * The agent's plan (protocol.md §16): the `turn/plan/updated` notification, the arguments of the
 * `update_plan` tool that produces it, and how the last plan is found again in a thread's recorded
 * model history (the tool call and its output are `response_item`s of the rollout, so the plan
 * survives a restart without a line type of its own).
 *
 * The tool speaks codex's snake_case statuses (`in_progress`); the wire speaks camelCase
 * (`inProgress`). Runtime-free: zod/mini and plain functions only, no `node:` imports.
 */
import * as z from 'zod/mini'
import type { NotificationSpecs } from './spec'

export const TurnPlanStepStatus = z.enum(['pending', 'inProgress', 'completed'])
export type TurnPlanStepStatus = z.infer<typeof TurnPlanStepStatus>

export const TurnPlanStep = z.object({ step: z.string(), status: TurnPlanStepStatus })
export type TurnPlanStep = z.infer<typeof TurnPlanStep>

/** The whole plan each time (not a diff); `explanation` is null when the model gave none. */
export const TurnPlanUpdatedNotification = z.object({
  threadId: z.string(),
  turnId: z.string(),
  explanation: z.nullable(z.string()),
  plan: z.array(TurnPlanStep),
})
export type TurnPlanUpdatedNotification = z.infer<typeof TurnPlanUpdatedNotification>

export const planNotifications = {
  'turn/plan/updated': TurnPlanUpdatedNotification,
} as const satisfies NotificationSpecs

// ---------------------------------------------------------------------------------------------
// The tool's arguments

export const UPDATE_PLAN_TOOL_NAME = 'update_plan'
/** What the model reads after a plan it sent was accepted (codex's text). */
export const PLAN_UPDATED_OUTPUT = 'Plan updated'

/** A plan as the tool accepted it, in wire terms. */
export interface PlanUpdate {
  explanation: string | null
  plan: TurnPlanStep[]
}

const TOOL_STATUSES: Readonly<Record<string, TurnPlanStepStatus>> = {
  pending: 'pending',
  in_progress: 'inProgress',
  completed: 'completed',
}

type Parsed = { ok: true; value: PlanUpdate } | { ok: false; message: string }

const fail = (why: string): Parsed => ({ ok: false, message: `failed to parse function arguments: ${why}` })

/** How serde names a JSON value in "invalid type" messages. */
function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'sequence'
  if (typeof value === 'object') return 'map'
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`
  if (typeof value === 'number')
    return Number.isInteger(value) ? `integer \`${value}\`` : `floating point \`${value}\``
  return `boolean \`${String(value)}\``
}

/**
 * Checks the model's arguments as codex does (serde into `UpdatePlanArgs`): `plan` is required, each
 * step needs a string `step` and one of `pending`, `in_progress`, `completed`; `explanation` may be
 * absent or null; unknown fields are ignored. A failure names the first problem, in serde's words.
 */
export function parseUpdatePlanArguments(raw: string): Parsed {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch (error) {
    return fail((error as Error).message)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(`invalid type: ${describe(value)}, expected struct UpdatePlanArgs`)
  }
  const args = value as Record<string, unknown>
  const explanation = args.explanation ?? null
  if (explanation !== null && typeof explanation !== 'string') {
    return fail(`invalid type: ${describe(explanation)}, expected a string`)
  }
  if (!('plan' in args)) return fail('missing field `plan`')
  if (!Array.isArray(args.plan)) return fail(`invalid type: ${describe(args.plan)}, expected a sequence`)
  const plan: TurnPlanStep[] = []
  for (const item of args.plan as unknown[]) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      return fail(`invalid type: ${describe(item)}, expected struct PlanItemArg`)
    }
    const { step, status } = item as Record<string, unknown>
    if (step === undefined) return fail('missing field `step`')
    if (typeof step !== 'string') return fail(`invalid type: ${describe(step)}, expected a string`)
    if (status === undefined) return fail('missing field `status`')
    if (typeof status !== 'string') return fail(`invalid type: ${describe(status)}, expected a string`)
    const wire = Object.hasOwn(TOOL_STATUSES, status) ? TOOL_STATUSES[status] : undefined
    if (!wire) {
      return fail(
        `unknown variant \`${status}\`, expected one of \`pending\`, \`in_progress\`, \`completed\``,
      )
    }
    plan.push({ step, status: wire })
  }
  return { ok: true, value: { explanation, plan } }
}

// ---------------------------------------------------------------------------------------------
// The last plan of a thread

/**
 * The last plan the tool accepted in `turnId` (default: any turn), found in the thread's model
 * history: the last `update_plan` call whose output was `Plan updated`. Null when there is none.
 */
export function latestPlan(
  history: readonly { turnId: string | null; item: unknown }[],
  turnId?: string,
): (PlanUpdate & { turnId: string }) | null {
  const accepted = new Set<string>()
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i] as { turnId: string | null; item: unknown }
    if (entry.turnId === null || (turnId !== undefined && entry.turnId !== turnId)) continue
    const item = entry.item as {
      type?: unknown
      call_id?: unknown
      name?: unknown
      arguments?: unknown
      output?: unknown
    }
    if (typeof item !== 'object' || item === null || typeof item.call_id !== 'string') continue
    if (item.type === 'function_call_output' && item.output === PLAN_UPDATED_OUTPUT)
      accepted.add(item.call_id)
    if (
      item.type === 'function_call' &&
      item.name === UPDATE_PLAN_TOOL_NAME &&
      accepted.has(item.call_id) &&
      typeof item.arguments === 'string'
    ) {
      const parsed = parseUpdatePlanArguments(item.arguments)
      if (parsed.ok) return { turnId: entry.turnId, ...parsed.value }
    }
  }
  return null
}
