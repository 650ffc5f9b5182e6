import { fork, spawnSync, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join, relative } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { decodeLines, type RolloutLine } from '../../src/worker/threads/rollout'
import {
  RolloutStore,
  type NewSessionMeta,
  type RolloutStoreOptions,
} from '../../src/worker/threads/rolloutStore'
import { EphemeralSink, RolloutWriteError, type RolloutFile } from '../../src/worker/threads/rolloutWriter'
import { ThreadIndex } from '../../src/worker/threads/threadIndex'
import { LOCKS_DIR } from '../../src/worker/threads/writerLock'
import { REPO_ROOT } from '../support/appServerProcess'
import type { ChildReport } from '../support/fixtures/rolloutWriterChild'
import { withTimeout } from '../support/testClient'
import { agentMessage, newSessionMeta } from '../support/threadFixtures'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

async function tempHome(): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'codex-desk-rollouts-'))
  cleanups.push(() => rm(home, { recursive: true, force: true }))
  return home
}

async function openStore(home: string, options: Partial<RolloutStoreOptions> = {}) {
  const index = await ThreadIndex.load({ home })
  const store = new RolloutStore({ home, index, ...options })
  cleanups.push(() => store.close().then(() => index.close()))
  return { store, index }
}

/** A store whose file writes are counted: `writes()` is the number since the last `reset()`. */
async function openCountingStore(home: string) {
  let count = 0
  const { store } = await openStore(home, {
    wrapFile: (file) => ({
      ...file,
      write: (buffer, position) => {
        count++
        return file.write(buffer, position)
      },
    }),
  })
  return { store, writes: () => count, reset: () => void (count = 0) }
}

const meta = (id = randomUUID(), overrides: Partial<NewSessionMeta> = {}) => newSessionMeta(id, overrides)

