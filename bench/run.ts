import { writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchContext } from './context.js';
import { describeOptions, readOptions, type BenchOptions } from './options.js';
import { killAllChildren } from './processes.js';
import { fixed, renderSection, renderTable, summaryTable, type Section } from './report.js';
import { scenarioE } from './scenarios/memory.js';
import { scenarioD } from './scenarios/refresh-storm.js';
import { scenarioC } from './scenarios/users-batch.js';
import { scenarioA, scenarioB, scenarioF } from './scenarios/warm.js';

/**
 * `npm run bench`: every scenario of the gateway's performance targets in one run, the gateway side
 * by side with a hand-written baseline proxy, on loopback only. Writes bench/RESULTS.md (machine,
 * figures, ratios, targets met or missed, how to reproduce) and prints the same to stdout; progress
 * goes to stderr. Every load run is bounded in time, every wait by a deadline, and the whole run by
 * BENCH_MAX_RUN_SECONDS. Knobs: see bench/options.ts (BENCH_QUICK=1 for a smoke run).
 *
 * (a) warm profile query: gateway + Redis and gateway in memory vs the baseline
 * (b) one query over Google, Facebook and Bitbucket, next to (a)
 * (c) users(ids:) with 100 ids: Management API calls, cold and warm
 * (d) refresh storm over 3 instances sharing Redis: Google token calls
 * (e) RSS of `node dist/main.js` after two runs of (a)'s load
 * (f) (a) on a Redis Cluster, once the gateway supports REDIS_CLUSTER_NODES
 */

interface Scenario {
  id: string;
  title: string;
  run(ctx: BenchContext): Promise<Section>;
}

const SCENARIOS: Scenario[] = [
  { id: 'a', title: 'Warm `{ me { google { profile { email } } } }`: gateway vs baseline', run: scenarioA },
  { id: 'b', title: 'One query touching Google, Facebook and Bitbucket (gateway only)', run: scenarioB },
  { id: 'c', title: '`users(ids:)` with 100 ids: Management API calls, cold and warm', run: scenarioC },
  { id: 'd', title: 'Refresh storm: 3 instances, 60 concurrent requests, one expired Google token', run: scenarioD },
  { id: 'e', title: 'Memory: RSS of `node dist/main.js` under sustained load', run: scenarioE },
  { id: 'f', title: 'Warm profile query on a Redis Cluster (3 masters)', run: scenarioF },
];

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const options = readOptions();
const startedAt = new Date();
const loadAtStart = loadavg();

const watchdog = setTimeout(() => {
  console.error(`bench: stopped after BENCH_MAX_RUN_SECONDS=${options.maxRunSeconds}`);
  killAllChildren();
  process.exit(2);
}, options.maxRunSeconds * 1000);
watchdog.unref();

function machineTable(ctx: BenchContext | undefined, totalSeconds: number): string {
  const cpu = cpus();
  const rows = [
    ['CPU', `${cpu[0]?.model.trim() ?? 'unknown'} × ${cpu.length}`],
    ['memory', `${fixed(totalmem() / 1024 ** 3, 1)} GiB`],
    ['Node.js', process.version],
    ['OS', `${type()} ${release()}`],
    ['redis-server', ctx?.redisVersion ?? 'not started'],
    ['gateway build', ctx?.buildInfo ?? 'not built'],
    ['load average (1/5/15 min) at start', loadAtStart.map((value) => value.toFixed(2)).join(' / ')],
    [
      'load average at end',
      loadavg()
        .map((value) => value.toFixed(2))
        .join(' / '),
    ],
    ['date', startedAt.toISOString()],
    ['run time', `${totalSeconds.toFixed(0)} s${options.quick ? ' (quick mode)' : ''}`],
  ];
  return renderTable({ head: ['machine', ''], rows });
}

