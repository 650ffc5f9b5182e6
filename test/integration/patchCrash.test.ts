/**
 * apply_patch across a crash: a child process runs the real planning and commit code and SIGKILLs
 * itself at step N of the commit (CODEX_DESK_TEST_PATCH_CRASH_AT), for every N; then recovery runs
 * (directly, and through a real core's start) and the project must be exactly the old tree or
 * exactly the new one, with no temp file left in it and an empty journal folder.
 */
import { spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { JOURNAL_DIR, recoverPatchJournals } from '../../src/worker/agent/patch/journal'
import { createLoggerFactory } from '../../src/worker/util/log'
import { REPO_ROOT, spawnAppServer, TSX_LOADER } from '../support/appServerProcess'
import { withTimeout } from '../support/testClient'

const CHILD = path.join(REPO_ROOT, 'test/support/fixtures/patchCommitChild.ts')
const CHILD_WAIT_MS = 60_000
/** A test spawns up to 20 children; on a busy two-core machine each may take seconds. */
const MANY_CHILDREN = { timeout: 600_000 }

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn()
})

async function tempDir(parent: string, prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(parent, prefix))
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }))
  return dir
}

/** Every entry under `root`: folders, files with mode and content, symlinks with their target. */
async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const rel of (await fs.readdir(root, { recursive: true })).map(String).sort()) {
    const abs = path.join(root, rel)
    const stat = await fs.lstat(abs)
    if (stat.isSymbolicLink()) out[rel] = `link -> ${await fs.readlink(abs)}`
    else if (stat.isDirectory()) out[rel] = 'dir'
    else out[rel] = `file ${(stat.mode & 0o777).toString(8)}: ${await fs.readFile(abs, 'utf8')}`
  }
  return out
}

const journalEntries = (home: string): Promise<string[]> =>
  fs.readdir(path.join(home, JOURNAL_DIR)).catch(() => [])

interface Scenario {
  /** Writes the project as it is before the patch. */
  setup(root: string): Promise<void>
  patch: string
}

const write = async (root: string, rel: string, content: string, mode?: number): Promise<void> => {
  await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true })
  await fs.writeFile(path.join(root, rel), content)
  if (mode !== undefined) await fs.chmod(path.join(root, rel), mode)
}

/** Adds, an update, a delete, a move into a new folder, an add over a file, a symlink, a mode. */
const mixed: Scenario = {
  async setup(root) {
    await write(root, 'a.txt', 'one\ntwo\n')
    await write(root, 'gone.txt', 'bye\n')
    await write(root, 'src/m.txt', 'm\n')
    await write(root, 'over.txt', 'old over\n')
    await write(root, 'real.txt', 'real\n')
    await fs.symlink('real.txt', path.join(root, 'link.txt'))
    await write(root, 'run.sh', 'echo hi\n', 0o751)
  },
  patch: [
    '*** Begin Patch',
    '*** Update File: a.txt\n@@\n one\n-two\n+TWO',
    '*** Delete File: gone.txt',
    '*** Update File: src/m.txt\n*** Move to: dest/deep/m.txt\n@@\n-m\n+M',
    '*** Add File: new/x.txt\n+x',
    '*** Add File: over.txt\n+new over',
    '*** Update File: link.txt\n@@\n-real\n+REAL',
    '*** Update File: run.sh\n@@\n-echo hi\n+echo bye',
    '*** End Patch',
  ].join('\n'),
}

const MANY = 300
/** 300 new files in a new folder, plus an update and a delete. */
const many: Scenario = {
  async setup(root) {
    await write(root, 'keep.txt', 'k\n')
    await write(root, 'drop.txt', 'd\n')
  },
  patch: [
    '*** Begin Patch',
    '*** Update File: keep.txt\n@@\n-k\n+K',
    ...Array.from({ length: MANY }, (_, i) => `*** Add File: gen/f${i}.txt\n+file ${i}`),
    '*** Delete File: drop.txt',
    '*** End Patch',
  ].join('\n'),
}

interface Run {
  signal: NodeJS.Signals | null
  code: number | null
  stdout: string
}

async function runChild(
  home: string,
  project: string,
  patchFile: string,
  crashAt: number | null,
): Promise<Run> {
  const env = { ...process.env }
  delete env.CODEX_DESK_TEST_PATCH_CRASH_AT
  if (crashAt !== null) env.CODEX_DESK_TEST_PATCH_CRASH_AT = String(crashAt)
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CHILD, home, project, patchFile], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let stdout = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  const { code, signal } = await withTimeout(
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    ),
    CHILD_WAIT_MS,
    `the patch child (crash at ${crashAt}) to exit`,
    () => child.kill('SIGKILL'),
  )
  return { code, signal, stdout }
}

