import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readdir, readFile, stat, truncate, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { ThreadListParams } from '../../src/worker/protocol/items'
import { SNAPSHOT_FILE } from '../../src/worker/threads/indexSnapshot'
import { cleanStaleFiles } from '../../src/worker/threads/staleFiles'
import { INDEX_FILE, ThreadIndex, type ThreadSummary } from '../../src/worker/threads/threadIndex'
import { REPO_ROOT, TSX_LOADER } from '../support/appServerProcess'
import { threadIndexKit } from '../support/threadIndexKit'

const kit = threadIndexKit('codex-desk-snapshot-')
const { tempHome } = kit

/** Snapshots for any number of threads, after every `tailLines` lines, written right away. */
function loadIndex(
  home: string,
  options: { tailLines?: number; compactMinLines?: number; snapshots?: boolean; logs?: string[] } = {},
) {
  return kit.loadIndex(home, {
    snapshotMinThreads: options.snapshots === false ? Number.MAX_SAFE_INTEGER : 1,
    snapshotTailLines: options.tailLines ?? 1_000_000,
    snapshotDelayMs: 0,
    ...(options.compactMinLines !== undefined ? { compactMinLines: options.compactMinLines } : {}),
    ...(options.logs ? { logs: options.logs } : {}),
  })
}

const T0 = Date.parse('2030-01-01T00:00:00.000Z')

