/**
 * The CommonJS build of the headless CLI that the `codex-desk` bin runs (out/cli/: cli.cjs, the
 * code-cache loader codeCache.cjs, and chunks/ loaded on demand). electron.vite.config.ts runs it
 * after the main build; the code-cache tests run it into a temp folder when out/cli is missing.
 * It must stay a pure function of the sources: no environment, no timestamps in the output.
 */
import { resolve } from 'node:path'
import type { InlineConfig, Plugin } from 'vite'

/**
 * `ws` requires `https` and `tls` at load for its client side only (`https.request`, `tls.connect`
 * when it connects to a wss:// URL); the listener never uses them. Loading them costs about 3 ms of
 * every websocket start, so in the CLI build they are required on first use instead. If a `ws`
 * update changes those lines, the build says so and keeps them as they are (only slower).
 */
const LAZY_WS_BUILTINS: [string, string][] = [
  [
    "const https = require('https');",
    "const https = { get request() { return require('https').request; } };",
  ],
  ["const tls = require('tls');", "const tls = { connect: (options) => require('tls').connect(options) };"],
]

function lazyWsBuiltins(): Plugin {
  return {
    name: 'codex-desk:lazy-ws-builtins',
    transform(code, id) {
      if (!id.replaceAll('\\', '/').endsWith('/node_modules/ws/lib/websocket.js')) return null
      let out = code
      for (const [eager, lazy] of LAZY_WS_BUILTINS) {
        if (out.includes(eager)) out = out.replace(eager, lazy)
        else this.warn(`ws/lib/websocket.js no longer has \`${eager}\`: it stays loaded at start`)
      }
      return { code: out, map: null }
    },
  }
}

/** `root`: the repository (the config is bundled elsewhere, so it cannot find it itself). */
export function cliBuildConfig(root: string, outDir = resolve(root, 'out/cli')): InlineConfig {
  return {
    configFile: false,
    root,
    logLevel: 'warn',
    plugins: [lazyWsBuiltins()],
    // Only node: builtins stay outside; every package is inlined, as in the main build.
    ssr: { noExternal: true, target: 'node' },
    build: {
      ssr: true,
      outDir,
      emptyOutDir: true,
      minify: false,
      target: 'node20',
      reportCompressedSize: false,
      rolldownOptions: {
        input: {
          cli: resolve(root, 'src/worker/cli.ts'),
          codeCache: resolve(root, 'src/worker/startup/codeCache.ts'),
        },
        output: {
          format: 'cjs',
          // `import('node:x')` becomes a `require` in a promise: the code-cache loader compiles the
          // bundle with vm.Script, which has no dynamic-import host.
          dynamicImportInCjs: false,
          entryFileNames: '[name].cjs',
          chunkFileNames: 'chunks/[name]-[hash].cjs',
        },
      },
    },
  }
}

/** Builds the CommonJS CLI of the repository at `root` into `outDir` (default out/cli). */
export async function buildCli(root: string, outDir?: string): Promise<void> {
  const { build } = await import('vite')
  await build(cliBuildConfig(root, outDir))
}
