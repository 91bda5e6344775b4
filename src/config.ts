import { z } from 'zod';
import { booleanSwitch, nonNegativeInt, positiveInt } from './env.js';
import { readTrustedDocuments } from './limits/trusted-documents.js';
import { providerConfigFragments } from './providers/config.js';

/**
 * Every environment variable the gateway reads, validated in one place, and the configuration
 * they make. The public variables are listed in the README ("Configuration") and `.env.example`;
 * the tuning knobs all have safe defaults. Each provider contributes its own variables
 * (providers/<name>/config.ts, listed in providers/config.ts): they are validated together with the
 * gateway's, so one error names every bad variable, and read into `config.providers.<name>`.
 */

/** The accepted forms of AUTH0_DOMAIN: a bare tenant domain or a full origin. */
const auth0Origin = z
  .string()
  .trim()
  .min(1)
  .transform((value, ctx) => {
    const candidate = value.includes('://') ? value : `https://${value}`;
    if (!URL.canParse(candidate) || !/^https?:$/.test(new URL(candidate).protocol)) {
      ctx.addIssue({ code: 'custom', message: 'must be a tenant domain such as acme.eu.auth0.com or an origin' });
      return z.NEVER;
    }
    return new URL(candidate).origin;
  });

/**
 * The origins a browser may call the gateway from: `*` (any origin, then without credentials) or a
 * comma-separated list of origins such as `https://app.example.com`. `null` (the origin of sandboxed
 * iframes and local files) is refused outright: granting it grants every such page at once.
 */
const corsOrigins = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const entries = value
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    if (entries.includes('*')) {
      if (entries.length > 1) ctx.addIssue({ code: 'custom', message: '`*` cannot be combined with other origins' });
      return '*' as const;
    }
    const origins: string[] = [];
    for (const entry of entries) {
      if (entry.toLowerCase() === 'null') {
        ctx.addIssue({ code: 'custom', message: 'the origin `null` is never allowed (sandboxed iframes and files share it)' });
      } else if (!URL.canParse(entry) || !/^https?:$/.test(new URL(entry).protocol) || new URL(entry).origin !== entry.replace(/\/$/, '')) {
        ctx.addIssue({ code: 'custom', message: `\`${entry}\` is not an origin such as https://app.example.com (scheme, host and port only)` });
      } else {
        origins.push(new URL(entry).origin);
      }
    }
    return origins;
  });

/** Base64 AES-256 keys, comma-separated; the first seals, every one opens (key rotation). */
const encryptionKeys = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const keys = value.split(',').map((part) => Buffer.from(part.trim(), 'base64'));
    if (keys.some((key) => key.length !== 32)) {
      ctx.addIssue({ code: 'custom', message: 'every comma-separated key must be 32 bytes, base64-encoded' });
      return z.NEVER;
    }
    return keys;
  });

/**
 * TRUSTED_DOCUMENTS: the path of an Apollo persisted-query manifest, read and validated here, once,
 * so that a missing file or a bad manifest stops the start with one message naming the variable.
 */
const trustedDocuments = z
  .string()
  .trim()
  .transform((path, ctx) => {
    try {
      return readTrustedDocuments(path);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

/** A Redis Cluster seed node. */
export interface RedisClusterNode {
  host: string;
  port: number;
}

/**
 * The shared store (`config.redis`): one Redis server (`url`) or a Redis Cluster reached through its
 * seed nodes (`nodes`); every key is under `keyPrefix`. Tell them apart with `'nodes' in redis`.
 */
export type RedisConfig = { url: string; keyPrefix: string } | { nodes: RedisClusterNode[]; keyPrefix: string };

/**
 * Redis Cluster seed nodes: comma-separated `host:port` (an IPv6 address in brackets, `[::1]:7000`).
 * The client learns every other node from them, so a few suffice.
 */
const redisClusterNodes = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const nodes: RedisClusterNode[] = [];
    let invalid = false;
    for (const entry of value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)) {
      const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/@]+)):(\d{1,5})$/.exec(entry);
      const port = Number(match?.[3]);
      if (!match || port < 1 || port > 65535) {
        ctx.addIssue({ code: 'custom', message: `\`${entry}\` is not host:port with a port from 1 to 65535` });
        invalid = true;
      } else {
        nodes.push({ host: match[1] ?? match[2]!, port });
      }
    }
    if (invalid) return z.NEVER;
    if (nodes.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'must list at least one host:port (comma-separated)' });
      return z.NEVER;
    }
    return nodes;
  });

