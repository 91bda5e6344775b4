import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startScriptNodeArgs } from '../bench/context.js';

// How the gateway is started outside the tests: `npm start` and the container image run the same
// `node [flags] dist/main.js`, so the memory figures measured for one hold for the other.

const root = fileURLToPath(new URL('..', import.meta.url));

/** The exec-form CMD of the Dockerfile's last stage, as a list of words. */
function dockerCmd(): string[] {
  const lines = readFileSync(`${root}/Dockerfile`, 'utf8').split('\n');
  const cmd = lines.filter((line) => line.startsWith('CMD ')).at(-1);
  if (!cmd) throw new Error('Dockerfile: no CMD');
  return JSON.parse(cmd.slice('CMD '.length)) as string[];
}

describe('start command', () => {
  it('npm start runs node with V8 heap flags on the compiled build', () => {
    const flags = startScriptNodeArgs(root);
    expect(flags).toContainEqual(expect.stringMatching(/^--max-old-space-size=\d+$/));
    expect(flags).toContainEqual(expect.stringMatching(/^--max-semi-space-size=\d+$/));
  });

  it('the container runs the same node flags as npm start, with node as the main process', () => {
    expect(dockerCmd()).toEqual(['node', ...startScriptNodeArgs(root), 'dist/main.js']);
  });
});
