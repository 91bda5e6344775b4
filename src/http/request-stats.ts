import { AsyncLocalStorage } from 'node:async_hooks';

/** Upstream activity of one GraphQL request, per upstream (`extensions.upstream`, on `x-upstream-stats: 1`). */
export interface UpstreamStats {
  /** HTTP attempts sent, retries included. */
  requests: number;
  /** Sum of their durations, in ms. */
  totalMs: number;
  /** The last rate-limit state the upstream reported, when it reports one. */
  rateLimit: RateLimitState | null;
  /** Records served past their cache lifetime because the upstream failed (stale-if-error); absent when none. */
  staleRecords?: number;
  /** Age of the oldest of them, in seconds. */
  staleAgeSeconds?: number;
}

/** A provider's own account of how much of its limit is left. */
export interface RateLimitState {
  limit?: number;
  remaining?: number;
  /** Epoch seconds when the bucket refills (Auth0, Bitbucket). */
  reset?: number;
  /** Percent of the app's hourly budget used (Facebook `X-App-Usage`). */
  usedPercent?: number;
}

/** What a request's tally needs of one upstream attempt (the HTTP client's attempt report has it). */
interface AttemptFigures {
  headers?: Record<string, string | undefined>;
  durationMs: number;
}

/** What the gateway keeps about one HTTP request while it runs. */
interface RequestScope {
  stats: Map<string, UpstreamStats>;
  /** Epoch ms when the gateway accepted the request: its deadline is counted from here. */
  startedAt: number;
  /** Who is asking, once authenticated: shared queues serve callers fairly by this key. */
  caller?: string;
}

const storage = new AsyncLocalStorage<RequestScope>();

/**
 * Runs `work` (one HTTP request of the gateway) with its own upstream tally, and starts the clock
 * of its deadline (`requestDeadline`). Calls made on its behalf, however deep, are counted there;
 * code that hands work to a queue binds it to the caller's context first (AsyncResource.bind), so
 * queued calls are counted, and bounded by the deadline, too.
 */
export function withRequestStats<T>(work: () => T): T {
  return storage.run({ stats: new Map(), startedAt: Date.now() }, work);
}

/** Names the authenticated caller of the current request (a user id or `<client>@clients`). */
export function setRequestCaller(caller: string): void {
  const scope = storage.getStore();
  if (scope) scope.caller = caller;
}

/** The authenticated caller of the current request; undefined outside a request or before authentication. */
export function currentRequestCaller(): string | undefined {
  return storage.getStore()?.caller;
}

/**
 * The epoch ms by which the current request must have its upstream answers, given the gateway's
 * request timeout; undefined outside a request (startup, background work), where only the
 * per-attempt timeouts apply. Queued calls keep their request's context, so a queue sees it too.
 */
export function requestDeadline(timeoutMs: number | undefined): number | undefined {
  const scope = storage.getStore();
  return scope && timeoutMs !== undefined ? scope.startedAt + timeoutMs : undefined;
}

/** `waitMs`, cut to what is left of the current request's deadline (never negative); as is outside a request. */
export function waitWithinDeadline(waitMs: number, timeoutMs: number | undefined): number {
  const deadline = requestDeadline(timeoutMs);
  return deadline === undefined ? waitMs : Math.max(0, Math.min(waitMs, deadline - Date.now()));
}

/** Notes that the current request was answered with a record `ageMs` old because `upstream` failed. */
export function recordStaleServe(upstream: string, ageMs: number): void {
  const stats = storage.getStore()?.stats;
  if (!stats) return;
  const entry = stats.get(upstream) ?? { requests: 0, totalMs: 0, rateLimit: null };
  entry.staleRecords = (entry.staleRecords ?? 0) + 1;
  entry.staleAgeSeconds = Math.max(entry.staleAgeSeconds ?? 0, Math.round(ageMs / 1000));
  stats.set(upstream, entry);
}

/** Counts one upstream attempt against the current request, if any. */
export function recordUpstreamAttempt(upstream: string, report: AttemptFigures): void {
  const stats = storage.getStore()?.stats;
  if (!stats) return;
  const entry = stats.get(upstream) ?? { requests: 0, totalMs: 0, rateLimit: null };
  entry.requests += 1;
  entry.totalMs += report.durationMs;
  entry.rateLimit = (report.headers && readRateLimit(report.headers)) ?? entry.rateLimit;
  stats.set(upstream, entry);
}

/** The current request's tally, rounded for display; empty outside a request. */
export function currentRequestStats(): Record<string, UpstreamStats> {
  const stats = storage.getStore()?.stats;
  if (!stats) return {};
  return Object.fromEntries([...stats].map(([name, entry]) => [name, { ...entry, totalMs: Math.round(entry.totalMs * 10) / 10 }]));
}

function readRateLimit(headers: Record<string, string | undefined>): RateLimitState | null {
  const limit = numberOrUndefined(headers['x-ratelimit-limit']);
  const remaining = numberOrUndefined(headers['x-ratelimit-remaining']);
  const reset = numberOrUndefined(headers['x-ratelimit-reset']);
  if (limit !== undefined || remaining !== undefined || reset !== undefined) return { limit, remaining, reset };
  const usage = headers['x-app-usage'];
  if (usage) {
    try {
      const parsed = JSON.parse(usage) as Record<string, number>;
      return { usedPercent: Math.max(parsed.call_count ?? 0, parsed.total_time ?? 0, parsed.total_cputime ?? 0) };
    } catch {
      return null;
    }
  }
  return null;
}

function numberOrUndefined(value: string | undefined): number | undefined {
  const parsed = Number(value);
  return value !== undefined && Number.isFinite(parsed) ? parsed : undefined;
}
