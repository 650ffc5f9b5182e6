#!/usr/bin/env node
// `npm start`: builds and launches the desktop app with electron-vite, after checking that Electron's
// program is installed. `npm ci` does not download it (Electron 45 fetches it lazily from GitHub), and
// without it electron-vite ends in a stack trace that does not say what to do; this says it in one
// paragraph instead and exits 1. CODEX_DESK_ELECTRON_DIR points at another electron package (tests).
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const electronDir = process.env.CODEX_DESK_ELECTRON_DIR ?? join(root, 'node_modules', 'electron')

/** The Electron executable the electron package would run, or null when it is not there. */
function electronBinary() {
  const pathFile = join(electronDir, 'path.txt')
  if (!existsSync(pathFile)) return null
  const relative = readFileSync(pathFile, 'utf8').trim()
  const dist = process.env.ELECTRON_OVERRIDE_DIST_PATH ?? join(electronDir, 'dist')
  const binary = join(dist, relative)
  return existsSync(binary) ? binary : null
}

if (!electronBinary()) {
  process.stderr.write(
    [
      "codex-desk can't open the desktop app: Electron's program is not installed in this folder",
      '(`npm ci` does not download it). Where the network reaches GitHub, run `npx install-electron`',
      'once (about 100 MB), then `npm start` again. Or use the same app in your browser, with no',
      'Electron at all: run `npm run serve` and open the http://127.0.0.1:4500/#token=… address it prints.',
    ].join('\n') + '\n',
  )
  process.exit(1)
}

const bin = join(
  root,
  'node_modules',
  '.bin',
  process.platform === 'win32' ? 'electron-vite.cmd' : 'electron-vite',
)
const child = spawn(bin, ['preview', ...process.argv.slice(2)], { stdio: 'inherit', cwd: root })
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)))
