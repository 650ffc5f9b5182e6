// Build entries: the Electron main process, the utility-process core (worker.js), the headless CLI
// (cli.js), the sandboxed preload (CommonJS) and the renderer. Main-side bundles inline their
// dependencies. The `codex-desk` bin runs a second, CommonJS build of the CLI (out/cli/, written
// after the main build): CommonJS skips Node's ESM loader, and bin/codex-desk.js can then compile
// it with a V8 code cache (src/worker/startup/codeCache.ts), which ESM cannot do on Node 20.
import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'
import type { Plugin } from 'vite'
import { buildCli } from './scripts/cliBuild'

/** After the main build: the CommonJS CLI the bin runs (scripts/cliBuild.ts). */
function cliCommonJsBuild(): Plugin {
  return { name: 'codex-desk:cli-commonjs', apply: 'build', closeBundle: () => buildCli(__dirname) }
}

export default defineConfig({
  main: {
    plugins: [cliCommonJsBuild()],
    build: {
      externalizeDeps: false,
      rolldownOptions: {
        input: {
          index: resolve(__dirname, 'src/main/index.ts'),
          worker: resolve(__dirname, 'src/worker/index.ts'),
          cli: resolve(__dirname, 'src/worker/cli.ts'),
        },
      },
    },
  },
  preload: {
    build: {
      rolldownOptions: {
        input: { index: resolve(__dirname, 'src/main/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src/renderer'),
    // Minified: the page loads over a websocket port or file://, and half its size is zod's validation.
    build: { minify: true, rolldownOptions: { input: resolve(__dirname, 'src/renderer/index.html') } },
  },
})
