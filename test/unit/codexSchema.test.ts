import { describe, expect, it } from 'vitest'
import { codexMethods, codexSchemaErrors, expectCodexShape } from '../support/codexSchema'

describe('the vendored codex 0.169.0 schema', () => {
  it('accepts a thread status notification shaped as codex sends it and rejects a wrong status', () => {
    const ok = { method: 'thread/status/changed', params: { threadId: 't', status: { type: 'idle' } } }
    expectCodexShape('ServerNotification', ok)
    const bad = { method: 'thread/status/changed', params: { threadId: 't', status: { type: 'sleeping' } } }
    expect(codexSchemaErrors('ServerNotification', bad).length).toBeGreaterThan(0)
  })

  it('lists the 184 client requests of 0.169.0, the TUI bootstrap methods among them', () => {
    const methods = codexMethods('ClientRequest')
    expect(methods).toHaveLength(184)
    expect(methods).toEqual(expect.arrayContaining(['model/list', 'skills/list', 'thread/turns/list']))
    expect(codexMethods('ClientRequest', true)).not.toContain('thread/settings/update')
  })
})
