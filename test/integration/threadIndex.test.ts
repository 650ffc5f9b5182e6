import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { copyFile, mkdir, readdir, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { SessionSource, ThreadListParams, ThreadSortKey } from '../../src/worker/protocol/items'
import { RolloutStore } from '../../src/worker/threads/rolloutStore'
import { SCAN_CACHE_FILE } from '../../src/worker/threads/scanCache'
import { INDEX_FILE, type ThreadIndex, type ThreadSummary } from '../../src/worker/threads/threadIndex'
import { newSessionMeta } from '../support/threadFixtures'
import { threadIndexKit } from '../support/threadIndexKit'

const { tempHome, loadIndex } = threadIndexKit('codex-desk-index-')

const T0 = Date.parse('2030-01-01T00:00:00.000Z')

/** A summary with distinct, shuffled sort values per key, so each key gives a different order. */
function summary(i: number, overrides: Partial<ThreadSummary> = {}): ThreadSummary {
  const id = `0198a000-0000-7000-8000-${String(i).padStart(12, '0')}`
  return {
    id,
    path: `/nowhere/rollout-${id}.jsonl`,
    archived: false,
    createdAtMs: T0 + i * 1000,
    updatedAtMs: T0 + ((i * 7919) % 1000) * 1000,
    recencyAtMs: i % 5 === 0 ? null : T0 + ((i * 104729) % 997) * 1000,
    name: null,
    preview: `message ${i}`,
    cwd: '/work/a',
    modelProvider: 'openai',
    model: 'gpt-test',
    reasoningEffort: null,
    source: 'vscode',
    sessionId: id,
    forkedFromId: null,
    parentThreadId: null,
    cliVersion: '0.0.0-test',
    originator: 'test',
    threadSource: null,
    agentNickname: null,
    agentRole: null,
    gitInfo: null,
    historyMode: 'paginated',
    projectId: null,
    ...overrides,
  }
}

/** Every page of a listing, following nextCursor; `between` runs after each page. */
function allPages(index: ThreadIndex, params: ThreadListParams, between?: (page: number) => void): string[] {
  const ids: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 1000; page++) {
    const result = index.list({ ...params, cursor })
    ids.push(...result.data.map((t) => t.id))
    // A page names its first thread for the walk back (codex: only when the page is not empty).
    expect(result.backwardsCursor === null).toBe(result.data.length === 0)
    if (!result.nextCursor) return ids
    cursor = result.nextCursor
    between?.(page)
  }
  throw new Error('pagination did not end')
}

const sortValue = (s: ThreadSummary, key: ThreadSortKey) =>
  key === 'created_at'
    ? s.createdAtMs
    : key === 'updated_at'
      ? s.updatedAtMs
      : (s.recencyAtMs ?? s.createdAtMs)

function expectedOrder(summaries: ThreadSummary[], key: ThreadSortKey, direction: 'asc' | 'desc'): string[] {
  const sorted = [...summaries].sort((a, b) => {
    const d = sortValue(a, key) - sortValue(b, key)
    return d !== 0 ? d : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
  })
  const ids = sorted.map((s) => s.id)
  return direction === 'asc' ? ids : ids.reverse()
}

const KEYS: ThreadSortKey[] = ['created_at', 'updated_at', 'recency_at']
const DIRECTIONS = ['asc', 'desc'] as const

