/** Builders for thread items and session metadata shared by the persistence tests and benchmarks. */
import type { AgentMessageItem, Thread } from '../../src/worker/protocol/items'
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

/** A listed thread as thread/list returns it (the renderer tests' store input). */
export function thread(id: string, createdAt: number, extra: Partial<Thread> = {}): Thread {
  return {
    id,
    sessionId: id,
    forkedFromId: null,
    parentThreadId: null,
    preview: '',
    ephemeral: false,
    modelProvider: 'mock',
    model: 'm',
    reasoningEffort: null,
    createdAt,
    updatedAt: createdAt,
    recencyAt: null,
    status: { type: 'idle' },
    path: null,
    cwd: '/work',
    cliVersion: '0.1.0',
    originator: null,
    source: 'vscode',
    threadSource: null,
    agentNickname: null,
    agentRole: null,
    gitInfo: null,
    name: null,
    historyMode: 'paginated',
    section: null,
    sectionEnteredAt: null,
    projectId: null,
    turns: [],
    ...extra,
  }
}
