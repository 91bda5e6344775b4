import { createServer, type Server, type ServerResponse } from 'node:http';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import { CallerVerifier } from './auth0/caller-token.js';
import { TenantReadiness } from './auth0/tenant-readiness.js';
import type { GatewayConfig } from './config.js';
import { schema } from './graphql/schema.js';
import { withRequestStats } from './http/request-stats.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { useCallerAuth } from './plugins/use-caller-auth.js';
import { useBodyLimit } from './plugins/use-body-limit.js';
import { useCors } from './plugins/use-cors.js';
import { useDocumentLimits } from './plugins/use-document-limits.js';
import { useGraphiQL, type GraphiQLPageOptions } from './plugins/use-graphiql.js';
import { boundedParserCaches } from './plugins/parser-caches.js';
import { useUpstreamBudget } from './plugins/use-upstream-budget.js';
import { useErrorLog } from './plugins/use-error-log.js';
import { useExecutableOperations } from './plugins/use-executable-operations.js';
import { useOperationalEndpoints } from './plugins/use-operational-endpoints.js';
import { usePersistedOperations } from './plugins/use-persisted-operations.js';
import { useUpstreamStats } from './plugins/use-upstream-stats.js';
import { tokenPolicies } from './providers/index.js';
import { createServices, type Services } from './services.js';
import type { SharedStore } from './store/store.js';

/** Things a caller of createGateway may supply instead of the defaults. */
export interface GatewayOptions {
  logger?: Logger;
  /** What GraphiQL opens with (the demo pre-fills a caller token); whether it is served is `GRAPHIQL`. */
  graphiql?: GraphiQLPageOptions;
  /** Minimum time between JWKS fetches caused by unknown key ids. */
  jwksCooldownMs?: number;
  /** How long a JWKS download may take (default 5 s). */
  jwksTimeoutMs?: number;
  /** Waits between readiness checks of the tenant after failures (default 1 s doubling up to 60 s). */
  tenantRetry?: { firstMs: number; maxMs: number };
}

/** A gateway instance: the yoga app, an HTTP server that is not listening yet, and its services. */
export interface Gateway {
  yoga: YogaServerInstance<object, { services: Services }>;
  server: Server;
  /** The listener of METRICS_PORT (only /metrics); undefined when /metrics is served on `server`. */
  metricsServer: Server | undefined;
  services: Services;
  store: SharedStore;
  /** Whether the tenant's signing keys and a Management API token were fetched (checked from `listen`). */
  tenant: TenantReadiness;
  metrics: Registry;
  /**
   * Starts draining (on SIGTERM): `/readyz` answers 503 `draining`, every response from now on
   * closes its connection, idle keep-alive connections are closed; the server still accepts, so a
   * load balancer can see the 503. Resolves once no request is in flight; `close()` comes next.
   */
  drain(): Promise<void>;
  /** Requests being served now (those a forced exit would cut off). */
  readonly inFlight: number;
  /** Stops the server (if listening) and releases pools, queues and connections. */
  close(): Promise<void>;
}

/**
 * Wires the gateway from its configuration: its services, the schema, the yoga plugins in request
 * order (operational endpoints, caller auth, validation, error log, telemetry) and the HTTP
 * server. Nothing listens here; `main.ts`, the demo and the tests decide where it listens.
 */
