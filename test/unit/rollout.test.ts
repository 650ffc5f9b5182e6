import { describe, expect, it } from 'vitest'
import {
  Thread,
  ThreadItem,
  UserInput,
  type CommandExecutionItem,
  type ThreadTokenUsage,
  type UserMessageItem,
} from '../../src/worker/protocol/items'
import {
  PREVIEW_MAX_CHARS,
  decodeLines,
  encodeLine,
  previewOf,
  replay,
  type RolloutPayloads,
  type RolloutType,
  type SessionMeta,
} from '../../src/worker/threads/rollout'
import { agentMessage } from '../support/threadFixtures'

const T0 = Date.parse('2030-03-04T05:06:07.000Z')
const THREAD = '0198a000-0000-7000-8000-000000000001'

const meta = (overrides: Partial<SessionMeta> = {}): SessionMeta => ({
  id: THREAD,
  createdAt: Math.floor(T0 / 1000),
  cwd: '/work/project',
  originator: 'codex_vscode',
  cliVersion: '0.1.0',
  source: 'vscode',
  modelProvider: 'openai',
  model: 'gpt-5',
  reasoningEffort: 'medium',
  forkedFromId: null,
  parentThreadId: null,
  ephemeral: false,
  historyMode: 'paginated',
  ...overrides,
})

const userMessage = (id: string, text: string): UserMessageItem => ({
  type: 'userMessage',
  id,
  clientId: null,
  content: [{ type: 'text', text, text_elements: [] }],
})

const command = (id: string, status: CommandExecutionItem['status']): CommandExecutionItem => ({
  type: 'commandExecution',
  id,
  command: 'ls',
  cwd: '/work/project',
  processId: null,
  source: 'agent',
  status,
  commandActions: [{ type: 'listFiles', command: 'ls' }],
  aggregatedOutput: null,
  exitCode: null,
  durationMs: null,
})

const breakdown = (n: number) => ({
  totalTokens: n,
  inputTokens: n,
  cachedInputTokens: 0,
  cacheWriteInputTokens: 0,
  outputTokens: 0,
  reasoningOutputTokens: 0,
})
const usage = (n: number): ThreadTokenUsage => ({
  total: breakdown(n),
  last: breakdown(n),
  modelContextWindow: 1000,
})

type Entry = { [T in RolloutType]: [T, RolloutPayloads[T]] }[RolloutType]

/** A rollout text, one line per entry, one second apart from T0. */
function rollout(entries: Entry[]): string {
  return entries.map(([type, payload], i) => encodeLine(i, type, payload as never, T0 + i * 1000)).join('')
}

const replayText = (text: string, options?: Parameters<typeof replay>[1]) =>
  replay(decodeLines(text).lines, options)

