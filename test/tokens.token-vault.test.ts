import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { loadConfig } from '../src/config.js';
import { clusterAvailable, errorCodes, postGraphQL, rawUser, startHarness, type GraphQLAnswer, type Harness, type RunningGateway } from './helpers/harness.js';

// Auth0 Token Vault as the token source of the caller's own identities on TOKEN_VAULT_CONNECTIONS
// (here google-oauth2): the gateway exchanges the caller's access token at the fake tenant's
// /oauth/token, which verifies it, looks up the user's connected account and answers with a Google
// token it refreshes itself when expired. The tenant counts exchanges per user and connection; the
// counts prove one exchange serves every field, alias, concurrent request and instance. Only Date is
// faked, and only in the last test: the gateways and the fakes share this process and its clock.

const CONNECTION = 'google-oauth2';
const VAULT_SECRET = randomBytes(32).toString('base64url');
const PROFILE_FIELDS = 'accessToken profile { sub } calendarEvents { edges { node { id } } } driveFiles { edges { node { id } } }';
const EVERYTHING = `{ me { id google { ${PROFILE_FIELDS} } again: google { profile { sub } accessToken } identities { ... on GoogleIdentity { accessToken } } } }`;

type GoogleAnswer = { me: { id: string; google: { accessToken: string | null; profile: { sub: string } | null } | null } };

let h: Harness;
let gateways: RunningGateway[];
/** Every caller token this file sent, for the secret scan. */
const callerTokens: string[] = [];
let userCounter = 0;

/** A new user whose google-oauth2 identity's tokens live in Token Vault. */
function vaultUser(connected = true): { userId: string; sub: string } {
  const sub = `vault-${++userCounter}-${randomBytes(4).toString('hex')}`;
  const userId = `google-oauth2|${sub}`;
  h.sandbox.google.addAccount({ sub, email: `${sub}@example.com`, name: sub });
  h.sandbox.tenant.addUser(rawUser(userId));
  if (connected) h.sandbox.tenant.connectAccount(userId, CONNECTION, sub, () => h.sandbox.google.issueTokens(sub));
  return { userId, sub };
}

async function callerToken(sub: string, scope = 'openid profile read:user_idp_tokens'): Promise<string> {
  const token = await h.token(sub, scope);
  callerTokens.push(token);
  return token;
}

async function ask<T = GoogleAnswer>(sub: string, query: string, gateway = h.main): Promise<GraphQLAnswer<T>> {
  return postGraphQL<T>(gateway.url, await callerToken(sub), query);
}

