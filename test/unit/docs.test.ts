import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { readmeWithCoverage } from '../../scripts/protocolCoverage'
import {
  codexClientRequests,
  codexServerNotifications,
  codexServerRequests,
  type CodexMethod,
} from '../../src/worker/protocol/codexMethods'
import { CONFIG_KEYS } from '../../src/worker/config/schema'
import { REPO_ROOT } from '../support/appServerProcess'
import { codexMethods } from '../support/codexSchema'

const names = (list: readonly CodexMethod[]) => list.map((m) => m.method)

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : []
  })
}

const importsOf = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map(
    (m) => m[1] as string,
  )

describe('repository rules', () => {
  it('keeps the protocol coverage table in docs/protocol.md in step with the registry', () => {
    const page = readFileSync(join(REPO_ROOT, 'docs/protocol.md'), 'utf8')
    expect(page).toBe(readmeWithCoverage(page))
  })

  it("measures coverage against codex 0.169.0's own method list, experimental ones marked", () => {
    expect(names(codexClientRequests)).toEqual(codexMethods('ClientRequest'))
    expect(names(codexServerRequests)).toEqual(codexMethods('ServerRequest'))
    expect(names(codexServerNotifications)).toEqual(codexMethods('ServerNotification'))
    const stable = new Set(codexMethods('ClientRequest', true))
    expect(codexClientRequests.filter((m) => m.experimental).map((m) => m.method)).toEqual(
      names(codexClientRequests).filter((m) => !stable.has(m)),
    )
  })

  it('documents every config key of the schema in the docs/configuration.md key table, and no other', () => {
    const page = readFileSync(join(REPO_ROOT, 'docs/configuration.md'), 'utf8')
    const table = page.split('<!-- config-keys:start -->')[1]?.split('<!-- config-keys:end -->')[0] ?? ''
    const documented = [...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) =>
      [...(m[1] as string).matchAll(/`([a-z_]+)`/g)].map((k) => k[1]),
    )
    expect(documented.sort()).toEqual([...CONFIG_KEYS].sort())
  })

  it('never imports electron outside src/main', () => {
    const offenders = [
      ...sourceFiles(join(REPO_ROOT, 'src/worker')),
      ...sourceFiles(join(REPO_ROOT, 'src/renderer')),
    ]
      .filter((f) => importsOf(f).includes('electron'))
      .map((f) => relative(REPO_ROOT, f))
    expect(offenders).toEqual([])
  })

  it('keeps src/worker/protocol and src/renderer free of Node and Electron imports', () => {
    const nodeish = /^(node:|fs$|path$|os$|net$|http$|crypto$|child_process$|worker_threads$|ws$|electron$)/
    const offenders = [
      ...sourceFiles(join(REPO_ROOT, 'src/worker/protocol')),
      ...sourceFiles(join(REPO_ROOT, 'src/renderer')),
    ].flatMap((f) =>
      importsOf(f)
        .filter((i) => nodeish.test(i))
        .map((i) => `${relative(REPO_ROOT, f)}: ${i}`),
    )
    expect(offenders).toEqual([])
  })

  it('keeps dependencies pointing down: no folder below src/worker/server imports it', () => {
    const below = [
      'agent',
      'analytics',
      'auth',
      'config',
      'mcp',
      'protocol',
      'search',
      'threads',
      'transport',
      'util',
    ]
    const offenders = below
      .flatMap((folder) => sourceFiles(join(REPO_ROOT, 'src/worker', folder)))
      .flatMap((f) =>
        importsOf(f)
          .filter((i) => /^(\.\.\/)+server(\/|$)/.test(i))
          .map((i) => `${relative(REPO_ROOT, f)}: ${i}`),
      )
    expect(offenders).toEqual([])
  })

  it('keeps dependencies pointing down: no folder below src/worker/agent imports it', () => {
    const below = ['protocol', 'threads', 'transport', 'util']
    const offenders = below
      .flatMap((folder) => sourceFiles(join(REPO_ROOT, 'src/worker', folder)))
      .flatMap((f) =>
        importsOf(f)
          .filter((i) => /^(\.\.\/)+agent(\/|$)/.test(i))
          .map((i) => `${relative(REPO_ROOT, f)}: ${i}`),
      )
    expect(offenders).toEqual([])
  })
})