describe('the rollout line format', () => {
  it('encodes one JSON object per line with an ISO millisecond timestamp, the ordinal, the type and the payload', () => {
    const text = encodeLine(7, 'turn_started', { turnId: 't1', startedAt: 1 }, T0 + 5)
    expect(text.endsWith('\n')).toBe(true)
    expect(text.slice(0, -1)).not.toContain('\n')
    expect(JSON.parse(text)).toEqual({
      timestamp: '2030-03-04T05:06:07.005Z',
      ordinal: 7,
      type: 'turn_started',
      payload: { turnId: 't1', startedAt: 1 },
    })
  })

  it('refuses a payload that cannot be serialized instead of writing half a line', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => encodeLine(0, 'response_item', { turnId: null, item: cyclic })).toThrow()
  })

  it('decodes every complete line and reports a torn last line without losing the others', () => {
    const text = rollout([
      ['session_meta', meta()],
      ['turn_started', { turnId: 't1', startedAt: 1 }],
      ['item_completed', { turnId: 't1', item: userMessage('u1', 'hello') }],
    ])
    const torn =
      text + encodeLine(3, 'item_completed', { turnId: 't1', item: agentMessage('a1', 'hi') }).slice(0, 25)
    const { lines, problems } = decodeLines(torn)
    expect(lines.map((l) => l.ordinal)).toEqual([0, 1, 2])
    expect(problems).toEqual([expect.objectContaining({ line: 4, kind: 'torn' })])
  })

  it('keeps a complete last line whose newline never made it to disk', () => {
    const text = rollout([
      ['session_meta', meta()],
      ['turn_started', { turnId: 't1', startedAt: 1 }],
    ])
    const { lines, problems } = decodeLines(text.slice(0, -1))
    expect(lines).toHaveLength(2)
    expect(problems).toEqual([])
  })

  it('skips and reports a corrupt line in the middle and still reads the lines after it', () => {
    const good = rollout([
      ['session_meta', meta()],
      ['turn_started', { turnId: 't1', startedAt: 1 }],
      ['item_completed', { turnId: 't1', item: userMessage('u1', 'hello') }],
    ]).split('\n')
    const text = [good[0], '{"timestamp":"x","ordi\u0000garbage', good[1], '[1,2,3]', good[2], ''].join('\n')
    const { lines, problems } = decodeLines(text)
    expect(lines.map((l) => l.type)).toEqual(['session_meta', 'turn_started', 'item_completed'])
    expect(problems.map((p) => [p.line, p.kind])).toEqual([
      [2, 'corrupt'],
      [4, 'corrupt'],
    ])
  })

  it('reports lines of an unknown type and skips them', () => {
    const text =
      encodeLine(0, 'session_meta', meta()) +
      '{"timestamp":"2030-01-01T00:00:00.000Z","ordinal":1,"type":"world_state","payload":{}}\n'
    const { lines, problems } = decodeLines(text)
    expect(lines).toHaveLength(1)
    expect(problems).toEqual([expect.objectContaining({ line: 2, kind: 'unknown_type' })])
  })
})

