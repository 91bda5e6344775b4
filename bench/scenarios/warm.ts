import { randomBytes, randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { loadConfig } from '../../src/config.js';
import type { BenchContext, RunningServer } from '../context.js';
import { graphqlTarget, probe } from '../graphql.js';
import { alternate, percentile, summarize, type LoadSummary, type LoadTarget, type RunFigures } from '../load.js';
import { startCluster } from '../redis.js';
import { fixed, mib, signed, type Check, type Section, type Table } from '../report.js';

/**
 * Scenarios (a), (b) and (f): the warm profile query through the gateway, side by side with the
 * baseline proxy in the same run, and the three-provider query next to it.
 */

export const QUERY_A = '{ me { google { profile { email } } } }';
export const QUERY_B = '{ me { google { profile { email } } facebook { profile { email } } bitbucket { account { uuid } } } }';

const RATIO_REDIS = 0.75;
const RATIO_MEMORY = 0.85;
const P99_SLACK_MS = 5;

type Body = { data?: { me?: Record<string, Record<string, Record<string, unknown> | null> | null> | null }; errors?: unknown[] };

function profileOk(body: unknown): boolean {
  const answer = body as Body | undefined;
  return !answer?.errors && answer?.data?.me?.google?.profile?.email === 'ada@example.com';
}

function threeProvidersOk(body: unknown): boolean {
  const me = (body as Body | undefined)?.data?.me;
  return profileOk(body) && typeof me?.facebook?.profile?.email === 'string' && typeof me?.bitbucket?.account?.uuid === 'string';
}

function progress(target: LoadTarget, figures: RunFigures): void {
  const summary = summarize(target.name, figures);
  console.error(
    `  ${target.name}: ${fixed(summary.requestsPerSecond, 0)} req/s, p50 ${fixed(summary.p50, 2)} ms, p99 ${fixed(summary.p99, 2)} ms` +
      (summary.failures > 0 ? `, ${summary.failures} failures` : ''),
  );
}

/** Loads a target set alternately and summarizes each. */
async function measure(ctx: BenchContext, targets: LoadTarget[], rounds: number, warmupSeconds: number, countUpstream: () => number) {
  const { seconds, connections } = ctx.options;
  const pooled = await alternate(targets, { seconds, rounds, warmupSeconds, connections, countUpstream, onRun: progress });
  return new Map([...pooled].map(([name, figures]) => [name, summarize(name, figures)]));
}

const googleCalls = (ctx: BenchContext) => () => ctx.sandbox.google.count('userinfo');

/** The query-(a) load targets for a baseline and some gateways, each probed once. */
async function profileTargets(ctx: BenchContext, servers: RunningServer[]): Promise<LoadTarget[]> {
  const targets: LoadTarget[] = [];
  for (const server of servers) {
    const target = graphqlTarget(server.name, server.url, ctx.adaToken, QUERY_A, server.child.pid);
    target.expectBody = await probe(target, profileOk);
    targets.push(target);
  }
  return targets;
}

const COMPARISON_HEAD = [
  '',
  'req/s',
  'p50 ms',
  'p99 ms',
  'req/s vs baseline',
  'p99 − baseline p99',
  'server CPU ms / request',
  'Redis commands / request',
  'Google calls / request',
  'failures',
];

const perRequest = (value: number) => (Number.isNaN(value) ? '–' : fixed(value, 2));

function comparisonRow(label: string, row: LoadSummary, baseline: LoadSummary): string[] {
  const isBaseline = row === baseline;
  return [
    label,
    fixed(row.requestsPerSecond, 0),
    fixed(row.p50, 2),
    fixed(row.p99, 2),
    isBaseline ? '1.00' : fixed(row.requestsPerSecond / baseline.requestsPerSecond, 2),
    isBaseline ? '–' : signed(row.p99 - baseline.p99, ' ms', 2),
    fixed(row.cpuMsPerRequest, 2),
    perRequest(row.countedPerRequest),
    fixed(row.upstreamPerRequest, 2),
    String(row.failures),
  ];
}

function ratioCheck(label: string, row: LoadSummary, baseline: LoadSummary, minimum: number): Check {
  const ratio = row.requestsPerSecond / baseline.requestsPerSecond;
  return {
    target: `${label} ≥ ${minimum.toFixed(2)} × baseline req/s`,
    measured: `${fixed(ratio, 2)} (${fixed(row.requestsPerSecond, 0)} vs ${fixed(baseline.requestsPerSecond, 0)} req/s)`,
    met: ratio >= minimum,
  };
}

function p99Check(label: string, row: LoadSummary, baseline: LoadSummary): Check {
  const difference = row.p99 - baseline.p99;
  return {
    target: `${label} p99 ≤ baseline p99 + ${P99_SLACK_MS} ms`,
    measured: `${signed(difference, ' ms', 2)} (${fixed(row.p99, 2)} vs ${fixed(baseline.p99, 2)} ms)`,
    met: difference <= P99_SLACK_MS,
  };
}

function failureNote(rows: LoadSummary[]): string[] {
  const failing = rows.filter((row) => row.failures > 0);
  return failing.map((row) => `${row.name}: ${row.failures} requests failed or answered something else than the probe's body; figures count only 2xx answers.`);
}

/** (a) The warm profile query: baseline vs gateway on Redis vs gateway in memory. */
export async function scenarioA(ctx: BenchContext): Promise<Section> {
  const { options } = ctx;
  const baseline = await ctx.baseline();
  const redis = await ctx.sharedGateway('gateway-redis', () => ctx.redisEnv());
  const memory = await ctx.sharedGateway('gateway-memory', () => ({}));
  ctx.setProviderLatency(options.latencyMs);
  const targets = await profileTargets(ctx, [baseline, redis, memory]);
  const server = await ctx.redis();
  targets[1]!.count = () => server.commandsProcessed();

  console.error(`(a) Google +${options.latencyMs} ms: ${options.rounds} round(s) of ${options.seconds} s per side`);
  const figures = await measure(ctx, targets, options.rounds, options.warmupSeconds, googleCalls(ctx));
  const b = figures.get(baseline.name)!;
  const r = figures.get(redis.name)!;
  const m = figures.get(memory.name)!;
  ctx.figures.a = figures;
  const rss = (server: RunningServer) => `${fixed(mib(server.rss()), 0)} MiB`;

  const tables: Table[] = [
    {
      caption: `Google userinfo answering after +${options.latencyMs} ms (${options.rounds} × ${options.seconds} s per side, alternating):`,
      head: COMPARISON_HEAD,
      rows: [comparisonRow('baseline proxy', b, b), comparisonRow('gateway + Redis', r, b), comparisonRow('gateway in memory', m, b)],
    },
  ];
  const notes = [
    `RSS after these runs: baseline ${rss(baseline)}, gateway + Redis ${rss(redis)}, gateway in memory ${rss(memory)}.`,
    ...failureNote([b, r, m]),
  ];

  if (options.noLatencyVariant) {
    ctx.setProviderLatency(0);
    console.error(`(a) no added latency: 1 round of ${options.seconds} s per side`);
    const raw = await measure(ctx, targets, 1, 0, googleCalls(ctx));
    ctx.setProviderLatency(options.latencyMs);
    const b0 = raw.get(baseline.name)!;
    tables.push({
      caption: `Without added latency (informational: CPU-bound, shows each side's own cost per request; 1 × ${options.seconds} s per side):`,
      head: COMPARISON_HEAD,
      rows: [
        comparisonRow('baseline proxy', b0, b0),
        comparisonRow('gateway + Redis', raw.get(redis.name)!, b0),
        comparisonRow('gateway in memory', raw.get(memory.name)!, b0),
      ],
    });
    notes.push(...failureNote([...raw.values()]));
  }

  return {
    id: 'a',
    title: 'Warm `{ me { google { profile { email } } } }`: gateway vs baseline',
    status: 'ran',
    description:
      `Ada's token, every cache warm (the warm-up filled them), ${options.connections} connections. Baseline: \`bench/baseline-proxy.ts\` ` +
      '(node:http, jose against the tenant JWKS, the Google token from a Map, `fetch` to userinfo). Gateway: `node dist/main.js`, ' +
      'one process each, with the private Redis or the in-memory store. Latencies are from every 2xx answer of the pooled runs. ' +
      '"Server CPU" is the user + system time of the server process over the measured runs (/proc/<pid>/stat) per completed request: ' +
      'less sensitive to a busy machine than req/s. Calls / request are counted at the fakes; a little over the exact count is requests still in flight when a run stops.',
    tables,
    checks: [
      ratioCheck('gateway + Redis', r, b, RATIO_REDIS),
      ratioCheck('gateway in memory', m, b, RATIO_MEMORY),
      p99Check('gateway + Redis', r, b),
      p99Check('gateway in memory', m, b),
    ],
    notes,
  };
}

/** Median latency of `count` requests sent one after another (no concurrency: no queueing in the server). */
async function unloadedP50(target: LoadTarget, count: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const response = await fetch(target.url, { method: 'POST', headers: target.headers, body: target.body, signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    if (response.status === 200) times.push(performance.now() - started);
  }
  return percentile(times, 0.5);
}

const UNLOADED_REQUESTS = 40;

/** (b) One query touching all three providers, gateway only, next to (a). */
export async function scenarioB(ctx: BenchContext): Promise<Section> {
  const { options } = ctx;
  const redis = await ctx.sharedGateway('gateway-redis', () => ctx.redisEnv());
  const memory = await ctx.sharedGateway('gateway-memory', () => ({}));
  ctx.setProviderLatency(options.latencyMs);
  const redisServer = await ctx.redis();
  const targets: LoadTarget[] = [];
  for (const server of [redis, memory]) {
    const target = graphqlTarget(`${server.name} (b)`, server.url, ctx.adaToken, QUERY_B, server.child.pid);
    target.expectBody = await probe(target, threeProvidersOk);
    if (server === redis) target.count = () => redisServer.commandsProcessed();
    targets.push(target);
  }
  const { google, facebook, bitbucket } = ctx.sandbox;
  const count = () => google.count('userinfo') + facebook.count('me') + bitbucket.count('user');
  console.error(`(b) three providers, +${options.latencyMs} ms each: 1 round of ${options.seconds} s per gateway`);
  const figures = await measure(ctx, targets, 1, options.warmupSeconds, count);

  const rows: string[][] = [];
  for (const [server, label] of [
    [redis, 'gateway + Redis'],
    [memory, 'gateway in memory'],
  ] as const) {
    const three = figures.get(`${server.name} (b)`)!;
    const one = ctx.figures.a?.get(server.name);
    const row = (name: string, figure: LoadSummary, versus: string, growth: string) => [
      `${label}, ${name}`,
      fixed(figure.requestsPerSecond, 0),
      fixed(figure.p50, 2),
      fixed(figure.p99, 2),
      versus,
      growth,
      fixed(figure.cpuMsPerRequest, 2),
      perRequest(figure.countedPerRequest),
      fixed(figure.upstreamPerRequest, 2),
    ];
    if (one) rows.push(row('(a) Google only', one, '1.00', '–'));
    rows.push(
      row(
        '(b) Google + Facebook + Bitbucket',
        three,
        one ? fixed(three.requestsPerSecond / one.requestsPerSecond, 2) : 'n/a',
        one ? signed(three.p50 - one.p50, ' ms', 2) : 'n/a',
      ),
    );
  }

  // Under load the p50 is mostly queueing for the CPU; whether the three provider calls overlap shows without load.
  console.error(`(b) unloaded latency: ${UNLOADED_REQUESTS} sequential requests per query`);
  const single = graphqlTarget('single', memory.url, ctx.adaToken, QUERY_A);
  const oneUnloaded = await unloadedP50(single, UNLOADED_REQUESTS);
  const threeUnloaded = await unloadedP50(targets[1]!, UNLOADED_REQUESTS);
  const added = threeUnloaded - oneUnloaded;
  const notes = [
    `Unloaded (one request at a time, ${UNLOADED_REQUESTS} each, gateway in memory): p50 ${fixed(oneUnloaded, 2)} ms for (a), ${fixed(threeUnloaded, 2)} ms for (b), ` +
      `${signed(added, ' ms', 2)} for two more provider calls of +${options.latencyMs} ms each: ` +
      (added < options.latencyMs
        ? 'the three provider calls overlap (run concurrently).'
        : 'more than one added latency: the provider calls look at least partly sequential.'),
  ];
  const baseline = ctx.figures.a?.get('baseline');
  if (baseline) {
    notes.push(
      `For scale, the baseline in (a): ${fixed(baseline.requestsPerSecond, 0)} req/s, p50 ${fixed(baseline.p50, 2)} ms, p99 ${fixed(baseline.p99, 2)} ms.`,
    );
  }
  notes.push(...failureNote([...figures.values()]));
  return {
    id: 'b',
    title: 'One query touching Google, Facebook and Bitbucket (gateway only)',
    status: 'ran',
    description:
      `\`${QUERY_B}\` as Ada, each provider call +${options.latencyMs} ms, ${options.connections} connections, 1 × ${options.seconds} s per gateway, ` +
      'next to the same gateway in (a). No target: it shows what two more providers cost. "Provider calls / request" counts userinfo, `/me` and `/2.0/user` at the fakes.',
    tables: [
      {
        head: [
          '',
          'req/s',
          'p50 ms',
          'p99 ms',
          'req/s vs (a)',
          'p50 − (a) p50',
          'server CPU ms / request',
          'Redis commands / request',
          'provider calls / request',
        ],
        rows,
      },
    ],
    checks: [],
    notes,
  };
}

/**
 * Whether the gateway's configuration takes REDIS_CLUSTER_NODES: undefined when it does, else why
 * not. A variable zod does not know is dropped silently, so "takes" means the configuration differs
 * from the one without it; a configuration error means it is refused.
 */
export function clusterSupport(env: Record<string, string>): string | undefined {
  const base = { ...env, TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'), REDIS_KEY_PREFIX: 'bench:' };
  let withNodes: unknown;
  try {
    withNodes = loadConfig({ ...base, REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002' });
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n').slice(1, 3).join(' ').trim() : String(error);
    return `loadConfig rejects REDIS_CLUSTER_NODES (${message})`;
  }
  if (isDeepStrictEqual(withNodes, loadConfig(base))) return 'loadConfig ignores REDIS_CLUSTER_NODES (the configuration is the same without it)';
  return undefined;
}

/** (f) Scenario (a) on a three-master Redis Cluster, when the gateway supports one. */
export async function scenarioF(ctx: BenchContext): Promise<Section> {
  const { options } = ctx;
  const section: Section = {
    id: 'f',
    title: 'Warm profile query on a Redis Cluster (3 masters)',
    status: 'ran',
    description:
      'As (a), with `REDIS_CLUSTER_NODES` naming a private three-master cluster on loopback (`redis-server --cluster-enabled yes` × 3, ' +
      '`redis-cli --cluster create … --cluster-replicas 0`) instead of REDIS_URL.',
    tables: [],
    checks: [],
    notes: [],
  };
  const unsupported = clusterSupport(ctx.sandbox.env);
  if (unsupported) {
    return { ...section, status: 'skipped', notes: [`(f) skipped: no cluster support yet — ${unsupported}.`] };
  }
  const cluster = await startCluster();
  ctx.onClose(() => cluster.stop());
  const baseline = await ctx.baseline();
  const gateway = await ctx.startGateway('gateway-cluster', {
    REDIS_CLUSTER_NODES: cluster.nodes,
    REDIS_KEY_PREFIX: `bench:${randomUUID()}:`,
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  });
  ctx.setProviderLatency(options.latencyMs);
  const targets = await profileTargets(ctx, [baseline, gateway]);
  targets[1]!.count = () => cluster.commandsProcessed();
  console.error(`(f) cluster: ${options.rounds} round(s) of ${options.seconds} s per side`);
  const figures = await measure(ctx, targets, options.rounds, options.warmupSeconds, googleCalls(ctx));
  const b = figures.get(baseline.name)!;
  const c = figures.get(gateway.name)!;
  await gateway.stop();
  const keys = await cluster.keyCounts();
  section.tables.push({
    caption: `Redis ${cluster.version} cluster at ${cluster.nodes}; Google userinfo +${options.latencyMs} ms (${options.rounds} × ${options.seconds} s per side, alternating):`,
    head: COMPARISON_HEAD,
    rows: [comparisonRow('baseline proxy', b, b), comparisonRow('gateway + Redis Cluster', c, b)],
  });
  section.checks.push(ratioCheck('gateway + Redis Cluster', c, b, RATIO_REDIS), p99Check('gateway + Redis Cluster', c, b));
  section.notes.push(
    `Keys in the cluster after the runs, per master: ${keys.join(', ')}` +
      (keys.reduce((sum, count) => sum + count, 0) === 0 ? ' — none: the gateway did not use the cluster.' : '.'),
    ...failureNote([b, c]),
  );
  return section;
}
