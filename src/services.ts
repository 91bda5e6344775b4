import { Agent } from 'undici';
import { ConnectionDirectory } from './auth0/connections.js';
import { ManagementClient, auth0RateLimitWaitMs } from './auth0/management-client.js';
import { ManagementTokenProvider } from './auth0/management-token.js';
import { UserDirectory } from './auth0/users.js';
import type { GatewayConfig } from './config.js';
import { UpstreamBreakers } from './http/breaker.js';
import { recordUpstreamAttempt } from './http/request-stats.js';
import { UpstreamClient, retryAfterMs, type AttemptReport } from './http/upstream.js';
import type { Logger } from './logger.js';
import type { GatewayMetrics } from './metrics.js';
import { ProviderApi, type ProviderApiDefinition } from './providers/api.js';
import { DistributedLock } from './store/lock.js';
import { MemoryStore } from './store/memory.js';
import { RedisClusterStore } from './store/redis-cluster.js';
import { RedisStore } from './store/redis.js';
import { Sealer } from './store/sealing.js';
import type { SharedStore } from './store/store.js';
import { TokenBroker } from './tokens/broker.js';
import type { PolicyDeps, TokenPolicy } from './tokens/policy.js';
import { auth0TokensOfIdentity, identitySubjectKey } from './tokens/subjects.js';
import { TokenStore } from './tokens/token-store.js';
import { TokenVault } from './tokens/token-vault.js';

/** Long-lived services shared by every request of one gateway instance. */
export interface Services {
  config: GatewayConfig;
  logger: Logger;
  users: UserDirectory;
  connections: ConnectionDirectory;
  tokens: TokenBroker;
  /** The API client of a provider definition (one per gateway, created on first use). */
  providerApi(definition: ProviderApiDefinition): ProviderApi;
}

/** The long-lived services of one gateway instance, and how to release them. */
export interface ServiceGraph {
  services: Services;
  store: SharedStore;
  /** The Management API token of this instance (readiness fetches it before the first request needs it). */
  managementToken: () => Promise<string>;
  close: () => Promise<void>;
}

/**
 * Builds everything a request may use, in the order data flows: the shared store, the Auth0
 * clients, the token broker, the user directory (which hands tokens it sees to the broker), and
 * the provider API clients. One HTTP pool serves every provider; each provider gets its own client,
 * so errors, metrics and telemetry name it.
 */
export function createServices(config: GatewayConfig, logger: Logger, metrics: GatewayMetrics, tokenPolicies: readonly TokenPolicy[]): ServiceGraph {
  const store = createStore(config.redis);
  const sealer = config.encryptionKeys ? new Sealer(config.encryptionKeys) : Sealer.ephemeral();
  const lock = new DistributedLock(store);
  const breakers = createBreakers(config, logger, metrics);
  const auth0 = createAuth0Clients(config, { store, sealer, lock, logger, metrics, breakers });
  const providers = createProviderHttp(config, metrics, breakers);
  const deps: PolicyDeps = { config, connectionOptions: (name) => auth0.connections.options(name) };
  const tokenStore = new TokenStore(store, sealer, (event, pending) => metrics.recordUnsavedTokens(event, pending), {
    recordIdleTtlMs: config.tokenRecordIdleTtlSeconds * 1000,
  });
  const vault = config.tokenVault
    ? new TokenVault({
        config,
        vault: config.tokenVault,
        store,
        sealer,
        lock,
        http: auth0.exchangeHttp,
        policies: tokenPolicies,
        logger,
        onExchange: (provider, outcome) => metrics.recordTokenVaultExchange(provider, outcome),
      })
    : undefined;
  const tokens = new TokenBroker({
    config,
    vault,
    tokens: tokenStore,
    lock,
    policies: tokenPolicies,
    connectionOptions: deps.connectionOptions,
    httpFor: providers.httpFor,
    logger,
    onRefresh: (provider, outcome) => metrics.recordRefresh(provider, outcome),
    onSpendUnknown: (provider, outcome) => metrics.recordSpendUnknown(provider, outcome),
  });
  const users = new UserDirectory({
    client: auth0.management,
    origin: config.auth0.origin,
    store,
    ttlSeconds: config.userCacheTtlSeconds,
    missingTtlSeconds: config.userMissingTtlSeconds,
    staleGraceSeconds: config.userStaleGraceSeconds,
    onStaleServe: () => metrics.recordStaleServe('auth0'),
    logger,
    onTokens: async (list) => {
      await Promise.all(list.map((t) => tokens.adopt(identitySubjectKey(t), auth0TokensOfIdentity(t))));
    },
  });
  const providerApis = new Map<ProviderApiDefinition, ProviderApi>();
  const providerApi = (definition: ProviderApiDefinition) => {
    let api = providerApis.get(definition);
    if (!api) {
      api = new ProviderApi({ ...definition, http: providers.httpFor(definition.provider, definition.maxBodyBytes), tokens, deps });
      providerApis.set(definition, api);
    }
    return api;
  };
  return {
    services: { config, logger, users, connections: auth0.connections, tokens, providerApi },
    store,
    managementToken: () => auth0.tokens.token(),
    async close() {
      // A last try for renewed records the store has not taken yet; what still fails is reported.
      tokenStore.stop();
      await tokenStore.writeBack();
      if (tokenStore.unsavedCount > 0) {
        logger.error({ event: 'renewed_tokens_lost_on_shutdown', count: tokenStore.unsavedCount }, 'renewed tokens could not be stored before shutdown');
      }
      await auth0.close();
      await providers.close();
      await store.close();
    },
  };
}

