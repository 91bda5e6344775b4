import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import type { TenantReadiness } from '../auth0/tenant-readiness.js';
import type { SharedStore } from '../store/store.js';

/** Options of useOperationalEndpoints. */
export interface OperationalEndpointsOptions {
  store: SharedStore;
  /** Whether the store is a shared one (Redis or a Redis Cluster): only then does readiness depend on it. */
  storeIsShared: boolean;
  /** Whether the tenant's signing keys and a Management API token were fetched. */
  tenant: TenantReadiness;
  /** Serves /metrics from this registry; undefined when METRICS_PORT serves it on a listener of its own. */
  registry: Registry | undefined;
  /** How long readiness waits for the store, and for the tenant check's first attempt. */
  readinessTimeoutMs?: number;
  /** Whether the process is shutting down: `/readyz` is then 503 at once, whatever the checks say. */
  draining?: () => boolean;
}

/**
 * The public HTTP endpoints besides GraphQL: `/healthz` (the process runs), `/readyz` and `/metrics`
 * (Prometheus text format). They answer before any GraphQL processing and need no caller token.
 *
 * `/readyz` is 200 when both checks pass, else 503 (load balancers stop sending traffic): the shared
 * store, if configured, is usable (Redis answers PING; on a Redis Cluster, every master answers and
 * reports `cluster_state:ok`), and the tenant's signing keys and a Management API token were
 * fetched. The body says which check failed and why:
 * `{"status":"unavailable","checks":{"store":"ok","tenant":"management token refused: …"}}`.
 * From the moment a shutdown begins it is 503 without running the checks, so load balancers stop
 * sending before the process goes: `{"status":"draining","checks":{"shutdown":"draining"}}`.
 */
export function useOperationalEndpoints({
  store,
  storeIsShared,
  tenant,
  registry,
  readinessTimeoutMs = 1000,
  draining = () => false,
}: OperationalEndpointsOptions): Plugin {
  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === '/healthz') {
        endResponse(fetchAPI.Response.json({ status: 'ok' }));
      } else if (url.pathname === '/readyz' && draining()) {
        endResponse(fetchAPI.Response.json({ status: 'draining', checks: { shutdown: 'draining' } }, { status: 503 }));
      } else if (url.pathname === '/readyz') {
        // Normally started when the server listens; this covers yoga mounted on another server.
        tenant.start();
        const [storeOk] = await Promise.all([!storeIsShared || answersWithin(store, readinessTimeoutMs), tenant.settled(readinessTimeoutMs)]);
        const ready = storeOk && tenant.ready;
        const checks = { store: storeOk ? 'ok' : 'redis unavailable', tenant: tenant.summary };
        endResponse(fetchAPI.Response.json({ status: ready ? 'ready' : 'unavailable', checks }, { status: ready ? 200 : 503 }));
      } else if (url.pathname === '/metrics' && registry) {
        endResponse(new fetchAPI.Response(await registry.metrics(), { headers: { 'content-type': registry.contentType } }));
      }
    },
  };
}

async function answersWithin(store: SharedStore, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([
      store.ping().then(
        () => true,
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
