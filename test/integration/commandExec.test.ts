/**
 * `command/exec` against the real core: buffered results, streamed output with stdin and terminate,
 * the timeout, the output cap, the sandbox refusing a write, a pseudo-terminal and its resize, and a
 * closing connection killing its commands.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectCodexShape } from '../support/codexSchema'
import { startHarness, type Harness } from '../support/threadHarness'
import { WAIT_MS, type ServerMessage, type TestClient } from '../support/testClient'

const b64 = (text: string): string => Buffer.from(text).toString('base64')

function outputOf(client: TestClient, processId: string, stream: 'stdout' | 'stderr'): string {
  return client.received
    .filter((m) => m.method === 'command/exec/outputDelta')
    .map((m) => m.params as { processId: string; stream: string; deltaBase64: string })
    .filter((p) => p.processId === processId && p.stream === stream)
    .map((p) => Buffer.from(p.deltaBase64, 'base64').toString('utf8'))
    .join('')
}

async function waitForOutput(client: TestClient, processId: string, text: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!outputOf(client, processId, 'stdout').includes(text)) {
    if (Date.now() > deadline) throw new Error(`no output ${JSON.stringify(text)} from ${processId}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Starts `sh -c script` as a command/exec whose answer comes later (request id `exec-<processId>`)
 * and waits until its output holds `ready`.
 */
