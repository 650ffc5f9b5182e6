/**
 * Runs the real core entry in a worker thread and connects to it the way Electron's main process
 * does: one MessageChannel per client (`connect`), one for the comlink control API (`control`).
 */
import { wrap, type Remote } from 'comlink'
import { join } from 'node:path'
import { MessageChannel, Worker } from 'node:worker_threads'
import type { CoreControl } from '../../src/worker/protocol/control'
import { comlinkEndpoint } from '../../src/worker/transport/comlinkEndpoint'
import { fromNodePort, type DataEmitterLike } from '../../src/worker/transport/port'
import { REPO_ROOT, makeTempDir } from './appServerProcess'
import { portChannel } from './channels'
import { TestClient } from './testClient'

export interface CoreWorker {
  worker: Worker
  home: string
  /** A new app-server connection over a fresh MessagePort. */
  connect(name?: string): TestClient
  control(): Remote<CoreControl>
  dispose(): Promise<void>
}

export async function startCoreWorker(env: NodeJS.ProcessEnv = {}): Promise<CoreWorker> {
  const home = await makeTempDir()
  const worker = new Worker(join(REPO_ROOT, 'test/support/fixtures/coreWorker.mjs'), {
    env: { ...process.env, CODEX_DESK_HOME: home.path, CODEX_DESK_LOG: 'warn', ...env },
    stderr: false,
  })
  await new Promise<void>((resolve, reject) => {
    worker.once('online', () => resolve())
    worker.once('error', reject)
  })
  let controlRemote: Remote<CoreControl> | undefined
  return {
    worker,
    home: home.path,
    connect(name = 'test') {
      const { port1, port2 } = new MessageChannel()
      worker.postMessage({ type: 'connect', client: name, port: port1 }, [port1])
      return new TestClient(portChannel(port2))
    },
    control() {
      if (!controlRemote) {
        const { port1, port2 } = new MessageChannel()
        worker.postMessage({ type: 'control', port: port1 }, [port1])
        controlRemote = wrap<CoreControl>(comlinkEndpoint(fromNodePort(port2 as unknown as DataEmitterLike)))
        port2.unref()
      }
      return controlRemote
    },
    async dispose() {
      await worker.terminate()
      await home.remove()
    },
  }
}
