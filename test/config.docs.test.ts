import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configVariables } from '../src/config.js';

// The README's configuration table and .env.example are what users read; the configuration schema
// is what the gateway does. This keeps them from drifting apart: every variable the schema reads is
// documented once, with the default the schema applies, and nothing else is.

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(`${root}/README.md`, 'utf8');
const envExample = readFileSync(`${root}/.env.example`, 'utf8');

/** The rows of the README table under "### Configuration": variable name → default column. */
function configurationTable(): Map<string, string> {
  const section = readme.slice(readme.indexOf('### Configuration'));
  const lines = section.split('\n');
  const start = lines.findIndex((line) => line.startsWith('| variable'));
  expect(start, 'a table whose header starts with "| variable" under ### Configuration').toBeGreaterThan(0);
  const rows = new Map<string, string>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(' | ').map((cell) => cell.replace(/^\| ?| ?\|$/g, '').trim());
    const names = [...(cells[0] ?? '').matchAll(/`([A-Z0-9_]+)`/g)].map((match) => match[1] ?? '');
    expect(names, `one variable per row: ${line}`).toHaveLength(1);
    rows.set(names[0] ?? '', cells.at(-1) ?? '');
  }
  return rows;
}

/** What the schema applies when the variable is unset: its default, or undefined for "required" and "unset". */
function defaultOf(name: string): unknown {
  const result = configVariables[name]?.safeParse(undefined);
  return result?.success ? result.data : undefined;
}

/** A default as the README writes it: `4000`, `idpgw:`, `false`, `{}`. */
const shown = (value: unknown) => '`' + (typeof value === 'string' ? value : JSON.stringify(value)) + '`';

describe('configuration documentation', () => {
  const table = configurationTable();
  const variables = Object.keys(configVariables);

  it('the README table has a row for every variable the configuration reads, and no other', () => {
    expect([...table.keys()].sort()).toEqual([...variables].sort());
  });

  it("each row's default is the one the configuration applies", () => {
    for (const name of variables) {
      const value = defaultOf(name);
      const documented = table.get(name) ?? '';
      if (value === undefined) expect(documented, name).toMatch(/required|unset/);
      else expect(documented, name).toContain(shown(value));
    }
  });

  it('.env.example names every variable', () => {
    const missing = variables.filter((name) => !new RegExp(`^#? ?${name}=`, 'm').test(envExample));
    expect(missing).toEqual([]);
  });
});