/** The shared store: one Redis server, a Redis Cluster, or (without either) process memory. */
function createStore(redis: GatewayConfig['redis']): SharedStore {
  if (!redis) return new MemoryStore();
  return 'nodes' in redis ? new RedisClusterStore(redis.nodes, redis.keyPrefix) : new RedisStore(redis.url, redis.keyPrefix);
}

/**
 * The Management API side: one HTTP client whose every attempt also feeds the client's adaptive
 * limiter, the M2M token shared through the store, and the connection directory.
 */
function createAuth0Clients(
  config: GatewayConfig,
  deps: { store: SharedStore; sealer: Sealer; lock: DistributedLock; logger: Logger; metrics: GatewayMetrics; breakers: UpstreamBreakers },
) {
  // The client is made after the HTTP client it observes: until then, attempts have no one to tell.
  let observe: (report: AttemptReport) => void = () => undefined;
  const http = auth0Http(config, deps, (report) => observe(report));
  // Token Vault exchanges go to the same token endpoint and breaker, but apart from the Management
  // API's adaptive limiter: the token endpoint's answers say nothing about the Management API's limits.
  const exchangeHttp = auth0Http(config, deps);
  const tokens = new ManagementTokenProvider({
    origin: config.auth0.origin,
    clientId: config.auth0.clientId,
    clientSecret: config.auth0.clientSecret,
    http,
    store: deps.store,
    sealer: deps.sealer,
    lock: deps.lock,
    logger: deps.logger,
    requestTimeoutMs: config.upstream.requestTimeoutMs,
  });
  const management = new ManagementClient({
    origin: config.auth0.origin,
    http,
    tokens,
    maxConcurrency: config.auth0.maxConcurrency,
    maxRequestsPerSecond: config.auth0.maxRequestsPerSecond,
    maxRetryWaitMs: config.upstream.maxRetryWaitMs,
    requestTimeoutMs: config.upstream.requestTimeoutMs,
    onQueueDeadline: () => deps.metrics.recordDeadlineExpired('auth0', 'queue'),
    logger: deps.logger,
  });
  observe = (report) => management.observe(report);
  return {
    management,
    tokens,
    connections: new ConnectionDirectory(management),
    exchangeHttp,
    async close() {
      await management.close();
      await http.close();
      await exchangeHttp.close();
    },
  };
}

/** An HTTP client for the tenant: Auth0's rate-limit waits, the shared breakers, every attempt counted (and shown to `observe`). */
function auth0Http(
  config: GatewayConfig,
  deps: { metrics: GatewayMetrics; breakers: UpstreamBreakers },
  observe: (report: AttemptReport) => void = () => undefined,
): UpstreamClient {
  return new UpstreamClient({
    name: 'auth0',
    ...config.upstream,
    rateLimitWaitMs: auth0RateLimitWaitMs,
    breakers: deps.breakers,
    onDeadline: (stage) => deps.metrics.recordDeadlineExpired('auth0', stage),
    onRefused: () => deps.metrics.recordBreakerRefusal('auth0'),
    onAttempt: (report) => {
      deps.metrics.recordAttempt('auth0', report);
      recordUpstreamAttempt('auth0', report);
      observe(report);
    },
  });
}

/** A circuit breaker per upstream host, each change of state counted and logged. */
function createBreakers(config: GatewayConfig, logger: Logger, metrics: GatewayMetrics): UpstreamBreakers {
  return new UpstreamBreakers({
    ...config.breaker,
    onStateChange: (upstream, host, state) => {
      metrics.recordBreakerState(upstream, host, state);
      const level = state === 'open' ? 'warn' : 'info';
      logger[level]({ event: 'upstream_breaker', upstream, host, state }, `circuit breaker of ${upstream} (${host}) is ${state.replace('_', '-')}`);
    },
  });
}

/** One keep-alive pool for every provider; a client per provider (and size cap), made on first use. */
function createProviderHttp(config: GatewayConfig, metrics: GatewayMetrics, breakers: UpstreamBreakers) {
  const agent = new Agent({ connect: { timeout: config.upstream.connectTimeoutMs }, keepAliveTimeout: 10_000, connections: 64 });
  const clients = new Map<string, UpstreamClient>();
  return {
    httpFor: (provider: string, maxBodyBytes?: number): UpstreamClient => {
      const key = `${provider}\u0000${maxBodyBytes ?? ''}`;
      let client = clients.get(key);
      if (!client) {
        client = new UpstreamClient({
          name: provider,
          ...config.upstream,
          maxBodyBytes,
          // Providers say how long to wait in Retry-After; longer than the budget means no retry.
          rateLimitWaitMs: (response) => retryAfterMs(response.headers),
          dispatcher: agent,
          breakers,
          onDeadline: (stage) => metrics.recordDeadlineExpired(provider, stage),
          onRefused: () => metrics.recordBreakerRefusal(provider),
          onAttempt: (report) => {
            metrics.recordAttempt(provider, report);
            recordUpstreamAttempt(provider, report);
          },
        });
        clients.set(key, client);
      }
      return client;
    },
    close: () => agent.close(),
  };
}
