/**
 * vitest globalSetup: compiles the production build (`npm run build`, tsc into dist/) before any
 * test runs, so the tests that start the gateway as `npm start` does (`node dist/main.js`) never
 * run a stale build. Incremental: about 3 s when nothing changed.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}