describe('replay', () => {
  it('rebuilds a completed turn with its items in order, the thread fields and the last token usage', () => {
    const reasoningStarted: ThreadItem = { type: 'reasoning', id: 'r1', summary: [], content: [] }
    const replayed = replayText(
      rollout([
        ['session_meta', meta()],
        ['turn_started', { turnId: 't1', startedAt: 100 }],
        ['item_started', { turnId: 't1', item: userMessage('u1', 'list the files') }],
        ['item_completed', { turnId: 't1', item: userMessage('u1', 'list the files') }],
        ['item_started', { turnId: 't1', item: reasoningStarted }],
        ['item_checkpoint', { turnId: 't1', itemId: 'r1', text: 'Thinking' }],
        ['item_started', { turnId: 't1', item: command('c1', 'inProgress') }],
        ['item_completed', { turnId: 't1', item: { ...reasoningStarted, summary: ['Thinking', 'More'] } }],
        ['item_completed', { turnId: 't1', item: { ...command('c1', 'completed'), exitCode: 0 } }],
        ['token_usage', { turnId: 't1', usage: usage(10) }],
        ['item_completed', { turnId: 't1', item: agentMessage('a1', 'Here they are.') }],
        ['token_usage', { turnId: 't1', usage: usage(25) }],
        [
          'turn_completed',
          { turnId: 't1', status: 'completed', error: null, completedAt: 111, durationMs: 11_000 },
        ],
      ]),
      { path: '/home/x/rollout.jsonl' },
    )
    expect(replayed.turns).toHaveLength(1)
    const [turn] = replayed.turns
    expect(turn).toMatchObject({
      id: 't1',
      status: 'completed',
      itemsView: 'full',
      startedAt: 100,
      completedAt: 111,
      durationMs: 11_000,
      error: null,
    })
    expect(turn?.items.map((i) => i.id)).toEqual(['u1', 'r1', 'c1', 'a1'])
    expect(turn?.items[1]).toMatchObject({ summary: ['Thinking', 'More'] })
    expect(turn?.items[2]).toMatchObject({ status: 'completed', exitCode: 0 })
    expect(replayed.openItems).toEqual([])
    expect(replayed.tokenUsage?.total.totalTokens).toBe(25)
    expect(replayed.thread).toMatchObject({
      id: THREAD,
      sessionId: THREAD,
      preview: 'list the files',
      path: '/home/x/rollout.jsonl',
      status: { type: 'notLoaded' },
      createdAt: Math.floor(T0 / 1000),
      updatedAt: Math.floor(T0 / 1000) + 12,
      recencyAt: Math.floor(T0 / 1000) + 1,
      model: 'gpt-5',
      source: 'vscode',
      historyMode: 'paginated',
      name: null,
    })
    expect(replayed.thread.turns).toBe(replayed.turns)
    // What replay builds is what the protocol declares.
    expect(Thread.safeParse(replayed.thread).success).toBe(true)
  })

  it('reads a turn the process died in as interrupted, closing open items and keeping their checkpointed text (an older rollout)', () => {
    const replayed = replayText(
      rollout([
        ['session_meta', meta()],
        ['turn_started', { turnId: 't1', startedAt: 100 }],
        ['item_completed', { turnId: 't1', item: userMessage('u1', 'run it') }],
        ['item_started', { turnId: 't1', item: command('c1', 'inProgress') }],
        ['item_checkpoint', { turnId: 't1', itemId: 'c1', text: 'line 1\n' }],
        ['item_started', { turnId: 't1', item: agentMessage('a1', '') }],
        ['item_checkpoint', { turnId: 't1', itemId: 'a1', text: 'Hel' }],
        ['item_checkpoint', { turnId: 't1', itemId: 'a1', text: 'Hello, wor' }],
      ]),
    )
    const [turn] = replayed.turns
    expect(turn?.status).toBe('interrupted')
    // The last line of the turn is the best-known moment it ended.
    expect(turn?.completedAt).toBe(Math.floor(T0 / 1000) + 7)
    expect(turn?.durationMs).toBe(6_000)
    expect(turn?.items.map((i) => i.id)).toEqual(['u1', 'c1', 'a1'])
    expect(turn?.items[1]).toMatchObject({
      status: 'failed',
      aggregatedOutput: 'line 1\n',
      completedAtMs: T0 + 7000,
    })
    expect(turn?.items[2]).toMatchObject({
      type: 'agentMessage',
      text: 'Hello, wor',
      completedAtMs: T0 + 7000,
    })
    expect(replayed.openItems).toEqual([
      { turnId: 't1', itemId: 'c1' },
      { turnId: 't1', itemId: 'a1' },
    ])
    expect(Thread.safeParse(replayed.thread).success).toBe(true)
  })

  it('leaves a running turn and its streaming items open when asked to', () => {
    const replayed = replayText(
      rollout([
        ['session_meta', meta()],
        ['turn_started', { turnId: 't1', startedAt: 100 }],
        ['item_started', { turnId: 't1', item: agentMessage('a1', '') }],
        ['item_checkpoint', { turnId: 't1', itemId: 'a1', text: 'partial' }],
      ]),
      { openTurn: 'inProgress' },
    )
    expect(replayed.turns[0]).toMatchObject({ status: 'inProgress', completedAt: null })
    expect(replayed.turns[0]?.items[0]).toEqual(agentMessage('a1', 'partial'))
    expect(replayed.openItems).toEqual([{ turnId: 't1', itemId: 'a1' }])
  })

  it('closes the items an interrupted turn left streaming and ignores checkpoints (an older rollout) that arrive after completion', () => {
    const replayed = replayText(
      rollout([
        ['session_meta', meta()],
        ['turn_started', { turnId: 't1', startedAt: 100 }],
        ['item_started', { turnId: 't1', item: agentMessage('a1', '') }],
        ['item_checkpoint', { turnId: 't1', itemId: 'a1', text: 'Half an ans' }],
        [
          'turn_completed',
          { turnId: 't1', status: 'interrupted', error: null, completedAt: 103, durationMs: 3000 },
        ],
        ['turn_started', { turnId: 't2', startedAt: 200 }],
        ['item_completed', { turnId: 't2', item: agentMessage('a2', 'Done.') }],
        ['item_checkpoint', { turnId: 't2', itemId: 'a2', text: 'stale' }],
        [
          'turn_completed',
          { turnId: 't2', status: 'completed', error: null, completedAt: 201, durationMs: 1000 },
        ],
      ]),
    )
    expect(replayed.turns.map((t) => t.status)).toEqual(['interrupted', 'completed'])
    expect(replayed.turns[0]?.items[0]).toMatchObject({ text: 'Half an ans', completedAtMs: 103_000 })
    expect(replayed.turns[1]?.items[0]).toMatchObject({ text: 'Done.' })
  })

  it('closes a turn that never completed when the next turn starts (the process died in between)', () => {
    const replayed = replayText(
      rollout([
        ['session_meta', meta()],
        ['turn_started', { turnId: 't1', startedAt: 100 }],
        ['item_started', { turnId: 't1', item: agentMessage('a1', '') }],
        ['turn_started', { turnId: 't2', startedAt: 200 }],
        [
          'turn_completed',
          {
            turnId: 't2',
            status: 'failed',
            error: { message: 'boom', codexErrorInfo: 'other', additionalDetails: null, misalignment: null },
            completedAt: 201,
            durationMs: 1000,
          },
        ],
      ]),
    )
    expect(replayed.turns.map((t) => t.status)).toEqual(['interrupted', 'failed'])
    expect(replayed.turns[1]?.error?.message).toBe('boom')
    expect(replayed.turns[0]?.items).toHaveLength(1)
  })

  it('keeps the model history in the order it was written, across turns', () => {
    const replayed = replayText(
      rollout([
        ['session_meta', meta()],
        ['response_item', { turnId: null, item: { type: 'message', role: 'developer', content: 'dev' } }],
        ['turn_started', { turnId: 't1', startedAt: 100 }],
        ['response_item', { turnId: 't1', item: { type: 'message', role: 'user', content: 'one' } }],
        ['response_item', { turnId: 't1', item: { type: 'function_call', call_id: 'c', name: 'shell' } }],
        [
          'response_item',
          { turnId: 't1', item: { type: 'function_call_output', call_id: 'c', output: 'ok' } },
        ],
        [
          'turn_completed',
          { turnId: 't1', status: 'completed', error: null, completedAt: 101, durationMs: 1 },
        ],
        ['turn_started', { turnId: 't2', startedAt: 200 }],
        ['response_item', { turnId: 't2', item: { type: 'message', role: 'user', content: 'two' } }],
      ]),
    )
    expect(replayed.modelHistory.map((e) => [e.turnId, (e.item as { type: string }).type])).toEqual([
      [null, 'message'],
      ['t1', 'message'],
      ['t1', 'function_call'],
      ['t1', 'function_call_output'],
      ['t2', 'message'],
    ])
  })

  it('applies name changes and sticky overrides in order, the last one winning', () => {
    const replayed = replayText(
      rollout([
        ['session_meta', meta({ name: 'forked name' })],
        ['thread_settings', { name: 'First' }],
        ['thread_settings', { overrides: { model: 'gpt-5-mini', effort: 'high', approvalPolicy: 'never' } }],
        ['thread_settings', { name: null }],
        ['thread_settings', { name: 'Final', overrides: { cwd: '/elsewhere' } }],
        ['thread_settings', { overrides: { approvalPolicy: 'on-request' } }],
      ]),
    )
    expect(replayed.name).toBe('Final')
    expect(replayed.thread).toMatchObject({
      name: 'Final',
      model: 'gpt-5-mini',
      reasoningEffort: 'high',
      cwd: '/elsewhere',
    })
    expect(replayed.settings).toEqual({
      model: 'gpt-5-mini',
      effort: 'high',
      approvalPolicy: 'on-request',
      cwd: '/elsewhere',
    })
    expect(replayText(rollout([['session_meta', meta({ name: 'forked name' })]])).name).toBe('forked name')
  })

  it('takes sub-agent fields from a thread_spawn source', () => {
    const replayed = replayText(
      rollout([
        [
          'session_meta',
          meta({
            source: {
              subAgent: {
                thread_spawn: {
                  parent_thread_id: 'parent',
                  depth: 1,
                  agent_path: null,
                  agent_nickname: 'Erdos',
                  agent_role: 'worker',
                },
              },
            },
          }),
        ],
      ]),
    )
    expect(replayed.thread).toMatchObject({
      parentThreadId: 'parent',
      agentNickname: 'Erdos',
      agentRole: 'worker',
    })
  })

  it('needs a thread id when the session_meta line was lost', () => {
    const text = rollout([
      ['session_meta', meta()],
      ['turn_started', { turnId: 't1', startedAt: 1 }],
    ])
    const withoutMeta = decodeLines(text).lines.slice(1)
    expect(() => replay(withoutMeta)).toThrow(/no session_meta/)
    expect(replay(withoutMeta, { threadId: THREAD }).turns).toHaveLength(1)
  })
})