/** Auth0 connection names, comma-separated (TOKEN_VAULT_CONNECTIONS); at least one. */
const connectionNames = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const names = [
      ...new Set(
        value
          .split(',')
          .map((name) => name.trim())
          .filter(Boolean),
      ),
    ];
    if (names.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'must name at least one Auth0 connection (comma-separated)' });
      return z.NEVER;
    }
    return names;
  });

/** The gateway's own variables (the providers' are merged in below). */
const gatewayEnv = {
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  AUTH0_DOMAIN: auth0Origin,
  AUTH0_AUDIENCE: z.string().trim().min(1),
  AUTH0_CLIENT_ID: z.string().trim().min(1),
  AUTH0_CLIENT_SECRET: z.string().trim().min(1),
  REDIS_URL: z
    .string()
    .trim()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  REDIS_CLUSTER_NODES: redisClusterNodes.optional(),
  REDIS_KEY_PREFIX: z.string().trim().min(1).default('idpgw:'),
  TOKEN_ENCRYPTION_KEY: encryptionKeys.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  USER_CACHE_TTL_SECONDS: nonNegativeInt.default(30),
  USER_MISSING_TTL_SECONDS: nonNegativeInt.default(10),
  AUTH0_MAX_CONCURRENCY: positiveInt.default(4),
  AUTH0_MAX_REQUESTS_PER_SECOND: positiveInt.default(10),
  UPSTREAM_MAX_RETRIES: nonNegativeInt.max(5).default(2),
  UPSTREAM_MAX_RETRY_WAIT_MS: nonNegativeInt.default(5000),
  UPSTREAM_CONNECT_TIMEOUT_MS: positiveInt.default(3000),
  UPSTREAM_TIMEOUT_MS: positiveInt.default(10000),
  REQUEST_TIMEOUT_MS: positiveInt.default(10000),
  UPSTREAM_BREAKER_FAILURES: positiveInt.default(5),
  UPSTREAM_BREAKER_OPEN_MS: positiveInt.default(10000),
  USER_STALE_GRACE_SECONDS: nonNegativeInt.default(300),
  MAX_BODY_BYTES: positiveInt.max(16 * 1024 * 1024).default(256 * 1024),
  MAX_UPSTREAM_CALLS: positiveInt.default(100),
  MAX_DEPTH: positiveInt.default(15),
  MAX_ALIASES: nonNegativeInt.default(15),
  MAX_TOKENS: positiveInt.default(2000),
  MAX_DIRECTIVES: nonNegativeInt.default(20),
  CORS_ORIGINS: corsOrigins.optional(),
  GRAPHIQL: booleanSwitch.default(false),
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  TRUSTED_DOCUMENTS: trustedDocuments.optional(),
  PERSISTED_QUERY_MAX_BYTES: positiveInt.max(1024 * 1024).default(16 * 1024),
  PERSISTED_QUERY_TTL_SECONDS: positiveInt.default(3600),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  TOKEN_RECORD_IDLE_TTL_SECONDS: positiveInt.default(90 * 86_400),
  TOKEN_VAULT_CONNECTIONS: connectionNames.optional(),
  TOKEN_VAULT_CLIENT_ID: z.string().trim().min(1).optional(),
  TOKEN_VAULT_CLIENT_SECRET: z.string().trim().min(1).optional(),
};

type Fragments = typeof providerConfigFragments;
type UnionToIntersection<U> = (U extends unknown ? (value: U) => void : never) extends (value: infer I) => void ? I : never;
/** Every provider's variables in one shape. */
type ProviderEnv = UnionToIntersection<Fragments[keyof Fragments]['env']>;
/** `config.providers`: each provider's configuration under its name. */
type ProvidersConfig = { [Name in keyof Fragments]: ReturnType<Fragments[Name]['read']> };

const providerEnv = Object.assign({}, ...Object.values(providerConfigFragments).map((fragment) => fragment.env)) as ProviderEnv;

/** Every variable the configuration reads, with its schema: the README's table and .env.example are checked against it. */
export const configVariables: Readonly<Record<string, z.ZodType>> = { ...gatewayEnv, ...providerEnv };

/** Reads each provider's configuration out of the validated variables. */
function readProviders(env: Record<string, unknown>): ProvidersConfig {
  const read = (fragment: { read: (env: never) => unknown }) => fragment.read(env as never);
  return Object.fromEntries(Object.entries(providerConfigFragments).map(([name, fragment]) => [name, read(fragment)])) as ProvidersConfig;
}

