import { writeSync } from 'node:fs';
import type { Reporter, SerializedError, TestModule, TestRunEndReason, Vitest } from 'vitest/node';

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Prints the plain closing line CI reads, alone on the very last line of the run's output:
 *
 *   `N passed, N failed`, followed by `, N skipped` when any test was skipped or todo.
 *
 * It counts test cases. On top of failed test cases, each of these counts as one failure, so that
 * a broken run never claims `0 failed`:
 * - a test file or suite with errors of its own (a file that does not load, a failing
 *   beforeAll/afterAll, a suite with no tests) — vitest then marks its tests as skipped;
 * - an unhandled error (or rejection) during the run;
 * - a run that exits non-zero with nothing else counted as failed (e.g. the Redis globalSetup
 *   threw, or no test file was found): `0 passed, 1 failed`.
 *
 * In `vitest run` the line is written when the process exits, so that it stays the last line even
 * when vitest prints more after the run (errors thrown by globalSetup, teardown or hanging-process
 * warnings). In watch mode it is printed after every run.
 */
export default class SummaryReporter implements Reporter {
  private watch = false;
  private counts: Counts | undefined;
  private exitHookInstalled = false;

  onInit(vitest: Vitest): void {
    this.watch = Boolean(vitest.config.watch);
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>, _reason: TestRunEndReason): void {
    this.counts = count(testModules, unhandledErrors);
    if (this.watch) {
      process.stdout.write(`\n${format(this.counts)}\n`);
      return;
    }
    if (!this.exitHookInstalled) {
      this.exitHookInstalled = true;
      process.once('exit', (code) => {
        if (!this.counts) return;
        const counts = { ...this.counts };
        const exitCode = typeof code === 'number' ? code : Number(process.exitCode ?? 0);
        if (exitCode !== 0 && counts.failed === 0) counts.failed = 1;
        try {
          writeSync(1, `\n${format(counts)}\n`);
        } catch {
          // stdout closed: nothing to report to
        }
      });
    }
  }
}

function count(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): Counts {
  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  for (const testModule of testModules) {
    if (testModule.errors().length > 0) counts.failed += 1;
    for (const suite of testModule.children.allSuites()) {
      if (suite.errors().length > 0) counts.failed += 1;
    }
    for (const testCase of testModule.children.allTests()) {
      switch (testCase.result().state) {
        case 'passed':
          counts.passed += 1;
          break;
        case 'failed':
          counts.failed += 1;
          break;
        case 'skipped':
          counts.skipped += 1;
          break;
        default:
          // 'pending': never finished (the run was interrupted), so it did not pass.
          counts.failed += 1;
      }
    }
  }
  counts.failed += unhandledErrors.length;
  return counts;
}

function format({ passed, failed, skipped }: Counts): string {
  return `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`;
}
