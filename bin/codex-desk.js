#!/usr/bin/env node
// The `codex-desk` command. It runs the CommonJS build of the headless CLI that `npm run build`
// writes to out/cli/ (cli.cjs and the chunks it loads on demand), compiled with a V8 code cache
// kept in the user's cache folder (src/worker/startup/codeCache.ts). This file is CommonJS (see
// bin/package.json), so a start never loads Node's ES module loader.
'use strict'
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose, see above */
const { existsSync } = require('node:fs')
const { join } = require('node:path')

const bundleDir = join(__dirname, '..', 'out', 'cli')
if (!existsSync(join(bundleDir, 'cli.cjs'))) {
  process.stderr.write('codex-desk is not built yet: run `npm run build` in the codex-desk folder first.\n')
  process.exit(1)
}
const argv = process.argv.slice(2)
const { loadWithCodeCache } = require(join(bundleDir, 'codeCache.cjs'))
// Only server runs write the cache: what `--version` compiles is not what a server needs.
const write = argv[0] === 'app-server' || argv[0] === 'mcp-server'
const { runCli } = loadWithCodeCache(bundleDir, 'cli.cjs', { write }).exports
runCli(argv).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`fatal: ${(error && error.stack) || String(error)}\n`)
    process.exit(1)
  },
)
