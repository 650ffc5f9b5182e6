/**
 * The home's record of where its core listens (server/endpointFile.ts): what `codex-desk
 * mcp-server` reads to attach instead of starting a second core.
 */
import { spawn } from 'node:child_process'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { endpointPath, findEndpoint, publishEndpoint } from '../../src/worker/server/endpointFile'
import { makeTempDir } from '../support/appServerProcess'

const removals: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const remove of removals.splice(0)) await remove()
})

async function home(): Promise<string> {
  const dir = await makeTempDir('codex-desk-endpoint-')
  removals.push(dir.remove)
  return dir.path
}

/** A pid that certainly belonged to a process and is now gone. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''])
  await new Promise((resolve) => child.once('exit', resolve))
  return child.pid as number
}

describe('the endpoint file', () => {
  it('is written 0600 with the url and token, and removed by its owner', async () => {
    const dir = await home()
    const unpublish = await publishEndpoint(dir, {
      url: 'ws://127.0.0.1:4500',
      token: 'secret',
      version: '0.1.0',
    })
    expect((await stat(endpointPath(dir))).mode & 0o777).toBe(0o600)
    expect(JSON.parse(await readFile(endpointPath(dir), 'utf8'))).toEqual({
      pid: process.pid,
      url: 'ws://127.0.0.1:4500',
      token: 'secret',
      version: '0.1.0',
    })
    // Our own record is never "another core" to attach to.
    expect(await findEndpoint(dir)).toBeNull()
    await unpublish()
    await expect(stat(endpointPath(dir))).rejects.toThrow(/ENOENT/)
  })

  it("is found for a live process and ignored for a dead one's or a malformed one", async () => {
    const dir = await home()
    const live = { pid: process.ppid, url: 'ws://127.0.0.1:4501', token: null, version: '0.1.0' }
    await writeFile(endpointPath(dir), JSON.stringify(live))
    expect(await findEndpoint(dir)).toEqual(live)
    await writeFile(endpointPath(dir), JSON.stringify({ ...live, pid: await deadPid() }))
    expect(await findEndpoint(dir)).toBeNull()
    await writeFile(endpointPath(dir), JSON.stringify({ ...live, url: 'http://example.com/' }))
    expect(await findEndpoint(dir)).toBeNull()
    await writeFile(endpointPath(dir), '{"pid": ')
    expect(await findEndpoint(dir)).toBeNull()
  })

  it("leaves a newer owner's record in place", async () => {
    const dir = await home()
    const unpublish = await publishEndpoint(dir, {
      url: 'ws://127.0.0.1:4502',
      token: null,
      version: '0.1.0',
    })
    const other = { pid: process.ppid, url: 'ws://127.0.0.1:4503', token: null, version: '0.1.0' }
    await writeFile(endpointPath(dir), JSON.stringify(other))
    await unpublish()
    expect(await findEndpoint(dir)).toEqual(other)
  })
})
