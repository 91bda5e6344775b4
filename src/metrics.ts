import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AttemptReport } from './http/upstream.js';

/** The gateway's Prometheus metrics; labels never carry a user id, a token or a URL. */
export interface GatewayMetrics {
  registry: Registry;
  /** Counts one HTTP attempt to an upstream and its duration. */
  recordAttempt(upstream: string, report: AttemptReport): void;
  /** Counts one provider token refresh outcome. */
  recordRefresh(provider: string, outcome: string): void;
  /** A renewed token record the store did not take was kept in memory (`kept`), or written back (`written`). */
  recordUnsavedTokens(event: 'kept' | 'written', pending: number): void;
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
  return {
    registry,
    recordUnsavedTokens(event, pending) {
      unsavedEvents.inc({ event });
      unsaved.set(pending);
    },
    recordRefresh(provider, outcome) {
      refreshes.inc({ provider, outcome });
    },
    recordAttempt(upstream, report) {
      requests.inc({ upstream, outcome: report.failed ?? String(report.status) });
      duration.observe({ upstream }, report.durationMs / 1000);
    },
  };
}
