import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Generous on purpose: the suite must pass on a busy two-core machine. Each wait inside a test
    // has its own limit (test/support/testClient.ts WAIT_MS) that fails first, with what it awaited.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Process and socket tests are real; two cores, so keep the parallelism modest.
    pool: 'forks',
    maxWorkers: 2,
  },
})