/** A counter's value on a gateway's /metrics (0 when absent). */
async function metric(gateway: RunningGateway, series: string): Promise<number> {
  const text = await (await fetch(gateway.url.replace(/\/graphql$/, '/metrics'))).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

function exchanges(userId: string): number {
  return h.sandbox.tenant.vaultExchangeCount(userId, CONNECTION);
}

beforeAll(async () => {
  h = await startHarness({
    redis: 'single',
    tenant: { tokenVaultClientId: 'gateway-token-vault-client', tokenVaultClientSecret: VAULT_SECRET },
    env: { TOKEN_VAULT_CONNECTIONS: CONNECTION, TOKEN_VAULT_CLIENT_ID: 'gateway-token-vault-client', TOKEN_VAULT_CLIENT_SECRET: VAULT_SECRET },
  });
  h.sandbox.tenant.enableTokenVault(CONNECTION);
  gateways = [h.main, await h.startGateway(), await h.startGateway()];
}, 60_000);
afterAll(async () => {
  await h?.close();
  vi.useRealTimers();
});
afterEach(() => {
  h.sandbox.clearFaults();
});

describe('Token Vault exchange', () => {
  it('exchanges once per user and connection for every field, alias and concurrent request on 3 instances', async () => {
    const { userId, sub } = vaultUser();
    const before = await ask<{ me: { google: { token: { state: string; expiresAt: string | null } } } }>(
      userId,
      '{ me { google { token { state expiresAt } } } }',
    );
    expect(before.data?.me.google.token).toEqual({ state: 'UNKNOWN', expiresAt: null });
    expect(exchanges(userId)).toBe(0);

    const caller = await callerToken(userId);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => postGraphQL<GoogleAnswer>(gateways[i % 3]!.url, caller, EVERYTHING)));
    expect(answers.map((answer) => answer.errors)).toEqual(Array(30).fill(undefined));
    const tokens = new Set(answers.flatMap((answer) => JSON.stringify(answer.data).match(/"accessToken":"[^"]+"/g) ?? []));
    expect(tokens.size).toBe(1);
    expect(answers.every((answer) => answer.data?.me.google?.profile?.sub === sub)).toBe(true);
    expect(exchanges(userId)).toBe(1);
    // The gateways count it too: one issued exchange among the three instances.
    const issued = await Promise.all(
      gateways.map((gateway) => metric(gateway, 'idpgw_token_vault_exchanges_total{provider="google-oauth2",outcome="issued"}')),
    );
    expect(issued.reduce((sum, count) => sum + count, 0)).toBe(1);

    const after = await ask<{ me: { google: { token: { state: string; expiresAt: string | null } } } }>(
      userId,
      '{ me { google { token { state expiresAt } } } }',
      gateways[2],
    );
    expect(after.data?.me.google.token.state).toBe('VALID');
    expect(Date.parse(after.data!.me.google.token.expiresAt!)).toBeGreaterThan(Date.now());
    expect(exchanges(userId)).toBe(1);
  });

  it('drops a token Google refuses and exchanges once more', async () => {
    const { userId, sub } = vaultUser();
    const first = await ask(userId, '{ me { google { accessToken } } }');
    // Google no longer takes the cached token; the user connected the account again meanwhile.
    h.sandbox.google.expireAccessTokens(sub);
    h.sandbox.tenant.connectAccount(userId, CONNECTION, sub, () => h.sandbox.google.issueTokens(sub));
    const answer = await ask(userId, '{ me { google { profile { sub } calendarEvents { edges { node { id } } } } } }', gateways[1]);
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.google?.profile?.sub).toBe(sub);
    expect(exchanges(userId)).toBe(2);
    const again = await ask(userId, '{ me { google { accessToken profile { sub } } } }', gateways[2]);
    expect(again.data?.me.google?.accessToken).not.toBe(first.data?.me.google?.accessToken);
    expect(exchanges(userId)).toBe(2);
  });

  it('is REAUTHENTICATION_REQUIRED when Auth0 hands back the very token Google refused', async () => {
    const { userId, sub } = vaultUser();
    await ask(userId, '{ me { google { accessToken } } }');
    h.sandbox.google.expireAccessTokens(sub);
    const answer = await ask(userId, '{ me { id google { profile { sub } } } }');
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(answer.data?.me.id).toBe(userId);
    expect(exchanges(userId)).toBe(2);
  });
  it('answers with expires_in as well as expires_at', async () => {
    const { userId } = vaultUser();
    h.sandbox.tenant.options.tokenVaultExpiry = 'expires_in';
    try {
      const answer = await ask<{ me: { google: { accessToken: string; token: { state: string; expiresAt: string } } } }>(
        userId,
        '{ me { google { accessToken token { state expiresAt } } } }',
      );
      expect(answer.errors).toBeUndefined();
      const again = await ask<{ me: { google: { token: { state: string; expiresAt: string } } } }>(userId, '{ me { google { token { state expiresAt } } } }');
      expect(again.data?.me.google.token.state).toBe('VALID');
      expect(Math.abs(Date.parse(again.data!.me.google.token.expiresAt) - (Date.now() + 3599_000))).toBeLessThan(60_000);
      expect(exchanges(userId)).toBe(1);
    } finally {
      h.sandbox.tenant.options.tokenVaultExpiry = undefined;
    }
  });
});

