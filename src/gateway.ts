import { createServer, type Server } from 'node:http';
import { createYoga, type YogaServerInstance, type YogaServerOptions } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import { CallerVerifier } from './auth0/caller-token.js';
import type { GatewayConfig } from './config.js';
import type { Services } from './graphql/context.js';
import { schema } from './graphql/schema.js';
import { withRequestStats } from './http/request-stats.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { useCallerAuth } from './plugins/use-caller-auth.js';
import { useErrorLog } from './plugins/use-error-log.js';
import { useExecutableOperations } from './plugins/use-executable-operations.js';
import { useOperationalEndpoints } from './plugins/use-operational-endpoints.js';
import { useUpstreamStats } from './plugins/use-upstream-stats.js';
import { createServices } from './services.js';
import type { SharedStore } from './store/store.js';

/** Things a caller of createGateway may supply instead of the defaults. */
export interface GatewayOptions {
  logger?: Logger;
  /** GraphiQL settings (the demo pre-fills a caller token); default: GraphiQL on. */
  graphiql?: YogaServerOptions<object, object>['graphiql'];
  /** Minimum time between JWKS fetches caused by unknown key ids. */
  jwksCooldownMs?: number;
}

/** A gateway instance: the yoga app, an HTTP server that is not listening yet, and its services. */
export interface Gateway {
  yoga: YogaServerInstance<object, { services: Services }>;
  server: Server;
  services: Services;
  store: SharedStore;
  metrics: Registry;
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
  const { services, store, close: closeServices } = createServices(config, logger, metrics);

  const verifier = new CallerVerifier({ origin: config.auth0.origin, audience: config.auth0.audience, jwksCooldownMs: options.jwksCooldownMs });
  const yoga = createYoga<object, { services: Services }>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: options.graphiql ?? true,
    logging: {
      debug: (...args) => logger.debug(args.map(String).join(' ')),
      info: (...args) => logger.info(args.map(String).join(' ')),
      warn: (...args) => logger.warn(args.map(String).join(' ')),
      error: (...args) => logger.error({ err: args[0] }, 'graphql request failed'),
    },
    context: () => ({ services }),
    plugins: [
      useOperationalEndpoints({ store, storeIsShared: Boolean(config.redis), registry: metrics.registry }),
      useCallerAuth({ verifier }),
      useExecutableOperations(),
      useErrorLog({ logger }),
      useUpstreamStats(),
    ],
  });
  // Each HTTP request runs with its own upstream tally (x-upstream-stats).
  const server = createServer((req, res) => withRequestStats(() => yoga(req, res)));

  return {
    yoga,
    server,
    services,
    store,
    metrics: metrics.registry,
    async close() {
      if (server.listening) {
        server.closeIdleConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await closeServices();
    },
  };
}
