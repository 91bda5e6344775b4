import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway.js';
import { createLogger } from '../../src/logger.js';
import { startSandbox, type Sandbox } from '../../sandbox/index.js';
import type { RawIdentity, RawUser, TenantOptions } from '../../sandbox/tenant.js';

/** A GraphQL answer as the tests read it. */
export interface GraphQLAnswer<TData = Record<string, unknown>> {
  status: number;
  data?: TData | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, unknown> }[];
  extensions?: Record<string, unknown>;
}

/** Whether this run has a Redis Cluster for `startHarness({ redis: 'cluster' })` (test/setup/redis.ts). */
export function clusterAvailable(): boolean {
  return inject('redisClusterNodes') !== '';
}

/** A running gateway plus its log lines. */
export interface RunningGateway {
  gateway: Gateway;
  url: string;
  logs: string[];
  close(): Promise<void>;
}

/** Options of startHarness. */
export interface HarnessOptions {
  /**
   * The store: the run's Redis server (`true` or `'single'`, the default), the run's Redis Cluster
   * (`'cluster'`: REDIS_CLUSTER_NODES; the run must have one, see `clusterAvailable`), or the
   * in-memory store (`false`).
   */
  redis?: boolean | 'single' | 'cluster';
  /** Extra or overriding environment variables for the gateway. */
  env?: Record<string, string>;
  tenant?: TenantOptions;
  seed?: boolean;
  gatewayOptions?: GatewayOptions;
}

/** One sandbox and any number of gateways sharing it (and, with Redis, one key prefix). */
export interface Harness {
  sandbox: Sandbox;
  /** The environment every gateway of this harness starts from. */
  env: Record<string, string>;
  /** The first gateway. */
  main: RunningGateway;
  /** Starts another gateway instance on the same sandbox and store (scale-out tests). */
  startGateway(env?: Record<string, string>, gatewayOptions?: GatewayOptions): Promise<RunningGateway>;
  /** A caller token of the sandbox tenant. */
  token(sub: string, scope?: string, extra?: Record<string, unknown>): Promise<string>;
  /** POSTs a GraphQL operation to the first gateway. */
  query<TData = Record<string, unknown>>(token: string | undefined, query: string, variables?: Record<string, unknown>): Promise<GraphQLAnswer<TData>>;
  close(): Promise<void>;
}

/**
 * Starts the sandbox (simulated Auth0 tenant and providers on loopback) and a real gateway over
 * HTTP, configured exactly as `npm start` would be from environment variables. With Redis, keys
 * live under a prefix unique to this harness, so test files running in parallel never meet.
 */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const sandbox = await startSandbox({ tenant: options.tenant, seed: options.seed });
  const env: Record<string, string> = { ...sandbox.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug' };
  if (options.redis === 'cluster') {
    const nodes = inject('redisClusterNodes');
    if (!nodes) throw new Error('startHarness({ redis: "cluster" }): this run has no Redis Cluster (see test/setup/redis.ts)');
    env.REDIS_CLUSTER_NODES = nodes;
    env.REDIS_KEY_PREFIX = `test:${randomUUID()}:`;
    env.TOKEN_ENCRYPTION_KEY = randomBytes(32).toString('base64');
  } else if (options.redis !== false) {
    env.REDIS_URL = inject('redisUrl');
    env.REDIS_KEY_PREFIX = `test:${randomUUID()}:`;
    env.TOKEN_ENCRYPTION_KEY = randomBytes(32).toString('base64');
  }
  Object.assign(env, options.env);
  const gateways: RunningGateway[] = [];
  const startGateway = async (extra: Record<string, string> = {}, gatewayOptions = options.gatewayOptions) => {
    const running = await runGateway({ ...env, ...extra }, gatewayOptions);
    gateways.push(running);
    return running;
  };
  const main = await startGateway();
  return {
    sandbox,
    env,
    main,
    startGateway,
    token: (sub, scope = 'openid profile', extra = {}) => sandbox.tenant.issueAccessToken({ sub, scope, ...extra }),
    query: (token, query, variables) => postGraphQL(main.url, token, query, variables),
    async close() {
      await Promise.all(gateways.map((running) => running.close()));
      await sandbox.close();
    },
  };
}

/** Starts one gateway from environment variables, capturing its log lines. */
export async function runGateway(env: Record<string, string>, gatewayOptions: GatewayOptions = {}): Promise<RunningGateway> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const config = loadConfig(env);
  const gateway = createGateway(config, { logger: createLogger(config.logLevel, sink), ...gatewayOptions });
  await new Promise<void>((resolve) => gateway.server.listen(0, '127.0.0.1', resolve));
  const { port } = gateway.server.address() as AddressInfo;
  return { gateway, url: `http://127.0.0.1:${port}/graphql`, logs, close: () => gateway.close() };
}

/** POSTs a GraphQL operation as JSON over real HTTP. */
export async function postGraphQL<TData = Record<string, unknown>>(
  url: string,
  token: string | undefined,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<GraphQLAnswer<TData>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLAnswer<TData>, 'status'>;
  return { status: response.status, ...body };
}

/** The `extensions.code` of every error, in order. */
export function errorCodes(answer: GraphQLAnswer<unknown>): unknown[] {
  return (answer.errors ?? []).map((error) => error.extensions?.code);
}

/**
 * A minimal Auth0 user for the fake tenant: `<strategy>|<id>` with one social identity of that
 * strategy (its user id the part after `|`), unless `identity` says otherwise.
 */
export function rawUser(id: string, identity: Partial<RawIdentity> = {}): RawUser {
  const now = new Date().toISOString();
  const [strategy = 'auth0', providerUserId = id] = id.split('|');
  return {
    user_id: id,
    email: `${id.replace(/\W/g, '')}@example.com`,
    name: id,
    created_at: now,
    updated_at: now,
    identities: [{ provider: strategy, user_id: providerUserId, connection: strategy, isSocial: true, ...identity }],
  };
}
