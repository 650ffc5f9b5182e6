import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Process and socket tests are real; two cores, so keep the parallelism modest.
    pool: 'forks',
    maxWorkers: 2,
  },
})
