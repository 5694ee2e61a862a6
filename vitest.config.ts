import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Integration tests start real servers; failover tests wait for real promotions.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only add contention to the Redis processes under test.
    maxWorkers: 2,
  },
})
