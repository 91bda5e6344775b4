import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { errorCodes, postGraphQL, runGateway, startHarness, type GraphQLAnswer, type Harness, type RunningGateway } from './helpers/harness.js';
import { freeLoopbackPort } from './helpers/ports.js';

// A lock or Redis failure is UPSTREAM_UNAVAILABLE, never REAUTHENTICATION_REQUIRED (a false
// "reconnect" prompt sends users through consent again for an outage they cannot fix), and no
// refresh is sent that could not be coordinated; user reads degrade to the Management API without
// the cache. Without REDIS_URL the in-memory store still renews once per identity.

type GoogleAnswer = { me: { id: string; google: { accessToken: string | null } | null } };

function tokenEndpointCalls(h: Harness): number {
  const s = h.sandbox;
  return s.google.count('token') + s.bitbucket.count('token') + s.oauth2.count('token') + s.facebook.count('exchange');
}

describe('with Redis unreachable', () => {
  let h: Harness;
  let gateway: RunningGateway;
  type Timed<T> = { answer: GraphQLAnswer<T>; ms: number };
  type GraceData = {
    me: { id: string; email: string | null; google: { accessToken: string | null; token: { state: string; hasRefreshToken: boolean } } | null };
  };
  type PartnerData = {
    enterpriseConnection: { name: string; adminToken: { state: string } | null; adminAccessToken: string | null } | null;
    user: { google: { accessToken: string | null } | null } | null;
  };
  let grace: Timed<GraceData>;
  let partner: Timed<PartnerData>;

  /** Posts to the outage gateway, timing the answer. */
  async function timed<T>(caller: string, query: string): Promise<Timed<T>> {
    const started = Date.now();
    const answer = await postGraphQL<T>(gateway.url, caller, query);
    return { answer, ms: Date.now() - started };
  }

  beforeAll(async () => {
    h = await startHarness({ redis: false });
    const port = await freeLoopbackPort();
    gateway = await runGateway({
      ...h.env,
      REDIS_URL: `redis://127.0.0.1:${port}`,
      REDIS_KEY_PREFIX: 'test:store-outage:',
      TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    });
    const google = h.sandbox.google;
    google.addAccount({ sub: 'admin-1', email: 'admin@acme.example' });
    const tokens = google.issueTokens('admin-1');
    h.sandbox.tenant.addConnection({
      id: 'con_GApps0AcmeWork01',
      name: 'acme-workspace',
      strategy: 'google-apps',
      options: {
        client_id: google.clientId,
        client_secret: google.clientSecret,
        domain: 'acme.example',
        admin_access_token: tokens.access_token,
        admin_refresh_token: tokens.refresh_token,
        admin_access_token_expiresin: new Date(Date.now() + 3_600_000).toISOString(),
      },
    });
    // Every request against a dead Redis is slow (see the latency test), so each is sent once, in parallel.
    const [graceCaller, partnerCaller] = await Promise.all([
      h.token(SEED_USERS.grace, 'read:user_idp_tokens'),
      h.token('admin-console@clients', 'read:users read:connections read:user_idp_tokens'),
    ]);
    [grace, partner] = await Promise.all([
      timed<GraceData>(graceCaller, '{ me { id email google { accessToken token { state hasRefreshToken } } } }'),
      timed<PartnerData>(
        partnerCaller,
        `{
        enterpriseConnection(name: "acme-workspace") { name adminToken { state } adminAccessToken }
        user(id: "${SEED_USERS.ada}") { google { accessToken } }
      }`,
      ),
    ]);
  }, 30_000);
  afterAll(async () => {
    await gateway?.close();
    await h?.close();
  });

  const errorsAt = (answer: GraphQLAnswer<unknown>, path: (string | number)[]) =>
    (answer.errors ?? []).filter((error) => JSON.stringify(error.path) === JSON.stringify(path));

  it('answers UPSTREAM_UNAVAILABLE for an expired token and sends no refresh', () => {
    const { answer } = grace;
    expect(errorCodes(answer)).not.toContain('REAUTHENTICATION_REQUIRED');
    expect(errorCodes(answer)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(answer.errors![0]!.extensions).toMatchObject({ provider: 'google-oauth2' });
    expect(answer.errors![0]!.path).toEqual(['me', 'google', 'accessToken']);
    expect(answer.data?.me.google?.accessToken).toBeNull();
    expect(tokenEndpointCalls(h)).toBe(0);
  });

  it('still answers the user fields, read from the Management API without the cache', () => {
    expect(grace.answer.data?.me).toMatchObject({ id: SEED_USERS.grace, email: 'grace@example.com' });
    const reads = h.sandbox.tenant.requests.filter((r) => r.route === 'getUser' && decodeURIComponent(r.url).includes(SEED_USERS.grace));
    expect(reads).toHaveLength(1);
  });

  it('falls back to what Auth0 says for the token status (EXPIRED, renewable), not a dead state', () => {
    expect(grace.answer.data?.me.google?.token).toEqual({ state: 'EXPIRED', hasRefreshToken: true });
  });

  it('never reports REAUTHENTICATION_REQUIRED, for a valid user token or an admin token', () => {
    expect(errorCodes(partner.answer)).not.toContain('REAUTHENTICATION_REQUIRED');
    // Ada's token is valid by Auth0's estimate: either it is handed out, or the store outage is named.
    const ada = partner.answer.data?.user?.google?.accessToken;
    if (ada) expect(ada).toBe(h.sandbox.users!.tokens.ada.google.access_token);
    else expect(errorsAt(partner.answer, ['user', 'google', 'accessToken']).map((e) => e.extensions?.code)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(tokenEndpointCalls(h)).toBe(0);
  });

  // The connection's own admin tokens still tell their state; the access token needs the store.
  it('answers UPSTREAM_UNAVAILABLE for adminAccessToken, and the admin token state from the connection', () => {
    const { answer } = partner;
    expect(errorsAt(answer, ['enterpriseConnection', 'adminAccessToken']).map((e) => e.extensions?.code)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(errorsAt(answer, ['enterpriseConnection', 'adminToken'])).toEqual([]);
    expect(answer.data?.enterpriseConnection).toEqual({ name: 'acme-workspace', adminToken: { state: 'VALID' }, adminAccessToken: null });
  });

  it('logs the store failures as error objects, with their stacks', () => {
    const failures = gateway.logs
      .map((line) => JSON.parse(line) as { event?: string; err?: { message?: string; stack?: string } })
      .filter((entry) => entry.err);
    expect(failures.length).toBeGreaterThan(0);
    for (const entry of failures) {
      expect(entry.err?.message).toEqual(expect.any(String));
      expect(entry.err?.stack).toMatch(/\n\s+at /);
    }
  });

  // The store refuses commands at once while it reconnects, so an outage costs no waiting.
  it('answers within two seconds, failing store operations fast', async () => {
    // Once ioredis' reconnect delay has grown, a plain user read waits seconds on the cache.
    const later = await timed<{ me: { id: string } }>(await h.token(SEED_USERS.linus), '{ me { id } }');
    expect(later.answer.data).toEqual({ me: { id: SEED_USERS.linus } });
    // Waiting on the reconnect would take seconds; the bound leaves room for a busy machine.
    expect(grace.ms).toBeLessThan(2000);
    expect(partner.ms).toBeLessThan(2000);
    expect(later.ms).toBeLessThan(2000);
  });
});

describe('with the in-memory store', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ redis: false });
  });
  afterAll(async () => h?.close());

  it("renews Grace's expired Google token once for 20 concurrent queries", async () => {
    const caller = await h.token(SEED_USERS.grace, 'read:user_idp_tokens');
    const answers = await Promise.all(Array.from({ length: 20 }, () => h.query<GoogleAnswer>(caller, '{ me { id google { accessToken } } }')));
    expect(answers.map((answer) => answer.errors)).toEqual(Array(20).fill(undefined));
    const tokens = new Set(answers.map((answer) => answer.data?.me.google?.accessToken));
    expect(tokens.size).toBe(1);
    expect(h.sandbox.google.count('token')).toBe(1);
    const response = await fetch(`${h.sandbox.google.origin}/oauth2/v3/userinfo`, { headers: { authorization: `Bearer ${[...tokens][0]}` } });
    expect(response.status).toBe(200);
  });
});
