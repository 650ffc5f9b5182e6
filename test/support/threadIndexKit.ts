/**
 * Thread index tests' shared setup: temp homes and indexes that are closed and removed after each
 * test, and an index whose log lines can be captured (`logs`). Call it once at a test file's top.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { ThreadIndex, type ThreadIndexOptions } from '../../src/worker/threads/threadIndex'
import { createLoggerFactory } from '../../src/worker/util/log'

export type IndexOptions = Omit<ThreadIndexOptions, 'home' | 'logger'> & {
  /** Receives the index's log lines (JSON). */
  logs?: string[]
}

export function threadIndexKit(prefix: string) {
  /** Run after each test, newest first. */
  const cleanups: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn()
  })

  async function tempHome(): Promise<string> {
    const home = await mkdtemp(join(tmpdir(), prefix))
    cleanups.push(() => rm(home, { recursive: true, force: true }))
    return home
  }

  async function loadIndex(home: string, options: IndexOptions = {}): Promise<ThreadIndex> {
    const { logs, ...rest } = options
    const index = await ThreadIndex.load({
      home,
      ...rest,
      ...(logs
        ? {
            logger: createLoggerFactory({
              format: 'json',
              destination: { write: (text: string) => logs.push(text) },
            }).get('threadIndex'),
          }
        : {}),
    })
    cleanups.push(() => index.close())
    return index
  }

  return { cleanups, tempHome, loadIndex }
}
