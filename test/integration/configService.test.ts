import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigService } from '../../src/worker/config/service'
import { writeConfigFile } from '../../src/worker/config/write'
import { silentLogs } from '../../src/worker/util/log'
import { makeTempDir } from '../support/appServerProcess'
import { inProcessServer, memoryClient } from '../support/inProcess'

const cleanup: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function tempHome(): Promise<string> {
  const dir = await makeTempDir()
  cleanup.push(() => dir.remove())
  await mkdir(join(dir.path, 'etc'))
  return dir.path
}

describe('atomic config writes', () => {
  it('leaves the old file and no temp file behind when the final rename fails', async () => {
    const home = await tempHome()
    // A directory where the file should go makes the rename fail after the temp file was written.
    const target = join(home, 'config.toml')
    await mkdir(target)
    await expect(writeConfigFile(target, 'model = "x"\n')).rejects.toThrow(/Could not write .*config\.toml/)
    expect(await readdir(home)).toEqual(['config.toml', 'etc'])
    expect(await readdir(target)).toEqual([])
  })

  it('keeps the file mode of the file it replaces', async () => {
    const home = await tempHome()
    const target = join(home, 'config.toml')
    await writeFile(target, 'model = "a"\n', { mode: 0o640 })
    await writeConfigFile(target, 'model = "b"\n')
    const { stat } = await import('node:fs/promises')
    expect((await stat(target)).mode & 0o777).toBe(0o640)
    expect(await readFile(target, 'utf8')).toBe('model = "b"\n')
  })
})

describe('remote requirements through the config service', () => {
  it('fetches [requirements] url with the signed-in account, serves it, and then uses the signed cache', async () => {
    const home = await tempHome()
    const seen: { authorization?: string; account?: string }[] = []
    const http = createServer((req, res) => {
      seen.push({
        authorization: req.headers.authorization,
        account: req.headers['chatgpt-account-id'] as string | undefined,
      })
      res
        .writeHead(200, { 'content-type': 'application/toml' })
        .end('allowed_sandbox_modes = ["read-only"]\n')
    })
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r))
    cleanup.push(() => new Promise((r) => http.close(r)))
    const url = `http://127.0.0.1:${(http.address() as { port: number }).port}/requirements`
    await writeFile(
      join(home, 'config.toml'),
      `sandbox_mode = "workspace-write"\n[requirements]\nurl = "${url}"\n`,
    )
    const identity = () => ({ userId: 'user-1', accountId: 'acct-1', accessToken: 'tok-1' })
    const open = async () => {
      const config = await ConfigService.create({
        home,
        systemDir: join(home, 'etc'),
        log: silentLogs.get('config'),
        watch: false,
        identity,
      })
      const server = inProcessServer({ codexHome: home, config })
      cleanup.push(() => server.close())
      const { client } = memoryClient(server)
      await client.initialize()
      return client
    }
    const client = await open()
    const warning = (await client.waitForNotification('configWarning')).params as { summary: string }
    expect(warning.summary).toMatch(
      /sandbox mode `workspace-write` is not allowed .*; using `read-only` instead\./,
    )
    expect(
      (await client.request('configRequirements/read', undefined)).requirements?.allowedSandboxModes,
    ).toEqual(['read-only'])
    expect(seen).toEqual([{ authorization: 'Bearer tok-1', account: 'acct-1' }])
    const cache = JSON.parse(await readFile(join(home, 'requirements-cache.json'), 'utf8')) as {
      payload: { userId: string }
    }
    expect(cache.payload.userId).toBe('user-1')
    // A second core within the TTL serves the cache and asks the network nothing.
    const again = await open()
    expect(
      (await again.request('configRequirements/read', undefined)).requirements?.allowedSandboxModes,
    ).toEqual(['read-only'])
    expect(seen).toHaveLength(1)
  })
})
