import autocannon from 'autocannon';
import { cpuTimeOf } from './processes.js';

/**
 * Load runs with autocannon. Latencies are recorded from every 2xx response as autocannon measures
 * it (high resolution, in ms), so several runs of one target can be pooled into one set of
 * percentiles; throughput is completed 2xx responses over the runs' summed duration.
 */

/** What is sent, over and over. */
export interface LoadTarget {
  name: string;
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Every response body must equal this; others count as mismatches. */
  expectBody?: string;
  /** The server's process, whose CPU time `alternate` reads around each run. */
  pid?: number;
  /** A counter of this target's own (e.g. Redis commands processed), read around each run. */
  count?: () => Promise<number>;
}

/** The raw figures of one or more runs against one target. */
export interface RunFigures {
  ok: number;
  seconds: number;
  latencies: number[];
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
  /** Calls the fakes counted during the runs (see `alternate`'s `countUpstream`). */
  upstream: number;
  /** CPU time the server process used during the runs, ms (NaN when unknown). */
  cpuMs: number;
  /** What the target's own `count` counted during the runs (NaN without one). */
  counted: number;
}

/** The figures the report shows. */
export interface LoadSummary {
  name: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** Transport errors (timeouts included), non-2xx answers and bodies other than the expected one. */
  failures: number;
  ok: number;
  seconds: number;
  /** Upstream calls counted per completed request. */
  upstreamPerRequest: number;
  /** Server CPU time per completed request, ms. */
  cpuMsPerRequest: number;
  /** The target's own count per completed request. */
  countedPerRequest: number;
}

/** One autocannon run of `seconds` (bounded: duration plus a 10 s per-request timeout). */
export function runLoad(target: LoadTarget, seconds: number, connections: number): Promise<RunFigures> {
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: target.url,
        method: target.method ?? 'GET',
        headers: target.headers,
        body: target.body,
        expectBody: target.expectBody,
        connections,
        duration: seconds,
        timeout: 10,
      },
      (error: Error | null, result) => {
        if (error) {
          reject(error);
          return;
        }
        resolve({
          ok: result['2xx'],
          seconds: result.duration,
          latencies,
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          mismatches: result.mismatches,
          upstream: 0,
          cpuMs: Number.NaN,
          counted: Number.NaN,
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}

/** Pools several runs of one target. */
export function pool(runs: RunFigures[]): RunFigures {
  return {
    ok: runs.reduce((sum, run) => sum + run.ok, 0),
    seconds: runs.reduce((sum, run) => sum + run.seconds, 0),
    latencies: runs.flatMap((run) => run.latencies),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    timeouts: runs.reduce((sum, run) => sum + run.timeouts, 0),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    mismatches: runs.reduce((sum, run) => sum + run.mismatches, 0),
    upstream: runs.reduce((sum, run) => sum + run.upstream, 0),
    cpuMs: runs.reduce((sum, run) => sum + run.cpuMs, 0),
    counted: runs.reduce((sum, run) => sum + run.counted, 0),
  };
}

/** Nearest-rank percentile of unsorted values (NaN when there are none). */
export function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function summarize(name: string, figures: RunFigures): LoadSummary {
  return {
    name,
    requestsPerSecond: figures.seconds > 0 ? figures.ok / figures.seconds : 0,
    p50: percentile(figures.latencies, 0.5),
    p99: percentile(figures.latencies, 0.99),
    failures: figures.errors + figures.non2xx + figures.mismatches,
    ok: figures.ok,
    seconds: figures.seconds,
    upstreamPerRequest: figures.ok > 0 ? figures.upstream / figures.ok : Number.NaN,
    cpuMsPerRequest: figures.ok > 0 ? figures.cpuMs / figures.ok : Number.NaN,
    countedPerRequest: figures.ok > 0 ? figures.counted / figures.ok : Number.NaN,
  };
}

/**
 * Measures several targets side by side: a warm-up per target, then `rounds` rounds in which every
 * target runs once, the order reversed every other round so that no target always runs first or
 * last (drift of a shared, noisy machine falls on every side alike). Returns pooled figures by name.
 */
export async function alternate(
  targets: LoadTarget[],
  options: {
    seconds: number;
    rounds: number;
    warmupSeconds: number;
    connections: number;
    /** Reads the fakes' call counters; the difference over each measured run is its `upstream`. */
    countUpstream?: () => number;
    onRun?: (target: LoadTarget, figures: RunFigures) => void;
  },
): Promise<Map<string, RunFigures>> {
  if (options.warmupSeconds > 0) {
    for (const target of targets) await runLoad(target, options.warmupSeconds, options.connections);
  }
  const runs = new Map<string, RunFigures[]>(targets.map((target) => [target.name, []]));
  for (let round = 0; round < options.rounds; round++) {
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const target of order) {
      const before = options.countUpstream?.() ?? 0;
      const cpuBefore = target.pid === undefined ? Number.NaN : cpuTimeOf(target.pid);
      const countBefore = target.count ? await target.count() : Number.NaN;
      const figures = await runLoad(target, options.seconds, options.connections);
      figures.upstream = (options.countUpstream?.() ?? 0) - before;
      figures.cpuMs = target.pid === undefined ? Number.NaN : cpuTimeOf(target.pid) - cpuBefore;
      figures.counted = target.count ? (await target.count()) - countBefore : Number.NaN;
      options.onRun?.(target, figures);
      runs.get(target.name)!.push(figures);
    }
  }
  return new Map([...runs].map(([name, list]) => [name, pool(list)]));
}
