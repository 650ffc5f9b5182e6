import { spawn } from 'node:child_process'
import { chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { makeTempDir } from '../support/appServerProcess'
import type { TestClient } from '../support/testClient'
import { runTurn, startHarness, startThread } from '../support/threadHarness'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

const posix = process.platform !== 'win32'

async function tempDir(): Promise<string> {
  const dir = await makeTempDir('codex-desk-modes-')
  cleanups.push(() => dir.remove())
  return dir.path
}

/** Every file and folder under `dir`, with its permission bits. */
async function walk(dir: string): Promise<{ path: string; dir: boolean; mode: number }[]> {
  const out: { path: string; dir: boolean; mode: number }[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    out.push({ path, dir: entry.isDirectory(), mode: (await stat(path)).mode & 0o777 })
    if (entry.isDirectory()) out.push(...(await walk(path)))
  }
  return out
}

const octal = (mode: number) => mode.toString(8).padStart(4, '0')

async function serverOn(home: string) {
  const harness = await startHarness('stdio', { home, env: { CODEX_DESK_LOG: 'info' } })
  cleanups.push(() => harness.dispose())
  const client = await harness.connect()
  return { harness, client }
}

/** A pid that no process has any more. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await new Promise((r) => child.once('exit', r))
  return child.pid as number
}

/** A process that stays alive until the test ends. */
function livePid(): number {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  cleanups.push(async () => {
    child.kill('SIGKILL')
  })
  return child.pid as number
}

describe.runIf(posix)('file modes in the home', () => {
  it('creates the home 0700 and writes every file in it 0600, under a permissive umask', async () => {
    const home = join(await tempDir(), 'new-home')
    const previous = process.umask(0o022)
    let client: TestClient
    try {
      ;({ client } = await serverOn(home))
    } finally {
      process.umask(previous)
    }
    const { thread } = await startThread(client)
    await runTurn(client, thread.id, 'hello')
    await client.request('thread/name/set', { threadId: thread.id, name: 'Modes' })
    await client.request('thread/archive', { threadId: thread.id })
    expect(octal((await stat(home)).mode & 0o777)).toBe('0700')
    // config.toml is the test's own file (written before the server started); the rest are the core's.
    const files = (await walk(home)).filter((e) => !e.dir && e.path !== join(home, 'config.toml'))
    expect(files.map((f) => f.path)).toEqual(expect.arrayContaining([join(home, 'thread_index.jsonl')]))
    expect(files.some((f) => f.path.includes('rollout-'))).toBe(true)
    const loose = files.filter((f) => f.mode & 0o077).map((f) => `${f.path} ${octal(f.mode)}`)
    expect(loose).toEqual([])
  })

  it('tightens an existing codex-desk home that others could read, and says so in the log', async () => {
    const home = join(await tempDir(), 'old-home')
    await mkdir(join(home, 'sessions'), { recursive: true })
    await chmod(home, 0o755)
    const { harness, client } = await serverOn(home)
    await client.request('thread/list', {})
    expect(octal((await stat(home)).mode & 0o777)).toBe('0700')
    expect(harness.proc.stderr()).toContain('tightened the codex-desk home')
  })

  it('leaves the mode of a folder that is not a codex-desk home alone, with a warning', async () => {
    const home = join(await tempDir(), 'project')
    await mkdir(home, { recursive: true })
    await writeFile(join(home, 'notes.txt'), 'mine')
    await chmod(home, 0o755)
    const { harness, client } = await serverOn(home)
    await client.request('thread/list', {})
    expect(octal((await stat(home)).mode & 0o777)).toBe('0755')
    expect(harness.proc.stderr()).toContain('not changing a folder codex-desk does not own')
  })

  it('removes a dead process’s writer lock and temp files at start and keeps a live process’s', async () => {
    const home = await tempDir()
    const [dead, live] = [await deadPid(), livePid()]
    const locks = join(home, 'thread-writer-locks')
    await mkdir(locks, { recursive: true })
    const deadLock = join(locks, '0198a000-0000-7000-8000-000000000001.lock')
    const liveLock = join(locks, '0198a000-0000-7000-8000-000000000002.lock')
    await writeFile(deadLock, `${dead}\n`)
    await writeFile(liveLock, `${live}\n`)
    const deadTemp = join(home, `.config.toml.${dead}.lq3xk2.1.tmp`)
    const liveTemp = join(home, `.config.toml.${live}.lq3xk2.1.tmp`)
    const deadStateTemp = join(home, `thread_state.jsonl.${dead}.tmp`)
    const deadLockTemp = `${deadLock}.${dead}.0badc0de`
    for (const file of [deadTemp, liveTemp, deadStateTemp, deadLockTemp]) await writeFile(file, 'partial')
    const { harness, client } = await serverOn(home)
    await client.request('thread/list', {})
    const left = (await walk(home)).map((e) => e.path)
    expect(left).toEqual(expect.arrayContaining([liveLock, liveTemp]))
    for (const gone of [deadLock, deadTemp, deadStateTemp, deadLockTemp]) expect(left).not.toContain(gone)
    expect(harness.proc.stderr()).toContain('left by processes that are gone')
  })
})
