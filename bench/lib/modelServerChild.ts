/**
 * The scripted model server in its own process, for benchmarks that must not share a CPU-bound
 * event loop with the client they measure. Parent -> child: `{enqueue: Step[]}` and `{close: true}`;
 * child -> parent: `{url}` once listening, `{closed: true}` at the end.
 */
import { startModelServer, type Step } from '../../test/support/modelServer'

void (async () => {
  const server = await startModelServer()
  process.on('message', (message: { enqueue?: Step[]; close?: boolean }) => {
    if (message.enqueue) server.enqueue(message.enqueue)
    if (message.close) {
      void server.close().then(() => {
        process.send?.({ closed: true })
        process.exit(0)
      })
    }
  })
  process.send?.({ url: server.url })
})()
