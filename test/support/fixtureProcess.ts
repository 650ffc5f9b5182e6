/** Starts the broadcast fixture (fixtures/broadcastServer.ts) as a child with IPC and talks to it. */
import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { FixtureCommand, FixtureReply } from './fixtures/broadcastServer'
import { REPO_ROOT } from './appServerProcess'
import { WAIT_MS, withTimeout } from './testClient'

export interface Fixture {
  child: ChildProcess
  url?: string
  command(command: FixtureCommand): void
  next<T extends FixtureReply['type']>(
    type: T,
    timeoutMs?: number,
  ): Promise<Extract<FixtureReply, { type: T }>>
  dispose(): Promise<void>
}

export async function startFixture(mode: 'ws' | 'stdio'): Promise<Fixture> {
  const child = fork(join(REPO_ROOT, 'test/support/fixtures/broadcastServer.ts'), ['--mode', mode], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['pipe', 'pipe', 'inherit', 'ipc'],
  })
  const replies: FixtureReply[] = []
  const waiters: { type: string; resolve: (r: FixtureReply) => void }[] = []
  child.on('message', (reply: FixtureReply) => {
    const i = waiters.findIndex((w) => w.type === reply.type)
    if (i === -1) replies.push(reply)
    else waiters.splice(i, 1)[0]?.resolve(reply)
  })
  const fixture: Fixture = {
    child,
    command: (command) => child.send(command),
    next(type, timeoutMs = WAIT_MS) {
      const i = replies.findIndex((r) => r.type === type)
      if (i !== -1) return Promise.resolve(replies.splice(i, 1)[0] as never)
      return withTimeout(
        new Promise<FixtureReply>((resolve) => waiters.push({ type, resolve })),
        timeoutMs,
        `fixture ${type}`,
      ) as never
    },
    async dispose() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGKILL')
      await exited
    },
  }
  const ready = await fixture.next('ready', WAIT_MS)
  if (ready.url) fixture.url = ready.url
  return fixture
}