describe('item shapes', () => {
  it('defaults text_elements to an empty array and passes unknown input fields through', () => {
    expect(UserInput.parse({ type: 'text', text: 'hi' })).toEqual({
      type: 'text',
      text: 'hi',
      text_elements: [],
    })
    expect(UserInput.parse({ type: 'localImage', path: '/a.png', extra: 1 })).toMatchObject({ extra: 1 })
  })

  it('discriminates items on type and keeps the loosely typed ones', () => {
    expect(ThreadItem.safeParse(agentMessage('a', 'x')).success).toBe(true)
    expect(ThreadItem.safeParse({ type: 'agentMessage', id: 'a' }).success).toBe(false)
    expect(ThreadItem.parse({ type: 'webSearch', id: 'w', query: 'q', startedAtMs: 5 })).toMatchObject({
      query: 'q',
    })
  })

  it('previews the first message text, truncated', () => {
    expect(previewOf([{ type: 'text', text: '  hello  ', text_elements: [] }])).toBe('hello')
    expect(previewOf([{ type: 'localImage', path: '/x.png' }])).toBe('')
    expect(Array.from(previewOf([{ type: 'text', text: '🙂'.repeat(500), text_elements: [] }]))).toHaveLength(
      PREVIEW_MAX_CHARS,
    )
  })
})

