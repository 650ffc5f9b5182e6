/**
 * A home holding many stored threads, for the thread-list benchmarks: small but realistic rollouts
 * written straight to disk (spread over a week of date folders) and indexed as they are written,
 * so `thread_index.jsonl` lists every one of them once the index is closed.
 */
import { randomUUID } from 'node:crypto'
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { decodeLines, encodeLine, type SessionMeta } from '../../src/worker/threads/rollout'
import { rolloutPath } from '../../src/worker/threads/rolloutStore'
import { ThreadIndex, summaryFromLines } from '../../src/worker/threads/threadIndex'
import { agentMessage } from '../../test/support/threadFixtures'
import { makeTempDir } from './processes'

const FILE_CONCURRENCY = 64

export function meta(id: string, createdAtMs: number, i: number): SessionMeta {
  return {
    id,
    createdAt: Math.floor(createdAtMs / 1000),
    cwd: `/work/project-${i % 20}`,
    originator: 'codex-desk-bench',
    cliVersion: '0.0.0-bench',
    source: i % 10 === 0 ? 'cli' : 'vscode',
    modelProvider: i % 7 === 0 ? 'ollama' : 'openai',
    model: 'gpt-bench',
    reasoningEffort: 'medium',
    forkedFromId: null,
    parentThreadId: null,
    ephemeral: false,
    historyMode: 'paginated',
  }
}

/**
 * A small but realistic rollout: meta, a name on every third, one completed turn whose user
 * message (the preview) reads `Please look at issue ${i} in the parser`.
 */
function smallRollout(id: string, createdAtMs: number, i: number): string {
  let ordinal = 0
  let at = createdAtMs
  const line = <T extends Parameters<typeof encodeLine>[1]>(
    type: T,
    payload: Parameters<typeof encodeLine<T>>[2],
  ) => encodeLine(ordinal++, type, payload, (at += 1000))
  const parts = [encodeLine(ordinal++, 'session_meta', meta(id, createdAtMs, i), createdAtMs)]
  if (i % 3 === 0) parts.push(line('thread_settings', { name: `Thread number ${i}` }))
  parts.push(line('turn_started', { turnId: 'turn-1', startedAt: Math.floor(at / 1000) }))
  parts.push(
    line('item_completed', {
      turnId: 'turn-1',
      item: {
        type: 'userMessage',
        id: 'u1',
        clientId: null,
        content: [{ type: 'text', text: `Please look at issue ${i} in the parser`, text_elements: [] }],
      },
    }),
  )
  parts.push(line('item_completed', { turnId: 'turn-1', item: agentMessage('a1', `Done with ${i}.`) }))
  parts.push(
    line('turn_completed', {
      turnId: 'turn-1',
      status: 'completed',
      error: null,
      completedAt: Math.floor(at / 1000),
      durationMs: 2000,
    }),
  )
  return parts.join('')
}

/** Writes the rollouts straight to disk and indexes them: the fastest honest way to 10,000 threads. */
export async function populate(home: string, index: ThreadIndex, count: number): Promise<void> {
  const base = Date.parse('2030-01-01T00:00:00.000Z')
  // One mkdir per date folder, shared by the writers that need it at the same time.
  const dirs = new Map<string, Promise<unknown>>()
  let next = 0
  let failed = false
  const upserts: Promise<void>[] = []
  const worker = async () => {
    while (next < count && !failed) {
      const i = next++
      const id = randomUUID()
      // A minute apart: 10,000 threads span a week of date folders.
      const createdAtMs = base + i * 60_000 + (i % 1000)
      const path = rolloutPath(home, createdAtMs, id)
      const dir = dirname(path)
      let made = dirs.get(dir)
      if (!made) dirs.set(dir, (made = mkdir(dir, { recursive: true })))
      await made
      const text = smallRollout(id, createdAtMs, i)
      await writeFile(path, text)
      const summary = summaryFromLines(path, decodeLines(text).lines, false)
      if (summary) upserts.push(index.upsert(summary))
    }
  }
  // Settle everything before reporting a failure, so nothing is still writing when the caller
  // removes the temp home.
  const guarded = async () => {
    try {
      await worker()
    } catch (error) {
      failed = true
      throw error
    }
  }
  const workers = await Promise.allSettled(Array.from({ length: FILE_CONCURRENCY }, guarded))
  const failure = [...workers, ...(await Promise.allSettled(upserts))].find((r) => r.status === 'rejected')
  if (failure) throw (failure as PromiseRejectedResult).reason
}