describe('thread/list from the index', () => {
  it('pages through every thread exactly once for every sort key and direction', async () => {
    const index = await loadIndex(await tempHome())
    const summaries = Array.from({ length: 83 }, (_, i) => summary(i))
    // Ties on updated_at, broken by id.
    summaries[10] = { ...(summaries[10] as ThreadSummary), updatedAtMs: T0 }
    summaries[11] = { ...(summaries[11] as ThreadSummary), updatedAtMs: T0 }
    await Promise.all(summaries.map((s) => index.upsert(s)))
    for (const sortKey of KEYS) {
      for (const sortDirection of DIRECTIONS) {
        const ids = allPages(index, { sortKey, sortDirection, limit: 7 })
        expect(ids, `${sortKey} ${sortDirection}`).toEqual(expectedOrder(summaries, sortKey, sortDirection))
      }
    }
  })

  it('neither repeats nor skips a thread when threads are inserted between pages', async () => {
    const index = await loadIndex(await tempHome())
    const summaries = Array.from({ length: 40 }, (_, i) => summary(i))
    await Promise.all(summaries.map((s) => index.upsert(s)))
    let next = 1000
    for (const sortKey of KEYS) {
      for (const sortDirection of DIRECTIONS) {
        const inserted: ThreadSummary[] = []
        const ids = allPages(index, { sortKey, sortDirection, limit: 6 }, () => {
          // One thread at each end of the order and one in the middle.
          for (const at of [T0 - 10_000_000, T0 + 500_000, T0 + 10_000_000]) {
            const s = summary(next++, { createdAtMs: at, updatedAtMs: at, recencyAtMs: at })
            inserted.push(s)
            void index.upsert(s)
          }
        })
        expect(new Set(ids).size).toBe(ids.length)
        const original = expectedOrder(summaries, sortKey, sortDirection)
        expect(ids.filter((id) => original.includes(id))).toEqual(original)
        for (const s of inserted) await index.delete(s.id)
      }
    }
  })

  it('defaults to created_at, newest first, 25 per page, and caps the limit at 100', async () => {
    const index = await loadIndex(await tempHome())
    const summaries = Array.from({ length: 130 }, (_, i) => summary(i))
    await Promise.all(summaries.map((s) => index.upsert(s)))
    const first = index.list()
    expect(first.data).toHaveLength(25)
    expect(first.data[0]?.id).toBe(summaries[129]?.id)
    expect(first.nextCursor).toEqual(expect.any(String))
    expect(index.list({ limit: 500 }).data).toHaveLength(100)
    expect(index.list({ limit: 0 }).data).toHaveLength(25)
    expect(index.list({ limit: 200, cursor: index.list({ limit: 100 }).nextCursor }).nextCursor).toBeNull()
  })

  it('rejects a cursor that is not one of ours or was made for another sort key', async () => {
    const index = await loadIndex(await tempHome())
    await Promise.all([summary(1), summary(2)].map((s) => index.upsert(s)))
    expect(() => index.list({ cursor: 'not-a-cursor' })).toThrow(/invalid cursor/)
    const cursor = index.list({ limit: 1 }).nextCursor
    expect(() => index.list({ cursor, sortKey: 'updated_at' })).toThrow(/invalid cursor/)
  })

  it('builds Threads without turns, with the live status of loaded threads', async () => {
    const index = await loadIndex(await tempHome())
    const s = summary(3, { recencyAtMs: T0 + 2500, name: 'Named' })
    await index.upsert(s)
    const [thread] = index.list({}, (id) =>
      id === s.id ? { type: 'active', activeFlags: [] } : { type: 'notLoaded' },
    ).data
    expect(thread).toMatchObject({
      id: s.id,
      status: { type: 'active', activeFlags: [] },
      turns: [],
      name: 'Named',
      createdAt: Math.floor(s.createdAtMs / 1000),
      recencyAt: Math.floor((T0 + 2500) / 1000),
      ephemeral: false,
      path: s.path,
    })
  })

  it('applies every filter', async () => {
    const index = await loadIndex(await tempHome())
    const spawn: SessionSource = {
      subAgent: {
        thread_spawn: {
          parent_thread_id: 'p',
          depth: 1,
          agent_path: null,
          agent_nickname: null,
          agent_role: null,
        },
      },
    }
    const all = [
      summary(1, { cwd: '/work/a', name: 'Fix the Parser' }),
      summary(2, { cwd: '/work/b', preview: 'please REFACTOR the parser' }),
      summary(3, { cwd: '/work/c', archived: true }),
      summary(4, { source: 'cli', modelProvider: 'ollama' }),
      summary(5, { source: 'exec' }),
      summary(6, { source: spawn }),
      summary(7, { source: { subAgent: 'review' } }),
      summary(8, { source: 'appServer', modelProvider: 'lmstudio' }),
      summary(9, { source: 'unknown' }),
    ]
    await Promise.all(all.map((s) => index.upsert(s)))
    const ids = (params: ThreadListParams) =>
      index.list({ ...params, sortDirection: 'asc', limit: 100 }).data.map((t) => Number(t.id.slice(-12)))
    expect(ids({})).toEqual([1, 2, 4, 5, 8, 9])
    expect(ids({ archived: true })).toEqual([3])
    expect(ids({ cwd: '/work/b' })).toEqual([2])
    expect(ids({ cwd: '/work/a' })).toEqual([1, 4, 5, 8, 9])
    expect(ids({ cwd: ['/work/b', '/work/c'] })).toEqual([2])
    expect(ids({ cwd: [] })).toEqual([1, 2, 4, 5, 8, 9])
    expect(ids({ cwd: ['/work/b', '/work/c'], archived: true })).toEqual([3])
    expect(ids({ searchTerm: 'parser' })).toEqual([1, 2])
    expect(ids({ searchTerm: 'PARSER', cwd: '/work/a' })).toEqual([1])
    expect(ids({ searchTerm: 'nothing like it' })).toEqual([])
    expect(ids({ sourceKinds: [] })).toEqual([1, 2, 4, 5, 8, 9])
    expect(ids({ sourceKinds: ['cli', 'exec'] })).toEqual([4, 5])
    expect(ids({ sourceKinds: ['subAgent'] })).toEqual([6, 7])
    expect(ids({ sourceKinds: ['subAgentThreadSpawn'] })).toEqual([6])
    expect(ids({ sourceKinds: ['subAgentReview', 'appServer'] })).toEqual([7, 8])
    expect(ids({ modelProviders: ['ollama', 'lmstudio'] })).toEqual([4, 8])
    expect(ids({ modelProviders: [] })).toEqual([1, 2, 4, 5, 8, 9])
  })
})

