import type { BenchContext } from '../context.js';
import { graphqlTarget, probe } from '../graphql.js';
import { runLoad, summarize } from '../load.js';
import { cpuTimeOf, memoryOf } from '../processes.js';
import { fixed, mib, signed, type Section } from '../report.js';
import { QUERY_A } from './warm.js';

/**
 * Scenario (e): the resident memory of the gateway as `npm start` runs it (`node dist/main.js`,
 * default configuration: in-memory store) under the load of (a), read from /proc/<pid>/status after
 * a first and a second run of the same length.
 */

const RSS_LIMIT_MIB = 120;
const GROWTH_LIMIT = 0.1;

/** V8 heap and external memory as the gateway's own /metrics reports them (prom-client's default metrics), in bytes. */
interface Heap {
  used: number;
  total: number;
  external: number;
  /** Reserved bytes per V8 heap space (new, old, code, large_object, …). */
  spaces: Map<string, number>;
}

async function heapOf(origin: string): Promise<Heap> {
  try {
    const response = await fetch(`${origin}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    const spaces = new Map<string, number>();
    for (const match of text.matchAll(/^nodejs_heap_space_size_total_bytes\{space="([a-z_]+)"\} ([0-9.e+]+)$/gm)) spaces.set(match[1] ?? '', Number(match[2]));
    return {
      used: value('nodejs_heap_size_used_bytes'),
      total: value('nodejs_heap_size_total_bytes'),
      external: value('nodejs_external_memory_bytes'),
      spaces,
    };
  } catch {
    return { used: Number.NaN, total: Number.NaN, external: Number.NaN, spaces: new Map() };
  }
}

/** "new 48, old 110, code 6 …" (MiB reserved per space, largest first). */
const spacesText = (heap: Heap) =>
  [...heap.spaces]
    .filter(([, bytes]) => bytes >= 2 ** 20)
    .sort((a, b) => b[1] - a[1])
    .map(([space, bytes]) => `${space} ${fixed(mib(bytes), 0)}`)
    .join(', ');

const heapCells = (heap: Heap) => [fixed(mib(heap.used), 1), fixed(mib(heap.total), 1), fixed(mib(heap.external), 1)];

/** One run of (a)'s load on a fresh gateway started without node flags: the row and its figures. */
async function runWithout(ctx: BenchContext, seconds: number): Promise<{ row: string[]; rss: number; cpuPerRequest: number }> {
  const gateway = await ctx.startGateway('gateway-rss-bare', {}, []);
  try {
    const target = graphqlTarget(gateway.name, gateway.url, ctx.adaToken, QUERY_A, gateway.child.pid);
    target.expectBody = await probe(target, (body) => JSON.stringify(body).includes('ada@example.com'));
    console.error(`(e) without node flags: ${seconds} s`);
    const cpuBefore = cpuTimeOf(gateway.child.pid);
    const summary = summarize(target.name, await runLoad(target, seconds, ctx.options.connections));
    const cpuPerRequest = (cpuTimeOf(gateway.child.pid) - cpuBefore) / summary.ok;
    const memory = memoryOf(gateway.child.pid);
    const heap = await heapOf(gateway.origin);
    const row = [
      `without the node flags, after one run (${seconds} s)`,
      fixed(summary.requestsPerSecond, 0),
      String(summary.ok),
      fixed(mib(memory?.rss ?? Number.NaN), 1),
      fixed(mib(memory?.peak ?? Number.NaN), 1),
      ...heapCells(heap),
      fixed(cpuPerRequest, 2),
    ];
    return { row, rss: memory?.rss ?? Number.NaN, cpuPerRequest };
  } finally {
    await gateway.stop();
  }
}

export async function scenarioE(ctx: BenchContext): Promise<Section> {
  const { options } = ctx;
  const gateway = await ctx.startGateway('gateway-rss', {});
  try {
    const idle = memoryOf(gateway.child.pid);
    const idleHeap = await heapOf(gateway.origin);
    ctx.setProviderLatency(options.latencyMs);
    const target = graphqlTarget(gateway.name, gateway.url, ctx.adaToken, QUERY_A, gateway.child.pid);
    target.expectBody = await probe(target, (body) => JSON.stringify(body).includes('ada@example.com'));
    const rows: string[][] = [
      [
        'after start (idle, before the first request)',
        '–',
        '–',
        fixed(mib(idle?.rss ?? Number.NaN), 1),
        fixed(mib(idle?.peak ?? Number.NaN), 1),
        ...heapCells(idleHeap),
        '–',
      ],
    ];
    const after: number[] = [];
    const cpuPerRequest: number[] = [];
    let heap = idleHeap;
    let failures = 0;
    for (const run of [1, 2]) {
      console.error(`(e) run ${run}: ${options.memorySeconds} s`);
      const cpuBefore = cpuTimeOf(gateway.child.pid);
      const summary = summarize(target.name, await runLoad(target, options.memorySeconds, options.connections));
      cpuPerRequest.push((cpuTimeOf(gateway.child.pid) - cpuBefore) / summary.ok);
      failures += summary.failures;
      const memory = memoryOf(gateway.child.pid);
      after.push(memory?.rss ?? Number.NaN);
      heap = await heapOf(gateway.origin);
      rows.push([
        `after run ${run} (${options.memorySeconds} s of (a)'s load)`,
        fixed(summary.requestsPerSecond, 0),
        String(summary.ok),
        fixed(mib(memory?.rss ?? Number.NaN), 1),
        fixed(mib(memory?.peak ?? Number.NaN), 1),
        ...heapCells(heap),
        fixed(cpuPerRequest.at(-1) ?? Number.NaN, 2),
      ]);
    }
    const flags = (gateway.nodeArgs ?? []).join(' ') || '(none)';
    // For comparison: one run of the same load on a gateway started without those flags.
    const bare = (gateway.nodeArgs ?? []).length > 0 ? await runWithout(ctx, options.memorySeconds) : undefined;
    if (bare) rows.push(bare.row);
    const [first = Number.NaN, second = Number.NaN] = after;
    const growth = (second - first) / first;
    const highest = Math.max(first, second);
    const notes = [
      `Growth from run 1 to run 2: ${signed(mib(second - first), ' MiB', 1)} (${signed(growth * 100, ' %', 1)}).`,
      `Configuration: the defaults of \`npm start\` (in-memory store, LOG_LEVEL=info, node flags \`${flags}\`) plus the sandbox's variables; Google userinfo +${options.latencyMs} ms; ${options.connections} connections.`,
    ];
    if (bare)
      notes.push(
        `Without the node flags (last row, a fresh process, one run): RSS ${fixed(mib(bare.rss), 0)} vs ${fixed(mib(highest), 0)} MiB, ` +
          `CPU ${fixed(bare.cpuPerRequest, 2)} vs ${fixed(cpuPerRequest.at(-1) ?? Number.NaN, 2)} ms per request. The flags hold V8's old generation near its live size; without them V8 lets it grow to several times that between full collections.`,
      );
    notes.push(
      `V8 heap after run 2: ${fixed(mib(heap.total), 0)} MiB reserved, ${fixed(mib(heap.used), 0)} MiB used at that moment (garbage not yet collected included). ` +
        'RSS above the idle figure that is heap reserved rather than used is V8 growing its heap between major collections; a leak shows as growth between the runs.',
    );
    notes.push(`V8 heap reserved per space (MiB): idle ${spacesText(idleHeap)}; after run 2 ${spacesText(heap)}.`);
    if (failures > 0) notes.push(`${failures} requests failed or answered something else than the probe's body.`);
    return {
      id: 'e',
      title: 'Memory: RSS of `node dist/main.js` under sustained load',
      status: 'ran',
      description:
        `A fresh gateway process (\`node dist/main.js\`, as \`npm start\` runs it) loaded with (a)'s query twice for ${options.memorySeconds} s; ` +
        "RSS (VmRSS) and peak (VmHWM) read from /proc/<pid>/status after each run, then the V8 heap from the gateway's own `/metrics`.",
      tables: [
        { head: ['when', 'req/s', 'requests', 'RSS MiB', 'peak RSS MiB', 'V8 heap used MiB', 'V8 heap total MiB', 'external MiB', 'CPU ms / request'], rows },
      ],
      checks: [
        { target: `RSS ≤ ${RSS_LIMIT_MIB} MiB after each run`, measured: `${fixed(mib(highest), 1)} MiB (highest)`, met: mib(highest) <= RSS_LIMIT_MIB },
        { target: `RSS growth from run 1 to run 2 < ${GROWTH_LIMIT * 100} %`, measured: signed(growth * 100, ' %', 1), met: growth < GROWTH_LIMIT },
      ],
      notes,
    };
  } finally {
    await gateway.stop();
  }
}
