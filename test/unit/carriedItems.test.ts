/**
 * What a retry after a broken stream carries (requestBody.ts `withCarriedItems`): the broken
 * attempt's completed messages and reasoning, and its function calls only with their outputs.
 */
import { describe, expect, it } from 'vitest'
import { withCarriedItems } from '../../src/worker/agent/requestBody'

const user = { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }
const answer = {
  type: 'message',
  id: 'msg_1',
  status: 'completed',
  role: 'assistant',
  content: [{ type: 'output_text', annotations: [], text: 'first' }],
}
const call = (callId: string) => ({
  type: 'function_call',
  id: `fc_${callId}`,
  status: 'completed',
  name: 'update_plan',
  arguments: '{}',
  call_id: callId,
})
const output = (callId: string) => ({ type: 'function_call_output', call_id: callId, output: 'ok' })

describe('the input of a retry after a broken stream', () => {
  it('carries the completed items as history, each call with its output after them', () => {
    const input = withCarriedItems([user], [answer, call('a'), call('b')], [output('a'), output('b')])
    expect(input).toEqual([
      user,
      { type: 'message', role: 'assistant', content: answer.content },
      { type: 'function_call', name: 'update_plan', arguments: '{}', call_id: 'a' },
      { type: 'function_call', name: 'update_plan', arguments: '{}', call_id: 'b' },
      output('a'),
      output('b'),
    ])
  })

  it('leaves out a call that has no output, and an output whose call is not carried', () => {
    expect(withCarriedItems([user], [answer, call('a')], [output('z')])).toEqual([
      user,
      { type: 'message', role: 'assistant', content: answer.content },
    ])
    expect(withCarriedItems([user], [call('a')])).toEqual([user])
  })

  it('keeps an input that is not an array as it is', () => {
    expect(withCarriedItems(null, [answer], [])).toBeNull()
  })
})