function recoveryLog(): { log: ReturnType<ReturnType<typeof createLoggerFactory>['get']>; lines: string[] } {
  const lines: string[] = []
  const log = createLoggerFactory({
    format: 'json',
    destination: { write: (t: string) => lines.push(t) },
  }).get('threads')
  return { log, lines }
}

interface World {
  home: string
  project: string
  patchFile: string
  before: Record<string, string>
  after: Record<string, string>
  reset(): Promise<void>
}

/** A home (under `homeParent`), a project and the trees before and after an uninterrupted patch. */
async function world(scenario: Scenario, homeParent = os.tmpdir()): Promise<World> {
  const home = await tempDir(homeParent, 'codex-desk-patch-home-')
  const base = await tempDir(os.tmpdir(), 'codex-desk-patch-crash-')
  const project = path.join(base, 'project')
  const patchFile = path.join(base, 'patch.txt')
  await fs.writeFile(patchFile, scenario.patch)
  const reset = async (): Promise<void> => {
    await fs.rm(project, { recursive: true, force: true })
    await fs.mkdir(project)
    await scenario.setup(project)
  }
  await reset()
  const before = await tree(project)
  const clean = await runChild(home, project, patchFile, null)
  expect(clean).toEqual({ code: 0, signal: null, stdout: '{"ok":true}\n' })
  const after = await tree(project)
  expect(after).not.toEqual(before)
  // The normal path leaves nothing behind.
  expect(await journalEntries(home)).toEqual([])
  expect(Object.keys(after).filter((p) => p.includes('codex-desk-patch'))).toEqual([])
  return { home, project, patchFile, before, after, reset }
}

type Outcome = 'old' | 'new'

/** Kills the commit at step `n`, recovers, and says which whole tree the project is. */
async function crashAndRecover(w: World, n: number): Promise<Outcome | 'finished'> {
  await w.reset()
  const run = await runChild(w.home, w.project, w.patchFile, n)
  if (run.signal === null) {
    expect(run).toEqual({ code: 0, signal: null, stdout: '{"ok":true}\n' })
    return 'finished'
  }
  expect(run.signal).toBe('SIGKILL')
  const { log, lines } = recoveryLog()
  const hadJournal = (await journalEntries(w.home)).some((name) => name.endsWith('.json'))
  const report = await recoverPatchJournals(w.home, log)
  expect(report).toEqual({ rolledBack: hadJournal ? 1 : 0, skipped: 0 })
  if (hadJournal) expect(lines.join('')).toContain('rolled back a patch that was interrupted')
  const now = await tree(w.project)
  expect(
    Object.keys(now).filter((p) => p.includes('codex-desk-patch')),
    `temp files after a crash at step ${n}`,
  ).toEqual([])
  expect(await journalEntries(w.home), `journal folder after a crash at step ${n}`).toEqual([])
  if (JSON.stringify(now) === JSON.stringify(w.before)) return 'old'
  expect(now, `the project after a crash at step ${n} is neither the old nor the new tree`).toEqual(w.after)
  return 'new'
}

/** Crashes at every step until the commit runs through; returns what each crash left. */
async function everyStep(w: World): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  for (let n = 1; ; n++) {
    const outcome = await crashAndRecover(w, n)
    if (outcome === 'finished') return outcomes
    outcomes.push(outcome)
    expect(n, 'the commit never finished').toBeLessThan(100)
  }
}