// ---------------------------------------------------------------------------------------------

const meta = newSessionMeta

/** Three real threads: one with a turn, a name and a preview; one renamed twice; one archived. */
async function populate(home: string, index: ThreadIndex) {
  const store = new RolloutStore({ home, index })
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()]
  const first = await store.create(meta(a))
  await first.writer.append('turn_started', { turnId: 't1', startedAt: 1 })
  await first.writer.append('item_completed', {
    turnId: 't1',
    item: {
      type: 'userMessage',
      id: 'u1',
      clientId: null,
      content: [{ type: 'text', text: 'Hello index', text_elements: [] }],
    },
  })
  await first.writer.append('turn_completed', {
    turnId: 't1',
    status: 'completed',
    error: null,
    completedAt: 2,
    durationMs: 5,
  })
  await first.writer.append('thread_settings', { name: 'Alpha', overrides: { model: 'gpt-other' } })
  const second = await store.create(meta(b, { cwd: '/work/other' }))
  await second.writer.append('thread_settings', { name: 'Beta 1' })
  await second.writer.append('thread_settings', { name: 'Beta 2' })
  await store.create(meta(c))
  await store.archive(c)
  await store.close()
  await index.flush()
  return { a, b, c }
}

describe('the index log', () => {
  it('follows the rollouts: name, preview, model, recency and updated time', async () => {
    const home = await tempHome()
    const index = await loadIndex(home)
    const { a, b } = await populate(home, index)
    expect(index.get(a)).toMatchObject({ name: 'Alpha', preview: 'Hello index', model: 'gpt-other' })
    expect(index.get(a)?.recencyAtMs).toEqual(expect.any(Number))
    expect(index.get(b)).toMatchObject({ name: 'Beta 2', preview: '', recencyAtMs: null, cwd: '/work/other' })
    expect(index.list({ searchTerm: 'hello' }).data.map((t) => t.id)).toEqual([a])
  })

  it('loads from the log on restart with the same contents', async () => {
    const home = await tempHome()
    const index = await loadIndex(home)
    await populate(home, index)
    const before = [...index.all()].sort((x, y) => x.id.localeCompare(y.id))
    const reloaded = await loadIndex(home)
    expect(reloaded.loadedFrom).toBe('log')
    expect([...reloaded.all()].sort((x, y) => x.id.localeCompare(y.id))).toEqual(before)
  })

  it('rebuilds itself by scanning the rollouts when thread_index.jsonl is deleted, and says so', async () => {
    const home = await tempHome()
    const index = await loadIndex(home)
    const { a, b, c } = await populate(home, index)
    const before = [...index.all()].sort((x, y) => x.id.localeCompare(y.id))
    await unlink(join(home, INDEX_FILE))
    const logs: string[] = []
    const rebuilt = await loadIndex(home, { logs })
    expect(rebuilt.loadedFrom).toBe('rebuild')
    expect([...rebuilt.all()].sort((x, y) => x.id.localeCompare(y.id))).toEqual(before)
    expect(rebuilt.get(c)?.archived).toBe(true)
    expect(
      rebuilt
        .list()
        .data.map((t) => t.id)
        .sort(),
    ).toEqual([a, b].sort())
    const message = logs.map((l) => JSON.parse(l)).find((l) => l.message.includes('rebuilt the thread index'))
    expect(message).toMatchObject({ level: 'info', threads: 3, reason: 'the index file is missing' })
    // The rebuild wrote a fresh log, so the next start is fast again.
    expect(existsSync(join(home, INDEX_FILE))).toBe(true)
    expect((await loadIndex(home)).loadedFrom).toBe('log')
  })

  it('rebuilds when the log has no readable line at all', async () => {
    const home = await tempHome()
    const index = await loadIndex(home)
    const { a } = await populate(home, index)
    await index.close()
    await writeFile(join(home, INDEX_FILE), 'garbage\n\u0000\u0001\n')
    const rebuilt = await loadIndex(home)
    expect(rebuilt.loadedFrom).toBe('rebuild')
    expect(rebuilt.get(a)?.name).toBe('Alpha')
  })

  it('skips a corrupt line and a torn last line, keeps the rest and rewrites the file clean', async () => {
    const home = await tempHome()
    const index = await loadIndex(home)
    const { a, b } = await populate(home, index)
    await index.close()
    const path = join(home, INDEX_FILE)
    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n')
    lines.splice(1, 0, '{"op":"upsert","thr')
    await writeFile(path, lines.join('\n') + '\n{"op":"delete","id":"' + a.slice(0, 4))
    const logs: string[] = []
    const reloaded = await loadIndex(home, { logs })
    expect(reloaded.loadedFrom).toBe('log')
    expect(reloaded.get(a)?.name).toBe('Alpha')
    expect(reloaded.get(b)?.name).toBe('Beta 2')
    expect(logs.join('')).toContain('unreadable lines')
    const text = readFileSync(path, 'utf8')
    expect(text.endsWith('\n')).toBe(true)
    expect(
      text
        .trimEnd()
        .split('\n')
        .every((l) => JSON.parse(l)),
    ).toBe(true)
  })

  it('compacts itself atomically once the log grows past twice the live entries', async () => {
    const home = await tempHome()
    const index = await loadIndex(home, { compactMinLines: 8 })
    const summaries = Array.from({ length: 5 }, (_, i) => summary(i))
    await Promise.all(summaries.map((s) => index.upsert(s)))
    let maxLines = 0
    for (let round = 0; round < 40; round++) {
      const s = summaries[round % 5] as ThreadSummary
      await index.upsert({ ...s, name: `name ${round}` })
      // Each append starts with a newline (so a torn line cannot swallow it): count the lines.
      const fileLines = readFileSync(index.path, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '').length
      expect(fileLines).toBe(index.logLineCount)
      maxLines = Math.max(maxLines, fileLines)
    }
    expect(maxLines).toBeLessThanOrEqual(Math.max(2 * 5, 8))
    await index.delete(summaries[0]?.id as string)
    expect(existsSync(`${index.path}.tmp-${process.pid}`)).toBe(false)
    const reloaded = await loadIndex(home)
    expect(reloaded.size).toBe(4)
    expect(reloaded.get(summaries[4]?.id as string)?.name).toBe('name 39')
  })
})

