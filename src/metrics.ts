import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AttemptReport } from './http/upstream.js';

/** The gateway's Prometheus metrics; labels never carry a user id, a token or a URL. */
export interface GatewayMetrics {
  registry: Registry;
  /** Counts one HTTP attempt to an upstream and its duration. */
  recordAttempt(upstream: string, report: AttemptReport): void;
  /** Counts one provider token refresh outcome. */
  recordRefresh(provider: string, outcome: string): void;
  /**
   * A renewal found its rotating refresh token already spent by a renewal whose outcome never
   * arrived: `adopted` a newer pair from Auth0, `replayed` it within the provider's reuse grace, or
   * `deferred` it (UPSTREAM_UNAVAILABLE until the earlier spend's marker expires).
   */
  recordSpendUnknown(provider: string, outcome: 'adopted' | 'replayed' | 'deferred'): void;
  /** A renewed token record the store did not take was kept in memory (`kept`), or written back (`written`). */
  recordUnsavedTokens(event: 'kept' | 'written', pending: number): void;
  /** An upstream host's circuit breaker changed state. */
  recordBreakerState(upstream: string, host: string, state: 'closed' | 'half_open' | 'open'): void;
  /** An open circuit breaker refused a call (it failed at once). */
  recordBreakerRefusal(upstream: string): void;
  /** A request's deadline stopped an upstream wait: in a queue, an attempt cut short, or a retry not made. */
  recordDeadlineExpired(upstream: string, stage: 'queue' | 'attempt' | 'retry'): void;
  /** A cached record past its lifetime answered because the upstream failed (stale-if-error). */
  recordStaleServe(upstream: string): void;
  /** One Auth0 Token Vault exchange: `issued` a token, `refused` (needs reconnecting), or `failed` (Auth0 trouble, configuration). */
  recordTokenVaultExchange(provider: string, outcome: 'issued' | 'refused' | 'failed'): void;
}

/** A registry per gateway instance, so several gateways in one process (tests) do not clash. */
export function createMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'idpgw_upstream_requests_total',
    help: 'HTTP requests sent upstream, by upstream and outcome (status code, timeout, network or too_large).',
    labelNames: ['upstream', 'outcome'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'idpgw_upstream_request_duration_seconds',
    help: 'Duration of single upstream HTTP attempts.',
    labelNames: ['upstream'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const refreshes = new Counter({
    name: 'idpgw_token_refreshes_total',
    help: 'Provider token refreshes, by provider and outcome (renewed, dead = needs re-authentication, failed = upstream trouble).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  });
  const vaultExchanges = new Counter({
    name: 'idpgw_token_vault_exchanges_total',
    help: 'Auth0 Token Vault exchanges, by provider and outcome (issued, refused = needs reconnecting, failed = Auth0 trouble or configuration).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  });
  const unsaved = new Gauge({
    name: 'idpgw_token_records_unsaved',
    help: 'Renewed token records held only in this process because the store did not take them; written back every second. Alert when above 0 for long.',
    registers: [registry],
  });
  const unsavedEvents = new Counter({
    name: 'idpgw_token_records_unsaved_total',
    help: 'Renewed token records the store did not take (kept in memory), and those written back later, by event.',
    labelNames: ['event'] as const,
    registers: [registry],
  });
  const spendUnknown = new Counter({
    name: 'idpgw_token_refresh_inflight_unknown_total',
    help: 'Renewals that found their rotating refresh token spent by an earlier renewal whose outcome never arrived (its sender died), by provider and outcome (adopted, replayed, deferred).',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  });
  const breakerState = new Gauge({
    name: 'idpgw_upstream_breaker_state',
    help: 'Circuit breaker state per upstream host: 0 closed, 1 half-open (a probe is let through), 2 open (calls fail at once).',
    labelNames: ['upstream', 'host'] as const,
    registers: [registry],
  });
  const breakerTransitions = new Counter({
    name: 'idpgw_upstream_breaker_transitions_total',
    help: 'Circuit breaker state changes per upstream host, by the state entered.',
    labelNames: ['upstream', 'host', 'state'] as const,
    registers: [registry],
  });
  const breakerRefusals = new Counter({
    name: 'idpgw_upstream_breaker_refused_total',
    help: 'Upstream calls refused at once by an open circuit breaker.',
    labelNames: ['upstream'] as const,
    registers: [registry],
  });
  const deadlines = new Counter({
    name: 'idpgw_request_deadline_expired_total',
    help: 'Upstream waits stopped by their request deadline (REQUEST_TIMEOUT_MS), by stage: queue, attempt (cut short) or retry (not made).',
    labelNames: ['upstream', 'stage'] as const,
    registers: [registry],
  });
  const staleServes = new Counter({
    name: 'idpgw_stale_records_served_total',
    help: 'Cached records served past their lifetime (within USER_STALE_GRACE_SECONDS) because the upstream failed.',
    labelNames: ['upstream'] as const,
    registers: [registry],
  });
  const breakerValue = { closed: 0, half_open: 1, open: 2 } as const;
  return {
    registry,
    recordBreakerState(upstream, host, state) {
      breakerState.set({ upstream, host }, breakerValue[state]);
      breakerTransitions.inc({ upstream, host, state });
    },
    recordBreakerRefusal(upstream) {
      breakerRefusals.inc({ upstream });
    },
    recordDeadlineExpired(upstream, stage) {
      deadlines.inc({ upstream, stage });
    },
    recordStaleServe(upstream) {
      staleServes.inc({ upstream });
    },
    recordSpendUnknown(provider, outcome) {
      spendUnknown.inc({ provider, outcome });
    },
    recordUnsavedTokens(event, pending) {
      unsavedEvents.inc({ event });
      unsaved.set(pending);
    },
    recordRefresh(provider, outcome) {
      refreshes.inc({ provider, outcome });
    },
    recordTokenVaultExchange(provider, outcome) {
      vaultExchanges.inc({ provider, outcome });
    },
    recordAttempt(upstream, report) {
      requests.inc({ upstream, outcome: report.failed ?? String(report.status) });
      duration.observe({ upstream }, report.durationMs / 1000);
    },
  };
}
