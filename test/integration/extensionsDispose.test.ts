import { mkdirSync, watch, writeFileSync, type FSWatcher } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { SkillsCatalog } from '../../src/worker/agent/skills'
import { makeTempDir } from '../support/appServerProcess'
import { inProcessServer, memoryClient } from '../support/inProcess'

const homes: { remove(): Promise<void> }[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const home of homes.splice(0)) await home.remove()
})

describe('the core on shutdown', () => {
  it('stops watching the skills folders a listing covered when the app server closes', async () => {
    const home = await makeTempDir()
    homes.push(home)
    const repo = join(home.path, 'repo')
    mkdirSync(join(repo, '.git'), { recursive: true })
    mkdirSync(join(repo, '.codex/skills/deploy'), { recursive: true })
    writeFileSync(
      join(repo, '.codex/skills/deploy/SKILL.md'),
      '---\nname: deploy\ndescription: Deploy the app\n---\nSteps.\n',
    )
    const server = inProcessServer({ codexHome: join(home.path, 'codex') })
    const { client } = memoryClient(server)
    await client.initialize()
    const listed = await client.request('skills/list', { cwds: [repo] })
    expect(listed.data[0]?.skills.map((skill) => skill.name)).toContain('deploy')

    const disposed = vi.spyOn(SkillsCatalog.prototype, 'dispose')
    const probe = watch(home.path, { persistent: false })
    probe.close()
    const closedWatchers = vi.spyOn(Object.getPrototypeOf(probe) as FSWatcher, 'close')
    await server.close()
    expect(disposed).toHaveBeenCalledTimes(1)
    expect(closedWatchers).toHaveBeenCalled()
  })
})
