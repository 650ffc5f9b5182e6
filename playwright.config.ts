/**
 * Playwright config for the renderer e2e tests. Electron cannot launch on this machine, so the built
 * renderer runs in Debian's Chromium instead (see stack-notes §6), served by the headless core's
 * `--web-ui`. There is no `webServer` entry: each test starts its own scripted model server and core on
 * port 0 (e2e/fixtures.ts), so nothing collides. Screenshots and failure logs go to test-results/.
 */
import { defineConfig, devices } from 'playwright/test'

export default defineConfig({
  testDir: 'e2e',
  // Every test spawns an app-server process; one worker keeps timings predictable on a small machine.
  workers: 1,
  reporter: [['list']],
  // The machine has two cores shared with other engineers' builds and benchmarks; a passing run
  // needs well under a second per assertion, so the headroom only matters under load.
  expect: { timeout: 10_000 },
  use: {
    ...devices['Desktop Chrome'],
    // The size of the README screenshots (docs/screenshots, written with UPDATE_SCREENSHOTS=1).
    viewport: { width: 1200, height: 760 },
    headless: true,
    launchOptions: {
      // Never `playwright install`: the bundled browser download is unreachable here, Debian's works.
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--headless',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        // The offline test opens out/renderer/index.html as a file, as Electron would without a
        // bridge; Chromium otherwise refuses its module script and stylesheet (CORS, origin null).
        '--allow-file-access-from-files',
      ],
    },
  },
})