/**
 * A temp home with `count` stored threads and their index on disk (closed, so a server started
 * there loads it from `thread_index.jsonl`). The caller removes it.
 */
export async function populatedHome(
  count: number,
  prefix = 'codex-desk-bench-threads-',
): Promise<{ path: string; populateMs: number; remove(): Promise<void> }> {
  const home = makeTempDir(prefix)
  let index: ThreadIndex | null = null
  try {
    const t0 = performance.now()
    index = await ThreadIndex.load({ home: home.path })
    await populate(home.path, index, count)
    if (index.size !== count) throw new Error(`indexed ${index.size} threads, expected ${count}`)
    await index.close()
    const populateMs = performance.now() - t0
    await ageFolders(join(home.path, 'sessions'), 3)
    return { path: home.path, populateMs, remove: () => home.remove() }
  } catch (error) {
    await index?.close().catch(() => undefined)
    await home.remove()
    throw error
  }
}

/**
 * Dates the day folders an hour back, as in a home whose threads were written before this run (a
 * folder written in the last two seconds is always read again at start: threads/scanCache.ts).
 */
export async function ageFolders(dir: string, depth: number): Promise<void> {
  if (depth === 0) {
    const past = new Date(Date.now() - 3_600_000)
    return utimes(dir, past, past)
  }
  for (const name of await readdir(dir).catch(() => [] as string[]))
    await ageFolders(join(dir, name), depth - 1)
}

// ---------------------------------------------------------------------------------------------
// The same threads in a codex 0.169.0 home

/** A UUIDv7 (what codex gives threads) whose time part is `ms`. */
export function uuidV7(ms: number): string {
  const hex = ms.toString(16).padStart(12, '0') + randomUUID().replace(/-/g, '').slice(12)
  const v =
    hex.slice(0, 12) +
    '7' +
    hex.slice(13, 16) +
    ((parseInt(hex[16] as string, 16) & 3) | 8).toString(16) +
    hex.slice(17, 32)
  return `${v.slice(0, 8)}-${v.slice(8, 12)}-${v.slice(12, 16)}-${v.slice(16, 20)}-${v.slice(20, 32)}`
}

const isoAt = (ms: number) => new Date(ms).toISOString()

/**
 * One thread as codex 0.169.0 writes it (lines taken from a rollout codex wrote with a scripted
 * model, with the 21 KB of base instructions and the developer/environment messages left out):
 * session meta, one completed turn whose user message reads like lib/threadHome.ts's own.
 */
