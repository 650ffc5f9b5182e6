import { spawn } from 'node:child_process'
import { copyFile, mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { makeTempDir, REPO_ROOT, TSX_LOADER } from '../support/appServerProcess'
import { WAIT_MS, withTimeout, type TestClient } from '../support/testClient'
import { startHarness, startThread, type Harness } from '../support/threadHarness'
import { ThreadIndex } from '../../src/worker/threads/threadIndex'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

async function sharedHome(): Promise<string> {
  const dir = await makeTempDir('codex-desk-shared-')
  cleanups.push(() => dir.remove())
  return dir.path
}

async function server(home: string): Promise<{ harness: Harness; client: TestClient }> {
  const harness = await startHarness('stdio', { home })
  cleanups.push(() => harness.dispose())
  return { harness, client: await harness.connect() }
}

/** Every thread id `thread/list` shows, following nextCursor. */
async function listAll(client: TestClient): Promise<string[]> {
  const ids: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 100; page++) {
    const result: { data: { id: string }[]; nextCursor: string | null } = await client.request(
      'thread/list',
      {
        limit: 100,
        ...(cursor ? { cursor } : {}),
      },
    )
    ids.push(...result.data.map((t) => t.id))
    if (!result.nextCursor) return ids.sort()
    cursor = result.nextCursor
  }
  throw new Error('thread/list did not end')
}

describe('several servers on one home', () => {
  it('two servers creating 60 threads each at once: a third lists all 120, and so do both', async () => {
    const home = await sharedHome()
    const [first, second] = await Promise.all([server(home), server(home)])
    const create = (client: TestClient) =>
      Promise.all(Array.from({ length: 60 }, () => startThread(client).then((r) => r.thread.id)))
    const [a, b] = await Promise.all([create(first.client), create(second.client)])
    const all = [...a, ...b].sort()
    expect(new Set(all).size).toBe(120)
    const third = await server(home)
    expect(await listAll(third.client)).toEqual(all)
    // The running servers follow the shared index: each lists the other's threads.
    expect(await listAll(first.client)).toEqual(all)
    expect(await listAll(second.client)).toEqual(all)
  })

  it('a rollout copied into the home behind the index’s back is listed by the next server', async () => {
    const home = await sharedHome()
    const source = await sharedHome()
    const before = await server(home)
    const kept = (await startThread(before.client)).thread.id
    const elsewhere = await server(source)
    const copied = await startThread(elsewhere.client)
    const target = join(home, 'sessions', '2031', '01', '01')
    await mkdir(target, { recursive: true })
    await copyFile(
      copied.thread.path as string,
      join(target, (copied.thread.path as string).split('/').pop() as string),
    )
    const after = await server(home)
    expect(await listAll(after.client)).toEqual([kept, copied.thread.id].sort())
  })
})

/** A process that loads the index on `home` with a tiny compaction threshold and upserts `count` threads, each named 3 times. */
const CHILD = `
import { ThreadIndex } from ${JSON.stringify(join(REPO_ROOT, 'src/worker/threads/threadIndex.ts'))}
const [home, tag, count] = process.argv.slice(2)
const index = await ThreadIndex.load({ home, compactMinLines: 4 })
for (let round = 0; round < 3; round++) {
  for (let i = 0; i < Number(count); i++) {
    const id = '0198a000-0000-7000-' + tag + '-' + String(i).padStart(12, '0')
    await index.upsert({
      id, path: '/nowhere/' + id, archived: false, createdAtMs: i, updatedAtMs: i, recencyAtMs: null,
      name: 'round ' + round, preview: '', cwd: '/w', modelProvider: 'mock', model: null,
      reasoningEffort: null, source: 'cli', sessionId: id, forkedFromId: null, parentThreadId: null,
      cliVersion: '0', originator: null, threadSource: null, agentNickname: null, agentRole: null,
      gitInfo: null, historyMode: 'paginated', projectId: null,
    })
  }
}
await index.close()
`

async function runChild(script: string, args: string[]): Promise<void> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, script, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
  const code = await withTimeout(
    new Promise<number | null>((r) => child.once('exit', (c) => r(c))),
    WAIT_MS,
    'an index writer process to finish',
    () => child.kill('SIGKILL'),
  )
  if (code !== 0) throw new Error(`index writer exited with ${code}: ${stderr}`)
}

describe('the shared index file', () => {
  it('loses no line when one process compacts while another appends', async () => {
    const home = await sharedHome()
    const script = join(home, '..', `index-writer-${process.pid}-${Date.now()}.mts`)
    await writeFile(script, CHILD)
    cleanups.push(() => import('node:fs/promises').then((fs) => fs.rm(script, { force: true })))
    await Promise.all([runChild(script, [home, '8000', '100']), runChild(script, [home, '9000', '100'])])
    const index = await ThreadIndex.load({ home })
    cleanups.push(() => index.close())
    const summaries = [...index.all()]
    expect(summaries).toHaveLength(200)
    expect(new Set(summaries.map((s) => s.name))).toEqual(new Set(['round 2']))
    // Both compacted many times: the file is far shorter than the 600 lines appended.
    expect(index.logLineCount).toBeLessThan(600)
    // And no compaction lock or temp file is left behind.
    expect((await readdir(home)).sort()).toEqual(['thread_index.jsonl'])
  })
})
