import { defineConfig } from 'vitest/config';

// Test infrastructure (CONTRACT §7):
// - `test/setup/redis.ts` (globalSetup) starts ONE private redis-server for the whole run on a free
//   loopback port (or uses REDIS_URL) and hands its URL to every test file: `inject('redisUrl')`.
// - Test files run in parallel (pool `forks`, file parallelism on) against that one Redis server.
//   So that they cannot clash, every test file must put all of its keys under its own unique key
//   prefix (e.g. `test:<file name>:<randomUUID()>:`), never FLUSHDB/FLUSHALL, and clean up only
//   its own keys.
// - The last line of output is `N passed, N failed[, N skipped]` (test/setup/summary-reporter.ts),
//   the line CI reads.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/redis.ts'],
    pool: 'forks',
    fileParallelism: true,
    testTimeout: 20_000,
    hookTimeout: 30_000,
    teardownTimeout: 15_000,
    reporters: ['default', './test/setup/summary-reporter.ts'],
  },
});
