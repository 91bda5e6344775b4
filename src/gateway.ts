import { createServer, type Server } from 'node:http';
import { createYoga, type YogaServerInstance, type YogaServerOptions } from 'graphql-yoga';
import { Agent } from 'undici';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CallerVerifier } from './auth0/caller-token.js';
import { ConnectionDirectory } from './auth0/connections.js';
import { ManagementClient, auth0RateLimitWaitMs } from './auth0/management-client.js';
import { ManagementTokenProvider } from './auth0/management-token.js';
import { UserDirectory } from './auth0/users.js';
import type { GatewayConfig } from './config.js';
import type { Services } from './graphql/context.js';
import { schema } from './graphql/schema.js';
import { recordUpstreamAttempt, withRequestStats } from './http/request-stats.js';
import { UpstreamClient, retryAfterMs, type AttemptReport } from './http/upstream.js';
import { createLogger, type Logger } from './logger.js';
import { useCallerAuth } from './plugins/use-caller-auth.js';
import { ProviderApi, type ProviderApiDefinition } from './providers/api.js';
import { tokenPolicies } from './providers/index.js';
import { useErrorLog } from './plugins/use-error-log.js';
import { useExecutableOperations } from './plugins/use-executable-operations.js';
import { useOperationalEndpoints } from './plugins/use-operational-endpoints.js';
import { useUpstreamStats } from './plugins/use-upstream-stats.js';
import { DistributedLock } from './store/lock.js';
import { MemoryStore } from './store/memory.js';
import { RedisStore } from './store/redis.js';
import { Sealer } from './store/sealing.js';
import type { SharedStore } from './store/store.js';
import { TokenBroker } from './tokens/broker.js';
import { auth0TokensOfIdentity, identitySubjectKey } from './tokens/subjects.js';
import { TokenStore } from './tokens/token-store.js';

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
 * Wires the gateway from its configuration: shared store, Auth0 clients, schema, plugins and the
 * HTTP server. Nothing listens here; `main.ts`, the demo and the tests decide where it listens.
 */
export function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Gateway {
  const logger = options.logger ?? createLogger(config.logLevel);
  const store: SharedStore = config.redis ? new RedisStore(config.redis.url, config.redis.keyPrefix) : new MemoryStore();
  const sealer = config.encryptionKeys ? new Sealer(config.encryptionKeys) : Sealer.ephemeral();
  const metrics = createMetrics();

  let management: ManagementClient | undefined;
  const auth0Http = new UpstreamClient({
    name: 'auth0',
    ...config.upstream,
    rateLimitWaitMs: auth0RateLimitWaitMs,
    onAttempt: (report) => {
      metrics.recordAttempt('auth0', report);
      recordUpstreamAttempt('auth0', report);
      management?.observe(report);
    },
  });
  const lock = new DistributedLock(store);
  const managementTokens = new ManagementTokenProvider({
    origin: config.auth0.origin,
    clientId: config.auth0.clientId,
    clientSecret: config.auth0.clientSecret,
    http: auth0Http,
    store,
    sealer,
    lock,
    logger,
  });
  management = new ManagementClient({
    origin: config.auth0.origin,
    http: auth0Http,
    tokens: managementTokens,
    maxConcurrency: config.auth0.maxConcurrency,
    maxRequestsPerSecond: config.auth0.maxRequestsPerSecond,
    maxRetryWaitMs: config.upstream.maxRetryWaitMs,
    logger,
  });
  const connections = new ConnectionDirectory(management);

  // One pool for every provider token endpoint; one client (and metrics label) per provider.
  const providerAgent = new Agent({ connect: { timeout: config.upstream.connectTimeoutMs }, keepAliveTimeout: 10_000, connections: 64 });
  const providerClients = new Map<string, UpstreamClient>();
  const httpFor = (provider: string, maxBodyBytes?: number) => {
    const key = `${provider}\u0000${maxBodyBytes ?? ''}`;
    let client = providerClients.get(key);
    if (!client) {
      client = new UpstreamClient({
        name: provider,
        ...config.upstream,
        maxBodyBytes,
        // Providers say how long to wait in Retry-After; longer than the budget means no retry.
        rateLimitWaitMs: (response) => retryAfterMs(response.headers),
        dispatcher: providerAgent,
        onAttempt: (report) => {
          metrics.recordAttempt(provider, report);
          recordUpstreamAttempt(provider, report);
        },
      });
      providerClients.set(key, client);
    }
    return client;
  };
  const tokens = new TokenBroker({
    config,
    tokens: new TokenStore(store, sealer),
    lock,
    policies: tokenPolicies,
    connectionOptions: (name) => connections.options(name),
    httpFor,
    logger,
    onRefresh: (provider, outcome) => metrics.recordRefresh(provider, outcome),
  });
  const users = new UserDirectory({
    client: management,
    origin: config.auth0.origin,
    store,
    ttlSeconds: config.userCacheTtlSeconds,
    logger,
    onTokens: async (list) => {
      await Promise.all(list.map((t) => tokens.adopt(identitySubjectKey(t), auth0TokensOfIdentity(t))));
    },
  });
  const providerApis = new Map<ProviderApiDefinition, ProviderApi>();
  const providerApi = (definition: ProviderApiDefinition) => {
    let api = providerApis.get(definition);
    if (!api) {
      api = new ProviderApi({ ...definition, http: httpFor(definition.provider, definition.maxBodyBytes) });
      providerApis.set(definition, api);
    }
    return api;
  };
  const services: Services = { config, logger, users, connections, tokens, providerApi };

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
      await management.close();
      await auth0Http.close();
      await providerAgent.close();
      await store.close();
    },
  };
}

/** The gateway's Prometheus registry (one per instance, so several gateways in one process do not clash). */
function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'idpgw_upstream_requests_total',
    help: 'HTTP requests sent upstream, by upstream and outcome (status code, timeout or network).',
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
  return {
    registry,
    recordRefresh(provider: string, outcome: string) {
      refreshes.inc({ provider, outcome });
    },
    recordAttempt(upstream: string, report: AttemptReport) {
      requests.inc({ upstream, outcome: report.failed ?? String(report.status) });
      duration.observe({ upstream }, report.durationMs / 1000);
    },
  };
}
