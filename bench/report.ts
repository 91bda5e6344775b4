/**
 * The report: each scenario is a section of Markdown tables plus the targets it is judged by, and
 * the whole is written to bench/RESULTS.md and printed to stdout alike.
 */

export interface Table {
  caption?: string;
  head: string[];
  rows: string[][];
}

/** One target and what was measured against it. */
export interface Check {
  target: string;
  measured: string;
  met: boolean;
}

export interface Section {
  id: string;
  title: string;
  status: 'ran' | 'skipped' | 'failed';
  /** What the scenario does, in a sentence or two. */
  description: string;
  tables: Table[];
  checks: Check[];
  notes: string[];
  /** Wall time of the scenario, seconds. */
  seconds?: number;
}

export const mark = (met: boolean) => (met ? '✓' : '✗');

/** A number with a fixed count of decimals, or `n/a`. */
export function fixed(value: number, decimals = 1): string {
  return Number.isFinite(value) ? value.toFixed(decimals) : 'n/a';
}

/** A signed difference, e.g. `+1.2 ms`. */
export function signed(value: number, unit: string, decimals = 1): string {
  if (!Number.isFinite(value)) return 'n/a';
  return `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(decimals)}${unit}`;
}

export const mib = (bytes: number) => bytes / 1024 / 1024;

function escapeCell(cell: string): string {
  return cell.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderTable(table: Table): string {
  const lines: string[] = [];
  if (table.caption) lines.push(table.caption, '');
  lines.push(`| ${table.head.map(escapeCell).join(' | ')} |`);
  lines.push(`| ${table.head.map(() => '---').join(' | ')} |`);
  for (const row of table.rows) lines.push(`| ${row.map(escapeCell).join(' | ')} |`);
  return lines.join('\n');
}

export function checksTable(checks: Check[]): Table {
  return { head: ['target', 'measured', 'met'], rows: checks.map((check) => [check.target, check.measured, mark(check.met)]) };
}

export function renderSection(section: Section): string {
  const parts: string[] = [`## (${section.id}) ${section.title}`, ''];
  if (section.status === 'skipped') parts.push(`**(${section.id}) skipped**: ${section.notes.join(' ')}`, '');
  else if (section.status === 'failed') parts.push(`**(${section.id}) failed**: see the notes below.`, '');
  parts.push(section.description, '');
  for (const table of section.tables) parts.push(renderTable(table), '');
  if (section.checks.length > 0) parts.push(renderTable({ caption: 'Targets:', ...checksTable(section.checks) }), '');
  if (section.status !== 'skipped') for (const note of section.notes) parts.push(note.includes('\n') ? `\`\`\`\n${note}\n\`\`\`` : `- ${note}`);
  if (section.seconds !== undefined) parts.push('', `_Scenario wall time: ${section.seconds.toFixed(0)} s._`);
  return parts.join('\n').trimEnd();
}

/** Every target of every scenario in one table, skipped and failed scenarios included. */
export function summaryTable(sections: Section[]): Table {
  const rows: string[][] = [];
  for (const section of sections) {
    if (section.status === 'skipped') rows.push([`(${section.id})`, 'skipped', section.notes[0] ?? '', '–']);
    else if (section.status === 'failed' && section.checks.length === 0) rows.push([`(${section.id})`, 'failed', section.notes[0]?.split('\n')[0] ?? '', '✗']);
    else if (section.checks.length === 0) rows.push([`(${section.id})`, 'no target (informational)', `see (${section.id}) below`, '–']);
    for (const check of section.checks) rows.push([`(${section.id})`, check.target, check.measured, mark(check.met)]);
  }
  return { head: ['scenario', 'target', 'measured', 'met'], rows };
}