const linesOf = async (path: string) => decodeLines(await readFile(path, 'utf8'))
/** The lines that carry an item's streaming text, each with the whole text as of that line. */
const streamedText = (lines: RolloutLine[], itemId: string) => {
  let text = ''
  return lines.flatMap((l) => {
    if (l.type === 'item_text_delta' && l.payload.itemId === itemId)
      text = text.slice(0, l.payload.offset) + l.payload.text
    else return []
    return [{ timestamp: l.timestamp, payload: { text } }]
  })
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------
// Child processes (test/support/fixtures/rolloutWriterChild.ts)

interface Child {
  process: ChildProcess
  reports: ChildReport[]
  waitFor(predicate: (reports: ChildReport[]) => boolean, what: string, timeoutMs?: number): Promise<void>
}

function startChild(mode: 'stream' | 'hold', home: string, threadId: string): Child {
  const child = fork(join(REPO_ROOT, 'test/support/fixtures/rolloutWriterChild.ts'), [mode, home, threadId], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  cleanups.push(() => killChild(child))
  const reports: ChildReport[] = []
  const listeners = new Set<() => void>()
  child.on('message', (report: ChildReport) => {
    reports.push(report)
    for (const listener of listeners) listener()
  })
  return {
    process: child,
    reports,
    waitFor(predicate, what, timeoutMs = 15_000) {
      let listener = () => {}
      const done = new Promise<void>((resolve, reject) => {
        listener = () => {
          if (predicate(reports)) resolve()
          else if (reports.some((r) => r.type === 'error'))
            reject(new Error(`child failed: ${JSON.stringify(reports.at(-1))}`))
        }
        listeners.add(listener)
        child.once('exit', (code, signal) =>
          reject(new Error(`child exited (${code ?? signal}) before ${what}`)),
        )
        listener()
      })
      return withTimeout(done, timeoutMs, what).finally(() => listeners.delete(listener))
    },
  }
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await withTimeout(exited, 5_000, 'the child to exit')
}

// ---------------------------------------------------------------------------------------------

describe('RolloutStore.create', () => {
  it('writes the rollout at sessions/YYYY/MM/DD/rollout-<UTC time>-<id>.jsonl before it resolves', async () => {
    const home = await tempHome()
    const { store, index } = await openStore(home)
    const id = randomUUID()
    const before = Date.now()
    const { path, writer } = await store.create(meta(id))
    const created = new Date(Date.parse(JSON.parse(readFileSync(path, 'utf8')).timestamp))
    expect(created.getTime()).toBeGreaterThanOrEqual(before)
    const iso = created.toISOString()
    expect(relative(home, path)).toBe(
      join(
        'sessions',
        iso.slice(0, 4),
        iso.slice(5, 7),
        iso.slice(8, 10),
        `rollout-${iso.slice(0, 10)}T${iso.slice(11, 19).replaceAll(':', '-')}-${id}.jsonl`,
      ),
    )
    const { lines, problems } = await linesOf(path)
    expect(problems).toEqual([])
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({ ordinal: 0, type: 'session_meta', payload: { id, ephemeral: false } })
    expect(readFileSync(join(home, LOCKS_DIR, `${id}.lock`), 'utf8').trim()).toBe(String(process.pid))
    expect(index.get(id)).toMatchObject({ path, archived: false, cwd: '/work/project' })

    // A thread that never ran a turn reads (and so resumes) fine.
    const replayed = await store.read(id)
    expect(replayed.thread).toMatchObject({ id, path, turns: [], preview: '' })

    await writer.close()
    expect(existsSync(join(home, LOCKS_DIR, `${id}.lock`))).toBe(false)
  })

  it('refuses ephemeral threads, whose sink writes nothing', async () => {
    const home = await tempHome()
    const { store } = await openStore(home)
    await expect(store.create({ ...meta(), ephemeral: true } as unknown as NewSessionMeta)).rejects.toThrow(
      /ephemeral/,
    )
    const sink = new EphemeralSink('t')
    await sink.append('turn_started', { turnId: 't1', startedAt: 1 })
    expect(sink.path).toBeNull()
    expect(existsSync(join(home, 'sessions'))).toBe(false)
  })
})

describe('RolloutWriter', () => {
  it('resolves an append only once its line is in the file', async () => {
    const home = await tempHome()
    const { store } = await openStore(home)
    const { path, writer } = await store.create(meta())
    const seen: boolean[] = []
    await Promise.all(
      ['a', 'b', 'c'].map((id) =>
        writer
          .append('item_completed', { turnId: 't', item: agentMessage(id, id) })
          .then(() => seen.push(readFileSync(path, 'utf8').includes(`"id":"${id}"`))),
      ),
    )
    expect(seen).toEqual([true, true, true])
  })

  it('keeps 1,000 concurrent appends in call order with increasing ordinals, in a handful of writes', async () => {
    const home = await tempHome()
    const { store, writes, reset } = await openCountingStore(home)
    const { path, writer } = await store.create(meta())
    reset()
    await writer.append('turn_started', { turnId: 't', startedAt: 1 })
    const appends = Array.from({ length: 1000 }, (_, i) =>
      writer.append('item_completed', { turnId: 't', item: agentMessage(`item-${i}`, `text ${i}`) }),
    )
    await Promise.all(appends)
    const { lines, problems } = await linesOf(path)
    expect(problems).toEqual([])
    expect(lines.map((l) => l.ordinal)).toEqual(Array.from({ length: 1002 }, (_, i) => i))
    expect(lines.slice(2).map((l) => (l.payload as { item: { id: string } }).item.id)).toEqual(
      Array.from({ length: 1000 }, (_, i) => `item-${i}`),
    )
    // One write for turn_started, then the burst coalesced.
    expect(writes()).toBeLessThanOrEqual(3)
  })

  it('writes a trickle of deltas as they come: each is in the file once its append resolves, none waits for a timer', async () => {
    const home = await tempHome()
    const { store } = await openStore(home)
    const { path, writer } = await store.create(meta())
    await writer.append('item_started', { turnId: 't', item: agentMessage('a1', '') })
    let text = ''
    for (let n = 0; n < 20; n++) {
      const piece = `text ${n} `
      await writer.appendText({ turnId: 't', itemId: 'a1', offset: text.length, text: piece })
      text += piece
      // No flush and no timer: the text a client may now be shown is already in the file.
      expect(streamedText((await linesOf(path)).lines, 'a1').at(-1)?.payload.text).toBe(text)
      await sleep(5)
    }
    expect(streamedText((await linesOf(path)).lines, 'a1')).toHaveLength(20)
  })

  it('resolves flush once every delta queued before it is written, without the appends being awaited', async () => {
    const home = await tempHome()
    const { store } = await openStore(home)
    const { path, writer } = await store.create(meta())
    void writer.appendText({ turnId: 't', itemId: 'a1', offset: 0, text: 'He' })
    void writer.appendText({ turnId: 't', itemId: 'a1', offset: 2, text: 'llo' })
    void writer.appendText({ turnId: 't', itemId: 'a1', offset: 5, text: ' there' })
    await writer.flush()
    // Queued together: one write, one line with the whole text.
    expect(streamedText((await linesOf(path)).lines, 'a1').map((l) => l.payload.text)).toEqual([
      'Hello there',
    ])
  })

  it('writes text queued before an item or its turn completes ahead of that line, so an interrupted item keeps its last words', async () => {
    const home = await tempHome()
    const { store } = await openStore(home)
    const { path, writer } = await store.create(meta())
    await writer.append('turn_started', { turnId: 't', startedAt: 1 })
    for (const id of ['done', 'open'])
      await writer.append('item_started', { turnId: 't', item: agentMessage(id, '') })
    void writer.appendText({ turnId: 't', itemId: 'done', offset: 0, text: 'a' })
    void writer.appendText({ turnId: 't', itemId: 'done', offset: 1, text: 'b' })
    await writer.append('item_completed', { turnId: 't', item: agentMessage('done', 'abc') })
    void writer.appendText({ turnId: 't', itemId: 'open', offset: 0, text: 'x' })
    void writer.appendText({ turnId: 't', itemId: 'open', offset: 1, text: 'yz' })
    await writer.append('turn_completed', {
      turnId: 't',
      status: 'interrupted',
      error: null,
      completedAt: 2,
      durationMs: 1000,
    })
    const { lines } = await linesOf(path)
    expect(
      lines
        .slice(4)
        .map((l) =>
          l.type === 'item_text_delta' ? `${l.payload.itemId}@${l.payload.offset}:${l.payload.text}` : l.type,
        ),
    ).toEqual(['done@0:ab', 'item_completed', 'open@0:xyz', 'turn_completed'])
    await writer.close()
    const [turn] = (await store.read(path)).turns
    expect(turn?.status).toBe('interrupted')
    expect(turn?.items.map((i) => [i.id, (i as { text: string }).text])).toEqual([
      ['done', 'abc'],
      ['open', 'xyz'],
    ])
  })

  it('rejects the appends of a failed write with the errno, leaves no partial line, and accepts a retry', async () => {
    const home = await tempHome()
    let fail: 'enospc' | 'partial' | null = null
    const enospc = () => Object.assign(new Error('no space left on device, write'), { code: 'ENOSPC' })
    const { store } = await openStore(home, {
      wrapFile: (file): RolloutFile => ({
        ...file,
        write: async (buffer, position) => {
          const mode = fail
          fail = null
          if (mode === 'enospc') throw enospc()
          if (mode === 'partial') {
            await file.write(buffer.subarray(0, Math.floor(buffer.length / 2)), position)
            throw enospc()
          }
          return file.write(buffer, position)
        },
      }),
    })
    const id = randomUUID()
    const { path, writer } = await store.create(meta(id))
    await writer.append('item_completed', { turnId: 't', item: agentMessage('a', 'a') })
    fail = 'partial'
    const results = await Promise.allSettled([
      writer.append('item_completed', { turnId: 't', item: agentMessage('b', 'b') }),
      writer.append('item_completed', { turnId: 't', item: agentMessage('c', 'c') }),
    ])
    for (const result of results) {
      expect(result.status).toBe('rejected')
      const error = (result as PromiseRejectedResult).reason as RolloutWriteError
      expect(error).toBeInstanceOf(RolloutWriteError)
      expect(error.code).toBe('ENOSPC')
      expect(error.message).toContain(`could not write the rollout of thread ${id}`)
      expect(error.message).toContain('ENOSPC')
    }
    fail = 'enospc'
    await expect(
      writer.append('item_completed', { turnId: 't', item: agentMessage('b', 'b') }),
    ).rejects.toThrow(/ENOSPC/)
    await writer.append('item_completed', { turnId: 't', item: agentMessage('b', 'b') })
    const { lines, problems } = await linesOf(path)
    expect(problems).toEqual([])
    expect(lines.slice(1).map((l) => (l.payload as { item: { id: string } }).item.id)).toEqual(['a', 'b'])
    const ordinals = lines.map((l) => l.ordinal)
    expect([...ordinals].sort((x, y) => x - y)).toEqual(ordinals)
  })

  it('appends streamed text as it comes: a burst of deltas is one write and one line per item, resolved once written', async () => {
    const home = await tempHome()
    const { store, writes, reset } = await openCountingStore(home)
    const { path, writer } = await store.create(meta())
    await writer.append('item_started', { turnId: 't', item: agentMessage('a1', '') })
    reset()
    const pieces = Array.from({ length: 1000 }, (_, i) => `${i} `)
    let offset = 0
    const seen: boolean[] = []
    const appends = pieces.map((text, i) => {
      const at = offset
      offset += text.length
      return writer
        .appendText({ turnId: 't', itemId: 'a1', offset: at, text })
        .then(() =>
          seen.push(readFileSync(path, 'utf8').includes(`"text":"${pieces.slice(0, i + 1).join('')}`)),
        )
    })
    await Promise.all(appends)
    expect(writes()).toBe(1)
    expect(seen.every(Boolean)).toBe(true)
    const { lines, problems } = await linesOf(path)
    expect(problems).toEqual([])
    expect(lines.slice(2)).toEqual([
      expect.objectContaining({
        type: 'item_text_delta',
        ordinal: 2,
        payload: { turnId: 't', itemId: 'a1', offset: 0, text: pieces.join('') },
      }),
    ])
    // The ordinal after the merged line is the next one: merging leaves no gap.
    await writer.append('turn_completed', {
      turnId: 't',
      status: 'completed',
      error: null,
      completedAt: 1,
      durationMs: 1,
    })
    expect((await linesOf(path)).lines.at(-1)?.ordinal).toBe(3)
  })

  it('leaves a message text out of item_completed when its deltas hold it, and writes it whole after a failed delta', async () => {
    const home = await tempHome()
    let fail = false
    const { store } = await openStore(home, {
      wrapFile: (file): RolloutFile => ({
        ...file,
        write: async (buffer, position) => {
          if (fail) {
            fail = false
            throw Object.assign(new Error('no space left on device, write'), { code: 'ENOSPC' })
          }
          return file.write(buffer, position)
        },
      }),
    })
    const { path, writer } = await store.create(meta())
    for (const id of ['a1', 'a2'])
      await writer.append('item_started', { turnId: 't', item: agentMessage(id, '') })
    await writer.appendText({ turnId: 't', itemId: 'a1', offset: 0, text: 'Hello' })
    await writer.appendText({ turnId: 't', itemId: 'a1', offset: 5, text: ' there' })
    await writer.append('item_completed', {
      turnId: 't',
      item: agentMessage('a1', 'Hello there'),
      textFromDeltas: 11,
    })
    await writer.appendText({ turnId: 't', itemId: 'a2', offset: 0, text: 'Lost ' })
    fail = true
    await expect(writer.appendText({ turnId: 't', itemId: 'a2', offset: 5, text: 'words' })).rejects.toThrow(
      RolloutWriteError,
    )
    await writer.append('item_completed', {
      turnId: 't',
      item: agentMessage('a2', 'Lost words'),
      textFromDeltas: 10,
    })
    const { lines } = await linesOf(path)
    const completed = lines.flatMap((l) => (l.type === 'item_completed' ? [l.payload] : []))
    expect(completed.map((p) => [p.item.id, (p.item as { text: string }).text, p.textFromDeltas])).toEqual([
      ['a1', '', 11],
      ['a2', 'Lost words', undefined],
    ])
    await writer.close()
    const replayed = await store.read(path)
    expect(replayed.turns[0]?.items.map((i) => (i as { text: string }).text)).toEqual([
      'Hello there',
      'Lost words',
    ])
  })

  it('continues an existing rollout after its torn last line, with the next ordinal', async () => {
    const home = await tempHome()
    const { store } = await openStore(home)
    const id = randomUUID()
    const { path, writer } = await store.create(meta(id))
    await writer.append('turn_started', { turnId: 't', startedAt: 1 })
    await writer.close()
    await appendFile(path, '{"timestamp":"2030-01-01T00:00:00.000Z","ordinal":2,"type":"item_com')
    const reopened = await store.open(id)
    await reopened.append('item_completed', { turnId: 't', item: agentMessage('a', 'a') })
    await reopened.close()
    const { lines, problems } = await linesOf(path)
    expect(problems).toEqual([])
    expect(lines.map((l) => [l.ordinal, l.type])).toEqual([
      [0, 'session_meta'],
      [1, 'turn_started'],
      [2, 'item_completed'],
    ])
  })

  it('refuses a second writer for the same thread in one process', async () => {
    const home = await tempHome()
    const { store } = await openStore(home)
    const id = randomUUID()
    await store.create(meta(id))
    await expect(store.open(id)).rejects.toThrow(`thread ${id} already has an active writer`)
  })
})

describe('crash safety', () => {
  it('replays every item whose append resolved before a SIGKILL, with the turn interrupted', async () => {
    const home = await tempHome()
    const id = randomUUID()
    const child = startChild('stream', home, id)
    await child.waitFor((r) => r.some((x) => x.type === 'streamed'), 'the streamed text')
    const appendedAtStream = child.reports.filter((r) => r.type === 'appended').length
    await child.waitFor(
      (r) => r.filter((x) => x.type === 'appended').length >= appendedAtStream + 100,
      'more appends after the streamed text',
    )
    await killChild(child.process)
    const appended = child.reports.flatMap((r) => (r.type === 'appended' ? [r.itemId] : []))
    const streamed = child.reports.find((r) => r.type === 'streamed') as { text: string }

    const { store } = await openStore(home)
    const replayed = await store.read(id)
    expect(replayed.turns).toHaveLength(1)
    const [turn] = replayed.turns
    expect(turn?.status).toBe('interrupted')
    const ids = new Set(turn?.items.map((i) => i.id))
    expect(appended.filter((itemId) => !ids.has(itemId))).toEqual([])
    const streaming = turn?.items.find((i) => i.id === 'streaming')
    // The last text whose write resolved (what a client may have been shown) survived the kill.
    expect(streaming).toMatchObject({ type: 'agentMessage', text: streamed.text })
    expect(streaming?.completedAtMs).toEqual(expect.any(Number))
    expect(replayed.openItems).toContainEqual({ turnId: 'turn-1', itemId: 'streaming' })
    expect(replayed.problems.filter((p) => !p.includes('torn'))).toEqual([])

    // The dead child's lock is stale: this process takes the thread over and appends cleanly.
    const writer = await store.open(id)
    await writer.append('turn_started', { turnId: 'turn-2', startedAt: 2 })
    await writer.close()
    const { problems } = await linesOf(replayed.thread.path as string)
    expect(problems).toEqual([])
    expect((await store.read(id)).turns.map((t) => t.status)).toEqual(['interrupted', 'interrupted'])
  })
})

describe('the writer lock', () => {
  it('refuses a writer held by another live process and takes over once that process is dead', async () => {
    const home = await tempHome()
    const { store } = await openStore(home)
    const id = randomUUID()
    await (await store.create(meta(id))).writer.close()

    const holder = startChild('hold', home, id)
    await holder.waitFor((r) => r.some((x) => x.type === 'locked'), 'the child to lock')
    await expect(store.open(id)).rejects.toThrow(`thread ${id} already has an active writer`)
    expect((await store.read(id)).thread.id).toBe(id)

    await killChild(holder.process)
    const writer = await store.open(id)
    expect(readFileSync(join(home, LOCKS_DIR, `${id}.lock`), 'utf8').trim()).toBe(String(process.pid))

    // And the other way round: the child cannot open what this process holds.
    const second = startChild('hold', home, id)
    await second.waitFor((r) => r.some((x) => x.type === 'error'), 'the child to fail')
    expect(second.reports.find((r) => r.type === 'error')).toEqual({
      type: 'error',
      message: `thread ${id} already has an active writer`,
    })
    await writer.close()
  })

  it('takes over a lock left by a dead pid or by an earlier process that had our pid', async () => {
    const home = await tempHome()
    const { store } = await openStore(home)
    const id = randomUUID()
    await (await store.create(meta(id))).writer.close()
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    })
    const lockPath = join(home, LOCKS_DIR, `${id}.lock`)
    await mkdir(join(home, LOCKS_DIR), { recursive: true })
    await writeFile(lockPath, `${dead.stdout}\n`)
    await (await store.open(id)).close()

    await writeFile(lockPath, `${process.pid}\n`)
    await (await store.open(id)).close()
    expect(existsSync(lockPath)).toBe(false)
  })
})

