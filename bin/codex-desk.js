#!/usr/bin/env node
// The `codex-desk` command. It runs the bundled headless CLI that `npm run build` writes to
// out/main/cli.js, so start-up loads one file instead of hundreds of modules.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('../out/main/cli.js', import.meta.url))
if (!existsSync(cli)) {
  process.stderr.write('codex-desk is not built yet: run `npm run build` in the codex-desk folder first.\n')
  process.exit(1)
}
const { runCli } = await import(cli)
runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`fatal: ${error?.stack ?? String(error)}\n`)
    process.exit(1)
  },
)
