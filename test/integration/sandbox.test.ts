import { existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { attachedInputFds, runCommand } from '../../src/worker/agent/exec/run'
import {
  detectSandbox,
  isPathWritable,
  resetSandboxDetection,
  sandboxArgv,
  writableRoots,
} from '../../src/worker/agent/sandbox/sandbox'
import { seatbeltArgv } from '../../src/worker/agent/sandbox/seatbelt'
import { isUnrestricted, type SandboxPolicy } from '../../src/worker/protocol/thread'

const availability = await detectSandbox()
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
const dirs: string[] = []

function tempDir(prefix: string): string {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), prefix)))
  dirs.push(dir)
  return dir
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** Runs a bash script under the detected sandbox for the policy. */
function sandboxed(script: string, policy: SandboxPolicy, cwd: string) {
  const argv = sandboxArgv(['bash', '-c', script], policy, { cwd, kind: availability.kind })
  return runCommand({ argv, cwd, env, timeoutMs: 15_000 })
}

describe('sandbox detection', () => {
  it('reports no sandbox, with the reason, when CODEX_DESK_SANDBOX=none', async () => {
    const previous = process.env.CODEX_DESK_SANDBOX
    process.env.CODEX_DESK_SANDBOX = 'none'
    resetSandboxDetection()
    try {
      expect(await detectSandbox()).toEqual({ kind: 'none', reason: 'disabled by CODEX_DESK_SANDBOX=none' })
    } finally {
      if (previous === undefined) delete process.env.CODEX_DESK_SANDBOX
      else process.env.CODEX_DESK_SANDBOX = previous
      resetSandboxDetection()
    }
  })

  it('caches the result for the process', async () => {
    expect(detectSandbox()).toBe(detectSandbox())
    expect((await detectSandbox()).kind).toBe(availability.kind)
  })
})

describe('writable roots', () => {
  let cwd: string
  beforeAll(() => {
    cwd = tempDir('roots-')
    mkdirSync(path.join(cwd, 'sub'))
  })

  it('lists cwd, extra roots resolved against cwd, /tmp and $TMPDIR for workspaceWrite', () => {
    const roots = writableRoots(
      { type: 'workspaceWrite', writableRoots: ['sub'], excludeTmpdirEnvVar: true },
      cwd,
    )
    expect(roots).toEqual([cwd, path.join(cwd, 'sub'), realpathSync('/tmp')])
    expect(
      writableRoots({ type: 'workspaceWrite', excludeSlashTmp: true, excludeTmpdirEnvVar: true }, cwd),
    ).toEqual([cwd])
    expect(writableRoots({ type: 'readOnly' }, cwd)).toEqual([])
    expect(writableRoots({ type: 'dangerFullAccess' }, cwd)).toEqual(['/'])
    expect(writableRoots({ type: 'externalSandbox' }, cwd)).toEqual(['/'])
  })

  it('judges paths after resolving .. and symlinks, and keeps .git and .codex read-only', () => {
    const policy: SandboxPolicy = { type: 'workspaceWrite', excludeSlashTmp: true, excludeTmpdirEnvVar: true }
    const outside = tempDir('outside-')
    symlinkSync(outside, path.join(cwd, 'escape'))
    expect(isPathWritable('new/file.txt', policy, cwd)).toBe(true)
    expect(isPathWritable(path.join(cwd, 'sub', 'x'), policy, cwd)).toBe(true)
    expect(isPathWritable(path.join(cwd, '..', 'elsewhere'), policy, cwd)).toBe(false)
    expect(isPathWritable('escape/file.txt', policy, cwd)).toBe(false)
    expect(isPathWritable('.git/config', policy, cwd)).toBe(false)
    expect(isPathWritable('.codex', policy, cwd)).toBe(false)
    expect(isPathWritable('x', { type: 'readOnly' }, cwd)).toBe(false)
    expect(isPathWritable('/etc/passwd', { type: 'dangerFullAccess' }, cwd)).toBe(true)
    expect(isUnrestricted({ type: 'externalSandbox', networkAccess: 'restricted' })).toBe(true)
    expect(isUnrestricted({ type: 'workspaceWrite' })).toBe(false)
  })
})

describe('seatbelt profile', () => {
  it('passes each writable root and its protected subpaths as parameters the profile refers to', () => {
    const cwd = tempDir('seatbelt-')
    const argv = seatbeltArgv(
      ['bash', '-c', 'ls'],
      { type: 'workspaceWrite', excludeSlashTmp: true, excludeTmpdirEnvVar: true },
      cwd,
    )
    expect(argv.slice(0, 2)).toEqual(['/usr/bin/sandbox-exec', '-p'])
    const profile = argv[2] as string
    expect(profile).toContain('(deny default)')
    expect(profile).toContain('(allow file-read*)')
    expect(profile).toContain('(subpath (param "WRITABLE_ROOT_0"))')
    expect(profile).toContain('(require-not (subpath (param "WRITABLE_ROOT_0_RO_0")))')
    expect(profile).not.toContain(cwd)
    expect(profile).not.toContain('(allow network-outbound)')
    expect(argv).toContain(`-DWRITABLE_ROOT_0=${cwd}`)
    expect(argv).toContain(`-DWRITABLE_ROOT_0_RO_0=${path.join(cwd, '.git')}`)
    expect(argv.slice(argv.indexOf('--'))).toEqual(['--', 'bash', '-c', 'ls'])

    const networked = seatbeltArgv(['true'], { type: 'readOnly', networkAccess: true }, cwd)
    expect(networked[2]).toContain('(allow network-outbound)')
    expect(networked[2]).not.toContain('WRITABLE_ROOT_0')
    expect(seatbeltArgv(['true'], { type: 'dangerFullAccess' }, cwd)).toEqual(['true'])
  })
})