async function startCommand(
  client: TestClient,
  processId: string,
  script: string,
  ready: string,
  params: Record<string, unknown>,
): Promise<void> {
  client.send({
    id: `exec-${processId}`,
    method: 'command/exec',
    params: { command: ['sh', '-c', script], processId, ...params },
  })
  await waitForOutput(client, processId, ready)
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function waitUntil(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe.each(['stdio', 'ws'] as const)('command/exec over %s', (transport) => {
  let harness: Harness
  let client: TestClient
  let work: string

  beforeAll(async () => {
    harness = await startHarness(transport, { config: 'sandbox_mode = "workspace-write"' })
    client = await harness.connect()
    work = await mkdtemp(path.join(tmpdir(), 'desk-cmdexec-'))
  })
  afterAll(async () => {
    await harness.dispose()
    await rm(work, { recursive: true, force: true })
  })

  it('runs a command and answers with its exit code, stdout and stderr', async () => {
    const result = await client.request('command/exec', {
      command: ['sh', '-c', 'echo hi; echo err >&2; exit 3'],
      cwd: work,
    })
    expectCodexShape('CommandExecResponse', result)
    expect(result).toEqual({ exitCode: 3, stdout: 'hi\n', stderr: 'err\n' })
  })

  it('applies environment overrides and unsets variables set to null', async () => {
    const result = await client.request('command/exec', {
      command: ['sh', '-c', 'echo "$DESK_FOO/${HOME:-unset}"'],
      cwd: work,
      env: { DESK_FOO: 'bar', HOME: null },
    })
    expect(result.stdout).toBe('bar/unset\n')
  })

  it('streams output as base64, takes stdin until it is closed, and answers with empty buffers', async () => {
    const id = `cat-${transport}`
    await startCommand(client, id, 'echo start; cat; echo done >&2', 'start\n', {
      cwd: work,
      streamStdin: true,
      streamStdoutStderr: true,
    })
    expect(
      await client.request('command/exec/write', { processId: id, deltaBase64: b64('hello\n') }),
    ).toEqual({})
    await waitForOutput(client, id, 'hello\n')
    await client.request('command/exec/write', { processId: id, closeStdin: true })
    const response = await client.waitForResponse(`exec-${id}`)
    expect(response.result).toEqual({ exitCode: 0, stdout: '', stderr: '' })
    expect(outputOf(client, id, 'stdout')).toBe('start\nhello\n')
    expect(outputOf(client, id, 'stderr')).toBe('done\n')
    for (const m of client.received.filter((m) => m.method === 'command/exec/outputDelta'))
      expectCodexShape('ServerNotification', { method: m.method, params: m.params })
    // Every delta came before the response.
    const responseAt = client.received.indexOf(response)
    const lastDelta = client.received.findLastIndex(
      (m: ServerMessage) =>
        m.method === 'command/exec/outputDelta' && (m.params as { processId: string }).processId === id,
    )
    expect(lastDelta).toBeLessThan(responseAt)
  })

  it('terminates a running command, which then answers with the kill status', async () => {
    const id = `sleep-${transport}`
    await startCommand(client, id, 'echo up; sleep 60', 'up\n', { cwd: work, streamStdoutStderr: true })
    const duplicate = await client.call('command/exec', { command: ['true'], processId: id, cwd: work })
    expect(duplicate.error?.message).toBe(`duplicate active command/exec process id: "${id}"`)
    expect(await client.request('command/exec/terminate', { processId: id })).toEqual({})
    const response = await client.waitForResponse(`exec-${id}`)
    expect(response.result).toEqual({ exitCode: 137, stdout: '', stderr: '' })
    const gone = await client.call('command/exec/terminate', { processId: id })
    expect(gone.error).toEqual({ code: -32600, message: `no active command/exec for process id "${id}"` })
  })

  it('kills a command at its timeout and reports exit code 124', async () => {
    const result = await client.request('command/exec', {
      command: ['sh', '-c', 'sleep 60'],
      cwd: work,
      timeoutMs: 300,
    })
    expect(result).toEqual({ exitCode: 124, stdout: '', stderr: '' })
  })

  it('caps each stream at outputBytesCap, buffered and streamed', async () => {
    const script = 'head -c 5000 /dev/zero | tr "\\0" a'
    const buffered = await client.request('command/exec', {
      command: ['sh', '-c', script],
      cwd: work,
      outputBytesCap: 10,
    })
    expect(buffered).toEqual({ exitCode: 0, stdout: 'aaaaaaaaaa', stderr: '' })
    const id = `cap-${transport}`
    const streamed = await client.request('command/exec', {
      command: ['sh', '-c', script],
      cwd: work,
      outputBytesCap: 10,
      processId: id,
      streamStdoutStderr: true,
    })
    expect(streamed.stdout).toBe('')
    expect(outputOf(client, id, 'stdout')).toBe('aaaaaaaaaa')
    const deltas = client.received.filter(
      (m) => m.method === 'command/exec/outputDelta' && (m.params as { processId: string }).processId === id,
    )
    expect((deltas.at(-1)?.params as { capReached: boolean }).capReached).toBe(true)
  })

  it('answers bad combinations with codex errors', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ command: [] }, -32600, 'command must not be empty'],
      [
        { command: ['true'], tty: true },
        -32600,
        'command/exec tty or streaming requires a client-supplied processId',
      ],
      [
        { command: ['true'], timeoutMs: 5, disableTimeout: true },
        -32602,
        'command/exec cannot set both timeoutMs and disableTimeout',
      ],
      [
        { command: ['true'], outputBytesCap: 5, disableOutputCap: true },
        -32602,
        'command/exec cannot set both outputBytesCap and disableOutputCap',
      ],
      [{ command: ['true'], size: { rows: 3, cols: 3 } }, -32602, 'command/exec size requires tty: true'],
    ]
    for (const [params, code, message] of cases) {
      const response = await client.call('command/exec', params)
      expect(response.error).toEqual({ code, message })
    }
    const missingCwd = await client.call('command/exec', { command: ['true'], cwd: path.join(work, 'nope') })
    expect(missingCwd.error?.code).toBe(-32603)
    expect(missingCwd.error?.message).toMatch(/^failed to spawn command: /)
    const write = await client.call('command/exec/write', { processId: 'x' })
    expect(write.error).toEqual({
      code: -32602,
      message: 'command/exec/write requires deltaBase64 or closeStdin',
    })
  })

  it('refuses a write outside the workspace under the configured sandbox, and allows it with full access', async () => {
    const outside = await mkdtemp(path.join(process.env.HOME ?? tmpdir(), '.desk-outside-'))
    try {
      const target = path.join(outside, 'x')
      const inWorkspace = path.join(work, 'inside.txt')
      const script = `touch ${JSON.stringify(target)}; echo $?; echo ok > ${JSON.stringify(inWorkspace)}`
      const refused = await client.request('command/exec', {
        command: ['sh', '-c', script],
        cwd: work,
        sandboxPolicy: { type: 'workspaceWrite', excludeSlashTmp: false },
      })
      expect(refused.stdout).toBe('1\n')
      expect(refused.stderr).toMatch(/Read-only file system|Permission denied/)
      await expect(stat(target)).rejects.toThrow()
      expect(await readFile(inWorkspace, 'utf8')).toBe('ok\n')
      const readOnly = await client.request('command/exec', {
        command: ['sh', '-c', `echo no > ${JSON.stringify(inWorkspace)}; echo $?`],
        cwd: work,
        sandboxPolicy: { type: 'readOnly' },
      })
      expect(readOnly.stdout).not.toBe('0\n')
      expect(readOnly.stderr).toMatch(/Read-only file system|Permission denied/)
      expect(await readFile(inWorkspace, 'utf8')).toBe('ok\n')
      const allowed = await client.request('command/exec', {
        command: ['sh', '-c', `touch ${JSON.stringify(target)}; echo $?`],
        cwd: work,
        sandboxPolicy: { type: 'dangerFullAccess' },
      })
      expect(allowed.stdout).toBe('0\n')
    } finally {
      await rm(outside, { recursive: true, force: true })
    }
  })

  it('gives a tty command a terminal of the requested size, and resizes it', async () => {
    const id = `tty-${transport}`
    await startCommand(client, id, 'stty size; read line; stty size', '30 100', {
      cwd: work,
      tty: true,
      size: { rows: 30, cols: 100 },
    })
    expect(
      await client.request('command/exec/resize', { processId: id, size: { rows: 40, cols: 120 } }),
    ).toEqual({})
    await client.request('command/exec/write', { processId: id, deltaBase64: b64('go\n') })
    const response = await client.waitForResponse(`exec-${id}`)
    expect((response.result as { exitCode: number }).exitCode).toBe(0)
    await waitForOutput(client, id, '40 120')
    const bad = await client.call('command/exec/resize', { processId: id, size: { rows: 0, cols: 10 } })
    expect(bad.error).toEqual({
      code: -32602,
      message: 'command/exec size rows and cols must be greater than 0',
    })
  })

  it('answers resize of a command without a terminal with an error', async () => {
    const id = `notty-${transport}`
    await startCommand(client, id, 'echo up; sleep 60', 'up\n', { cwd: work, streamStdoutStderr: true })
    const response = await client.call('command/exec/resize', { processId: id, size: { rows: 10, cols: 10 } })
    expect(response.error).toEqual({
      code: -32600,
      message: 'failed to resize PTY: process is not attached to a PTY',
    })
    await client.request('command/exec/terminate', { processId: id })
    await client.waitForResponse(`exec-${id}`)
  })
})