describe('a patch killed at any step of its commit', () => {
  it('leaves exactly the old or the new tree, on the home’s filesystem', MANY_CHILDREN, async () => {
    const w = await world(mixed)
    const outcomes = await everyStep(w)
    // 8 paths: the journal, 8 staged, 8 swapped in, the journal removed.
    expect(outcomes.length).toBe(18)
    // Before the journal is gone a crash undoes the patch; after, the patch stands.
    expect(outcomes).toEqual([...Array<Outcome>(17).fill('old'), 'new'])
  })

  it(
    'leaves exactly the old or the new tree when the home is on another filesystem',
    MANY_CHILDREN,
    async (ctx) => {
      const shm = '/dev/shm'
      const devices = await Promise.all([fs.stat(shm), fs.stat(os.tmpdir())]).catch(() => null)
      if (!devices || devices[0].dev === devices[1].dev) ctx.skip()
      const w = await world(mixed, shm)
      const outcomes = await everyStep(w)
      expect(outcomes).toEqual([...Array<Outcome>(17).fill('old'), 'new'])
    },
  )

  it(
    'leaves exactly the old or the new tree with 300 new files, at each phase boundary',
    MANY_CHILDREN,
    async () => {
      const w = await world(many)
      const paths = MANY + 2
      // After the journal; after the first, middle and last staged file; after the first, middle
      // and last file swapped in; after the journal is removed; and the run that finishes.
      const steps = [
        1,
        2,
        1 + paths / 2,
        1 + paths,
        2 + paths,
        1 + paths + paths / 2,
        1 + 2 * paths,
        2 + 2 * paths,
      ]
      const outcomes: Outcome[] = []
      for (const n of steps) {
        const outcome = await crashAndRecover(w, n)
        expect(outcome, `crash at step ${n}`).not.toBe('finished')
        outcomes.push(outcome as Outcome)
      }
      expect(outcomes).toEqual([...Array<Outcome>(7).fill('old'), 'new'])
      expect(await crashAndRecover(w, 3 + 2 * paths)).toBe('finished')
    },
  )
})

describe('recovery when the core starts', () => {
  it('rolls back a half-applied patch before any tool runs, and says so in the log', async () => {
    const w = await world(mixed)
    await w.reset()
    // Mid-swap: some files replaced, others not yet.
    const run = await runChild(w.home, w.project, w.patchFile, 12)
    expect(run.signal).toBe('SIGKILL')
    expect(await tree(w.project)).not.toEqual(w.before)
    expect((await journalEntries(w.home)).filter((n) => n.endsWith('.json'))).toHaveLength(1)

    const server = await spawnAppServer([], { home: w.home, cwd: w.project })
    cleanups.push(() => server.dispose())
    const client = server.stdioClient()
    await client.initialize()
    // The first thread request starts the threads subsystem, which recovers before loading tools.
    await client.request('thread/list', {})
    await withTimeout(
      (async () => {
        while (!server.stderr().includes('rolled back a patch')) await new Promise((r) => setTimeout(r, 50))
      })(),
      CHILD_WAIT_MS,
      'the recovery log line',
    )
    expect(server.stderr()).toMatch(
      /rolled back a patch that was interrupted before it completed \(\d+ of 8 files put back\)/,
    )
    expect(await tree(w.project)).toEqual(w.before)
    expect(await journalEntries(w.home)).toEqual([])
  })

  it('leaves a patch alone while its process, or another core recovering it, is still running', async () => {
    const w = await world(mixed)
    await w.reset()
    const run = await runChild(w.home, w.project, w.patchFile, 12)
    expect(run.signal).toBe('SIGKILL')
    // Make the journal look like this (living) process's: recovery must not touch it.
    const [name] = (await journalEntries(w.home)).filter((n) => n.endsWith('.json'))
    const file = path.join(w.home, JOURNAL_DIR, name!)
    const journal = JSON.parse(await fs.readFile(file, 'utf8')) as {
      owner: { pid: number; started: string | null }
    }
    const halfDone = await tree(w.project)
    await fs.writeFile(file, JSON.stringify({ ...journal, owner: { pid: process.ppid, started: null } }))
    const { log } = recoveryLog()
    expect(await recoverPatchJournals(w.home, log)).toEqual({ rolledBack: 0, skipped: 1 })
    expect(await tree(w.project)).toEqual(halfDone)
    // Its owner is gone (a pid no process has), but another living core is recovering it.
    await fs.writeFile(file, JSON.stringify({ ...journal, owner: { pid: 2 ** 22 + 1, started: null } }))
    await fs.writeFile(`${file}.claim`, JSON.stringify({ pid: process.ppid, started: null }))
    expect(await recoverPatchJournals(w.home, log)).toEqual({ rolledBack: 0, skipped: 1 })
    expect(await tree(w.project)).toEqual(halfDone)
    // Once that core is gone too, the next recovery takes over and rolls the patch back.
    await fs.writeFile(`${file}.claim`, JSON.stringify({ pid: 2 ** 22 + 1, started: null }))
    expect(await recoverPatchJournals(w.home, log)).toEqual({ rolledBack: 1, skipped: 0 })
    expect(await tree(w.project)).toEqual(w.before)
    expect(await journalEntries(w.home)).toEqual([])
  })
})
