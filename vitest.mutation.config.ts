import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
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

/**
 * Stryker runs the tests covering a mutant one file at a time and stops at the first failure, so
 * the order decides how long a killed mutant takes. Vitest's own order suits a full parallel run
 * (slowest files first, the `integration` project before `unit`); this one puts first the file
 * that failed last (it likely kills the neighbouring mutant too), then the quickest files. It
 * changes how soon a mutant is killed, never whether.
 */
class QuickestFirst extends BaseSequencer {
  override sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ranked = files.map((spec) => {
      const state = this.ctx.cache.getFileTestResults(`${spec.project.name}:${relative(this.ctx.config.root, spec.moduleId)}`);
      return { spec, passed: state?.failed ? 0 : 1, duration: state?.duration ?? Number.MAX_SAFE_INTEGER };
    });
    ranked.sort((a, b) => a.passed - b.passed || a.duration - b.duration);
    return Promise.resolve(ranked.map(({ spec }) => spec));
  }
}

export default defineConfig({
  resolve: base.resolve,
  test: {
    sequence: { sequencer: QuickestFirst },
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
