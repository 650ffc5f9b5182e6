/** Starts bench/lib/modelServerChild.ts and drives it over IPC (see there). */
import { fork } from 'node:child_process'
import { join } from 'node:path'
import type { Step } from '../../test/support/modelServer'
import { REPO_ROOT } from './processes'

export interface RemoteModelServer {
  readonly url: string
  readonly pid: number | undefined
  enqueue(steps: Step[]): void
  close(): Promise<void>
}

export async function startRemoteModelServer(): Promise<RemoteModelServer> {
  const child = fork(join(REPO_ROOT, 'bench/lib/modelServerChild.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: { url?: string }) =>
      message.url ? resolve(message.url) : reject(new Error('model server child did not start')),
    )
    child.once('exit', (code) => reject(new Error(`model server child exited with ${code}`)))
  })
  return {
    url,
    pid: child.pid,
    enqueue: (steps) => child.send({ enqueue: steps }),
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000)
        child.once('exit', () => {
          clearTimeout(timer)
          resolve()
        })
        child.send({ close: true })
      }),
  }
}
