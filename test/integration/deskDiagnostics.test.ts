/**
 * The current set of config problems and machine notices (desk/configWarnings/read and /changed),
 * against the real CLI over stdio and websocket: a client that read the set hears every change of it,
 * an empty set when the file is fixed; a client that never asked (a codex client) sees only what
 * codex sends, `configWarning`, and never a desk/ method.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { connectWebSocket } from '../support/channels'
import { spawnAppServer, type AppServerProcess } from '../support/appServerProcess'
import { expectCodexShape } from '../support/codexSchema'
import type { TestClient } from '../support/testClient'

const GOOD = 'model = "o3"\n'
const BROKEN = 'model = "o3"\n\n[features]\ncollaboration_modes = "true"\n'
const MOVED = 'model = "o3"\n\n[features]\n\n# moved down\ncollaboration_modes = "yes"\n'

type Set = { problems: { summary: string; range?: { start: { line: number } } | null }[]; notices: unknown[] }

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function clients(transport: 'stdio' | 'ws', proc: AppServerProcess): Promise<TestClient[]> {
  if (transport === 'stdio') return [proc.stdioClient()]
  const made: TestClient[] = []
  for (let i = 0; i < 2; i++) {
    const { client, ws } = await connectWebSocket(proc.url as string)
    cleanup.push(async () => ws.close())
    made.push(client)
  }
  return made
}

describe.each(['stdio', 'ws'] as const)('the current config problems over %s', (transport) => {
  it('are read whole, and every change follows as the whole set: replaced when moved, empty when fixed', async () => {
    const proc = await spawnAppServer(transport === 'ws' ? ['--listen', 'ws://127.0.0.1:0'] : [], {
      waitForUrl: transport === 'ws',
      files: { 'config.toml': BROKEN },
      env: { ...process.env, CODEX_DESK_SANDBOX: 'none' },
    })
    cleanup.push(() => proc.dispose())
    const file = join(proc.home, 'config.toml')
    const [desk, codex] = await clients(transport, proc)
    await desk!.initialize('codex_desk_ui', { experimentalApi: true })
    const first = (await desk!.request('desk/configWarnings/read', undefined)) as Set
    expect(first.problems).toHaveLength(1)
    expect(first.problems[0]?.range?.start.line).toBe(4)
    for (const p of first.problems) expectCodexShape('ConfigWarningNotification', p)
    // Reading starts the sandbox probe: its notice is there or follows at once, apart from the problems.
    const notices = first.notices.length
      ? first
      : ((await desk!.waitForNotification('desk/configWarnings/changed')).params as Set)
    expect(notices.notices).toEqual([
      expect.objectContaining({ summary: 'Commands cannot be sandboxed on this machine' }),
    ])
    expect(notices.problems).toEqual(first.problems)
    if (codex) await codex.initialize('codex-tui', { experimentalApi: true })

    const count = () => desk!.received.filter((m) => m.method === 'desk/configWarnings/changed').length
    let seen = count()
    const nextSet = async () => {
      const message = await desk!.waitForNotification('desk/configWarnings/changed', () => count() > seen)
      seen = count()
      return message.params as Set
    }

    await writeFile(file, MOVED)
    const moved = await nextSet()
    expect(moved.problems.map((p) => p.range?.start.line)).toEqual([6])

    await writeFile(file, GOOD)
    const fixed = await nextSet()
    expect(fixed.problems).toEqual([])
    expect(fixed.notices).toHaveLength(1)

    if (codex) {
      // The codex client heard what codex sends: configWarning (the new problem), no desk/ method.
      await codex.request('config/read', {})
      expect(codex.received.some((m) => m.method?.startsWith('desk/'))).toBe(false)
      expect(codex.received.filter((m) => m.method === 'configWarning').length).toBeGreaterThan(0)
      expect(codex.violations).toEqual([])
    }
    expect(desk!.violations).toEqual([])
  })
})

describe('a client without the experimental API', () => {
  it('is refused the read, as any experimental method is', async () => {
    const proc = await spawnAppServer([], { files: { 'config.toml': GOOD } })
    cleanup.push(() => proc.dispose())
    const client = proc.stdioClient()
    await client.initialize('plain')
    await expect(client.request('desk/configWarnings/read', undefined)).rejects.toThrow(/experimentalApi/)
  })
})