describe('archive and unarchive', () => {
  it('move the rollout between sessions/ and archived_sessions/ and update the index', async () => {
    const home = await tempHome()
    const { store, index } = await openStore(home)
    const kept = randomUUID()
    const id = randomUUID()
    await store.create(meta(kept))
    const { path, writer } = await store.create(meta(id))
    await writer.append('turn_started', { turnId: 't', startedAt: 1 })

    const archivedPath = await store.archive(id)
    expect(archivedPath).toBe(join(home, 'archived_sessions', basename(path)))
    expect(existsSync(path)).toBe(false)
    expect(existsSync(archivedPath)).toBe(true)
    expect(writer.isClosed).toBe(true)
    expect(existsSync(join(home, LOCKS_DIR, `${id}.lock`))).toBe(false)
    expect(index.get(id)).toMatchObject({ archived: true, path: archivedPath })
    expect(index.list().data.map((t) => t.id)).toEqual([kept])
    expect(index.list({ archived: true }).data.map((t) => [t.id, t.path])).toEqual([[id, archivedPath]])
    expect((await store.read(id)).turns).toHaveLength(1)
    await expect(store.open(id)).rejects.toThrow(/archived/)

    expect(await store.unarchive(id)).toBe(path)
    expect(existsSync(path)).toBe(true)
    expect(index.get(id)).toMatchObject({ archived: false, path })
    expect(
      index
        .list()
        .data.map((t) => t.id)
        .sort(),
    ).toEqual([kept, id].sort())

    // Survives a restart: the log has the moves.
    await index.flush()
    const reloaded = await ThreadIndex.load({ home })
    expect(reloaded.loadedFrom).toBe('log')
    expect(reloaded.get(id)).toMatchObject({ archived: false, path })
    await reloaded.close()
  })

  it('answer an unknown thread id with codex’s message', async () => {
    const home = await tempHome()
    const { store } = await openStore(home)
    const id = randomUUID()
    const attempts = [
      () => store.archive(id),
      () => store.unarchive(id),
      () => store.read(id),
      () => store.open(id),
    ]
    for (const attempt of attempts) {
      await expect(attempt()).rejects.toThrow(`no rollout found for thread id ${id}`)
    }
    await expect(store.archive('../x')).rejects.toThrow('invalid thread id: ../x')
  })

  it('find a rollout the index does not know by scanning, and index it', async () => {
    const home = await tempHome()
    const { store, index } = await openStore(home)
    const id = randomUUID()
    const { path } = await store.create(meta(id))
    await index.delete(id)
    expect(index.get(id)).toBeUndefined()
    expect(await store.findPath(id)).toBe(path)
    expect(index.get(id)).toMatchObject({ id, path })
  })
})