describe('streamed text lines', () => {
  const delta = (itemId: string, offset: number, text: string, where: object = {}): Entry => [
    'item_text_delta',
    { turnId: 't1', itemId, offset, text, ...where },
  ]
  const reasoningItem = (id: string): ThreadItem => ({ type: 'reasoning', id, summary: [], content: [] })

  it('reassembles message text, reasoning parts and command output from their deltas after a crash', () => {
    const replayed = replayText(
      rollout([
        ['session_meta', meta()],
        ['turn_started', { turnId: 't1', startedAt: 100 }],
        ['item_started', { turnId: 't1', item: reasoningItem('r1') }],
        delta('r1', 0, 'Plan', { summaryIndex: 0 }),
        delta('r1', 4, 'ning', { summaryIndex: 0 }),
        delta('r1', 0, 'Second', { summaryIndex: 1 }),
        delta('r1', 0, 'raw', { contentIndex: 0 }),
        ['item_started', { turnId: 't1', item: command('c1', 'inProgress') }],
        delta('c1', 0, 'line 1\n'),
        delta('c1', 7, 'line 2\n'),
        ['item_started', { turnId: 't1', item: agentMessage('a1', '') }],
        delta('a1', 0, 'Hello'),
        delta('a1', 5, ', wor'),
      ]),
    )
    const items = replayed.turns[0]?.items ?? []
    expect(replayed.turns[0]?.status).toBe('interrupted')
    expect(items[0]).toMatchObject({ summary: ['Planning', 'Second'], content: ['raw'] })
    expect(items[1]).toMatchObject({ aggregatedOutput: 'line 1\nline 2\n', status: 'failed' })
    expect(items[2]).toMatchObject({ text: 'Hello, wor' })
    expect(replayed.problems).toEqual([])
    expect(Thread.safeParse(replayed.thread).success).toBe(true)
  })

  it('adds only the new part of an overlapping delta, and skips and reports a delta after a gap', () => {
    const replayed = replayText(
      rollout([
        ['session_meta', meta()],
        ['turn_started', { turnId: 't1', startedAt: 100 }],
        ['item_started', { turnId: 't1', item: agentMessage('a1', '') }],
        delta('a1', 0, 'abc'),
        // The text after "abc" never reached the file; this delta was never shown to anyone.
        delta('a1', 6, 'ghi'),
        // A retry of the lost text, overlapping what is there.
        delta('a1', 2, 'cdef'),
        delta('a1', 0, 'ab'),
      ]),
    )
    expect(replayed.turns[0]?.items[0]).toMatchObject({ text: 'abcdef' })
    expect(replayed.problems).toEqual([
      'a text delta of item a1 at offset 6 does not follow its 3 characters',
    ])
  })

  it('takes a completed message text left out of item_completed from its deltas', () => {
    const entries: Entry[] = [
      ['session_meta', meta()],
      ['turn_started', { turnId: 't1', startedAt: 100 }],
      ['item_started', { turnId: 't1', item: agentMessage('a1', '') }],
      delta('a1', 0, 'Hello'),
      delta('a1', 5, ' there'),
      ['item_completed', { turnId: 't1', item: agentMessage('a1', ''), textFromDeltas: 11 }],
      // Late text for a completed item changes nothing.
      delta('a1', 11, '!'),
      [
        'turn_completed',
        { turnId: 't1', status: 'completed', error: null, completedAt: 105, durationMs: 5000 },
      ],
    ]
    const replayed = replayText(rollout(entries))
    expect(replayed.turns[0]?.items[0]).toMatchObject({ text: 'Hello there' })
    expect(replayed.openItems).toEqual([])
    expect(replayed.problems).toEqual([])
    // With a delta missing, what is on disk is shown and the shortfall reported.
    const short = replayText(rollout(entries.filter((e, i) => i !== 4)))
    expect(short.turns[0]?.items[0]).toMatchObject({ text: 'Hello' })
    expect(short.problems).toEqual(['item a1 completed with 11 streamed characters, 5 are on disk'])
  })

  it("drops an item completed as discarded (a broken stream's cut answer), and the items after it still grow", () => {
    const replayed = replayText(
      rollout([
        ['session_meta', meta()],
        ['turn_started', { turnId: 't1', startedAt: 100 }],
        ['item_completed', { turnId: 't1', item: userMessage('u1', 'hi') }],
        ['item_started', { turnId: 't1', item: reasoningItem('r1') }],
        ['item_started', { turnId: 't1', item: agentMessage('a1', '') }],
        delta('a1', 0, 'a cut ans'),
        ['item_completed', { turnId: 't1', item: reasoningItem('r1'), discarded: true }],
        ['item_completed', { turnId: 't1', item: agentMessage('a1', 'a cut ans'), discarded: true }],
        // Late text for a dropped item has nothing to hold it.
        delta('a1', 9, 'wer'),
        ['item_started', { turnId: 't1', item: agentMessage('a2', '') }],
        delta('a2', 0, 'the whole'),
        delta('a2', 9, ' answer'),
      ]),
      { openTurn: 'inProgress' },
    )
    expect(replayed.turns[0]?.items.map((item) => item.id)).toEqual(['u1', 'a2'])
    expect(replayed.turns[0]?.items[1]).toMatchObject({ text: 'the whole answer' })
    expect(replayed.openItems).toEqual([{ turnId: 't1', itemId: 'a2' }])
    expect(replayed.problems).toEqual([])
  })

  it('continues a checkpointed text (an older rollout) with deltas', () => {
    const replayed = replayText(
      rollout([
        ['session_meta', meta()],
        ['turn_started', { turnId: 't1', startedAt: 100 }],
        ['item_started', { turnId: 't1', item: agentMessage('a1', '') }],
        ['item_checkpoint', { turnId: 't1', itemId: 'a1', text: 'Hello' }],
        delta('a1', 5, ' again'),
      ]),
      { openTurn: 'inProgress' },
    )
    expect(replayed.turns[0]?.items[0]).toMatchObject({ text: 'Hello again' })
    expect(replayed.turns[0]?.status).toBe('inProgress')
  })
})
