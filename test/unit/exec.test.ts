import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { shellEnvironment } from '../../src/worker/agent/exec/env'
import { countLines, formatExecOutput, truncateMiddle } from '../../src/worker/agent/exec/output'
import { runCommand, type ExecResult } from '../../src/worker/agent/exec/run'
import { isKnownSafeCommand } from '../../src/worker/agent/exec/safeCommands'
import { parseWordOnlyScript, shellArgv, shellJoin } from '../../src/worker/agent/exec/shell'

const scratch = mkdtempSync(path.join(os.tmpdir(), 'exec-test-'))
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
const started: number[] = []

afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
  rmSync(scratch, { recursive: true, force: true })
})

/** Alive and not a zombie waiting for a reaper. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return process.platform !== 'linux'
  }
}

async function waitUntilGone(pid: number, ms = 3000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return !isAlive(pid)
}

function sh(script: string, extra: Partial<Parameters<typeof runCommand>[0]> = {}): Promise<ExecResult> {
  return runCommand({ argv: ['sh', '-c', script], cwd: scratch, env, timeoutMs: 10_000, ...extra })
}

function result(overrides: Partial<ExecResult>): ExecResult {
  return {
    exitCode: 0,
    signal: null,
    output: '',
    timedOut: false,
    aborted: false,
    durationMs: 0,
    pid: 1,
    spawnError: null,
    ...overrides,
  }
}

describe('runCommand', () => {
  it('streams stdout and stderr in arrival order and aggregates the same text', async () => {
    const chunks: string[] = []
    const run = await sh('echo one; sleep 0.05; echo two >&2; sleep 0.05; echo three', {
      onOutput: (chunk) => chunks.push(chunk),
    })
    expect(run.output).toBe('one\ntwo\nthree\n')
    expect(chunks.join('')).toBe(run.output)
    expect(run).toMatchObject({
      exitCode: 0,
      signal: null,
      timedOut: false,
      aborted: false,
      spawnError: null,
    })
    expect(run.pid).toBeGreaterThan(0)
  })

  it('reports the exit code of a failing command', async () => {
    expect((await sh('exit 3')).exitCode).toBe(3)
    expect((await sh('true')).exitCode).toBe(0)
  })

  it('decodes a UTF-8 character split across reads', async () => {
    // "é" is 0xC3 0xA9; written in two separate writes it must still come back whole.
    const run = await sh(`printf '\\303'; sleep 0.05; printf '\\251\\n'`)
    expect(run.output).toBe('é\n')
  })

  it('kills the whole process group on timeout, grandchildren included', async () => {
    const run = await sh('sleep 30 & echo $!; sleep 30', { timeoutMs: 300 })
    const grandchild = Number(run.output.trim())
    started.push(grandchild)
    expect(run.timedOut).toBe(true)
    expect(run.exitCode).toBeNull()
    expect(run.signal).toBe('SIGKILL')
    expect(run.durationMs).toBeLessThan(15_000)
    expect(grandchild).toBeGreaterThan(0)
    expect(await waitUntilGone(grandchild)).toBe(true)
  })

  it('stops the command when its AbortSignal fires', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 100)
    const run = await sh('sleep 30', { signal: controller.signal })
    expect(run).toMatchObject({ aborted: true, timedOut: false, exitCode: null, signal: 'SIGKILL' })
    expect(run.durationMs).toBeLessThan(15_000)
  })

  it('does not start a command whose signal has already fired', async () => {
    const controller = new AbortController()
    controller.abort()
    const run = await sh('echo never', { signal: controller.signal })
    expect(run).toMatchObject({ aborted: true, pid: null, output: '' })
  })

  it('returns soon after exit even when a backgrounded grandchild holds stdout open', async () => {
    const before = Date.now()
    const run = await sh('sleep 30 & echo $!; echo done')
    const [pid, done] = run.output.trim().split('\n')
    started.push(Number(pid))
    expect(done).toBe('done')
    expect(run.exitCode).toBe(0)
    // Far below the grandchild's 30 s, so a busy machine cannot fail it.
    expect(Date.now() - before).toBeLessThan(15_000)
  })

  it('reports a missing working directory as a spawn error instead of throwing', async () => {
    const run = await runCommand({
      argv: ['true'],
      cwd: path.join(scratch, 'missing'),
      env,
      timeoutMs: 1000,
    })
    expect(run.exitCode).toBeNull()
    expect(run.pid).toBeNull()
    expect(run.spawnError).toContain('working directory does not exist')
  })

  it('reports a missing program as a spawn error', async () => {
    const run = await runCommand({
      argv: ['definitely-not-a-program-xyz'],
      cwd: scratch,
      env,
      timeoutMs: 1000,
    })
    expect(run.exitCode).toBeNull()
    expect(run.spawnError).toContain('ENOENT')
  })
})

describe('truncateMiddle', () => {
  it('leaves text within both limits untouched', () => {
    expect(truncateMiddle('a\nb\n')).toBe('a\nb\n')
  })

  it('keeps the first and last lines with codex’s omitted marker when there are too many lines', () => {
    const text = Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join('')
    const out = truncateMiddle(text)
    expect(out.startsWith('line 0\nline 1\n')).toBe(true)
    expect(out.endsWith('line 998\nline 999\n')).toBe(true)
    expect(out).toContain('\n[... omitted 744 of 1000 lines ...]\n\n')
    expect(out).toContain('line 127\n')
    expect(out).not.toContain('line 128\n')
    expect(out).toContain('line 872\n')
    expect(out).not.toContain('line 871\n')
  })

  it('stays within the byte budget and cuts only on character boundaries', () => {
    const text = 'é'.repeat(20_000) + '\n' + '日本'.repeat(5000)
    const out = truncateMiddle(text, { maxBytes: 1000 })
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(1000)
    expect(out).not.toContain('\uFFFD')
    expect(out.startsWith('éé')).toBe(true)
    expect(out.endsWith('日本')).toBe(true)
    expect(out).toMatch(/\[\.\.\. omitted \d+ bytes \.\.\.\]/)
  })

  it('keeps the head and tail of one long line, saying how many bytes were left out', () => {
    const text = 'a'.repeat(5000) + 'b'.repeat(5000)
    const out = truncateMiddle(text, { maxBytes: 200 })
    expect(out.startsWith('a'.repeat(50))).toBe(true)
    expect(out.endsWith('b'.repeat(50))).toBe(true)
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(200)
  })

  it('counts lines the way codex does, a final newline opening no new line', () => {
    expect([
      countLines(''),
      countLines('a'),
      countLines('a\n'),
      countLines('a\nb'),
      countLines('a\n\n'),
    ]).toEqual([0, 1, 1, 2, 2])
  })
})

describe('formatExecOutput', () => {
  it('gives exit code, wall time in seconds and the output, in codex’s freeform layout', () => {
    expect(formatExecOutput(result({ exitCode: 0, durationMs: 1234, output: 'hi\n' }))).toBe(
      'Exit code: 0\nWall time: 1.2 seconds\nOutput:\nhi\n',
    )
    expect(formatExecOutput(result({ exitCode: 2, durationMs: 2000, output: '' }))).toBe(
      'Exit code: 2\nWall time: 2 seconds\nOutput:\n',
    )
  })

  it('reports a timeout with exit code 124 and codex’s timed-out line before the output', () => {
    const out = formatExecOutput(
      result({ exitCode: null, signal: 'SIGKILL', timedOut: true, durationMs: 10_012, output: 'partial\n' }),
    )
    expect(out).toBe(
      'Exit code: 124\nWall time: 10 seconds\nOutput:\ncommand timed out after 10012 milliseconds\npartial\n',
    )
    expect(
      formatExecOutput(result({ timedOut: true, exitCode: null, durationMs: 10_012 }), { timeoutMs: 10_000 }),
    ).toContain('command timed out after 10000 milliseconds')
  })

  it('reports a signal as 128 plus its number and a failed spawn as an execution error', () => {
    expect(formatExecOutput(result({ exitCode: null, signal: 'SIGTERM' }))).toMatch(/^Exit code: 143\n/)
    expect(formatExecOutput(result({ exitCode: null, pid: null, spawnError: 'spawn nope ENOENT' }))).toBe(
      'execution error: spawn nope ENOENT',
    )
  })

  it('adds the total line count when the output was cut', () => {
    const output = Array.from({ length: 300 }, (_, i) => `${i}\n`).join('')
    const out = formatExecOutput(result({ output, durationMs: 50 }))
    expect(
      out.startsWith('Exit code: 0\nWall time: 0.1 seconds\nTotal output lines: 300\nOutput:\n0\n1\n'),
    ).toBe(true)
    expect(out).toContain('[... omitted 44 of 300 lines ...]')
  })
})

describe('shellEnvironment', () => {
  const base = {
    PATH: '/usr/bin',
    HOME: '/home/me',
    USER: 'me',
    LANG: 'C.UTF-8',
    OPENAI_API_KEY: 'sk-1',
    GITHUB_TOKEN: 'ghp',
    my_secret_thing: 's',
    FOO: 'bar',
  }

  it('inherits everything by default and keeps credential-looking names, as codex’s default does', () => {
    expect(shellEnvironment({}, base)).toEqual(base)
  })

  it('inherits only the core variables with inherit = core, and nothing with inherit = none', () => {
    expect(shellEnvironment({ inherit: 'core', ignore_default_excludes: true }, base)).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/me',
      USER: 'me',
    })
    expect(shellEnvironment({ inherit: 'none' }, base)).toEqual({})
  })

  it('drops names matching *KEY*, *SECRET* and *TOKEN* in any case when default excludes are on', () => {
    expect(shellEnvironment({ ignore_default_excludes: false }, base)).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/me',
      USER: 'me',
      LANG: 'C.UTF-8',
      FOO: 'bar',
    })
  })

  it('applies exclude globs case-insensitively, then set, then include_only', () => {
    expect(shellEnvironment({ exclude: ['l*', 'f?o'] }, base)).not.toHaveProperty('LANG')
    expect(shellEnvironment({ exclude: ['l*', 'f?o'] }, base)).not.toHaveProperty('FOO')
    // set runs after exclude, so an excluded name can be put back on purpose...
    expect(shellEnvironment({ exclude: ['FOO'], set: { FOO: 'again' } }, base).FOO).toBe('again')
    // ...and include_only runs last, so it can drop a name that set added.
    expect(
      shellEnvironment({ inherit: 'none', set: { KEEP_ME: '1', DROP: '2' }, include_only: ['keep_*'] }, base),
    ).toEqual({ KEEP_ME: '1' })
    expect(shellEnvironment({ include_only: ['*PATH', 'HOME'] }, base)).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/me',
    })
  })
})

describe('shellArgv', () => {
  it('runs the script in $SHELL as a login shell unless asked otherwise', () => {
    expect(shellArgv('ls', { env: { SHELL: '/bin/zsh' } })).toEqual(['/bin/zsh', '-lc', 'ls'])
    expect(shellArgv('ls', { env: {}, login: false })).toEqual(['/bin/bash', '-c', 'ls'])
    expect(shellArgv('ls', { env: { SHELL: 'zsh' } })).toEqual(['/bin/bash', '-lc', 'ls'])
  })
})

describe('parseWordOnlyScript', () => {
  it('splits plain commands and unquotes words', () => {
    expect(parseWordOnlyScript(`grep -R "a b" src && echo 'x y' | wc -l; ls\npwd`)).toEqual({
      commands: [['grep', '-R', 'a b', 'src'], ['echo', 'x y'], ['wc', '-l'], ['ls'], ['pwd']],
      operators: ['&&', '|', ';', ';'],
    })
    expect(parseWordOnlyScript('ls;')).toEqual({ commands: [['ls']], operators: [] })
  })

  it('rejects anything beyond words and the four operators', () => {
    for (const script of [
      'echo $HOME',
      'echo "$HOME"',
      'echo `id`',
      'echo $(id)',
      'ls > out',
      'cat < in',
      '(ls)',
      '{ ls; }',
      'sleep 1 &',
      'ls |& cat',
      'FOO=1 ls',
      'if true; then ls; fi',
      'ls # comment',
      'ls &&',
      '&& ls',
      "echo 'open",
    ]) {
      expect(parseWordOnlyScript(script), script).toBeNull()
    }
  })

  it('joins words back so a shell splits them the same way', () => {
    expect(shellJoin(['rg', '-n', 'a|b', "it's", ''])).toBe(`rg -n 'a|b' 'it'"'"'s' ''`)
  })
})

describe('isKnownSafeCommand', () => {
  const table: [string, boolean][] = [
    ['echo hi', true],
    ['ls -la', true],
    ['git status', true],
    ['cat a | wc -l', true],
    ['ls && pwd', true],
    ['grep -R "Cargo.toml" -n || true', true],
    ['sed -n 1,5p file.txt', true],
    ["sed -n '10p' file.txt", true],
    ['find . -name "*.rs"', true],
    ['rg -n TODO src', true],
    ['git -C . branch --show-current', true],
    ['git log -n 1', true],
    ['base64 file', true],
    ['touch a', false],
    ['rm -rf x', false],
    ['echo hi > f', false],
    ['find . -delete', false],
    ['find . -name x -exec rm {} ;', false],
    ['rg --pre x y', false],
    ['rg --pre=x y', false],
    ['rg -z x', false],
    ['git push', false],
    ['git branch -d feature', false],
    ['git branch new-branch', false],
    ['git -c core.pager=cat log', false],
    ['git log --output=/tmp/x', false],
    ['git checkout status', false],
    ['sed -i s/a/b/ f', false],
    ['sed -n xp f', false],
    ['base64 -o out.bin', false],
    ['ls && rm -rf /', false],
    ['(ls)', false],
    ['ls $(pwd)', false],
    ["'git status'", false],
    ['', false],
  ]
  for (const [script, safe] of table) {
    it(`${JSON.stringify(script)} is ${safe ? 'known safe' : 'not known safe'}`, () => {
      expect(isKnownSafeCommand(script)).toBe(safe)
    })
  }
})
