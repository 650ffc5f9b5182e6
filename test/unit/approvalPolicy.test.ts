import { describe, expect, it } from 'vitest'
import {
  approvalModeOf,
  planCommand,
  planPatch,
  type CommandFacts,
  type PatchFacts,
} from '../../src/worker/agent/approvalPolicy'
import type { SandboxPolicy } from '../../src/worker/protocol/thread'

const workspace: SandboxPolicy = { type: 'workspaceWrite', writableRoots: [], networkAccess: false }
const base: CommandFacts = {
  mode: 'on-request',
  policy: workspace,
  sandboxAvailable: true,
  knownSafe: false,
  escalate: false,
  justification: null,
  approvedForSession: null,
}

describe('command approval decisions', () => {
  it.each<[string, Partial<CommandFacts>, ReturnType<typeof planCommand>]>([
    ['on-request runs contained', {}, { kind: 'run', sandboxed: true }],
    [
      'on-request asks for escalation with the justification',
      { escalate: true, justification: 'needs network' },
      { kind: 'ask', sandboxed: false, reason: 'needs network' },
    ],
    [
      'untrusted runs a known-safe command',
      { mode: 'untrusted', knownSafe: true },
      { kind: 'run', sandboxed: true },
    ],
    [
      'untrusted asks for anything else',
      { mode: 'untrusted' },
      { kind: 'ask', sandboxed: true, reason: null },
    ],
    [
      'untrusted still asks under danger-full-access',
      { mode: 'untrusted', policy: { type: 'dangerFullAccess' } },
      { kind: 'ask', sandboxed: false, reason: null },
    ],
    [
      'never ignores an escalation request',
      { mode: 'never', escalate: true },
      { kind: 'run', sandboxed: true },
    ],
    ['on-failure runs contained first', { mode: 'on-failure' }, { kind: 'run', sandboxed: true }],
    [
      'a session approval skips the question',
      { mode: 'untrusted', approvedForSession: { sandboxed: true } },
      { kind: 'run', sandboxed: true },
    ],
    [
      'no sandbox: a command that could write asks',
      { sandboxAvailable: false },
      {
        kind: 'ask',
        sandboxed: false,
        reason: 'no sandbox is available on this machine to contain the command',
      },
    ],
    [
      'no sandbox: a known-safe command runs',
      { sandboxAvailable: false, knownSafe: true },
      { kind: 'run', sandboxed: false },
    ],
    [
      'no sandbox under never: refused, since nobody can be asked',
      { sandboxAvailable: false, mode: 'never' },
      {
        kind: 'reject',
        message:
          'command not run: no sandbox is available on this machine to contain the command, and the approval policy is "never"',
      },
    ],
    [
      'no sandbox needed under danger-full-access',
      { sandboxAvailable: false, policy: { type: 'dangerFullAccess' } },
      { kind: 'run', sandboxed: false },
    ],
  ])('%s', (_title, facts, expected) => {
    expect(planCommand({ ...base, ...facts })).toEqual(expected)
  })
})

describe('patch approval decisions', () => {
  const patch: PatchFacts = {
    mode: 'on-request',
    policy: workspace,
    allWritable: true,
    approvedForSession: false,
  }
  it('applies inside the writable roots, asks outside, and refuses outside under never', () => {
    expect(planPatch(patch)).toEqual({ kind: 'apply' })
    expect(planPatch({ ...patch, allWritable: false })).toEqual({
      kind: 'ask',
      reason:
        'the patch writes outside the folders this thread may write to (or to a protected one such as .git)',
    })
    expect(planPatch({ ...patch, allWritable: false, mode: 'never' })).toMatchObject({ kind: 'reject' })
    expect(planPatch({ ...patch, mode: 'untrusted' })).toEqual({ kind: 'ask', reason: null })
    expect(planPatch({ ...patch, mode: 'untrusted', approvedForSession: true })).toEqual({ kind: 'apply' })
  })
})

describe('the reason a file change prompt gives', () => {
  it('says the sandbox is read-only, not "outside the workspace", for a file right in the working folder', () => {
    // Under read-only no path is writable, so a patch to <cwd>/notes.txt asks: the policy is why.
    expect(
      planPatch({
        mode: 'on-request',
        policy: { type: 'readOnly' },
        allWritable: false,
        approvedForSession: false,
      }),
    ).toEqual({ kind: 'ask', reason: 'the sandbox is read-only, so every file change needs your approval' })
  })
})

describe('approval modes', () => {
  it('keeps on-failure from config even though the wire says on-request', () => {
    expect(approvalModeOf('on-request', 'on-failure')).toBe('on-failure')
    expect(approvalModeOf('on-request', 'on-request')).toBe('on-request')
    expect(approvalModeOf('never', 'on-failure')).toBe('never')
    expect(approvalModeOf({ granular: {} } as never, undefined)).toBe('on-request')
  })
})