function reproduce(opts: BenchOptions): string {
  return [
    '## How to reproduce',
    '',
    'Requirements: `npm install`, `redis-server` on PATH (and `redis-cli` for (f)); Linux for RSS (`/proc`). Everything listens on 127.0.0.1.',
    '',
    '```sh',
    'npm run bench                 # full run, a few minutes; writes bench/RESULTS.md',
    'BENCH_QUICK=1 npm run bench   # smoke run, about a minute',
    'BENCH_ONLY=a,d npm run bench  # some scenarios only',
    '```',
    '',
    `This report: \`${describeOptions(opts)} npm run bench\`.`,
    '',
    renderTable({
      head: ['variable', 'default (quick)', 'meaning'],
      rows: [
        ['BENCH_SECONDS', '10 (2)', 'length of one measured load run'],
        ['BENCH_ROUNDS', '2 (1)', 'measured runs per side in (a) and (f), alternating baseline and gateways, order reversed every round'],
        ['BENCH_WARMUP_SECONDS', '2 (1)', 'unmeasured load per target before its first run'],
        ['BENCH_CONNECTIONS', '10', 'autocannon connections'],
        ['BENCH_LATENCY_MS', '5', 'delay the fake providers add to each API call in (a), (b), (e), (f)'],
        ['BENCH_NO_LATENCY', '1', 'also run (a) without added latency (1 round)'],
        ['BENCH_MEMORY_SECONDS', '60 (5)', 'length of each of the two load runs of (e), and of its run without node flags'],
        ['BENCH_GATEWAY_NODE_ARGS', "npm start's", 'node flags for every gateway process instead of those of `npm start` (empty: none)'],
        ['BENCH_ONLY', 'a,b,c,d,e,f', 'scenarios to run'],
        ['BENCH_SKIP_BUILD', '0', 'skip `tsc -p tsconfig.build.json` (dist/ already current)'],
        ['BENCH_OUTPUT', 'bench/RESULTS.md', 'where the report goes'],
        ['BENCH_MAX_RUN_SECONDS', '1200', 'the whole run is stopped after this'],
      ],
    }),
    '',
    'How it runs: the sandbox (simulated Auth0 tenant, Google, Facebook, Bitbucket; `sandbox/index.ts`) and autocannon run in the benchmark process; ' +
      'the gateway runs as `npm start` runs it, `node [its flags] dist/main.js` in a process of its own (built first with `tsc -p tsconfig.build.json`), configured ' +
      'by environment variables only; the baseline (`bench/baseline-proxy.ts`) runs in a process of its own too. A private `redis-server` ' +
      '(`--save "" --appendonly no`, free loopback port) serves the Redis scenarios and is stopped at the end. Figures on a shared or small machine are noisy: ' +
      'compare ratios from the same run, not absolute numbers across runs.',
  ].join('\n');
}

let ctx: BenchContext | undefined;
const sections: Section[] = [];
try {
  ctx = await BenchContext.create(options, root);
  console.error(`bench: ${describeOptions(options)}`);
  console.error('bench: building dist/ (tsc -p tsconfig.build.json)');
  await ctx.build().catch((error: unknown) => console.error(`bench: build failed: ${error instanceof Error ? error.message : String(error)}`));
  for (const scenario of SCENARIOS) {
    if (!options.only.has(scenario.id)) continue;
    console.error(`\n== (${scenario.id}) ${scenario.title}`);
    const began = performance.now();
    let section: Section;
    try {
      section = await scenario.run(ctx);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      section = { id: scenario.id, title: scenario.title, status: 'failed', description: '', tables: [], checks: [], notes: [message] };
    }
    section.seconds = (performance.now() - began) / 1000;
    sections.push(section);
    console.error(`== (${scenario.id}) ${section.status} in ${section.seconds.toFixed(0)} s`);
  }
} finally {
  await ctx?.close().catch((error: unknown) => console.error('bench: cleanup failed', error));
}

const totalSeconds = (Date.now() - startedAt.getTime()) / 1000;
const report = [
  '# Benchmark results',
  '',
  `Written by \`npm run bench\` (bench/run.ts)${options.quick ? ' in **quick mode** (short runs: a smoke test, not figures to judge by)' : ''}. ` +
    'The gateway and the baseline are measured in the same run, alternately; ratios compare figures of that one run.',
  '',
  machineTable(ctx, totalSeconds),
  '',
  '## Summary',
  '',
  renderTable(summaryTable(sections)),
  '',
  ...sections.flatMap((section) => [renderSection(section), '']),
  reproduce(options),
  '',
].join('\n');

const output = isAbsolute(options.output) ? options.output : join(root, options.output);
writeFileSync(output, report);
console.log(report);
console.error(`bench: wrote ${output} (${totalSeconds.toFixed(0)} s)`);
process.exit(sections.some((section) => section.status === 'failed') ? 1 : 0);