describe('one home, several indexes', () => {
  it('two indexes on one home list each other’s threads and lose none while one compacts', async () => {
    const home = await tempHome()
    const a = await loadIndex(home, { compactMinLines: 4 })
    const b = await loadIndex(home, { compactMinLines: 4 })
    const fromA = Array.from({ length: 80 }, (_, i) => summary(i))
    const fromB = Array.from({ length: 80 }, (_, i) => summary(1000 + i))
    // One line per append, three names per thread: both compact many times while the other appends.
    const run = async (index: ThreadIndex, list: ThreadSummary[]) => {
      for (let round = 0; round < 3; round++)
        for (const s of list) await index.upsert({ ...s, name: `round ${round}` })
    }
    await Promise.all([run(a, fromA), run(b, fromB)])
    await Promise.all([a.flush(), b.flush()])
    const all = [...fromA, ...fromB].map((s) => s.id).sort()
    const listed = (index: ThreadIndex) => allPages(index, { limit: 100 }).sort()
    expect(listed(a)).toEqual(all)
    expect(listed(b)).toEqual(all)
    const fresh = await loadIndex(home)
    expect(listed(fresh)).toEqual(all)
    expect(new Set([...fresh.all()].map((s) => s.name))).toEqual(new Set(['round 2']))
    // Compaction did run: far fewer lines than the 480 appended.
    expect(fresh.logLineCount).toBeLessThan(480)
  })

  it('a reader skips a torn last line, and the next append stays whole', async () => {
    const home = await tempHome()
    const index = await loadIndex(home)
    await index.upsert(summary(1))
    await index.close()
    await writeFile(join(home, INDEX_FILE), (await readFile(join(home, INDEX_FILE), 'utf8')) + '{"op":"upse')
    const reader = await loadIndex(home)
    expect(reader.size).toBe(1)
    await reader.upsert(summary(2))
    const fresh = await loadIndex(home)
    expect([...fresh.all()].map((s) => s.id).sort()).toEqual([summary(1).id, summary(2).id])
  })

  it('lists a rollout copied in behind the index’s back after the next start, and logs it', async () => {
    const home = await tempHome()
    const index = await loadIndex(home)
    const { a, b } = await populate(home, index)
    await index.close()
    // A rollout made in another home, copied into this one's sessions folder.
    const other = await tempHome()
    const otherIndex = await loadIndex(other)
    const { writer, path } = await new RolloutStore({ home: other, index: otherIndex }).create(
      meta(randomUUID()),
    )
    await writer.close()
    const copied = join(home, 'sessions', 'copied', 'in', 'here', path.slice(path.lastIndexOf('/') + 1))
    await mkdir(join(copied, '..'), { recursive: true })
    await copyFile(path, copied)
    const logs: string[] = []
    const reloaded = await loadIndex(home, { logs })
    expect(reloaded.loadedFrom).toBe('log')
    const copiedId = otherIndex.list().data[0]?.id as string
    expect(
      reloaded
        .list()
        .data.map((t) => t.id)
        .sort(),
    ).toEqual([a, b, copiedId].sort())
    expect(reloaded.get(copiedId)?.path).toBe(copied)
    expect(logs.join('')).toContain('missed rollouts on disk')
    // Now in the file: the next start finds nothing to add.
    const again: string[] = []
    await loadIndex(home, { logs: again })
    expect(again.join('')).not.toContain('missed rollouts on disk')
  })
})

