/**
 * The sandbox holds when the core runs as root (as CI does): no capability inside, so the read-only
 * filesystem cannot be remounted writable, and no way to a unix socket on the host unless network
 * access is granted. Commands go through the argv and spawn the shell tool uses (`sandboxArgv`,
 * `runCommand`), and once end to end through a real core and the scripted model.
 */
import { execFileSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { runCommand } from '../../src/worker/agent/exec/run'
import { detectSandbox, sandboxArgv } from '../../src/worker/agent/sandbox/sandbox'
import type { SandboxPolicy } from '../../src/worker/protocol/thread'
import { functionCall, functionOutput, text } from '../support/modelServer'
import { startHarness, startThread, runTurn, type Harness } from '../support/threadHarness'

const availability = await detectSandbox()
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
const dirs: string[] = []
const servers: net.Server[] = []

/** Outside /tmp, which the sandbox replaces with a private tmpfs, so the command sees it (read-only). */
const HOST_TEMP = existsSync('/var/tmp') ? '/var/tmp' : process.cwd()

function hostDir(prefix: string): string {
  const dir = realpathSync(mkdtempSync(path.join(HOST_TEMP, prefix)))
  dirs.push(dir)
  return dir
}

afterAll(async () => {
  for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()))
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** A unix socket server on the host that answers "hello" and counts who connected. */
async function unixServer(socketPath: string): Promise<{ connections: () => number }> {
  let connections = 0
  const server = net.createServer((socket) => {
    connections++
    socket.end('hello\n')
  })
  servers.push(server)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, resolve)
  })
  return { connections: () => connections }
}

/** Runs a bash script the way the shell tool does: wrapped for the policy, spawned by runCommand. */
function sandboxed(script: string, policy: SandboxPolicy, cwd: string) {
  const argv = sandboxArgv(['bash', '-c', script], policy, { cwd, kind: availability.kind })
  return runCommand({ argv, cwd, env, timeoutMs: 30_000 })
}

/** A node one-liner that connects to a unix socket and prints what it got or the error code. */
function connectScript(socketPath: string): string {
  const js = `const s=require("net").connect(${JSON.stringify(socketPath)});s.on("data",d=>process.stdout.write("got "+d));s.on("error",e=>console.log("error "+e.code))`
  return `node -e '${js}'`
}

const MOUNT_ESCAPE = (outside: string) =>
  `OUTSIDE=${outside}; mount --bind "$OUTSIDE" "$OUTSIDE" && mount -o remount,rw,bind "$OUTSIDE" && echo pwn > "$OUTSIDE/x"`

/** The two policies that restrict a command (the others run it unwrapped). */
type RestrictingPolicy = Extract<SandboxPolicy, { type: 'readOnly' | 'workspaceWrite' }>

const policies: Array<[string, RestrictingPolicy]> = [
  ['read-only', { type: 'readOnly' }],
  // $TMPDIR would be a writable root too; these directories may live there.
  ['workspace-write', { type: 'workspaceWrite', excludeTmpdirEnvVar: true }],
]