export function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Gateway {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics();
  const { services, store, managementToken, close: closeServices } = createServices(config, logger, metrics, tokenPolicies);

  const verifier = new CallerVerifier({
    origin: config.auth0.origin,
    audience: config.auth0.audience,
    jwksCooldownMs: options.jwksCooldownMs,
    jwksTimeoutMs: options.jwksTimeoutMs,
  });
  const tenant = new TenantReadiness({
    origin: config.auth0.origin,
    signingKeys: verifier,
    // The token is shared through the store: fetched while the store is still connecting at start,
    // it would skip the store and cost the tenant one token per starting instance.
    managementToken: async () => {
      await storeAnswering(store, 2_000);
      return managementToken();
    },
    logger,
    firstRetryMs: options.tenantRetry?.firstMs,
    maxRetryMs: options.tenantRetry?.maxMs,
  });
  const endpoint = '/graphql';
  const requests = new RequestDrain();
  const metricsApart = config.metricsPort !== undefined;
  const yoga = createYoga<object, { services: Services }>({
    schema,
    graphqlEndpoint: endpoint,
    landingPage: false,
    // Ours instead of yoga's: yoga's GraphiQL loads from a CDN, and its CORS reflects any origin.
    graphiql: false,
    cors: false,
    // useBodyLimit below enforces MAX_BODY_BYTES at a fraction of the cost.
    maxRequestBodySize: false,
    parserAndValidationCache: boundedParserCaches(),
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error({ err: args[0] }, 'graphql request failed'),
    },
    context: () => ({ services }),
    plugins: [
      useCors({ origins: config.corsOrigins }),
      useOperationalEndpoints({
        store,
        storeIsShared: Boolean(config.redis),
        tenant,
        registry: metricsApart ? undefined : metrics.registry,
        draining: () => requests.draining,
      }),
      config.graphiql && useGraphiQL({ endpoint, ...options.graphiql }),
      useCallerAuth({ verifier, endpoint }),
      useBodyLimit(config.limits.maxBodyBytes),
      usePersistedOperations({ store, ...config.persistedOperations, logger, graphiql: config.graphiql }),
      useDocumentLimits(config.limits),
      useExecutableOperations(),
      useUpstreamBudget({ maxUpstreamCalls: config.limits.maxUpstreamCalls }),
      useErrorLog({ logger }),
      useUpstreamStats(),
    ],
  });
  // Each HTTP request runs with its own upstream tally (x-upstream-stats) and caller.
  const server = createServer((req, res) => {
    requests.track(server, res);
    void withRequestStats(() => yoga(req, res));
  });
  // Checked in the background from the moment the gateway serves: startup never waits for the tenant.
  server.once('listening', () => tenant.start());
  const metricsServer = metricsApart ? createMetricsServer(metrics.registry) : undefined;

  return {
    yoga,
    server,
    metricsServer,
    services,
    store,
    tenant,
    metrics: metrics.registry,
    drain: () => requests.drain(server),
    get inFlight() {
      return requests.inFlight;
    },
    async close() {
      tenant.stop();
      await Promise.all([server, ...(metricsServer ? [metricsServer] : [])].map(stopListening));
      await closeServices();
    },
  };
}

/** A listener that answers `GET /metrics` and nothing else, for METRICS_PORT. */
function createMetricsServer(registry: Registry): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Only GET /metrics is served here.\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
}

/**
 * The requests in flight on the server, and its drain. Once draining, a response whose headers are
 * not out yet is sent with `Connection: close` (`shouldKeepAlive = false`: Node then ends the
 * socket after it), so a client with a busy connection is told to reconnect rather than reset by
 * the exit; idle keep-alive connections are closed at once, and so is each connection a response
 * already sent as keep-alive leaves idle. Connections that just opened are left alone: their
 * request is on its way, and it is served (with `Connection: close`).
 */
class RequestDrain {
  draining = false;
  private readonly active = new Set<ServerResponse>();
  /** Responses whose headers went out as keep-alive before the drain began. */
  private readonly keptAlive = new WeakSet<ServerResponse>();
  private readonly waiters: (() => void)[] = [];

  get inFlight(): number {
    return this.active.size;
  }

  /** Counts a request until its response ends (or its connection does). */
  track(server: Server, res: ServerResponse): void {
    this.active.add(res);
    if (this.draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      this.active.delete(res);
      if (!this.draining) return;
      // After this tick the connection counts as idle, and only then can it be closed.
      if (this.keptAlive.has(res)) setImmediate(() => server.closeIdleConnections());
      if (this.active.size === 0) for (const resolve of this.waiters.splice(0)) resolve();
    });
  }

  drain(server: Server): Promise<void> {
    if (!this.draining) {
      this.draining = true;
      for (const res of this.active) {
        if (res.headersSent) this.keptAlive.add(res);
        else res.shouldKeepAlive = false;
      }
      server.closeIdleConnections();
    }
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

async function stopListening(server: Server): Promise<void> {
  if (!server.listening) return;
  server.closeIdleConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Resolves once the store answers a ping, or after `withinMs` whatever it does (never rejects). */
async function storeAnswering(store: { ping(): Promise<void> }, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      await store.ping();
      return;
    } catch {
      if (Date.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
