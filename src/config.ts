import { z } from 'zod';

/**
 * Every environment variable the gateway reads, validated in one place. CONTRACT §2 names the
 * public ones; the tuning knobs below them are ours and all have safe defaults.
 */

const url = (name: string) =>
  z
    .string()
    .trim()
    .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), {
      message: `${name} must be an http(s) URL`,
    })
    .transform((value) => value.replace(/\/+$/, ''));

const optionalSecret = z.string().trim().min(1).optional();
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();

/** A custom OAuth 2.0 connection the gateway may call (CONTRACT §2, `OAUTH2_CONNECTIONS`). */
const oauth2ConnectionSchema = z.object({
  apiUrl: url('apiUrl'),
  tokenUrl: url('tokenUrl').optional(),
  clientId: optionalSecret,
  clientSecret: optionalSecret,
  clientAuth: z.enum(['post', 'basic']).default('post'),
});

const oauth2ConnectionsSchema = z
  .string()
  .trim()
  .default('{}')
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string(), oauth2ConnectionSchema));

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

/** `true`/`false` (also 1/0, yes/no, on/off), as operators write switches. */
const booleanSwitch = z
  .string()
  .trim()
  .toLowerCase()
  .refine((value) => ['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'].includes(value), { message: 'must be true or false' })
  .transform((value) => ['true', '1', 'yes', 'on'].includes(value));

/**
 * The origins a browser may call the gateway from: `*` (any origin, then without credentials) or a
 * comma-separated list of origins such as `https://app.example.com`. `null` (the origin of sandboxed
 * iframes and local files) is refused outright: granting it grants every such page at once.
 */
const corsOrigins = z
  .string()
  .trim()
  .transform((value, ctx) => {
    const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
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

const envSchema = z
  .object({
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
    REDIS_KEY_PREFIX: z.string().trim().min(1).default('idpgw:'),
    TOKEN_ENCRYPTION_KEY: encryptionKeys.optional(),
    GOOGLE_API_URL: url('GOOGLE_API_URL').default('https://www.googleapis.com'),
    GOOGLE_TOKEN_URL: url('GOOGLE_TOKEN_URL').default('https://oauth2.googleapis.com/token'),
    FACEBOOK_GRAPH_URL: url('FACEBOOK_GRAPH_URL').default('https://graph.facebook.com/v26.0'),
    BITBUCKET_API_URL: url('BITBUCKET_API_URL').default('https://api.bitbucket.org/2.0'),
    BITBUCKET_TOKEN_URL: url('BITBUCKET_TOKEN_URL').default('https://bitbucket.org/site/oauth2/access_token'),
    MICROSOFT_LOGIN_URL: url('MICROSOFT_LOGIN_URL').default('https://login.microsoftonline.com'),
    GOOGLE_CLIENT_ID: optionalSecret,
    GOOGLE_CLIENT_SECRET: optionalSecret,
    FACEBOOK_APP_ID: optionalSecret,
    FACEBOOK_APP_SECRET: optionalSecret,
    BITBUCKET_CLIENT_ID: optionalSecret,
    BITBUCKET_CLIENT_SECRET: optionalSecret,
    OAUTH2_CONNECTIONS: oauth2ConnectionsSchema,
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    USER_CACHE_TTL_SECONDS: nonNegativeInt.default(30),
    AUTH0_MAX_CONCURRENCY: positiveInt.default(4),
    AUTH0_MAX_REQUESTS_PER_SECOND: positiveInt.default(10),
    UPSTREAM_MAX_RETRIES: nonNegativeInt.max(5).default(2),
    UPSTREAM_MAX_RETRY_WAIT_MS: nonNegativeInt.default(5000),
    UPSTREAM_CONNECT_TIMEOUT_MS: positiveInt.default(3000),
    UPSTREAM_TIMEOUT_MS: positiveInt.default(10000),
    USER_MISSING_TTL_SECONDS: nonNegativeInt.default(10),
    MAX_BODY_BYTES: positiveInt.max(16 * 1024 * 1024).default(256 * 1024),
    MAX_UPSTREAM_CALLS: positiveInt.default(100),
    MAX_DEPTH: positiveInt.default(15),
    MAX_ALIASES: nonNegativeInt.default(15),
    MAX_TOKENS: positiveInt.default(2000),
    MAX_DIRECTIVES: nonNegativeInt.default(20),
    CORS_ORIGINS: corsOrigins.optional(),
    GRAPHIQL: booleanSwitch.default(false),
    METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  })
  .superRefine((env, ctx) => {
    if (env.METRICS_PORT !== undefined && env.METRICS_PORT === env.PORT) {
      ctx.addIssue({ code: 'custom', path: ['METRICS_PORT'], message: 'must differ from PORT (unset it to serve /metrics on PORT)' });
    }
    if (env.REDIS_URL && !env.TOKEN_ENCRYPTION_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['TOKEN_ENCRYPTION_KEY'],
        message: 'is required when REDIS_URL is set (32 bytes, base64: `openssl rand -base64 32`)',
      });
    }
  });

