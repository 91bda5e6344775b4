/**
 * The benchmark's knobs, all from environment variables, with defaults that keep a full run at a
 * few minutes on a small machine. `BENCH_QUICK=1` shrinks every duration for a smoke run.
 */

/** What one `npm run bench` does. */
export interface BenchOptions {
  quick: boolean;
  /** Length of one measured autocannon run, seconds. */
  seconds: number;
  /** How many times each side of (a) and (f) is measured, alternating baseline and gateways. */
  rounds: number;
  /** Unmeasured load per target before its first measured run, seconds. */
  warmupSeconds: number;
  /** Concurrent connections of every autocannon run. */
  connections: number;
  /** Added latency of every fake provider API call in (a), (b) and (f), milliseconds. */
  latencyMs: number;
  /** Whether (a) is also run without added latency (shows the gateway's own CPU cost per request). */
  noLatencyVariant: boolean;
  /** Length of each of the two load runs of (e), seconds. */
  memorySeconds: number;
  /** Scenarios to run, e.g. `a,b,e`; default all. */
  only: Set<string>;
  /** Where the report is written. */
  output: string;
  /** Skip `tsc -p tsconfig.build.json` (dist/ is already current). */
  skipBuild: boolean;
  /** The whole run is stopped after this many seconds, whatever happens. */
  maxRunSeconds: number;
}

export const ALL_SCENARIOS = ['a', 'b', 'c', 'd', 'e', 'f'] as const;

function number(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name}=${raw} is invalid: expected a number from ${min} to ${max}`);
  }
  return value;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  return raw === '1' || raw === 'true' || raw === 'yes';
}

/** Reads the options; throws with the variable's name when one is out of range. */
export function readOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const quick = flag(env, 'BENCH_QUICK', false);
  const only = new Set(
    (env.BENCH_ONLY ?? ALL_SCENARIOS.join(','))
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  );
  for (const id of only) {
    if (!(ALL_SCENARIOS as readonly string[]).includes(id)) throw new Error(`BENCH_ONLY names an unknown scenario: ${id}`);
  }
  return {
    quick,
    seconds: number(env, 'BENCH_SECONDS', quick ? 2 : 10, 1, 600),
    rounds: Math.round(number(env, 'BENCH_ROUNDS', quick ? 1 : 2, 1, 10)),
    warmupSeconds: number(env, 'BENCH_WARMUP_SECONDS', quick ? 1 : 2, 0, 60),
    connections: Math.round(number(env, 'BENCH_CONNECTIONS', 10, 1, 1000)),
    latencyMs: number(env, 'BENCH_LATENCY_MS', 5, 0, 1000),
    noLatencyVariant: flag(env, 'BENCH_NO_LATENCY', true),
    memorySeconds: number(env, 'BENCH_MEMORY_SECONDS', quick ? 5 : 60, 1, 600),
    only,
    output: env.BENCH_OUTPUT ?? 'bench/RESULTS.md',
    skipBuild: flag(env, 'BENCH_SKIP_BUILD', false),
    maxRunSeconds: number(env, 'BENCH_MAX_RUN_SECONDS', 1200, 10, 7200),
  };
}

/** The options as the report's "how to reproduce" shows them. */
export function describeOptions(options: BenchOptions): string {
  return [
    `BENCH_QUICK=${options.quick ? 1 : 0}`,
    `BENCH_SECONDS=${options.seconds}`,
    `BENCH_ROUNDS=${options.rounds}`,
    `BENCH_WARMUP_SECONDS=${options.warmupSeconds}`,
    `BENCH_CONNECTIONS=${options.connections}`,
    `BENCH_LATENCY_MS=${options.latencyMs}`,
    `BENCH_NO_LATENCY=${options.noLatencyVariant ? 1 : 0}`,
    `BENCH_MEMORY_SECONDS=${options.memorySeconds}`,
    `BENCH_ONLY=${[...options.only].join(',')}`,
  ].join(' ');
}
