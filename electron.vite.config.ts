// Build entries: the Electron main process, the utility-process core (worker.js), the headless CLI
// (cli.js, behind the `codex-desk` bin), the sandboxed preload (CommonJS) and the renderer.
// Main-side bundles inline their dependencies: the CLI then loads one file, which keeps cold start low.
import { resolve } from 'node:path'
import { defineConfig } from 'electron-vite'

export default defineConfig({
  main: {
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
