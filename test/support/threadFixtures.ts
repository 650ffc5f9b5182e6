/** Builders for thread items and session metadata shared by the persistence tests and benchmarks. */
import type { AgentMessageItem } from '../../src/worker/protocol/items'
import type { NewSessionMeta } from '../../src/worker/threads/rolloutStore'

export const agentMessage = (id: string, text: string): AgentMessageItem => ({
  type: 'agentMessage',
  id,
  text,
  phase: null,
  memoryCitation: null,
  delivery: null,
  questions: null,
  moderation: null,
})

export const newSessionMeta = (id: string, overrides: Partial<NewSessionMeta> = {}): NewSessionMeta => ({
  id,
  cwd: '/work/project',
  originator: 'codex-desk-test',
  cliVersion: '0.0.0-test',
  source: 'vscode',
  modelProvider: 'openai',
  model: 'gpt-test',
  reasoningEffort: null,
  forkedFromId: null,
  parentThreadId: null,
  historyMode: 'paginated',
  ...overrides,
})
