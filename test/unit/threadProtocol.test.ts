import { describe, expect, it } from 'vitest'
import type * as z from 'zod/mini'
import { formatZodError } from '../../src/worker/protocol/errors'
import { clientRequests, serverNotifications } from '../../src/worker/protocol/registry'
import {
  AskForApproval,
  SandboxMode,
  SandboxPolicy,
  ThreadStartParams,
  ThreadStartResponse,
} from '../../src/worker/protocol/thread'
import { TurnStartParams } from '../../src/worker/protocol/turn'

/** What the message processor reports for params that fail (it parses with `reportInput`). */
function errorOf(schema: z.ZodMiniType, input: unknown): string {
  const parsed = schema.safeParse(input, { reportInput: true })
  if (parsed.success) throw new Error(`expected ${JSON.stringify(input)} to be rejected`)
  return formatZodError(parsed.error)
}

/** A thread/start result as codex 0.169.0 sends it (protocol.md §4): lazy rollout, paginated, vscode source. */
const threadStartResult = {
  thread: {
    id: '019f2a3b-4c5d-7e6f-8a9b-0c1d2e3f4a5b',
    sessionId: '019f2a3b-4c5d-7e6f-8a9b-0c1d2e3f4a5b',
    forkedFromId: null,
    parentThreadId: null,
    preview: '',
    ephemeral: false,
    modelProvider: 'openai',
    model: 'gpt-5.5',
    reasoningEffort: 'medium',
    createdAt: 1730000000,
    updatedAt: 1730000000,
    recencyAt: null,
    status: { type: 'idle' },
    path: '/home/me/.codex/sessions/2026/05/01/rollout-2026-05-01T10-00-00-019f2a3b-4c5d-7e6f-8a9b-0c1d2e3f4a5b.jsonl',
    cwd: '/home/me/proj',
    cliVersion: '0.169.0',
    originator: 'my_ts_client',
    source: 'vscode',
    threadSource: null,
    agentNickname: null,
    agentRole: null,
    gitInfo: { sha: 'a1b2c3d', branch: 'main', originUrl: null },
    name: null,
    historyMode: 'paginated',
    section: null,
    sectionEnteredAt: null,
    projectId: null,
    turns: [],
  },
  model: 'gpt-5.5',
  modelProvider: 'openai',
  serviceTier: null,
  cwd: '/home/me/proj',
  approvalPolicy: 'on-request',
  approvalsReviewer: 'user',
  sandbox: { type: 'readOnly', networkAccess: false },
  reasoningEffort: 'medium',
  instructionSources: ['/home/me/proj/AGENTS.md'],
  disabledPluginIds: [],
}

describe('approval and sandbox values', () => {
  it('rejects approvalPolicy "on-failure" with codex wording, naming the four variants in its order', () => {
    expect(errorOf(ThreadStartParams, { approvalPolicy: 'on-failure' })).toBe(
      'unknown variant `on-failure` at `approvalPolicy`, expected one of `untrusted`, `on-request`, `granular`, `never`',
    )
    expect(errorOf(AskForApproval, 'unlessTrusted')).toContain('unknown variant `unlessTrusted`')
  })

  it('accepts the three string policies and the granular object', () => {
    for (const policy of ['untrusted', 'on-request', 'never'] as const) {
      expect(AskForApproval.parse(policy)).toBe(policy)
    }
    const granular = { granular: { sandbox_approval: true, rules: false, mcp_elicitations: true } }
    expect(AskForApproval.parse(granular)).toEqual(granular)
    expect(AskForApproval.safeParse('granular').success).toBe(false)
    expect(AskForApproval.safeParse(3).success).toBe(false)
  })

  it('rejects the camelCase "workspaceWrite" as a sandbox mode', () => {
    expect(errorOf(ThreadStartParams, { sandbox: 'workspaceWrite' })).toBe(
      'unknown variant `workspaceWrite` at `sandbox`, expected one of `read-only`, `workspace-write`, `danger-full-access`',
    )
    expect(SandboxMode.parse('workspace-write')).toBe('workspace-write')
  })

  it('takes sandbox policies as objects tagged by type', () => {
    expect(SandboxPolicy.parse({ type: 'workspaceWrite', writableRoots: ['/tmp/x'] })).toEqual({
      type: 'workspaceWrite',
      writableRoots: ['/tmp/x'],
    })
    expect(SandboxPolicy.safeParse({ type: 'externalSandbox', networkAccess: true }).success).toBe(false)
    expect(SandboxPolicy.safeParse('read-only').success).toBe(false)
  })
})

describe('thread/start', () => {
  it('accepts empty params and drops keys it does not know, as serde does', () => {
    expect(ThreadStartParams.parse({})).toEqual({})
    expect(ThreadStartParams.parse({ model: 'gpt-5.5', bogus: 1, cwd: null })).toEqual({
      model: 'gpt-5.5',
      cwd: null,
    })
  })

  it('parses a thread/start result as codex sends it', () => {
    const parsed = ThreadStartResponse.parse(threadStartResult)
    expect(parsed).toEqual(threadStartResult)
    expect(parsed.sandbox).toEqual({ type: 'readOnly', networkAccess: false })
  })
})

describe('turn/start', () => {
  it('requires threadId and input', () => {
    expect(errorOf(TurnStartParams, {})).toBe('missing field `threadId`; missing field `input`')
  })

  it('defaults text_elements of a text input to an empty list', () => {
    const parsed = TurnStartParams.parse({ threadId: 't', input: [{ type: 'text', text: 'hi' }] })
    expect(parsed.input).toEqual([{ type: 'text', text: 'hi', text_elements: [] }])
  })

  it('takes any effort name, as codex 0.169 does, so a new model effort works before clients know it', () => {
    for (const effort of ['max', 'ultra', 'huge'])
      expect(TurnStartParams.parse({ threadId: 't', input: [], effort }).effort).toBe(effort)
    expect(errorOf(TurnStartParams, { threadId: 't', input: [], effort: 5 })).toContain('effort')
  })
})

describe('registry', () => {
  it('gates the experimental start fields and serves the thread and turn methods', () => {
    expect(clientRequests['thread/start'].experimentalFields).toContain('dynamicTools')
    // The fields codex 0.169 refuses without experimentalApi (checked against the binary).
    expect(clientRequests['turn/start'].experimentalFields).toEqual([
      'environments',
      'permissions',
      'runtimeWorkspaceRoots',
      'collaborationMode',
      'additionalContext',
      'responsesapiClientMetadata',
      'responsesapiClientMetadataPatch',
      'multiAgentMode',
    ])
    expect(Object.keys(serverNotifications)).toEqual(
      expect.arrayContaining(['thread/started', 'turn/completed', 'item/agentMessage/delta', 'error']),
    )
  })
})
