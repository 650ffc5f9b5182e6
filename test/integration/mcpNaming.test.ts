/**
 * The names the model sees for MCP tools, checked against what codex 0.169.0 sent for the same
 * server and tools (recorded with the real binary and test/support/mcpServer.ts).
 */
import { describe, expect, it } from 'vitest'
import { mcpNamespace, qualifyTools } from '../../src/worker/mcp/naming'

describe('MCP tool names', () => {
  it('puts each server in a namespace mcp__<server> with only letters, digits and underscores', () => {
    expect(mcpNamespace('test')).toBe('mcp__test')
    expect(mcpNamespace('my-srv.v2')).toBe('mcp__my_srv_v2')
    expect(qualifyTools([{ server: 'test', tool: 'dotted.name/x' }])).toEqual([
      { server: 'test', tool: 'dotted.name/x', namespace: 'mcp__test', name: 'dotted_name_x' },
    ])
  })

  it('cuts a name past 128 characters and ends it with a hash, as codex does', () => {
    const server = 'my-srv_long_name_abcdefghijklmnopqrstuvwxyz0123456789'
    const tool = `long_${'x'.repeat(70)}`
    const [named] = qualifyTools([{ server, tool }])
    // codex 0.169.0 sent exactly these names for this server and tool.
    expect(named?.namespace).toBe('mcp__my_srv_long_name_abcdefghijklmnopqrstuvwxyz0123456789')
    expect(named?.name).toBe(`long_${'x'.repeat(50)}_2a78734306e1`)
  })

  it('keeps two tools whose names sanitize alike apart', () => {
    const named = qualifyTools([
      { server: 's', tool: 'a.b' },
      { server: 's', tool: 'a_b' },
    ])
    const names = named.map((t) => t.name)
    expect(new Set(names).size).toBe(2)
    for (const name of names) expect(name).toMatch(/^a_b_[0-9a-f]{12}$/)
  })
})