/** The environment, validated and turned into the gateway's configuration. */
const configSchema = z
  .object({ ...gatewayEnv, ...providerEnv })
  .superRefine((env, ctx) => {
    if (env.METRICS_PORT !== undefined && env.METRICS_PORT === env.PORT) {
      ctx.addIssue({ code: 'custom', path: ['METRICS_PORT'], message: 'must differ from PORT (unset it to serve /metrics on PORT)' });
    }
    if (env.REDIS_URL && env.REDIS_CLUSTER_NODES) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_CLUSTER_NODES'],
        message: 'cannot be combined with REDIS_URL: set REDIS_URL for one Redis server or REDIS_CLUSTER_NODES for a Redis Cluster, not both',
      });
    }
    const sharedStore = env.REDIS_URL ? 'REDIS_URL' : env.REDIS_CLUSTER_NODES ? 'REDIS_CLUSTER_NODES' : undefined;
    if (sharedStore && !env.TOKEN_ENCRYPTION_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['TOKEN_ENCRYPTION_KEY'],
        message: `is required when ${sharedStore} is set (32 bytes, base64: \`openssl rand -base64 32\`)`,
      });
    }
    // A brace in the prefix would become the hash tag of every key (or split it), and a subject's
    // record, lock and markers could land in different cluster slots.
    if (env.REDIS_CLUSTER_NODES && /[{}]/.test(env.REDIS_KEY_PREFIX)) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_KEY_PREFIX'],
        message: "must not contain `{` or `}` with REDIS_CLUSTER_NODES (they would break the keys' hash tags)",
      });
    }
    tokenVaultIssues(env).forEach((issue) => ctx.addIssue({ code: 'custom', ...issue }));
  })
  .transform((e) => ({
    port: e.PORT,
    host: e.HOST,
    auth0: {
      /** Tenant origin without a trailing slash, e.g. `https://acme.eu.auth0.com`. */
      origin: e.AUTH0_DOMAIN,
      audience: e.AUTH0_AUDIENCE,
      clientId: e.AUTH0_CLIENT_ID,
      clientSecret: e.AUTH0_CLIENT_SECRET,
      maxConcurrency: e.AUTH0_MAX_CONCURRENCY,
      maxRequestsPerSecond: e.AUTH0_MAX_REQUESTS_PER_SECOND,
    },
    /** The shared store: one Redis server or a Redis Cluster; undefined: in memory, one instance. */
    redis: ((): RedisConfig | undefined => {
      if (e.REDIS_URL) return { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX };
      if (e.REDIS_CLUSTER_NODES) return { nodes: e.REDIS_CLUSTER_NODES, keyPrefix: e.REDIS_KEY_PREFIX };
      return undefined;
    })(),
    /**
     * Auth0 Token Vault: the connections whose tokens come from Auth0's token exchange (for the
     * caller's own identities) and the Custom API Client that exchanges; undefined: none.
     */
    tokenVault:
      e.TOKEN_VAULT_CONNECTIONS && e.TOKEN_VAULT_CLIENT_ID && e.TOKEN_VAULT_CLIENT_SECRET
        ? { connections: e.TOKEN_VAULT_CONNECTIONS, clientId: e.TOKEN_VAULT_CLIENT_ID, clientSecret: e.TOKEN_VAULT_CLIENT_SECRET }
        : undefined,
    /** AES-256-GCM keys; undefined means an ephemeral key (in-memory store only). */
    encryptionKeys: e.TOKEN_ENCRYPTION_KEY,
    providers: readProviders(e),
    logLevel: e.LOG_LEVEL,
    userCacheTtlSeconds: e.USER_CACHE_TTL_SECONDS,
    /** How long ids that Auth0 does not know are remembered as missing; 0 disables the memo. */
    userMissingTtlSeconds: e.USER_MISSING_TTL_SECONDS,
    /** How long an identity's token record is kept after its last use; Auth0 answers for it after that. */
    tokenRecordIdleTtlSeconds: e.TOKEN_RECORD_IDLE_TTL_SECONDS,
    /** How long a SIGTERM or SIGINT waits for in-flight requests before the process exits anyway. */
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    upstream: {
      maxRetries: e.UPSTREAM_MAX_RETRIES,
      maxRetryWaitMs: e.UPSTREAM_MAX_RETRY_WAIT_MS,
      connectTimeoutMs: e.UPSTREAM_CONNECT_TIMEOUT_MS,
      timeoutMs: e.UPSTREAM_TIMEOUT_MS,
      /** The time a GraphQL request has for all its upstream waits (retries and queues included). */
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    },
    /** Circuit breakers, one per upstream host: consecutive failed calls that open one, and how long it stays open. */
    breaker: {
      failures: e.UPSTREAM_BREAKER_FAILURES,
      openMs: e.UPSTREAM_BREAKER_OPEN_MS,
    },
    /** How long past its cache lifetime a user record may still answer while Auth0 fails; 0 disables. */
    userStaleGraceSeconds: e.USER_STALE_GRACE_SECONDS,
    /** What one request may ask of the gateway (hostile-input limits). */
    limits: {
      /** Largest request body; larger is 413. */
      maxBodyBytes: e.MAX_BODY_BYTES,
      /** Upstream calls one operation may cause (estimated before execution, counted during it). */
      maxUpstreamCalls: e.MAX_UPSTREAM_CALLS,
      maxDepth: e.MAX_DEPTH,
      maxAliases: e.MAX_ALIASES,
      maxTokens: e.MAX_TOKENS,
      maxDirectives: e.MAX_DIRECTIVES,
    },
    /** Origins allowed cross-origin: `*` for any (without credentials), else an allow-list (empty: none). */
    corsOrigins: e.CORS_ORIGINS ?? [],
    /** Whether a browser GET /graphql shows GraphiQL. */
    graphiql: e.GRAPHIQL,
    /** A second listener serving only /metrics; undefined serves /metrics on `port`. */
    metricsPort: e.METRICS_PORT,
    /** Persisted operations: trusted documents only (TRUSTED_DOCUMENTS), else automatic persisted queries. */
    persistedOperations: {
      /** The only operations that run, by id; undefined: any document, and APQ registration is on. */
      trustedDocuments: e.TRUSTED_DOCUMENTS,
      /** Largest document (UTF-8 bytes) that APQ registers; a larger one still runs, unregistered. */
      maxBytes: e.PERSISTED_QUERY_MAX_BYTES,
      /** How long a registered document is kept in the shared store. */
      ttlSeconds: e.PERSISTED_QUERY_TTL_SECONDS,
    },
  }));

