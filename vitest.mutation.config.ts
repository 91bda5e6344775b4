import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// The tests `npm run test:mutation` (StrykerJS, stryker.config.json) runs against each mutant of the
// security-critical modules (src/tokens/, src/store/, src/auth0/, src/providers/api.ts): the unit
// tests, and the integration tests that drive those modules inside the test process. Tests that
// only reach them through a child `node dist/main.js` are left out (the child runs the compiled,
// unmutated build, so they could not kill a mutant), as are the ones about other layers (CORS,
// GraphiQL, persisted operations, packaging, the schema printout); readiness (`test/operational.test.ts`) is
// in, since it drives the caller verifier's signing-key check. The projects, aliases and
// global setup (build, private Redis) are those of vitest.config.ts.
const MUTATION_INTEGRATION_TESTS = [
  'test/tokens.*.test.ts',
  'test/store.*.test.ts',
  'test/users.*.test.ts',
  'test/caller-auth.test.ts',
  'test/management.*.test.ts',
  'test/secrets.test.ts',
  'test/redis-cluster.store.test.ts',
  'test/providers.*.test.ts',
  'test/hardening.budget.test.ts',
  'test/operational.test.ts',
];
const SPAWNS_THE_BUILD = ['test/tokens.redis-outage.test.ts'];

export default defineConfig({
  resolve: base.resolve,
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: ['src/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: MUTATION_INTEGRATION_TESTS,
          exclude: SPAWNS_THE_BUILD,
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
