import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SEED_ACCOUNTS, SEED_USERS } from '../sandbox/index.js';
import { clusterAvailable, errorCodes, startHarness, type GraphQLAnswer, type Harness, type RunningGateway } from './helpers/harness.js';

// The hard rule on secrets: no response, error message, log line, metric label or Redis value ever
// contains a provider access token, refresh token, client secret or the Management API token in
// clear text (only `Identity.accessToken` and `EnterpriseConnection.adminAccessToken` return a
// provider access token, to callers holding the scopes; refresh tokens never leave). We drive a
// varied set of operations (successes, caller-auth failures, Management API faults, a gateway with
// a wrong client secret) through gateways logging at debug level, then search every surface for
// every secret in play.
//
// All of it on one Redis server and on a Redis Cluster; on the cluster, every key and value on
// every master is searched, not only this file's. The cluster run is skipped when the run has none.

const STORES = [
  { store: 'one Redis server', redis: 'single' },
  { store: 'a Redis Cluster', redis: 'cluster' },
] as const;

const USER_FIELDS = `
  id email name picture
  identities { provider connection userId isSocial token { expiresAt hasRefreshToken state } }
  google { provider connection userId isSocial token { expiresAt hasRefreshToken state } }
  facebook { provider userId token { expiresAt hasRefreshToken state } }
  bitbucket { provider userId token { expiresAt hasRefreshToken state } }
`;

/** Every string under a key naming a token or secret, at any depth. */
function secretStrings(value: unknown, key = ''): string[] {
  if (typeof value === 'string') return /token|secret/i.test(key) ? [value] : [];
  if (Array.isArray(value)) return value.flatMap((item) => secretStrings(item, key));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => secretStrings(v, k));
  return [];
}

/**
 * Needles that betray a secret: the whole value; for a JWT also its signature alone; for any long
 * value also a 20-character run from its middle, so a truncated or partly masked secret is caught.
 */
function needles(secret: string): string[] {
  const found = [secret];
  const parts = secret.split('.');
  if (parts.length === 3 && parts[2]!.length >= 20) found.push(parts[2]!);
  if (secret.length >= 32) {
    const middle = Math.floor(secret.length / 2) - 10;
    found.push(secret.slice(middle, middle + 20));
  }
  return found;
}

/** Every key (matching `pattern`) on one Redis server with its value, read with the command its type needs. */
async function entriesOf(redis: Redis, pattern: string): Promise<Map<string, string>> {
  const entries = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      if (type === 'string') value = await redis.get(key);
      else if (type === 'hash') value = await redis.hgetall(key);
      else if (type === 'list') value = await redis.lrange(key, 0, -1);
      else if (type === 'set') value = await redis.smembers(key);
      else if (type === 'zset') value = await redis.zrange(key, 0, -1, 'WITHSCORES');
      else if (type === 'stream') value = await redis.xrange(key, '-', '+');
      else value = `(${type})`;
      entries.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
  } while (cursor !== '0');
  return entries;
}