describe.each(['stdio', 'ws'] as const)('command/exec and a closing %s connection', (transport) => {
  it('kills the commands the connection started', async () => {
    const harness = await startHarness(transport, { config: 'sandbox_mode = "danger-full-access"' })
    const work = await mkdtemp(path.join(tmpdir(), 'desk-cmdexec-close-'))
    try {
      const client = await harness.connect()
      const pidFile = path.join(work, 'pid')
      client.send({
        id: 'long',
        method: 'command/exec',
        params: {
          command: ['sh', '-c', `echo $$ > ${JSON.stringify(pidFile)}; echo up; exec sleep 120`],
          cwd: work,
          processId: 'long',
          streamStdoutStderr: true,
          disableTimeout: true,
        },
      })
      await waitForOutput(client, 'long', 'up\n')
      const pid = Number((await readFile(pidFile, 'utf8')).trim())
      expect(alive(pid)).toBe(true)
      if (transport === 'stdio') harness.proc.child.stdin.end()
      else client.close()
      await waitUntil(() => !alive(pid), `process ${pid} to be killed`)
    } finally {
      await harness.dispose()
      await rm(work, { recursive: true, force: true })
    }
  })
})

describe('command/exec on a machine without a sandbox', () => {
  it('refuses a restricted policy instead of running unsandboxed, and runs with full access', async () => {
    const harness = await startHarness('stdio', { env: { CODEX_DESK_SANDBOX: 'none' } })
    try {
      const client = await harness.connect()
      const refused = await client.call('command/exec', { command: ['true'], cwd: tmpdir() })
      expect(refused.error?.code).toBe(-32600)
      expect(refused.error?.message).toMatch(/^commands cannot be sandboxed on this machine/)
      const allowed = await client.request('command/exec', {
        command: ['sh', '-c', 'echo free'],
        cwd: tmpdir(),
        sandboxPolicy: { type: 'dangerFullAccess' },
      })
      expect(allowed).toEqual({ exitCode: 0, stdout: 'free\n', stderr: '' })
    } finally {
      await harness.dispose()
    }
  })
})
