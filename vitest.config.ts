import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

// Two test projects (`npx vitest run` runs both; `--project unit` or `--project integration` one):
//
// unit — `src/**/*.test.ts`, beside the pure functions they test. No Redis, no build, no network:
//   they run in a few seconds (`npm run test:unit`). Nothing in them may need a server.
//
// integration — `test/**/*.test.ts`, against a real Redis server (never a mock) and the sandbox:
// - `test/setup/build.ts` (globalSetup) compiles dist/ first: some tests start `node dist/main.js`.
// - `test/setup/redis.ts` (globalSetup) starts ONE private redis-server for the whole run on a free
//   loopback port (or uses REDIS_URL) and hands its URL to every test file: `inject('redisUrl')`.
// - Test files run in parallel (pool `forks`, file parallelism on) against that one Redis server.
//   So that they cannot clash, every test file must put all of its keys under its own unique key
//   prefix (e.g. `test:<file name>:<randomUUID()>:`), never FLUSHDB/FLUSHALL, and clean up only
//   its own keys.
//
// The globalSetup files belong to the integration project only, never to the root `test` block:
// vitest always runs the root project's globalSetup, even for `--project unit`, and projects with
// `extends: true` would inherit it. Reporters and teardownTimeout are root-only options (one
// reporter set for the whole run), so the last line of output is `N passed, N failed[, N skipped]`
// (test/setup/summary-reporter.ts) exactly once, counting both projects: the line CI reads.
export default defineConfig({
  // graphql ships CJS (main) and ESM (module) builds. Node loads yoga and Pothos with the CJS one;
  // vite would give our sources the ESM one, and two copies break `instanceof GraphQLError` (our
  // contract errors would be masked as INTERNAL_SERVER_ERROR). One copy, the one Node resolves.
  // Both projects inherit it (`extends: true`).
  resolve: { alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }] },
  test: {
    reporters: ['default', './test/setup/summary-reporter.ts'],
    teardownTimeout: 15_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          globalSetup: ['test/setup/build.ts', 'test/setup/redis.ts'],
          pool: 'forks',
          fileParallelism: true,
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