describe.each(STORES)('on $store', ({ redis }) => {
  if (redis === 'cluster' && !clusterAvailable()) {
    it.skip('needs a Redis Cluster (this run has none: see test/setup/redis.ts)', () => {});
    return;
  }

  let h: Harness;
  let limited: RunningGateway;
  let misconfigured: RunningGateway;
  const wrongClientSecret = `wrong-${randomBytes(24).toString('base64url')}`;

  /** Every caller token sent, good or forged. */
  const callerTokens: string[] = [];
  /** Every raw HTTP response body received from any gateway, with its status and headers. */
  const responses: string[] = [];
  /** Answers that may rightly hold provider tokens (the caller holds read:user_idp_tokens). */
  const tokenAnswers: string[] = [];
  /** Named answers, for the scenario's own checks. */
  const answers: Record<string, GraphQLAnswer> = {};

  async function callerToken(
    sub: string,
    scope = 'openid profile',
    options?: Parameters<Harness['sandbox']['tenant']['issueAccessToken']>[1],
  ): Promise<string> {
    const token = await h.sandbox.tenant.issueAccessToken({ sub, scope }, options);
    callerTokens.push(token);
    return token;
  }

  /** POSTs a GraphQL operation and records the raw answer. */
  async function send(gateway: RunningGateway, token: string | undefined, query: string): Promise<GraphQLAnswer> {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ query }),
    });
    const text = await response.text();
    responses.push(`${response.status} ${JSON.stringify([...response.headers])} ${text}`);
    return { status: response.status, ...(JSON.parse(text) as Omit<GraphQLAnswer, 'status'>) };
  }

  async function metricsOf(gateway: RunningGateway): Promise<string> {
    const response = await fetch(new URL('/metrics', gateway.url));
    expect(response.status).toBe(200);
    return response.text();
  }

  /** Every secret in play, named for the failure message. */
  function secretsInPlay(): Map<string, string> {
    const secrets = new Map<string, string>();
    const add = (name: string, value: unknown) => {
      if (typeof value === 'string' && value.length > 0) secrets.set(value, name);
    };
    const { tenant, google, facebook, bitbucket, oauth2, github, microsoft, users } = h.sandbox;
    tenant.issuedManagementTokens.forEach((token, i) => add(`Management API token #${i}`, token));
    add('Auth0 client secret', tenant.clientSecret);
    add('wrong Auth0 client secret', wrongClientSecret);
    add('TOKEN_ENCRYPTION_KEY', h.env.TOKEN_ENCRYPTION_KEY);
    secretStrings(users?.tokens).forEach((token, i) => add(`seeded provider token #${i}`, token));
    add('Google client secret', google.clientSecret);
    add('Facebook app secret', facebook.appSecret);
    add('Bitbucket client secret', bitbucket.clientSecret);
    add('OAuth2 client secret', oauth2.clientSecret);
    add('GitHub client secret', github.clientSecret);
    add('Microsoft client secret', microsoft.clientSecret);
    for (const name of ['github', 'acme-azure', 'my-custom-oauth']) add(`${name} connection client_secret`, tenant.connection(name)?.options.client_secret);
    // Every token the provider fakes minted during the run: renewals and rotated refresh tokens included.
    for (const [name, fake] of Object.entries({ google, facebook, bitbucket, oauth2, github, microsoft })) {
      fake.issuedTokens().forEach((token, i) => add(`${name} token #${i}`, token));
    }
    callerTokens.forEach((token, i) => add(`caller token #${i}`, token));
    return secrets;
  }

  /** Names of the secrets found in `haystack` (each text being one log line, response, metric dump or Redis entry). */
  function leaks(haystack: string[]): string[] {
    const text = haystack.join('\n');
    const found: string[] = [];
    for (const [secret, name] of secretsInPlay()) {
      for (const needle of needles(secret)) {
        const at = text.indexOf(needle);
        if (at >= 0) {
          found.push(`${name} in: ${text.slice(Math.max(0, text.lastIndexOf('\n', at) + 1), at + 80).slice(0, 300)}`);
          break;
        }
      }
    }
    return found;
  }

  /** What the Redis scan saw on a cluster: how many masters it searched and which hold keys of this file. */
  const scanned = { masters: 0, mastersInClusterNodes: 0, mastersWithOurKeys: 0 };

  /**
   * The keys with their values: on one server every key under the harness prefix; on a cluster every
   * key of every master, whatever its prefix (a leak must not hide on a node or under a sub-prefix).
   */
  async function redisEntries(): Promise<Map<string, string>> {
    if (redis === 'single') {
      const client = new Redis(inject('redisUrl'), { lazyConnect: true, maxRetriesPerRequest: 1 });
      await client.connect();
      try {
        return await entriesOf(client, `${h.env.REDIS_KEY_PREFIX}*`);
      } finally {
        client.disconnect();
      }
    }
    const seeds = h.env
      .REDIS_CLUSTER_NODES!.split(',')
      .map((seed) => ({ host: seed.slice(0, seed.lastIndexOf(':')), port: Number(seed.slice(seed.lastIndexOf(':') + 1)) }));
    const cluster = new Cluster(seeds, { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } });
    await cluster.connect();
    try {
      const masters = cluster.nodes('master');
      const nodesText = (await cluster.cluster('NODES')) as string;
      // `<id> <host:port@bus> <flags,…> …`: the masters the cluster itself lists.
      const listed = nodesText.split('\n').filter((line) => line.split(' ')[2]?.split(',').includes('master'));
      scanned.masters = masters.length;
      scanned.mastersInClusterNodes = listed.length;
      const entries = new Map<string, string>();
      for (const master of masters) {
        const found = await entriesOf(master, '*');
        if ([...found.keys()].some((key) => key.startsWith(h.env.REDIS_KEY_PREFIX!))) scanned.mastersWithOurKeys++;
        for (const [key, value] of found) entries.set(key, value);
      }
      return entries;
    } finally {
      cluster.disconnect();
    }
  }

  beforeAll(async () => {
    h = await startHarness({ redis });
    const { ada, grace, linus, margaret, alan } = SEED_USERS;
    const partner = () => callerToken('partner-app@clients', 'read:users');

    // A gateway whose Management client secret is wrong, on its own sub-prefix so it cannot borrow
    // the shared Management token: Auth0 refuses it and the caller sees CONFIGURATION_ERROR.
    misconfigured = await h.startGateway({ AUTH0_CLIENT_SECRET: wrongClientSecret, REDIS_KEY_PREFIX: `${h.env.REDIS_KEY_PREFIX}misconfigured:` });
    answers.misconfigured = await send(misconfigured, await partner(), `{ user(id: "${alan}") { id } }`);

    // Management API faults for users not cached yet: 503 until the retries are spent, then 429.
    h.sandbox.tenant.injectFault('getUser', { status: 503, body: { statusCode: 503, error: 'Service Unavailable', message: 'try later' }, times: 5 });
    answers.unavailable = await send(h.main, await partner(), `{ user(id: "${linus}") { ${USER_FIELDS} } }`);
    h.sandbox.clearFaults();
    // A separate instance takes the 429, because the limit it announces pauses that instance's queue.
    limited = await h.startGateway();
    h.sandbox.tenant.injectFault('getUser', {
      status: 429,
      body: { statusCode: 429, error: 'Too Many Requests', message: 'Global limit has been reached', errorCode: 'too_many_requests' },
      headers: { 'retry-after': '30', 'x-ratelimit-limit': '10', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 30) },
      times: 5,
    });
    answers.rateLimited = await send(limited, await partner(), `{ user(id: "${margaret}") { ${USER_FIELDS} } }`);
    h.sandbox.clearFaults();

    // Successful reads: the caller itself, one user, a batch (search plus per-id fallbacks), a missing id.
    answers.me = await send(h.main, await callerToken(ada), `{ me { ${USER_FIELDS} } }`);
    answers.user = await send(h.main, await partner(), `{ user(id: "${grace}") { ${USER_FIELDS} } }`);
    answers.users = await send(
      h.main,
      await partner(),
      `{ users(ids: ${JSON.stringify([ada, grace, linus, margaret, alan, 'auth0|missing'])}) { ${USER_FIELDS} } }`,
    );

    // Scope and caller-auth failures.
    answers.forbidden = await send(h.main, await callerToken(ada, 'openid'), `{ user(id: "${grace}") { id } }`);
    answers.machineMe = await send(h.main, await partner(), '{ me { id } }');
    answers.noToken = await send(h.main, undefined, '{ me { id } }');
    answers.garbage = await send(h.main, 'not-a-jwt', '{ me { id } }');
    answers.expired = await send(h.main, await callerToken(ada, 'openid', { expiresIn: -120 }), '{ me { id } }');
    answers.wrongAudience = await send(h.main, await callerToken(ada, 'openid', { audience: 'https://other.example/api' }), '{ me { id } }');
    answers.unknownKid = await send(h.main, await callerToken(ada, 'openid', { kid: 'no-such-key' }), '{ me { id } }');
    answers.tooMany = await send(h.main, await partner(), `{ users(ids: ${JSON.stringify(Array.from({ length: 101 }, (_, i) => `auth0|${i}`))}) { id } }`);

    // Provider tokens: a caller holding read:user_idp_tokens may see them, so those answers are kept
    // apart (tokenAnswers); logs, metrics and Redis are still searched for every token involved.
    tokenAnswers.push(await fetchAllowed(await callerToken(ada, 'read:user_idp_tokens'), '{ me { identities { accessToken } } }'));
    // Provider calls with renewals: Google and Bitbucket refuse the token once (Bitbucket rotates its
    // refresh token on renewal), Facebook fails, the custom provider answers.
    h.sandbox.google.injectFault('userinfo', { status: 401, body: { error: { code: 401, message: 'Invalid Credentials', status: 'UNAUTHENTICATED' } } });
    h.sandbox.bitbucket.injectFault('user', { status: 401, body: { type: 'error', error: { message: 'Access token expired.' } } });
    h.sandbox.facebook.injectFault('me', { status: 500, body: { error: { message: 'unknown', type: 'OAuthException', code: 1 } }, times: 3 });
    answers.providers = await send(
      h.main,
      await callerToken(ada),
      `{ me {
      google { profile { sub } } facebook { profile { id } } bitbucket { account { uuid } }
      identities { ... on OAuth2Identity { request(path: "/me") } }
    } }`,
    );
    // Microsoft: Grace's expired token is renewed (a new refresh token each time), Graph refuses the
    // renewed one once, so it is renewed again; a throttled listing fails alone.
    h.sandbox.microsoft.injectFault('me', { status: 401, body: { error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty.' } } });
    h.sandbox.microsoft.injectFault('messages', {
      status: 429,
      headers: { 'retry-after': '60' },
      body: { error: { code: 'TooManyRequests', message: 'Too many requests.' } },
    });
    answers.microsoft = await send(h.main, await callerToken(grace), '{ me { microsoft { profile { mail } messages { edges { node { id } } } } } }');
    h.sandbox.clearFaults();
    // GitHub: one GraphQL document for the profile and a page of repositories.
    answers.github = await send(h.main, await callerToken(grace), '{ me { github { profile { login } repositories(first: 2) { edges { node { id } } } } } }');
    // A dead grant (Google refuses Grace's refresh token) and a dead Facebook token (code 190).
    h.sandbox.google.revokeRefreshTokens(SEED_ACCOUNTS.grace.google);
    answers.deadGrant = await send(h.main, await callerToken(grace, 'read:user_idp_tokens'), '{ me { google { accessToken } } }');
    h.sandbox.facebook.invalidateTokens(SEED_ACCOUNTS.margaret.facebook, 460);
    answers.deadFacebook = await send(h.main, await callerToken(margaret), '{ me { facebook { profile { id } } } }');
  });

  /** Sends a query whose answer may rightly hold provider tokens; it is not searched, the rest is. */
  async function fetchAllowed(token: string, query: string): Promise<string> {
    const response = await fetch(h.main.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return response.text();
  }

  afterAll(async () => h?.close());

  describe('the scenario covers successes and every kind of failure', () => {
    it('ran at debug level', () => {
      expect(h.env.LOG_LEVEL).toBe('debug');
    });

    it('answered the successful reads', () => {
      expect(answers.me?.errors).toBeUndefined();
      expect((answers.me?.data?.me as { id: string }).id).toBe(SEED_USERS.ada);
      expect(answers.user?.errors).toBeUndefined();
      expect(answers.users?.errors).toBeUndefined();
      expect((answers.users?.data?.users as unknown[]).length).toBe(6);
    });

    it('answered the failures with their contract codes', () => {
      expect(errorCodes(answers.misconfigured!)).toEqual(['CONFIGURATION_ERROR']);
      expect(errorCodes(answers.unavailable!)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expect(errorCodes(answers.rateLimited!)).toEqual(['PROVIDER_RATE_LIMITED']);
      expect(errorCodes(answers.forbidden!)).toEqual(['FORBIDDEN']);
      expect(errorCodes(answers.machineMe!)).toEqual(['FORBIDDEN']);
      for (const name of ['noToken', 'garbage', 'expired', 'wrongAudience', 'unknownKid']) {
        expect(answers[name]?.status, name).toBe(401);
        expect(errorCodes(answers[name]!), name).toEqual(['UNAUTHENTICATED']);
      }
      expect(errorCodes(answers.tooMany!)).toEqual(['BAD_USER_INPUT']);
      expect(tokenAnswers[0]).toContain('"accessToken":"ya29.');
      const providers = answers.providers!;
      expect(errorCodes(providers)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expect(providers.errors?.[0]?.path).toEqual(['me', 'facebook', 'profile']);
      expect(h.sandbox.google.count('token')).toBeGreaterThanOrEqual(1);
      expect(h.sandbox.bitbucket.count('token')).toBe(1);
      expect(answers.github?.errors).toBeUndefined();
      expect(h.sandbox.github.count('graphql')).toBe(1);
      expect(errorCodes(answers.microsoft!)).toEqual(['PROVIDER_RATE_LIMITED']);
      expect(answers.microsoft?.data).toEqual({ me: { microsoft: { profile: { mail: 'grace@acme.example' }, messages: null } } });
      // Grace's seeded Microsoft token is an hour past expiry: renewed before the first call, then once more on the 401.
      expect(h.sandbox.microsoft.count('token')).toBe(2);
      expect(errorCodes(answers.deadGrant!)).toEqual(['REAUTHENTICATION_REQUIRED']);
      expect(errorCodes(answers.deadFacebook!)).toEqual(['REAUTHENTICATION_REQUIRED']);
    });

    it('had secrets to leak: Management tokens were issued and seeded provider tokens exist', () => {
      expect(h.sandbox.tenant.issuedManagementTokens.length).toBeGreaterThanOrEqual(1);
      expect(secretStrings(h.sandbox.users?.tokens).length).toBeGreaterThanOrEqual(10);
      for (const secret of secretsInPlay().keys()) expect(secret.length).toBeGreaterThanOrEqual(16);
    });
  });

  describe('no secret in clear text', () => {
    it('(the search itself finds a whole, a truncated and a JWT-signature-only secret)', () => {
      const { clientSecret, issuedManagementTokens } = h.sandbox.tenant;
      expect(leaks([`{"msg":"x ${clientSecret}"}`])).toHaveLength(1);
      expect(leaks([`{"msg":"x ${clientSecret.slice(4, -4)}"}`])).toHaveLength(1);
      expect(leaks([`sig=${issuedManagementTokens[0]!.split('.')[2]}`])).toHaveLength(1);
      expect(leaks(['nothing to see'])).toEqual([]);
    });

    it('in any log line of any gateway', () => {
      const gateways = [h.main, limited, misconfigured];
      for (const gateway of gateways) expect(gateway.logs.length).toBeGreaterThan(0);
      const lines = gateways.flatMap((gateway) => gateway.logs);
      for (const event of ['management_token_fetched', 'token_refreshed', 'token_dead', 'field_failed']) {
        expect(
          lines.some((line) => line.includes(event)),
          event,
        ).toBe(true);
      }
      expect(leaks(lines)).toEqual([]);
    });

    it('in any GraphQL response (bodies and headers)', () => {
      expect(responses.length).toBe(Object.keys(answers).length);
      expect(leaks(responses)).toEqual([]);
    });

    it('in the /metrics output', async () => {
      const dumps = await Promise.all([h.main, limited, misconfigured].map(metricsOf));
      expect(dumps[0]).toContain('idpgw_upstream_requests_total{upstream="auth0"');
      expect(leaks(dumps)).toEqual([]);
    });

    it(redis === 'single' ? 'in any Redis key or value under the harness prefix' : 'in any key or value on any master of the cluster', async () => {
      const entries = await redisEntries();
      const managementKey = [...entries.keys()].find((key) => key === `${h.env.REDIS_KEY_PREFIX}auth0:management-token`);
      expect(managementKey, `keys: ${[...entries.keys()].join(', ')}`).toBeDefined();
      expect(entries.get(managementKey!)).toMatch(/^v1\./);
      // User records are cached too, without their tokens.
      expect([...entries.keys()].some((key) => key.startsWith(`${h.env.REDIS_KEY_PREFIX}user:`))).toBe(true);
      expect(leaks([...entries].map(([key, value]) => `${key} = ${value}`))).toEqual([]);
      if (redis === 'cluster') {
        // Every master was searched, and this file's keys are spread over more than one of them.
        expect(scanned.masters).toBeGreaterThanOrEqual(1);
        expect(scanned.masters).toBe(scanned.mastersInClusterNodes);
        expect(scanned.mastersWithOurKeys).toBeGreaterThan(1);
      }
    });
  });
});
