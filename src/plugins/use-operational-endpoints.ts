import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import type { SharedStore } from '../store/store.js';

/** Options of useOperationalEndpoints. */
export interface OperationalEndpointsOptions {
  store: SharedStore;
  /** Whether the store is a shared one (Redis or a Redis Cluster): only then does readiness depend on it. */
  storeIsShared: boolean;
  /** Serves /metrics from this registry; undefined when METRICS_PORT serves it on a listener of its own. */
  registry: Registry | undefined;
  /** How long readiness waits for the store. */
  readinessTimeoutMs?: number;
}

/**
 * The public HTTP endpoints besides GraphQL: `/healthz` (the process runs), `/readyz` (the shared
 * store, if configured, is usable: Redis answers PING; on a Redis Cluster, every master answers and
 * reports `cluster_state:ok`; load balancers stop sending traffic otherwise) and `/metrics`
 * (Prometheus text format). They answer before any GraphQL processing and need no caller token.
 */
export function useOperationalEndpoints({ store, storeIsShared, registry, readinessTimeoutMs = 1000 }: OperationalEndpointsOptions): Plugin {
  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === '/healthz') {
        endResponse(fetchAPI.Response.json({ status: 'ok' }));
      } else if (url.pathname === '/readyz') {
        const ready = !storeIsShared || (await answersWithin(store, readinessTimeoutMs));
        endResponse(fetchAPI.Response.json({ status: ready ? 'ready' : 'redis unavailable' }, { status: ready ? 200 : 503 }));
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