describe('Token Vault refusals', () => {
  const REFUSALS = [
    { code: 'federated_connection_refresh_token_not_found', arrange: () => vaultUser(false) },
    {
      code: 'federated_connection_refresh_token_flow_failed',
      arrange: () => {
        const user = vaultUser();
        h.sandbox.tenant.failVaultRefresh(user.userId, CONNECTION);
        return user;
      },
    },
    {
      code: 'invalid_grant',
      arrange: () => {
        h.sandbox.tenant.injectFault('token', { status: 403, body: { error: 'invalid_grant', error_description: 'Invalid grant' } });
        return vaultUser();
      },
    },
  ];

  it.each(REFUSALS)('$code is REAUTHENTICATION_REQUIRED naming the connection, other fields intact, remembered briefly', async ({ code, arrange }) => {
    const { userId } = arrange();
    const calls = h.sandbox.tenant.count('token');
    const answer = await ask<{ me: { id: string; email: string; google: null } }>(userId, '{ me { id email google { accessToken profile { sub } } } }');
    expect(answer.data?.me).toEqual({ id: userId, email: expect.any(String), google: { accessToken: null, profile: null } });
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED', 'REAUTHENTICATION_REQUIRED']);
    const extensions = answer.errors![0]!.extensions!;
    expect(extensions).toMatchObject({ provider: 'google-oauth2', connection: CONNECTION, reason: code });
    expect(extensions.authorizeParams).toMatchObject({ connection: CONNECTION });
    expect(h.sandbox.tenant.count('token') - calls).toBe(1);

    // A burst right after is answered from the remembered refusal, on every instance.
    const burst = await Promise.all(
      gateways.map((gateway) =>
        ask<{ me: { google: { token: { state: string } } } }>(userId, '{ me { google { profile { sub } token { state } } } }', gateway),
      ),
    );
    expect(burst.flatMap(errorCodes)).toEqual(['REAUTHENTICATION_REQUIRED', 'REAUTHENTICATION_REQUIRED', 'REAUTHENTICATION_REQUIRED']);
    expect(burst.map((answer) => answer.data?.me.google.token.state)).toEqual(Array(3).fill('REAUTHENTICATION_REQUIRED'));
    expect(h.sandbox.tenant.count('token') - calls).toBe(1);
  });

  it('invalid_client is CONFIGURATION_ERROR, never a reconnect prompt', async () => {
    const { userId } = vaultUser();
    h.sandbox.tenant.injectFault('token', { status: 401, body: { error: 'invalid_client', error_description: 'Unknown client' } });
    const answer = await ask(userId, '{ me { id google { profile { sub } } } }');
    expect(errorCodes(answer)).toEqual(['CONFIGURATION_ERROR']);
    expect(answer.errors![0]!.extensions).toMatchObject({ provider: 'auth0' });
    expect(answer.data?.me.id).toBe(userId);
  });

  it('a client without the Token Vault grant (the Management client) is CONFIGURATION_ERROR', async () => {
    const { userId } = vaultUser();
    const wrong = await h.startGateway({ TOKEN_VAULT_CLIENT_ID: h.sandbox.tenant.clientId, TOKEN_VAULT_CLIENT_SECRET: h.sandbox.tenant.clientSecret });
    const answer = await ask(userId, '{ me { google { accessToken } } }', wrong);
    expect(errorCodes(answer)).toEqual(['CONFIGURATION_ERROR']);
    expect(exchanges(userId)).toBe(0);
  });

  it('Auth0 rate limiting is PROVIDER_RATE_LIMITED (auth0); a 5xx is UPSTREAM_UNAVAILABLE', async () => {
    const { userId } = vaultUser();
    h.sandbox.tenant.injectFault('token', { status: 429, body: { error: 'too_many_requests' }, headers: { 'retry-after': '30' }, times: 1 });
    const limited = await ask(userId, '{ me { google { accessToken } } }');
    expect(errorCodes(limited)).toEqual(['PROVIDER_RATE_LIMITED']);
    expect(limited.errors![0]!.extensions).toMatchObject({ provider: 'auth0', retryAfter: 30 });
    h.sandbox.tenant.injectFault('token', { status: 503, body: 'unavailable', times: 3 });
    const down = await ask(userId, '{ me { google { accessToken } } }');
    expect(errorCodes(down)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(exchanges(userId)).toBe(0);
    const recovered = await ask(userId, '{ me { google { accessToken } } }');
    expect(recovered.errors).toBeUndefined();
    expect(exchanges(userId)).toBe(1);
  });
});

describe('who uses Token Vault', () => {
  it("a partner reading the user's identities uses identities[] and never exchanges", async () => {
    const { userId } = vaultUser();
    const calls = h.sandbox.tenant.count('token');
    const answer = await postGraphQL<{ user: { google: { accessToken: string | null; token: { state: string } } } }>(
      h.main.url,
      await callerToken('partner-app@clients', 'read:users read:user_idp_tokens'),
      `{ user(id: "${userId}") { google { accessToken token { state } } } }`,
    );
    expect(answer.errors).toBeUndefined();
    // Auth0 keeps a vault connection's tokens out of identities[]: there is nothing to hand out.
    expect(answer.data?.user.google).toEqual({ accessToken: null, token: { state: 'UNKNOWN' } });
    expect(h.sandbox.tenant.count('token')).toBe(calls);
    expect(exchanges(userId)).toBe(0);
  });

  it('connections not listed in TOKEN_VAULT_CONNECTIONS never exchange', async () => {
    const calls = h.sandbox.tenant.count('token');
    const answer = await ask<{ me: { bitbucket: { account: { uuid: string } }; facebook: { profile: { id: string } } } }>(
      SEED_USERS.ada,
      '{ me { bitbucket { accessToken account { uuid } } facebook { accessToken profile { id } } } }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.bitbucket.account.uuid).toBeTruthy();
    expect(answer.data?.me.facebook.profile.id).toBeTruthy();
    expect(h.sandbox.tenant.count('token')).toBe(calls);
  });
});

describe('Token Vault configuration', () => {
  const base = { AUTH0_DOMAIN: 'acme.eu.auth0.com', AUTH0_AUDIENCE: 'https://api', AUTH0_CLIENT_ID: 'id', AUTH0_CLIENT_SECRET: 'secret' };

  it('refuses connections without the client, naming the missing variables', () => {
    expect(() => loadConfig({ ...base, TOKEN_VAULT_CONNECTIONS: 'google-oauth2' })).toThrow(/TOKEN_VAULT_CLIENT_ID[\s\S]*TOKEN_VAULT_CLIENT_SECRET/);
    expect(() => loadConfig({ ...base, TOKEN_VAULT_CONNECTIONS: 'google-oauth2', TOKEN_VAULT_CLIENT_ID: 'x' })).toThrow(/TOKEN_VAULT_CLIENT_SECRET/);
  });

  it('refuses the client without connections, naming TOKEN_VAULT_CONNECTIONS, and never shows the secret', () => {
    const secret = randomBytes(24).toString('base64url');
    let message = '';
    try {
      loadConfig({ ...base, TOKEN_VAULT_CLIENT_ID: 'x', TOKEN_VAULT_CLIENT_SECRET: secret });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/TOKEN_VAULT_CONNECTIONS/);
    expect(message).not.toContain(secret);
    expect(() => loadConfig({ ...base, TOKEN_VAULT_CONNECTIONS: ' , ', TOKEN_VAULT_CLIENT_ID: 'x', TOKEN_VAULT_CLIENT_SECRET: secret })).toThrow(
      /TOKEN_VAULT_CONNECTIONS/,
    );
  });

  it('reads the connections as a list', () => {
    const config = loadConfig({
      ...base,
      TOKEN_VAULT_CONNECTIONS: 'google-oauth2, github ,google-oauth2',
      TOKEN_VAULT_CLIENT_ID: 'x',
      TOKEN_VAULT_CLIENT_SECRET: 'y',
    });
    expect(config.tokenVault).toEqual({ connections: ['google-oauth2', 'github'], clientId: 'x', clientSecret: 'y' });
  });
});

describe('secrets', () => {
  it('no caller token, provider token or client secret appears in logs, Redis keys or values', async () => {
    const { userId, sub } = vaultUser();
    await ask(userId, EVERYTHING);
    const secrets = [...callerTokens, ...h.sandbox.google.issuedTokens(), VAULT_SECRET];
    expect(secrets.length).toBeGreaterThan(10);
    const redis = new Redis(inject('redisUrl'));
    try {
      const entries = new Map<string, string>();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${h.env.REDIS_KEY_PREFIX}*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) if ((await redis.type(key)) === 'string') entries.set(key, (await redis.get(key)) ?? '');
      } while (cursor !== '0');
      const vaultKeys = [...entries.keys()].filter((key) => key.includes('vault:'));
      expect(vaultKeys.length).toBeGreaterThan(0);
      for (const key of vaultKeys) {
        expect(key).not.toContain(sub);
        expect(key).not.toContain(CONNECTION);
      }
      const stored = [...entries].map(([key, value]) => `${key} ${value}`).join('\n');
      const logs = gateways.flatMap((gateway) => gateway.logs).join('\n');
      expect(logs).toContain('token_vault_exchanged');
      for (const secret of secrets) {
        expect(stored.includes(secret), 'a secret in Redis').toBe(false);
        expect(logs.includes(secret), 'a secret in the logs').toBe(false);
        // A JWT's signature alone betrays it too.
        const signature = secret.split('.')[2];
        if (signature) expect(logs.includes(signature) || stored.includes(signature)).toBe(false);
      }
    } finally {
      redis.disconnect();
    }
  });
});