/**
 * Token Vault needs its connections and its client together: connections without the client's id
 * and secret (or the reverse) name the missing variables.
 */
function tokenVaultIssues(env: { TOKEN_VAULT_CONNECTIONS?: string[]; TOKEN_VAULT_CLIENT_ID?: string; TOKEN_VAULT_CLIENT_SECRET?: string }) {
  const issues: { path: string[]; message: string }[] = [];
  const clientSet = Boolean(env.TOKEN_VAULT_CLIENT_ID || env.TOKEN_VAULT_CLIENT_SECRET);
  if (env.TOKEN_VAULT_CONNECTIONS || clientSet) {
    const needed = 'is required for Token Vault (TOKEN_VAULT_CONNECTIONS, TOKEN_VAULT_CLIENT_ID and TOKEN_VAULT_CLIENT_SECRET go together)';
    for (const name of ['TOKEN_VAULT_CONNECTIONS', 'TOKEN_VAULT_CLIENT_ID', 'TOKEN_VAULT_CLIENT_SECRET'] as const) {
      if (!env[name]) issues.push({ path: [name], message: needed });
    }
  }
  return issues;
}

/** The validated configuration the gateway is built from. */
export type GatewayConfig = z.output<typeof configSchema>;

/** Thrown when the environment does not make a complete configuration; the message names every problem. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(
      [
        'The gateway configuration is incomplete or invalid:',
        ...problems.map((problem) => `  - ${problem}`),
        'Set these environment variables (or put them in .env; see .env.example),',
        'or run `npm run demo` to try the gateway on its built-in sandbox tenant.',
      ].join('\n'),
    );
  }
}

/**
 * Validates environment variables into a GatewayConfig, or throws one ConfigError naming every bad
 * variable. Its one read besides `env`: the manifest file TRUSTED_DOCUMENTS names, if set.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = configSchema.safeParse(present);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map((issue) => {
      const name = issue.path.map(String).join('.') || 'environment';
      const missing = issue.code === 'invalid_type' && !(String(issue.path[0]) in present);
      return missing ? `${name} is required but not set` : `${name} is invalid: ${issue.message}`;
    }),
  );
}