describe('the start-up check of the rollout folders', () => {
  /** A rollout made in another home, for copying into this one's folders. */
  async function foreignRollout(): Promise<{ id: string; path: string }> {
    const other = await tempHome()
    const otherIndex = await loadIndex(other)
    const { writer, path } = await new RolloutStore({ home: other, index: otherIndex }).create(
      meta(randomUUID()),
    )
    await writer.close()
    return { id: otherIndex.list().data[0]?.id as string, path }
  }

  /** Every rollout folder of the home, with its mtime moved a minute back (out of the racy window). */
  async function settleFolders(home: string): Promise<string[]> {
    const folders: string[] = []
    const walk = async (dir: string, depth: number): Promise<void> => {
      const names = await readdir(dir).catch(() => [] as string[])
      if (depth === 0) folders.push(dir)
      else for (const name of names) await walk(join(dir, name), depth - 1)
    }
    await walk(join(home, 'sessions'), 3)
    const past = new Date(Date.now() - 60_000)
    for (const dir of folders) await utimes(dir, past, past)
    return folders
  }

  it('skips the folders it saw fully listed, and reads one again once something lands in it', async () => {
    const home = await tempHome()
    const index = await loadIndex(home)
    const { a, b } = await populate(home, index)
    await index.close()
    const [folder] = await settleFolders(home)
    await loadIndex(home) // records the settled folders
    const recorded = JSON.parse(await readFile(join(home, SCAN_CACHE_FILE), 'utf8')) as { dirs: object }
    expect(Object.keys(recorded.dirs)).toContain(folder)

    // A rollout dropped into a recorded folder changes its mtime: the next start lists it.
    const dropped = await foreignRollout()
    await copyFile(dropped.path, join(folder as string, basename(dropped.path)))
    const reloaded = await loadIndex(home)
    expect(reloaded.get(dropped.id)?.path).toBe(join(folder as string, basename(dropped.path)))
    expect([a, b].every((id) => reloaded.get(id) !== undefined)).toBe(true)
  })

  it('checks every folder again when the index file was replaced', async () => {
    const home = await tempHome()
    const index = await loadIndex(home)
    await populate(home, index)
    await index.close()
    const [folder] = (await settleFolders(home)) as [string]
    await loadIndex(home)
    // A rollout in a recorded folder whose mtime reads as before (as a same-tick write would): skipped,
    // which shows the folder was not read...
    const hidden = await foreignRollout()
    const { mtime } = await stat(folder)
    await copyFile(hidden.path, join(folder, basename(hidden.path)))
    await utimes(folder, mtime, mtime)
    expect((await loadIndex(home)).get(hidden.id)).toBeUndefined()
    // ...until the index file is replaced (restored from a copy, compacted): then every folder is read.
    const indexPath = join(home, INDEX_FILE)
    await copyFile(indexPath, `${indexPath}.copy`)
    await rename(`${indexPath}.copy`, indexPath)
    expect((await loadIndex(home)).get(hidden.id)?.path).toBe(join(folder, basename(hidden.path)))
  })
})