describe('on a Redis Cluster', () => {
  if (!clusterAvailable()) {
    it.skip('needs a Redis Cluster (this run has none: see test/setup/redis.ts)', () => {});
    return;
  }
  let cluster: Harness;
  let instances: RunningGateway[];

  beforeAll(async () => {
    cluster = await startHarness({
      redis: 'cluster',
      tenant: { tokenVaultClientId: 'gateway-token-vault-client', tokenVaultClientSecret: VAULT_SECRET },
      env: { TOKEN_VAULT_CONNECTIONS: CONNECTION, TOKEN_VAULT_CLIENT_ID: 'gateway-token-vault-client', TOKEN_VAULT_CLIENT_SECRET: VAULT_SECRET },
    });
    cluster.sandbox.tenant.enableTokenVault(CONNECTION);
    instances = [cluster.main, await cluster.startGateway(), await cluster.startGateway()];
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  it('keeps one exchange per user and connection across 3 instances, and drops a refused token once', async () => {
    const sub = `vault-cluster-${randomBytes(4).toString('hex')}`;
    const userId = `google-oauth2|${sub}`;
    const { google, tenant } = cluster.sandbox;
    google.addAccount({ sub, email: `${sub}@example.com` });
    tenant.addUser(rawUser(userId));
    tenant.connectAccount(userId, CONNECTION, sub, () => google.issueTokens(sub));
    const caller = await cluster.token(userId, 'openid read:user_idp_tokens');
    callerTokens.push(caller);
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => postGraphQL<GoogleAnswer>(instances[i % 3]!.url, caller, EVERYTHING)));
    expect(answers.map((answer) => answer.errors)).toEqual(Array(12).fill(undefined));
    expect(new Set(answers.map((answer) => answer.data?.me.google?.accessToken)).size).toBe(1);
    expect(tenant.vaultExchangeCount(userId, CONNECTION)).toBe(1);

    google.expireAccessTokens(sub);
    tenant.connectAccount(userId, CONNECTION, sub, () => google.issueTokens(sub));
    const renewed = await Promise.all(instances.map((gateway) => postGraphQL<GoogleAnswer>(gateway.url, caller, '{ me { google { profile { sub } } } }')));
    expect(renewed.map((answer) => answer.data?.me.google?.profile?.sub)).toEqual([sub, sub, sub]);
    expect(tenant.vaultExchangeCount(userId, CONNECTION)).toBe(2);
  });
});

// Last: the clock only moves forward (the gateways' rate limiters and caches read Date too).
describe('Token Vault expiry', () => {
  it('exchanges again once the token has expired (Auth0 refreshes the Google token itself)', async () => {
    const { userId, sub } = vaultUser();
    const first = await ask(userId, '{ me { google { accessToken } } }');
    expect(exchanges(userId)).toBe(1);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3600_000 + 120_000 });
    const caller = await callerToken(userId);
    const answers = await Promise.all(
      gateways.map((gateway) => postGraphQL<GoogleAnswer>(gateway.url, caller, `{ me { google { accessToken profile { sub } } } }`)),
    );
    expect(answers.map((answer) => answer.errors)).toEqual([undefined, undefined, undefined]);
    expect(new Set(answers.map((answer) => answer.data?.me.google?.accessToken)).size).toBe(1);
    expect(answers[0]!.data?.me.google?.accessToken).not.toBe(first.data?.me.google?.accessToken);
    expect(answers[0]!.data?.me.google?.profile?.sub).toBe(sub);
    expect(exchanges(userId)).toBe(2);
  });
});
