#!/usr/bin/env node
// Installs the reference codex CLI (the real Codex TUI and `codex app-server`, 0.169.0) into
// .cache/codex-0.169.0 for the TUI end-to-end test and the benchmarks. Its native binary ships inside
// the npm package, so this needs only the npm registry. `node scripts/installCodex.mjs --print` prints
// the binary's path (empty when it is not installed) and installs nothing.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const CODEX_VERSION = '0.169.0'
const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const prefix = join(root, '.cache', `codex-${CODEX_VERSION}`)
const bin = join(prefix, 'node_modules', '.bin', 'codex')

if (process.argv.includes('--print')) {
  process.stdout.write(existsSync(bin) ? `${bin}\n` : '')
  process.exit(0)
}
if (!existsSync(bin)) {
  mkdirSync(prefix, { recursive: true })
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  execFileSync(
    npm,
    ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', `@openai/codex@${CODEX_VERSION}`],
    { stdio: 'inherit' },
  )
}
const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()
if (!version.includes(CODEX_VERSION)) {
  process.stderr.write(`expected codex ${CODEX_VERSION} at ${bin}, found ${version}\n`)
  process.exit(1)
}
process.stdout.write(`${version} at ${bin}\n`)
