import { describe, expect, it } from 'vitest'
import { latestPlan, parseUpdatePlanArguments } from '../../src/worker/protocol/plan'
import { expectCodexShape } from '../support/codexSchema'

const failure = (raw: string) => {
  const parsed = parseUpdatePlanArguments(raw)
  return parsed.ok ? null : parsed.message
}

describe('update_plan arguments', () => {
  it('maps the tool statuses to the wire names and gives a null explanation when there is none', () => {
    const parsed = parseUpdatePlanArguments(
      JSON.stringify({
        plan: [
          { step: 'a', status: 'pending' },
          { step: 'b', status: 'in_progress', note: 'ignored' },
          { step: 'c', status: 'completed' },
        ],
        extra: true,
      }),
    )
    expect(parsed).toEqual({
      ok: true,
      value: {
        explanation: null,
        plan: [
          { step: 'a', status: 'pending' },
          { step: 'b', status: 'inProgress' },
          { step: 'c', status: 'completed' },
        ],
      },
    })
    if (parsed.ok) {
      expectCodexShape('TurnPlanUpdatedNotification', { threadId: 't', turnId: 'u', ...parsed.value })
    }
    expect(parseUpdatePlanArguments('{"explanation":null,"plan":[]}')).toEqual({
      ok: true,
      value: { explanation: null, plan: [] },
    })
  })

  it('names the first problem in serde words, prefixed as codex does', () => {
    const prefix = 'failed to parse function arguments: '
    expect(failure('{}')).toBe(`${prefix}missing field \`plan\``)
    expect(failure('[]')).toBe(`${prefix}invalid type: sequence, expected struct UpdatePlanArgs`)
    expect(failure('{"plan":"do it"}')).toBe(`${prefix}invalid type: string "do it", expected a sequence`)
    expect(failure('{"plan":[{"status":"pending"}]}')).toBe(`${prefix}missing field \`step\``)
    expect(failure('{"plan":[{"step":"a"}]}')).toBe(`${prefix}missing field \`status\``)
    expect(failure('{"plan":[{"step":1,"status":"pending"}]}')).toBe(
      `${prefix}invalid type: integer \`1\`, expected a string`,
    )
    expect(failure('{"plan":[{"step":"a","status":"inProgress"}]}')).toBe(
      `${prefix}unknown variant \`inProgress\`, expected one of \`pending\`, \`in_progress\`, \`completed\``,
    )
    expect(failure('{"explanation":5,"plan":[]}')).toBe(
      `${prefix}invalid type: integer \`5\`, expected a string`,
    )
    expect(failure('')).toMatch(/^failed to parse function arguments: /)
  })
})

describe('the last plan of a thread', () => {
  const call = (turnId: string, callId: string, plan: unknown) => ({
    turnId,
    item: {
      type: 'function_call',
      name: 'update_plan',
      call_id: callId,
      arguments: JSON.stringify({ plan }),
    },
  })
  const output = (turnId: string, callId: string, text: string) => ({
    turnId,
    item: { type: 'function_call_output', call_id: callId, output: text },
  })

  it('is the last accepted update_plan call, per turn when a turn is given', () => {
    const history = [
      { turnId: null, item: { type: 'message', role: 'developer', content: [] } },
      call('t1', 'c1', [{ step: 'first', status: 'in_progress' }]),
      output('t1', 'c1', 'Plan updated'),
      call('t2', 'c2', [{ step: 'second', status: 'completed' }]),
      output('t2', 'c2', 'Plan updated'),
      // Rejected and never answered calls do not count.
      call('t2', 'c3', [{ step: 'bad', status: 'done' }]),
      output('t2', 'c3', 'failed to parse function arguments: unknown variant `done`'),
      call('t2', 'c4', [{ step: 'interrupted', status: 'pending' }]),
    ]
    expect(latestPlan(history)).toEqual({
      turnId: 't2',
      explanation: null,
      plan: [{ step: 'second', status: 'completed' }],
    })
    expect(latestPlan(history, 't1')?.plan).toEqual([{ step: 'first', status: 'inProgress' }])
    expect(latestPlan(history, 't3')).toBeNull()
    expect(latestPlan([])).toBeNull()
  })
})