function codexRollout(id: string, createdAtMs: number, i: number): string {
  const cwd = `/work/project-${i % 20}`
  const turn = uuidV7(createdAtMs + 10)
  const provider = i % 7 === 0 ? 'ollama' : 'openai'
  const text = `Please look at issue ${i} in the parser`
  const answer = `Done with ${i}.`
  const sec = Math.floor(createdAtMs / 1000)
  let ordinal = 0
  let at = createdAtMs
  const lines: unknown[] = []
  const push = (type: string, payload: unknown, metadata?: unknown) =>
    lines.push({
      timestamp: isoAt((at += 5)),
      ordinal: ordinal++,
      type,
      payload,
      ...(metadata ? { metadata } : {}),
    })
  const entries = [
    { path: { type: 'special', value: { kind: 'root' } }, access: 'read' },
    { path: { type: 'path', path: cwd }, access: 'write' },
  ]
  push('session_meta', {
    session_id: id,
    id,
    timestamp: isoAt(createdAtMs),
    cwd,
    runtime_workspace_roots: [cwd],
    originator: 'codex-desk-bench',
    cli_version: '0.169.0',
    source: i % 10 === 0 ? 'cli' : 'vscode',
    model_provider: provider,
    base_instructions: { text: 'You are a coding agent.' },
    history_mode: 'paginated',
    context_window: { window_id: uuidV7(createdAtMs + 1) },
  })
  push('event_msg', {
    type: 'task_started',
    turn_attribution: {
      turn_id: turn,
      turn_trigger: null,
      parent_turn_id: null,
      initiating_agent_path: null,
      root_turn_id: turn,
    },
    turn_id: turn,
    root_turn_id: turn,
    started_at: sec,
    model_context_window: 258400,
    collaboration_mode_kind: 'default',
  })
  push('turn_context', {
    turn_id: turn,
    root_turn_id: turn,
    disabled_plugin_ids: [],
    cwd,
    approval_policy: 'on-request',
    approvals_reviewer: 'user',
    permission_profile: {
      type: 'managed',
      file_system: { type: 'restricted', entries },
      network: 'restricted',
    },
    model: 'gpt-bench',
    collaboration_mode: {
      mode: 'default',
      settings: { model: 'gpt-bench', reasoning_effort: 'medium', developer_instructions: null },
    },
    multi_agent_version: 'v1',
    realtime_active: false,
    summary: 'none',
    sandbox_policy: {
      type: 'workspace-write',
      network_access: false,
      exclude_tmpdir_env_var: false,
      exclude_slash_tmp: false,
    },
    file_system_sandbox_policy: { kind: 'restricted', entries },
  })
  const userMsg = `msg_${uuidV7(createdAtMs + 20)}`
  push(
    'response_item',
    { type: 'message', id: userMsg, role: 'user', content: [{ type: 'input_text', text }] },
    { history_sequence: 1, sampled_through_sequence: 0, client_authored: false, user_input_order: 0 },
  )
  push('event_msg', {
    type: 'item_completed',
    thread_id: id,
    turn_id: turn,
    item: {
      type: 'UserMessage',
      id: uuidV7(createdAtMs + 21),
      content: [{ type: 'text', text, text_elements: [] }],
    },
    started_at_ms: at,
    completed_at_ms: at,
  })
  push('event_msg', {
    type: 'item_completed',
    thread_id: id,
    turn_id: turn,
    item: { type: 'AgentMessage', id: `msg_${i}_0`, content: [{ type: 'Text', text: answer }] },
    started_at_ms: at,
    completed_at_ms: at,
  })
  push(
    'response_item',
    {
      type: 'message',
      status: 'completed',
      id: `msg_${i}_0`,
      role: 'assistant',
      content: [{ type: 'output_text', text: answer, annotations: [], logprobs: [] }],
    },
    { history_sequence: 2, sampled_through_sequence: 1, client_authored: false, user_input_order: 1 },
  )
  const usage = {
    input_tokens: 10,
    cached_input_tokens: 0,
    cache_write_input_tokens: 0,
    output_tokens: 2,
    reasoning_output_tokens: 0,
    total_tokens: 12,
  }
  push('event_msg', {
    type: 'token_count',
    info: {
      total_token_usage: usage,
      last_token_usage: usage,
      last_usage_includes_reasoning: false,
      model_context_window: 258400,
    },
    rate_limits: null,
  })
  push('event_msg', {
    type: 'task_complete',
    root_turn_id: turn,
    turn_id: turn,
    last_agent_message: answer,
    started_at: sec,
    completed_at: Math.floor(at / 1000),
    duration_ms: at - createdAtMs,
  })
  return lines.map((line) => JSON.stringify(line) + '\n').join('')
}

/** codex's rollout path: sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<id>.jsonl (UTC). */
function codexRolloutPath(home: string, createdAtMs: number, id: string): string {
  const iso = isoAt(createdAtMs)
  const [y, m, d] = iso.slice(0, 10).split('-') as [string, string, string]
  const stamp = iso.slice(0, 19).replace(/:/g, '-')
  return join(home, 'sessions', y, m, d, `rollout-${stamp}-${id}.jsonl`)
}

/**
 * Writes `count` codex-format rollouts (the same threads, times, folders, names and previews as
 * `populate`) and codex's `session_index.jsonl` for the named ones. codex builds its own state
 * database from these on its first start (see threadListWire.ts).
 */
export async function populateCodex(home: string, count: number): Promise<void> {
  const base = Date.parse('2030-01-01T00:00:00.000Z')
  const dirs = new Map<string, Promise<unknown>>()
  const names: string[] = []
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      const createdAtMs = base + i * 60_000 + (i % 1000)
      const id = uuidV7(createdAtMs)
      const path = codexRolloutPath(home, createdAtMs, id)
      const dir = dirname(path)
      let made = dirs.get(dir)
      if (!made) dirs.set(dir, (made = mkdir(dir, { recursive: true })))
      await made
      await writeFile(path, codexRollout(id, createdAtMs, i))
      if (i % 3 === 0)
        names.push(
          JSON.stringify({ id, thread_name: `Thread number ${i}`, updated_at: isoAt(createdAtMs + 1000) }),
        )
    }
  }
  await Promise.all(Array.from({ length: FILE_CONCURRENCY }, worker))
  await writeFile(join(home, 'session_index.jsonl'), names.join('\n') + '\n')
  await ageFolders(join(home, 'sessions'), 3)
}
