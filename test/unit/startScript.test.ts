import { spawnSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { makeTempDir, REPO_ROOT } from '../support/appServerProcess'

const dirs: { remove(): Promise<void> }[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove()
})

function start(electronDir: string) {
  return spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/start.mjs')], {
    env: { ...process.env, CODEX_DESK_ELECTRON_DIR: electronDir },
    encoding: 'utf8',
    timeout: 60_000,
  })
}

describe('npm start without the Electron program', () => {
  it('says in one paragraph what is missing, how to install it and the browser alternative, and exits 1', async () => {
    const dir = await makeTempDir()
    dirs.push(dir)
    const result = start(dir.path)
    expect(result.status).toBe(1)
    expect(result.stderr).toContain("Electron's program is not installed")
    expect(result.stderr).toContain('npx install-electron')
    expect(result.stderr).toContain('npm run serve')
    expect(result.stderr).not.toMatch(/^\s+at /m)
    expect(result.stderr.trim().split('\n\n')).toHaveLength(1)
  })

  it('also stops when the package names a program that was never downloaded', async () => {
    const dir = await makeTempDir()
    dirs.push(dir)
    await mkdir(join(dir.path, 'dist'))
    await writeFile(join(dir.path, 'path.txt'), 'electron')
    const result = start(dir.path)
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('npx install-electron')
  })
})