/** The validated configuration the gateway is built from. */
export interface GatewayConfig {
  port: number;
  host: string;
  auth0: {
    /** Tenant origin without a trailing slash, e.g. `https://acme.eu.auth0.com`. */
    origin: string;
    audience: string;
    clientId: string;
    clientSecret: string;
    maxConcurrency: number;
    maxRequestsPerSecond: number;
  };
  redis: { url: string; keyPrefix: string } | undefined;
  /** AES-256-GCM keys; undefined means an ephemeral key (in-memory store only). */
  encryptionKeys: Buffer[] | undefined;
  providers: {
    google: { apiUrl: string; tokenUrl: string; clientId?: string; clientSecret?: string };
    facebook: { graphUrl: string; appId?: string; appSecret?: string };
    bitbucket: { apiUrl: string; tokenUrl: string; clientId?: string; clientSecret?: string };
    oauth2: Record<string, z.infer<typeof oauth2ConnectionSchema>>;
    /** Microsoft identity platform origin; `<origin>/<tenant>/oauth2/v2.0/token` renews waad/windowslive tokens. */
    microsoft: { loginUrl: string };
  };
  logLevel: string;
  userCacheTtlSeconds: number;
  upstream: { maxRetries: number; maxRetryWaitMs: number; connectTimeoutMs: number; timeoutMs: number };
  /** How long ids that Auth0 does not know are remembered as missing; 0 disables the memo. */
  userMissingTtlSeconds: number;
  /** What one request may ask of the gateway (hostile-input limits). */
  limits: {
    /** Largest request body; larger is 413. */
    maxBodyBytes: number;
    /** Upstream calls one operation may cause (estimated before execution, counted during it). */
    maxUpstreamCalls: number;
    maxDepth: number;
    maxAliases: number;
    maxTokens: number;
    maxDirectives: number;
  };
  /** Origins allowed cross-origin: `*` for any (without credentials), else an allow-list (empty: none). */
  corsOrigins: '*' | string[];
  /** Whether a browser GET /graphql shows GraphiQL. */
  graphiql: boolean;
  /** A second listener serving only /metrics; undefined serves /metrics on `port`. */
  metricsPort: number | undefined;
}

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

/** Validates environment variables into a GatewayConfig, or throws one ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.map(String).join('.') || 'environment';
        const missing = issue.code === 'invalid_type' && !(String(issue.path[0]) in present);
        return missing ? `${name} is required but not set` : `${name} is invalid: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    auth0: {
      origin: e.AUTH0_DOMAIN,
      audience: e.AUTH0_AUDIENCE,
      clientId: e.AUTH0_CLIENT_ID,
      clientSecret: e.AUTH0_CLIENT_SECRET,
      maxConcurrency: e.AUTH0_MAX_CONCURRENCY,
      maxRequestsPerSecond: e.AUTH0_MAX_REQUESTS_PER_SECOND,
    },
    redis: e.REDIS_URL ? { url: e.REDIS_URL, keyPrefix: e.REDIS_KEY_PREFIX } : undefined,
    encryptionKeys: e.TOKEN_ENCRYPTION_KEY,
    providers: {
      google: {
        apiUrl: e.GOOGLE_API_URL,
        tokenUrl: e.GOOGLE_TOKEN_URL,
        clientId: e.GOOGLE_CLIENT_ID,
        clientSecret: e.GOOGLE_CLIENT_SECRET,
      },
      facebook: { graphUrl: e.FACEBOOK_GRAPH_URL, appId: e.FACEBOOK_APP_ID, appSecret: e.FACEBOOK_APP_SECRET },
      bitbucket: {
        apiUrl: e.BITBUCKET_API_URL,
        tokenUrl: e.BITBUCKET_TOKEN_URL,
        clientId: e.BITBUCKET_CLIENT_ID,
        clientSecret: e.BITBUCKET_CLIENT_SECRET,
      },
      oauth2: e.OAUTH2_CONNECTIONS,
      microsoft: { loginUrl: e.MICROSOFT_LOGIN_URL },
    },
    logLevel: e.LOG_LEVEL,
    userCacheTtlSeconds: e.USER_CACHE_TTL_SECONDS,
    upstream: {
      maxRetries: e.UPSTREAM_MAX_RETRIES,
      maxRetryWaitMs: e.UPSTREAM_MAX_RETRY_WAIT_MS,
      connectTimeoutMs: e.UPSTREAM_CONNECT_TIMEOUT_MS,
      timeoutMs: e.UPSTREAM_TIMEOUT_MS,
    },
    userMissingTtlSeconds: e.USER_MISSING_TTL_SECONDS,
    limits: {
      maxBodyBytes: e.MAX_BODY_BYTES,
      maxUpstreamCalls: e.MAX_UPSTREAM_CALLS,
      maxDepth: e.MAX_DEPTH,
      maxAliases: e.MAX_ALIASES,
      maxTokens: e.MAX_TOKENS,
      maxDirectives: e.MAX_DIRECTIVES,
    },
    corsOrigins: e.CORS_ORIGINS ?? [],
    graphiql: e.GRAPHIQL,
    metricsPort: e.METRICS_PORT,
  };
}