describe('commands under bubblewrap', () => {
  beforeEach(({ skip }) => {
    skip(availability.kind !== 'bwrap', `no bubblewrap sandbox on this machine: ${availability.reason}`)
  })

  let cwd: string
  let other: string
  let server: net.Server
  let port: number
  let connections = 0

  beforeAll(async () => {
    cwd = tempDir('sandbox-cwd-')
    other = tempDir('sandbox-other-')
    mkdirSync(path.join(cwd, '.git'))
    writeFileSync(path.join(cwd, '.git', 'HEAD'), 'ref: refs/heads/main\n')
    server = net.createServer((socket) => {
      connections++
      socket.destroy()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as net.AddressInfo).port
  })

  afterAll(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  })

  // $TMPDIR would be a writable root too; these temp directories may live there.
  const workspace: SandboxPolicy = { type: 'workspaceWrite', excludeTmpdirEnvVar: true }

  it('lets a workspaceWrite command write inside its cwd', async () => {
    const run = await sandboxed('touch ok && echo written', workspace, cwd)
    expect(run.output).toBe('written\n')
    expect(run.exitCode).toBe(0)
    expect(existsSync(path.join(cwd, 'ok'))).toBe(true)
  })

  it('blocks writes outside the writable roots', async () => {
    // /tmp is private by default, so the other directory is not even visible...
    const hidden = await sandboxed(`touch ${other}/x`, workspace, cwd)
    expect(hidden.exitCode).not.toBe(0)
    // ...and with the host's /tmp kept (read-only), it is visible but cannot be written.
    const keptTmp: SandboxPolicy = {
      type: 'workspaceWrite',
      excludeSlashTmp: true,
      excludeTmpdirEnvVar: true,
    }
    const readOnly = await sandboxed(`ls -d ${other} && touch ${other}/x`, keptTmp, cwd)
    expect(readOnly.exitCode).not.toBe(0)
    expect(readOnly.output).toContain(other)
    expect(readOnly.output).toMatch(/Read-only file system/)
    expect(existsSync(path.join(other, 'x'))).toBe(false)
  })

  it('keeps .git inside the workspace read-only', async () => {
    const run = await sandboxed('echo x > .git/x', workspace, cwd)
    expect(run.exitCode).not.toBe(0)
    expect(existsSync(path.join(cwd, '.git', 'x'))).toBe(false)
    const readable = await sandboxed('cat .git/HEAD', workspace, cwd)
    expect(readable.output).toBe('ref: refs/heads/main\n')
  })

  it('gives the command a private /tmp whose writes never reach the host', async () => {
    const name = `codex-desk-leak-${process.pid}-${Date.now()}`
    const run = await sandboxed(`echo secret > /tmp/${name} && cat /tmp/${name}`, workspace, cwd)
    expect(run.output).toBe('secret\n')
    expect(existsSync(path.join('/tmp', name))).toBe(false)
  })

  it('blocks the network unless the policy allows it', async () => {
    const connect = `exec 3<>/dev/tcp/127.0.0.1/${port} && echo connected`
    connections = 0
    const blocked = await sandboxed(connect, workspace, cwd)
    expect(blocked.exitCode).not.toBe(0)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(connections).toBe(0)

    const allowed = await sandboxed(connect, { ...workspace, networkAccess: true }, cwd)
    expect(allowed.output).toBe('connected\n')
    expect(allowed.exitCode).toBe(0)
    for (let i = 0; i < 50 && connections === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(connections).toBe(1)
  })

  it('blocks every write in cwd under readOnly', async () => {
    const run = await sandboxed('touch ro-attempt', { type: 'readOnly' }, cwd)
    expect(run.exitCode).not.toBe(0)
    expect(run.output).toMatch(/Read-only file system/)
    expect(existsSync(path.join(cwd, 'ro-attempt'))).toBe(false)
  })

  it('drops every capability and passes the seccomp filter on descriptor 3 with the command line', () => {
    const argv = sandboxArgv(['true'], workspace, { cwd, kind: 'bwrap' })
    expect(argv.slice(argv.indexOf('--cap-drop'), argv.indexOf('--cap-drop') + 2)).toEqual([
      '--cap-drop',
      'ALL',
    ])
    expect(argv.slice(argv.indexOf('--seccomp'), argv.indexOf('--seccomp') + 2)).toEqual(['--seccomp', '3'])
    expect(argv.indexOf('--seccomp')).toBeLessThan(argv.indexOf('--'))
    expect(attachedInputFds(argv)?.[0]?.length).toBeGreaterThan(0)
  })

  it('fails to start, rather than run unfiltered, when its command line is copied without the filter', async () => {
    const argv = sandboxArgv(['bash', '-c', 'echo ran'], workspace, { cwd, kind: 'bwrap' })
    const copy = await runCommand({ argv: [...argv], cwd, env, timeoutMs: 15_000 })
    expect(copy.exitCode).not.toBe(0)
    expect(copy.output).not.toContain('ran')
    expect(copy.output).toMatch(/seccomp/i)
  })

  it('runs dangerFullAccess commands unwrapped', async () => {
    const argv = ['bash', '-c', `touch ${other}/full`]
    expect(sandboxArgv(argv, { type: 'dangerFullAccess' }, { cwd, kind: 'bwrap' })).toEqual(argv)
    const run = await sandboxed(`touch ${other}/full`, { type: 'dangerFullAccess' }, cwd)
    expect(run.exitCode).toBe(0)
    expect(existsSync(path.join(other, 'full'))).toBe(true)
  })
})
