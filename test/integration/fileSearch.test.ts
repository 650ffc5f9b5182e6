/**
 * Fuzzy file search against the real core: ranking with match indices, `.gitignore` / `.ignore`
 * respected and hidden files kept (as codex), cancellation by token, a session that reports as its
 * query changes, and a cached list that notices new files.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { writeFiles } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import { startHarness, type Harness } from '../support/threadHarness'
import { WAIT_MS, type TestClient } from '../support/testClient'

interface FileResult {
  root: string
  path: string
  match_type: 'file' | 'directory'
  file_name: string
  score: number
  indices: number[] | null
}

const TREE: Record<string, string> = {
  '.gitignore': 'node_modules/\nbuild\n',
  '.ignore': 'ign/\n',
  'src/components/Button.tsx': '',
  'src/main.ts': '',
  'src/domain/make_it.ts': '',
  'node_modules/pkg/button.js': '',
  'build/button.out': '',
  'ign/button.x': '',
  '.hidden/button.txt': '',
  'sub/.gitignore': '*.log\n!keep.log\n',
  'sub/a.log': '',
  'sub/keep.log': '',
  'sub/a.txt': '',
  'README.md': '',
}

describe.each(['stdio', 'ws'] as const)('fuzzy file search over %s', (transport) => {
  let harness: Harness
  let client: TestClient
  let root: string

  beforeAll(async () => {
    harness = await startHarness(transport)
    client = await harness.connect('fs_client', { experimentalApi: true })
    root = await mkdtemp(path.join(tmpdir(), 'desk-fuzzy-'))
    await writeFiles(root, TREE)
  })
  afterAll(async () => {
    await harness.dispose()
    await rm(root, { recursive: true, force: true })
  })

  const search = async (query: string, roots = [root]): Promise<FileResult[]> =>
    (await client.request('fuzzyFileSearch', { query, roots })).files as FileResult[]

  it('ranks file-name matches first and gives the matched character positions', async () => {
    const files = await search('button')
    for (const file of files) expectCodexShape('FuzzyFileSearchResult', file)
    expect(files.map((f) => f.path)).toEqual(['.hidden/button.txt', 'src/components/Button.tsx'])
    const button = files[1] as FileResult
    expect(button).toMatchObject({ root, file_name: 'Button.tsx', match_type: 'file' })
    expect(
      button.indices
        ?.map((i) => button.path[i])
        .join('')
        .toLowerCase(),
    ).toBe('button')
    const main = await search('main')
    expect(main[0]?.path).toBe('src/main.ts')
    expect(main.map((f) => f.path)).toContain('src/domain/make_it.ts')
    expect(main[0]!.score).toBeGreaterThan(main.find((f) => f.path === 'src/domain/make_it.ts')!.score)
  })

  it('reports matching directories as directories', async () => {
    const files = await search('comp')
    expect(files[0]).toMatchObject({
      path: 'src/components',
      match_type: 'directory',
      file_name: 'components',
    })
  })

  it('leaves out what .gitignore and .ignore exclude, at any depth, and keeps hidden files', async () => {
    const all = [...(await search('button')), ...(await search('log')), ...(await search('a.txt'))].map(
      (f) => f.path,
    )
    expect(all).not.toContain('node_modules/pkg/button.js')
    expect(all).not.toContain('build/button.out')
    expect(all).not.toContain('ign/button.x')
    expect(all).not.toContain('sub/a.log')
    expect(all).toContain('sub/keep.log')
    expect(all).toContain('sub/a.txt')
    expect(all).toContain('.hidden/button.txt')
  })

  it('answers an empty query or no roots with no files', async () => {
    expect(await search('')).toEqual([])
    expect(await search('main', [])).toEqual([])
  })

  it('cancels a search when a newer one with the same token arrives', async () => {
    const big = await mkdtemp(path.join(tmpdir(), 'desk-fuzzy-big-'))
    try {
      const files: Record<string, string> = {}
      for (let d = 0; d < 200; d++) for (let f = 0; f < 10; f++) files[`d${d}/file${f}.txt`] = ''
      files['d7/target_needle.rs'] = ''
      await writeFiles(big, files)
      const params = (query: string) => ({ query, roots: [big], cancellationToken: 'typing' })
      // Back to back: the first is still walking the new root (200 directories) when the second cancels it.
      client.send({ id: 'old', method: 'fuzzyFileSearch', params: params('file') })
      client.send({ id: 'new', method: 'fuzzyFileSearch', params: params('needle') })
      const [older, newer] = await Promise.all([client.waitForResponse('old'), client.waitForResponse('new')])
      expect(older.result).toEqual({ files: [] })
      expect((newer.result as { files: FileResult[] }).files.map((f) => f.path)).toEqual([
        'd7/target_needle.rs',
      ])
    } finally {
      await rm(big, { recursive: true, force: true })
    }
  })

  it('runs a session that reports each new query, then completes', async () => {
    const sessionId = `s-${transport}`
    expect(await client.request('fuzzyFileSearch/sessionStart', { sessionId, roots: [root] })).toEqual({})
    const updated = (query: string) =>
      client.waitForNotification(
        'fuzzyFileSearch/sessionUpdated',
        (p) =>
          (p as { sessionId: string; query: string }).sessionId === sessionId &&
          (p as { query: string }).query === query,
      )
    await client.request('fuzzyFileSearch/sessionUpdate', { sessionId, query: 'mai' })
    const first = await updated('mai')
    expectCodexShape('ServerNotification', { method: first.method, params: first.params })
    expect((first.params as { files: FileResult[] }).files[0]?.path).toBe('src/main.ts')
    const completed = await client.waitForNotification(
      'fuzzyFileSearch/sessionCompleted',
      (p) => (p as { sessionId: string }).sessionId === sessionId,
    )
    expectCodexShape('ServerNotification', { method: completed.method, params: completed.params })
    await client.request('fuzzyFileSearch/sessionUpdate', { sessionId, query: 'butt' })
    const second = await updated('butt')
    expect((second.params as { files: FileResult[] }).files.map((f) => f.file_name)).toEqual([
      'button.txt',
      'Button.tsx',
    ])
    await client.request('fuzzyFileSearch/sessionUpdate', { sessionId, query: '' })
    expect((await updated('')).params).toMatchObject({ files: [] })
    expect(await client.request('fuzzyFileSearch/sessionStop', { sessionId })).toEqual({})
    const gone = await client.call('fuzzyFileSearch/sessionUpdate', { sessionId, query: 'x' })
    expect(gone.error).toEqual({ code: -32600, message: `fuzzy file search session not found: ${sessionId}` })
  })

  it('finds a file created after the list was cached', async () => {
    expect(await search('freshly_added')).toEqual([])
    await writeFile(path.join(root, 'src', 'freshly_added.ts'), '')
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      const files = await search('freshly_added')
      if (files.some((f) => f.path === 'src/freshly_added.ts')) break
      if (Date.now() > deadline) throw new Error('the new file never appeared')
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  })
})

describe('fuzzy file search sessions', () => {
  it('require the experimental API, as in codex', async () => {
    const harness = await startHarness('stdio')
    try {
      const client = await harness.connect()
      const response = await client.call('fuzzyFileSearch/sessionStart', {
        sessionId: 'a',
        roots: [tmpdir()],
      })
      expect(response.error?.message).toBe('fuzzyFileSearch/sessionStart requires experimentalApi capability')
    } finally {
      await harness.dispose()
    }
  })
})