function summary(i: number, overrides: Partial<ThreadSummary> = {}): ThreadSummary {
  const id = `0198b000-0000-7000-8000-${String(i).padStart(12, '0')}`
  return {
    id,
    path: `/nowhere/rollout-${id}.jsonl`,
    archived: i % 9 === 0,
    createdAtMs: T0 + i * 1000,
    updatedAtMs: T0 + ((i * 7919) % 1000) * 1000,
    recencyAtMs: i % 5 === 0 ? null : T0 + ((i * 104729) % 997) * 1000,
    name: i % 3 === 0 ? `Thread ${i}` : null,
    preview: `message ${i} about the parser`,
    cwd: `/work/${i % 4}`,
    modelProvider: i % 7 === 0 ? 'ollama' : 'openai',
    model: 'gpt-test',
    reasoningEffort: null,
    source: i % 10 === 0 ? 'cli' : 'vscode',
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

function allPages(index: ThreadIndex, params: ThreadListParams): string[] {
  const ids: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 1000; page++) {
    const result = index.list({ ...params, cursor })
    ids.push(...result.data.map((t) => t.id))
    if (!result.nextCursor) return ids
    cursor = result.nextCursor
  }
  throw new Error('pagination did not end')
}

/** Everything a client can see of an index: every listing we check, and every summary. */
function view(index: ThreadIndex) {
  const listings: Record<string, unknown> = {}
  for (const sortKey of ['created_at', 'updated_at', 'recency_at'] as const)
    for (const sortDirection of ['asc', 'desc'] as const)
      for (const archived of [false, true])
        listings[`${sortKey} ${sortDirection} ${archived}`] = allPages(index, {
          sortKey,
          sortDirection,
          archived,
          limit: 7,
        })
  listings.search = allPages(index, { searchTerm: 'Thread 1', limit: 5 })
  listings.cwd = allPages(index, { cwd: '/work/2', modelProviders: ['openai'] })
  listings.sources = allPages(index, { sourceKinds: ['cli'] })
  listings.firstPage = index.list({ limit: 25 }).data
  const summaries = [...index.all()].sort((a, b) => a.id.localeCompare(b.id))
  return { listings, summaries }
}

/** The view of a new index that reads the whole log (no snapshot). */
async function truth(home: string) {
  const copy = await tempHome()
  await writeFile(join(copy, INDEX_FILE), await readFile(join(home, INDEX_FILE)))
  const index = await loadIndex(copy, { snapshots: false })
  expect(index.loadedFrom).toBe('log')
  return view(index)
}

async function seeded(count: number) {
  const home = await tempHome()
  const index = await loadIndex(home)
  for (let i = 0; i < count; i++) void index.upsert(summary(i))
  await index.close()
  expect(existsSync(join(home, SNAPSHOT_FILE))).toBe(true)
  return home
}

describe('the thread index snapshot', () => {
  it('a new index loads the snapshot and lists exactly what the whole log holds', async () => {
    const home = await seeded(120)
    const index = await loadIndex(home)
    expect(index.loadedFrom).toBe('snapshot')
    expect(index.size).toBe(120)
    expect(view(index)).toEqual(await truth(home))
    expect(index.thread(summary(42).id)).toMatchObject({
      preview: 'message 42 about the parser',
      name: 'Thread 42',
    })
  })

  it('answers lookups by id before and after its rows are all made, as the whole log does', async () => {
    const home = await seeded(120)
    const index = await loadIndex(home)
    expect(index.loadedFrom).toBe('snapshot')
    // A first listing (117 is archived), then lookups: the first few scan the ids, later ones the map.
    expect(index.list({ limit: 3 }).data.map((t) => t.id)).toEqual([119, 118, 116].map((i) => summary(i).id))
    for (let i = 0; i < 40; i++) {
      expect(index.get(summary(i * 3).id)?.preview).toBe(`message ${i * 3} about the parser`)
      expect(index.get(summary(1000 + i).id)).toBeUndefined()
    }
    expect(view(index)).toEqual(await truth(home))
  })

  it('reads the lines another process appended after the snapshot was written', async () => {
    const home = await seeded(60)
    // Another process, with no snapshots of its own, renames, adds, archives and deletes threads.
    const other = await loadIndex(home, { snapshots: false })
    expect(other.loadedFrom).toBe('snapshot')
    for (let i = 0; i < 10; i++) await other.upsert(summary(i, { name: `renamed ${i}` }))
    for (let i = 60; i < 75; i++) await other.upsert(summary(i))
    await other.setArchived(summary(11).id, true, '/nowhere/archived.jsonl')
    await other.delete(summary(12).id)
    await other.delete(summary(61).id)
    await other.close()

    const index = await loadIndex(home)
    expect(index.loadedFrom).toBe('snapshot')
    expect(index.size).toBe(73)
    expect(index.get(summary(12).id)).toBeUndefined()
    expect(index.get(summary(3).id)?.name).toBe('renamed 3')
    expect(view(index)).toEqual(await truth(home))
  })

  it('ignores a snapshot of a log file that was compacted since, and writes a new one', async () => {
    const home = await seeded(40)
    const before = await stat(join(home, SNAPSHOT_FILE))
    const other = await loadIndex(home, { snapshots: false, compactMinLines: 4 })
    // Enough lines to compact: the log is a new file the old snapshot does not describe.
    for (let round = 0; round < 3; round++)
      for (let i = 0; i < 40; i++) await other.upsert(summary(i, { name: `round ${round}` }))
    await other.close()

    const index = await loadIndex(home)
    expect(index.loadedFrom).toBe('log')
    expect(index.get(summary(5).id)?.name).toBe('round 2')
    expect(view(index)).toEqual(await truth(home))
    await index.close()
    expect((await stat(join(home, SNAPSHOT_FILE))).mtimeMs).toBeGreaterThanOrEqual(before.mtimeMs)
    const next = await loadIndex(home)
    expect(next.loadedFrom).toBe('snapshot')
    expect(view(next)).toEqual(await truth(home))
  })

  it('falls back to the log when the snapshot is truncated or its header is damaged', async () => {
    for (const damage of ['truncate', 'header', 'columns', 'empty'] as const) {
      const home = await seeded(50)
      const path = join(home, SNAPSHOT_FILE)
      const bytes = await readFile(path)
      if (damage === 'truncate') await truncate(path, bytes.length - 100)
      else if (damage === 'empty') await writeFile(path, '')
      else {
        const at = damage === 'header' ? 5 : bytes.indexOf(0x0a) + 20
        bytes[at] = 0x7b
        await writeFile(path, bytes)
      }
      const index = await loadIndex(home)
      expect(index.loadedFrom, damage).toBe('log')
      expect(view(index)).toEqual(await truth(home))
    }
  })

  it('drops a snapshot whose entry turns out damaged, says so, and lists everything from the log', async () => {
    const home = await seeded(50)
    const path = join(home, SNAPSHOT_FILE)
    const bytes = await readFile(path)
    // Break the entry of the newest thread (the last line): the first page has to show it.
    const last = bytes.lastIndexOf(Buffer.from('"id":"'))
    bytes.write('#', last + 2)
    await writeFile(path, bytes)
    const logs: string[] = []
    const index = await loadIndex(home, { logs })
    expect(index.loadedFrom).toBe('snapshot')
    const page = index.list({ limit: 25 })
    expect(page.data[0]?.id).toBe(summary(49).id)
    expect(logs.join('')).toContain('snapshot is damaged')
    expect(view(index)).toEqual(await truth(home))
    await index.close()
    // A good snapshot replaces it.
    const next = await loadIndex(home)
    expect(next.loadedFrom).toBe('snapshot')
    expect(view(next)).toEqual(await truth(home))
  })

  it('two processes on one home, both writing snapshots while they append and compact, lose nothing', async () => {
    const home = await seeded(30)
    const a = await loadIndex(home, { tailLines: 5, compactMinLines: 8 })
    const b = await loadIndex(home, { tailLines: 7, compactMinLines: 8 })
    const run = async (index: ThreadIndex, from: number) => {
      for (let round = 0; round < 3; round++)
        for (let i = from; i < from + 40; i++) await index.upsert(summary(i, { name: `round ${round}` }))
    }
    await Promise.all([run(a, 0), run(b, 100)])
    await Promise.all([a.close(), b.close()])
    const fresh = await loadIndex(home)
    expect(fresh.size).toBe(80)
    expect(new Set([...fresh.all()].map((s) => s.name))).toEqual(new Set(['round 2']))
    expect(view(fresh)).toEqual(await truth(home))
  })

  it('a process killed at any moment while writing snapshots leaves a home that lists everything', async () => {
    const home = await seeded(200)
    const script = join(home, 'writer.mts')
    // Renames threads one line at a time, with a snapshot after every line, until killed.
    await writeFile(
      script,
      [
        `import { ThreadIndex } from ${JSON.stringify(join(REPO_ROOT, 'src/worker/threads/threadIndex.ts'))}`,
        `const index = await ThreadIndex.load({ home: ${JSON.stringify(home)}, snapshotMinThreads: 1, snapshotTailLines: 1, snapshotDelayMs: 0 })`,
        `const rows = [...index.all()]`,
        `process.stdout.write('ready\\n')`,
        `for (let n = 0; ; n++) {`,
        `  const s = rows[n % rows.length]`,
        `  await index.upsert({ ...s, name: 'kill ' + n, updatedAtMs: s.updatedAtMs + n })`,
        `}`,
      ].join('\n'),
    )
    for (let round = 0; round < 6; round++) {
      const child = spawn(process.execPath, ['--import', TSX_LOADER, script], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      await new Promise<void>((resolve, reject) => {
        child.stdout.once('data', () => resolve())
        child.once('exit', (code) => reject(new Error(`the writer exited with ${code}`)))
      })
      // A different moment of the snapshot cycle each round.
      await new Promise((resolve) => setTimeout(resolve, 20 + round * 37))
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
      const index = await loadIndex(home, { snapshots: false })
      expect(index.size).toBe(200)
      expect(view(index)).toEqual(await truth(home))
      await index.close()
    }
    // The temp files of the killed writes are a dead process's: start-up cleaning removes them.
    await cleanStaleFiles(home)
    expect((await readdir(home)).filter((name) => name.endsWith('.tmp'))).toEqual([])
  })

  it('writes no snapshot for a small home, and a missing one is simply not used', async () => {
    const home = await tempHome()
    const small = await ThreadIndex.load({ home })
    for (let i = 0; i < 20; i++) await small.upsert(summary(i))
    await small.close()
    expect(existsSync(join(home, SNAPSHOT_FILE))).toBe(false)
    const big = await seeded(30)
    await unlink(join(big, SNAPSHOT_FILE))
    const index = await loadIndex(big, { snapshots: false })
    expect(index.loadedFrom).toBe('log')
    expect(index.size).toBe(30)
  })
})