describe.each(policies)('a command under %s', (_name, policy) => {
  beforeEach(({ skip }) => {
    skip(availability.kind !== 'bwrap', `no bubblewrap sandbox on this machine: ${availability.reason}`)
  })

  let cwd: string
  let outside: string
  beforeAll(() => {
    cwd = hostDir('escape-cwd-')
    outside = hostDir('escape-outside-')
    writeFileSync(path.join(outside, 'readme.txt'), 'from the host\n')
  })

  it('has no capability left, even when the core runs as root', async () => {
    const run = await sandboxed('grep -E "^Cap(Eff|Prm):" /proc/self/status', policy, cwd)
    expect(run.exitCode).toBe(0)
    expect(run.output).toBe('CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n')
  })

  it('cannot remount a host folder writable and write into it', async () => {
    const run = await sandboxed(MOUNT_ESCAPE(outside), policy, cwd)
    expect(run.exitCode).not.toBe(0)
    expect(run.output).toMatch(/permission denied|operation not permitted/i)
    expect(existsSync(path.join(outside, 'x'))).toBe(false)
  })

  it('cannot connect to a unix socket on the host, outside or inside the writable roots', async () => {
    const outsideSocket = path.join(outside, 'host.sock')
    const insideSocket = path.join(cwd, 'project.sock')
    const outsideServer = await unixServer(outsideSocket)
    const insideServer = await unixServer(insideSocket)
    for (const socketPath of [outsideSocket, insideSocket]) {
      const run = await sandboxed(connectScript(socketPath), policy, cwd)
      expect(run.output).toBe('error EPERM\n')
    }
    // A datagram socket could send to a host socket without connecting: it cannot be made.
    const dgram = await sandboxed(
      `python3 -c 'import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)' 2>&1 | tail -1`,
      policy,
      cwd,
    )
    if (!/not found/.test(dgram.output)) expect(dgram.output).toMatch(/Operation not permitted/)
    expect(outsideServer.connections()).toBe(0)
    expect(insideServer.connections()).toBe(0)
  })

  it('reaches a unix socket on the host when the policy grants network access', async () => {
    const socketPath = path.join(outside, 'granted.sock')
    const server = await unixServer(socketPath)
    const run = await sandboxed(connectScript(socketPath), { ...policy, networkAccess: true }, cwd)
    expect(run.output).toBe('got hello\n')
    expect(server.connections()).toBe(1)
  })

  it('still reads anywhere, runs node and its child processes, and runs git', async () => {
    execFileSync('git', ['init', '-q', '-b', 'main', cwd])
    const script = [
      `cat ${outside}/readme.txt`,
      `node -e 'console.log(require("child_process").execFileSync("echo",["child ok"]).toString().trim())'`,
      'git status --short --branch',
    ].join(' && ')
    const run = await sandboxed(script, policy, cwd)
    expect(run.output).toBe('from the host\nchild ok\n## No commits yet on main\n')
    expect(run.exitCode).toBe(0)
  })
})

describe('a workspace-write command as the core user', () => {
  beforeEach(({ skip }) => {
    skip(availability.kind !== 'bwrap', `no bubblewrap sandbox on this machine: ${availability.reason}`)
  })

  it('writes in the workspace, and the file belongs to the user the core runs as', async () => {
    const cwd = hostDir('escape-write-')
    mkdirSync(path.join(cwd, 'src'))
    const policy: SandboxPolicy = { type: 'workspaceWrite', excludeTmpdirEnvVar: true }
    const run = await sandboxed('echo made > src/new.txt && cat src/new.txt', policy, cwd)
    expect(run.output).toBe('made\n')
    expect(readFileSync(path.join(cwd, 'src', 'new.txt'), 'utf8')).toBe('made\n')
    expect(statSync(path.join(cwd, 'src', 'new.txt')).uid).toBe(process.getuid?.())
  })
})

describe('the shell tool of a real core', () => {
  const harnesses: Harness[] = []
  afterAll(async () => {
    for (const h of harnesses) await h.dispose()
  })

  it('runs model commands powerless: no capability, no remount, no host unix socket', async ({ skip }) => {
    skip(availability.kind !== 'bwrap', `no bubblewrap sandbox on this machine: ${availability.reason}`)
    const h = await startHarness('stdio')
    harnesses.push(h)
    const client = await h.connect()
    const cwd = path.join(h.proc.home, 'project')
    mkdirSync(cwd, { recursive: true })
    const outside = hostDir('escape-core-')
    const socketPath = path.join(outside, 'agent.sock')
    const server = await unixServer(socketPath)
    h.model.enqueue(
      functionCall({
        name: 'shell_command',
        arguments: { command: 'grep ^CapEff: /proc/self/status' },
        callId: 'call_caps',
      }),
      functionCall({
        name: 'shell_command',
        arguments: { command: MOUNT_ESCAPE(outside) },
        callId: 'call_mount',
      }),
      functionCall({
        name: 'shell_command',
        arguments: { command: connectScript(socketPath) },
        callId: 'call_socket',
      }),
      text('done'),
    )
    const { thread } = await startThread(client, { cwd, approvalPolicy: 'never', sandbox: 'workspace-write' })
    await runTurn(client, thread.id, 'try to get out')
    expect(functionOutput(h.model.requests, 'call_caps')).toMatch(/CapEff:\t0000000000000000/)
    expect(functionOutput(h.model.requests, 'call_mount')).toMatch(/^Exit code: [1-9][^]*permission denied/i)
    expect(existsSync(path.join(outside, 'x'))).toBe(false)
    expect(functionOutput(h.model.requests, 'call_socket')).toMatch(/error EPERM/)
    expect(server.connections()).toBe(0)
  }, 60_000)
})
