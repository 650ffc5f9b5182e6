/**
 * The `codex-desk` bin's V8 code cache, through the real bin/codex-desk.js and the CommonJS build of
 * the CLI copied into a temp install (built there when out/cli is missing): the first server run
 * writes the cache, the next uses it, a corrupt or stale cache is ignored and replaced, and an
 * unwritable cache location or `--version` changes nothing a user sees. No timing is asserted.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdir, readFile, readdir, utimes, writeFile } from 'node:fs/promises'
import Module from 'node:module'
import { basename, join } from 'node:path'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildCli } from '../../scripts/cliBuild'
import { CACHE_FILES_KEPT } from '../../src/worker/startup/codeCache'
import { makeTempDir, REPO_ROOT } from '../support/appServerProcess'
import { WAIT_MS, withTimeout } from '../support/testClient'

interface CacheReport {
  file: string | null
  hits: number
  misses: number
  ignored: string | null
  written: 'written' | 'unchanged' | 'failed' | 'off'
}

interface RunResult {
  code: number | null
  stdout: string
  stderr: string
  report: CacheReport | null
}

let root: { path: string; remove(): Promise<void> }
let install: string
let home: string

/** Runs the temp install's bin with `args`, writes `input` to its stdin and closes it. */
async function runBin(args: string[], cacheDir: string, input = ''): Promise<RunResult> {
  const child = spawn(process.execPath, [join(install, 'bin/codex-desk.js'), ...args], {
    env: {
      ...process.env,
      CODEX_DESK_HOME: home,
      CODEX_DESK_LOG: 'warn',
      CODEX_DESK_CODE_CACHE: cacheDir,
      CODEX_DESK_CODE_CACHE_DEBUG: '1',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  child.stdin.end(input)
  const code = await withTimeout(
    new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
    WAIT_MS,
    `codex-desk ${args.join(' ')} to exit`,
  ).finally(() => child.kill('SIGKILL'))
  const line = /codex-desk code cache: (\{.*\})/.exec(stderr)
  return { code, stdout, stderr, report: line ? (JSON.parse(line[1] as string) as CacheReport) : null }
}

const INITIALIZE = JSON.stringify({
  id: 0,
  method: 'initialize',
  params: { clientInfo: { name: 'code_cache_test', version: '1' } },
})

/** A stdio server run: initialize, then stdin closes and the server exits. Returns the answer too. */
async function serverRun(cacheDir: string): Promise<RunResult & { userAgent: string }> {
  const run = await runBin(['app-server'], cacheDir, INITIALIZE + '\n')
  const first = run.stdout.split('\n')[0] ?? ''
  const message = JSON.parse(first) as { id: number; result: { userAgent: string; codexHome: string } }
  // The answer a client sees (codex's schema has no v2 InitializeResponse to check it against).
  expect(message).toMatchObject({ id: 0, result: { codexHome: home, userAgent: expect.any(String) } })
  expect(run.code).toBe(0)
  return { ...run, userAgent: message.result.userAgent }
}

async function cacheFiles(dir: string): Promise<string[]> {
  return existsSync(dir) ? (await readdir(dir)).filter((f) => f.endsWith('.v8cache')) : []
}

beforeAll(async () => {
  root = await makeTempDir('codex-desk-code-cache-')
  install = join(root.path, 'install')
  home = join(root.path, 'home')
  await cp(join(REPO_ROOT, 'bin'), join(install, 'bin'), { recursive: true })
  const built = join(REPO_ROOT, 'out/cli')
  if (existsSync(join(built, 'cli.cjs'))) await cp(built, join(install, 'out/cli'), { recursive: true })
  else await buildCli(REPO_ROOT, join(install, 'out/cli'))
}, 180_000)

afterAll(async () => {
  await root?.remove()
})

// Node >= 22.1 caches compiled code itself (module.enableCompileCache), and the bin uses that instead.
const nodeCachesItself = typeof (Module as { enableCompileCache?: unknown }).enableCompileCache === 'function'

describe.skipIf(nodeCachesItself)('the code cache of the codex-desk command', () => {
  it('is written by the first server run and used by the next one', async () => {
    const cacheDir = join(root.path, 'cache-first')
    const first = await serverRun(cacheDir)
    expect(first.report).toMatchObject({ hits: 0, ignored: null, written: 'written' })
    expect(first.report?.misses).toBeGreaterThan(0)
    expect(await cacheFiles(cacheDir)).toHaveLength(1)

    const second = await serverRun(cacheDir)
    expect(second.report).toMatchObject({ misses: 0, written: 'unchanged' })
    expect(second.report?.hits).toBe(first.report?.misses)
    expect(second.userAgent).toBe(first.userAgent)
  })

  it('keeps only the most recently written cache files of other installs', async () => {
    const cacheDir = join(root.path, 'cache-prune')
    await mkdir(cacheDir, { recursive: true })
    // Files left by installs that moved or went, written one minute apart, oldest first.
    const others = Array.from(
      { length: CACHE_FILES_KEPT + 3 },
      (_, i) => `cli-${String(i).padStart(16, '0')}.v8cache`,
    )
    for (const [i, name] of others.entries()) {
      await writeFile(join(cacheDir, name), 'left by another install')
      const when = new Date(Date.now() - (others.length - i) * 60_000)
      await utimes(join(cacheDir, name), when, when)
    }
    await writeFile(join(cacheDir, 'notes.txt'), 'not a cache file')
    const run = await serverRun(cacheDir)
    expect(run.report?.written).toBe('written')
    const left = await cacheFiles(cacheDir)
    expect(left).toHaveLength(CACHE_FILES_KEPT)
    expect(left).toContain(basename(run.report?.file as string))
    // The newest of the others stay; the oldest went. Other files are not touched.
    expect(left).toEqual(expect.arrayContaining(others.slice(-(CACHE_FILES_KEPT - 1))))
    expect(existsSync(join(cacheDir, 'notes.txt'))).toBe(true)
  })

  it('ignores a corrupt cache file, still answers, and replaces it', async () => {
    const cacheDir = join(root.path, 'cache-corrupt')
    const written = await serverRun(cacheDir)
    const file = written.report?.file as string

    // Not a cache file at all.
    await writeFile(file, 'this is not a code cache')
    const garbage = await serverRun(cacheDir)
    expect(garbage.report).toMatchObject({ hits: 0, ignored: 'corrupt', written: 'written' })

    // A well-formed file whose V8 data was damaged: every entry's own hash catches it.
    const bytes = await readFile(file)
    for (let i = bytes.length - 1; i > bytes.length - 200; i -= 7) bytes[i] = (bytes[i] as number) ^ 0xff
    await writeFile(file, bytes)
    const damaged = await serverRun(cacheDir)
    expect(damaged.report?.misses).toBeGreaterThan(0)
    expect(damaged.report?.written).toBe('written')

    // Cut short.
    await writeFile(file, (await readFile(file)).subarray(0, 1000))
    const cut = await serverRun(cacheDir)
    expect(cut.report).toMatchObject({ hits: 0, ignored: 'corrupt', written: 'written' })

    const healed = await serverRun(cacheDir)
    expect(healed.report).toMatchObject({ misses: 0, ignored: null, written: 'unchanged' })
    expect(healed.userAgent).toBe(written.userAgent)
  })

  it('ignores the entry of a bundle file that changed, even at the same length', async () => {
    const cacheDir = join(root.path, 'cache-stale')
    const before = await serverRun(cacheDir)
    expect(before.userAgent).toMatch(/codex-desk\/\d+\.\d+\.\d+/)
    const version = /codex-desk\/(\d+\.\d+\.\d+)/.exec(before.userAgent)?.[1] as string
    const changed = version
      .split('')
      .map((c) => (/\d/.test(c) ? String((Number(c) + 1) % 10) : c))
      .join('')
    const cli = join(install, 'out/cli/cli.cjs')
    const source = await readFile(cli, 'utf8')
    expect(source).toContain(`version: "${version}"`)
    // Same length: V8's own check (the source length) would accept the old data.
    await writeFile(cli, source.replace(`version: "${version}"`, `version: "${changed}"`))
    try {
      const after = await serverRun(cacheDir)
      expect(after.userAgent).toContain(`codex-desk/${changed}`)
      expect(after.report?.misses).toBe(1)
      expect(after.report?.hits).toBe((before.report?.misses as number) - 1)
      expect(after.report?.written).toBe('written')
      const again = await serverRun(cacheDir)
      expect(again.report).toMatchObject({ misses: 0, written: 'unchanged' })
      expect(again.userAgent).toContain(`codex-desk/${changed}`)
    } finally {
      await writeFile(cli, source)
    }
  })

  it('runs a bundle with no import() left in it (code compiled with the cache cannot run one)', async () => {
    const dir = join(install, 'out/cli')
    const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.cjs'))
    expect(files.length).toBeGreaterThan(1)
    for (const file of files) {
      const source = ts.createSourceFile(
        file,
        await readFile(join(dir, file), 'utf8'),
        ts.ScriptTarget.Latest,
      )
      const found: number[] = []
      const visit = (node: ts.Node): void => {
        if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
          found.push(source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1)
        ts.forEachChild(node, visit)
      }
      visit(source)
      expect(found, `import() at these lines of ${file}`).toEqual([])
    }
  })

  it('starts and answers when the cache location cannot be written', async () => {
    const blocker = join(root.path, 'not-a-folder')
    await writeFile(blocker, 'a file where the cache folder would go')
    const run = await serverRun(join(blocker, 'cache'))
    expect(run.report).toMatchObject({ hits: 0, written: 'failed' })
    expect(run.stderr).not.toMatch(/fatal|Error:/)
  })

  it('answers --version without writing a cache, and runs with the cache turned off', async () => {
    const cacheDir = join(root.path, 'cache-version')
    const version = await runBin(['--version'], cacheDir)
    expect(version.code).toBe(0)
    expect(version.stdout).toMatch(/^codex-desk \d+\.\d+\.\d+\n$/)
    expect(version.report?.written).toBe('off')
    expect(await cacheFiles(cacheDir)).toHaveLength(0)

    const off = await serverRun('off')
    expect(off.report).toMatchObject({ file: null, written: 'off' })
  })
})
