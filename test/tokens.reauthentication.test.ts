import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SEED_ACCOUNTS, SEED_USERS } from '../sandbox/index.js';
import type { IssuedTokens } from '../sandbox/provider-tokens.js';
import { errorCodes, postGraphQL, startHarness, type GraphQLAnswer, type Harness } from './helpers/harness.js';

// A field that needs a provider token gets a valid one if one can exist, with the fewest
// upstream calls correctness allows, and otherwise a precise, machine-readable reason. Renewal on
// expiry, the re-auth decision after `invalid_grant` (re-read Auth0 once, adopt a newer sign-in,
// else REAUTHENTICATION_REQUIRED remembered briefly), Facebook without refresh, `invalid_client`,
// app credentials from the Auth0 connection, the scope and token-less identities. Counted on the fakes.

const GRACE_GOOGLE = SEED_ACCOUNTS.grace.google;
const HOUR = 3_600_000;

type GoogleAnswer = GraphQLAnswer<{ me: { id: string; google: { accessToken: string | null } | null } }>;
interface TokenStatusShape {
  state: string;
  expiresAt: string | null;
  hasRefreshToken: boolean;
}

/** Status of a token at the Google fake's userinfo route: 200 means the token works there. */
async function userinfoStatus(h: Harness, token: string): Promise<number> {
  const response = await fetch(`${h.sandbox.google.origin}/oauth2/v3/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

/** Makes Auth0's estimate of a user's token expiry (later of last_login/updated_at + expires_in) lie in the past. */
function ageAuth0Login(h: Harness, userId: string, agoMs = 3 * HOUR): void {
  const user = h.sandbox.tenant.user(userId)!;
  const then = new Date(Date.now() - agoMs).toISOString();
  user.last_login = then;
  user.updated_at = then;
}

/** Writes tokens of a new sign-in into the tenant's live user record, as Auth0 does on login. */
function signInAgainAtAuth0(
  h: Harness,
  userId: string,
  connection: string,
  tokens: { access_token: string; refresh_token?: string; expires_in: number },
): void {
  const user = h.sandbox.tenant.user(userId)!;
  const identity = user.identities.find((candidate) => candidate.connection === connection)!;
  identity.access_token = tokens.access_token;
  if (tokens.refresh_token) identity.refresh_token = tokens.refresh_token;
  else delete identity.refresh_token;
  identity.expires_in = tokens.expires_in;
  const now = new Date().toISOString();
  user.last_login = now;
  user.updated_at = now;
}

/** Every token-endpoint call of every provider fake (Facebook has none; its exchange route counts instead). */
function tokenEndpointCalls(h: Harness): number {
  const s = h.sandbox;
  return s.google.count('token') + s.bitbucket.count('token') + s.oauth2.count('token') + s.facebook.count('exchange');
}

async function googleToken(h: Harness, caller: string): Promise<GoogleAnswer> {
  return h.query(caller, '{ me { id google { accessToken } } }');
}

async function googleStatus(h: Harness, caller: string): Promise<TokenStatusShape> {
  const answer = await h.query<{ me: { google: { token: TokenStatusShape } } }>(caller, '{ me { google { token { state expiresAt hasRefreshToken } } } }');
  expect(answer.errors).toBeUndefined();
  return answer.data!.me.google.token;
}

describe('renewal of an expired token', () => {
  let h: Harness;
  let caller: string;
  beforeAll(async () => {
    h = await startHarness();
    caller = await h.token(SEED_USERS.grace, 'read:user_idp_tokens');
  });
  afterAll(async () => h?.close());

  it("renews Grace's expired Google token with one token call and hands out a token Google accepts", async () => {
    const seeded = h.sandbox.users!.tokens.grace.google;
    expect(await userinfoStatus(h, seeded.access_token)).toBe(401);
    const answer = await googleToken(h, caller);
    expect(answer.errors).toBeUndefined();
    const token = answer.data?.me.google?.accessToken;
    expect(token).toEqual(expect.any(String));
    expect(token).not.toBe(seeded.access_token);
    expect(await userinfoStatus(h, token!)).toBe(200);
    expect(h.sandbox.google.count('token')).toBe(1);
  });

  it('answers a second query with the same token and no token call', async () => {
    const first = (await googleToken(h, caller)).data?.me.google?.accessToken;
    const second = await googleToken(h, caller);
    expect(second.errors).toBeUndefined();
    expect(second.data?.me.google?.accessToken).toBe(first);
    expect(h.sandbox.google.count('token')).toBe(1);
  });

  it('reports the renewed token as VALID with the expiry Google gave (now + 3599 s)', async () => {
    const status = await googleStatus(h, caller);
    expect(status.state).toBe('VALID');
    expect(status.hasRefreshToken).toBe(true);
    expect(Math.abs(Date.parse(status.expiresAt!) - (Date.now() + 3_599_000))).toBeLessThan(15_000);
    // Google never rotates: the one refresh token still works, so nothing was lost.
    expect(h.sandbox.google.count('token')).toBe(1);
  });
});

describe('a revoked refresh token', () => {
  let h: Harness;
  let caller: string;
  beforeAll(async () => {
    h = await startHarness();
    caller = await h.token(SEED_USERS.grace, 'read:user_idp_tokens');
    // Grace's access token is seeded expired; the gateway must renew, and Google now refuses.
    h.sandbox.google.revokeRefreshTokens(GRACE_GOOGLE);
  });
  afterAll(async () => h?.close());

  it('answers REAUTHENTICATION_REQUIRED with provider, connection and authorize parameters, after one fresh Auth0 read', async () => {
    // Warm the user cache so that the only Management read below is the re-read past the caches.
    expect((await h.query(caller, '{ me { id } }')).errors).toBeUndefined();
    const reads = h.sandbox.tenant.count('getUser');
    const answer = await googleToken(h, caller);
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    const error = answer.errors![0]!;
    expect(error.path).toEqual(['me', 'google', 'accessToken']);
    expect(error.extensions).toMatchObject({
      provider: 'google-oauth2',
      connection: 'google-oauth2',
      authorizeParams: expect.objectContaining({ connection: 'google-oauth2', prompt: 'consent', access_type: 'offline' }),
    });
    // Only that field is null: its siblings still arrive.
    expect(answer.data).toEqual({ me: { id: SEED_USERS.grace, google: { accessToken: null } } });
    expect(h.sandbox.google.count('token')).toBe(1);
    expect(h.sandbox.tenant.count('getUser')).toBe(reads + 1);
    expect(JSON.stringify(answer)).not.toContain(h.sandbox.users!.tokens.grace.google.refresh_token!);
  });

  it('remembers the dead identity: a burst of 10 makes no further Google or Auth0 call', async () => {
    const reads = h.sandbox.tenant.count('getUser');
    const answers = await Promise.all(Array.from({ length: 10 }, () => googleToken(h, caller)));
    for (const answer of answers) expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(h.sandbox.google.count('token')).toBe(1);
    expect(h.sandbox.tenant.count('getUser')).toBe(reads);
  });

  it('says REAUTHENTICATION_REQUIRED in the token status', async () => {
    expect((await googleStatus(h, caller)).state).toBe('REAUTHENTICATION_REQUIRED');
  });
});

describe('a refused refresh while Auth0 cannot be re-read', () => {
  let h: Harness;
  let caller: string;
  beforeAll(async () => {
    h = await startHarness();
    caller = await h.token(SEED_USERS.grace, 'read:user_idp_tokens');
    h.sandbox.google.revokeRefreshTokens(GRACE_GOOGLE);
  });
  afterAll(async () => h?.close());

  it('is UPSTREAM_UNAVAILABLE, not REAUTHENTICATION_REQUIRED, since a newer sign-in could not be ruled out', async () => {
    expect((await h.query(caller, '{ me { id } }')).errors).toBeUndefined();
    h.sandbox.tenant.injectFault('getUser', {
      status: 503,
      body: { statusCode: 503, error: 'Service Unavailable', message: 'Service Unavailable' },
      times: 10,
    });
    const answer = await googleToken(h, caller);
    h.sandbox.clearFaults();
    expect(errorCodes(answer)).not.toContain('REAUTHENTICATION_REQUIRED');
    expect(errorCodes(answer)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(h.sandbox.google.count('token')).toBe(1);
    // Not remembered as dead: with Auth0 back, the decision is made (and this time it is final).
    expect((await googleStatus(h, caller)).state).not.toBe('REAUTHENTICATION_REQUIRED');
    expect(errorCodes(await googleToken(h, caller))).toEqual(['REAUTHENTICATION_REQUIRED']);
  });
});

describe('recovery from a new sign-in', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  /** A harness whose gateway adopted Grace's seeded pair (expired access token, refresh token) before it dies at Google. */
  async function adoptedThenRevoked(env: Record<string, string> = {}): Promise<{ h: Harness; caller: string }> {
    const harness = await startHarness({ env });
    const caller = await harness.token(SEED_USERS.grace, 'read:user_idp_tokens');
    // The gateway reads Grace (adopting the old pair) while that pair is still renewable.
    expect((await googleStatus(harness, caller)).state).toBe('EXPIRED');
    harness.sandbox.google.revokeRefreshTokens(GRACE_GOOGLE);
    return { h: harness, caller };
  }

  it('adopts the pair of a new sign-in after invalid_grant and hands out its access token', async () => {
    const setup = await adoptedThenRevoked();
    h = setup.h;
    // Grace signs in again (with consent) before the gateway's first renewal attempt.
    const fresh = h.sandbox.google.issueTokens(GRACE_GOOGLE);
    signInAgainAtAuth0(h, SEED_USERS.grace, 'google-oauth2', fresh);
    const reads = h.sandbox.tenant.count('getUser');
    const answer = await googleToken(h, setup.caller);
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.google?.accessToken).toBe(fresh.access_token);
    expect(await userinfoStatus(h, fresh.access_token)).toBe(200);
    // One refused refresh with the old refresh token, one Management read that found the new pair.
    expect(h.sandbox.google.count('token')).toBe(1);
    expect(h.sandbox.tenant.count('getUser')).toBe(reads + 1);
    const status = await googleStatus(h, setup.caller);
    expect(status).toMatchObject({ state: 'VALID', hasRefreshToken: true });
  });

  it('adopts a new access token even when the new sign-in left no refresh token (Google without consent)', async () => {
    const setup = await adoptedThenRevoked();
    h = setup.h;
    const fresh = h.sandbox.google.issueTokens(GRACE_GOOGLE, { refresh: false });
    signInAgainAtAuth0(h, SEED_USERS.grace, 'google-oauth2', fresh);
    const answer = await googleToken(h, setup.caller);
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.google?.accessToken).toBe(fresh.access_token);
    expect(h.sandbox.google.count('token')).toBe(1);
    expect(await googleStatus(h, setup.caller)).toMatchObject({ state: 'VALID', hasRefreshToken: false });
  });

  it('lifts the dead marker as soon as a Management read shows a new sign-in (user cache off)', async () => {
    const setup = await adoptedThenRevoked({ USER_CACHE_TTL_SECONDS: '0' });
    h = setup.h;
    expect(errorCodes(await googleToken(h, setup.caller))).toEqual(['REAUTHENTICATION_REQUIRED']);
    const fresh: IssuedTokens = h.sandbox.google.issueTokens(GRACE_GOOGLE);
    signInAgainAtAuth0(h, SEED_USERS.grace, 'google-oauth2', fresh);
    // `me` is read from Auth0 on every request here; that read carries the new pair.
    const answer = await googleToken(h, setup.caller);
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.google?.accessToken).toBe(fresh.access_token);
    expect(h.sandbox.google.count('token')).toBe(1);
  });

  it('notices a sign-in right after the dead verdict within 5 s, though the user record is cached', async () => {
    const setup = await adoptedThenRevoked();
    h = setup.h;
    expect(errorCodes(await googleToken(h, setup.caller))).toEqual(['REAUTHENTICATION_REQUIRED']);
    // The client sends the user through Google again at once.
    const fresh: IssuedTokens = h.sandbox.google.issueTokens(GRACE_GOOGLE);
    signInAgainAtAuth0(h, SEED_USERS.grace, 'google-oauth2', fresh);
    const reads = h.sandbox.tenant.count('getUser');
    // Within the interval the verdict stands and costs no call...
    expect(errorCodes(await googleToken(h, setup.caller))).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(h.sandbox.tenant.count('getUser')).toBe(reads);
    // ...after it, one look at Auth0 finds the new pair and lifts the verdict.
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    const answers = await Promise.all(Array.from({ length: 5 }, () => googleToken(h!, setup.caller)));
    for (const answer of answers) expect(answer.data?.me.google?.accessToken).toBe(fresh.access_token);
    expect(h.sandbox.tenant.count('getUser')).toBe(reads + 1);
    expect(h.sandbox.google.count('token')).toBe(1);
  });
});

describe('Facebook, which has no refresh grant', () => {
  let h: Harness;
  let caller: string;
  beforeAll(async () => {
    h = await startHarness();
    caller = await h.token(SEED_USERS.margaret, 'read:user_idp_tokens');
    // Her token has expired at Facebook, and Auth0's record says so too (1 h lifetime, 3 h old).
    h.sandbox.facebook.expireAccessTokens(SEED_ACCOUNTS.margaret.facebook);
    h.sandbox.tenant.user(SEED_USERS.margaret)!.identities[0]!.expires_in = 3600;
    ageAuth0Login(h, SEED_USERS.margaret);
  });
  afterAll(async () => h?.close());

  it('answers REAUTHENTICATION_REQUIRED for an expired token without calling any token endpoint', async () => {
    const answer = await h.query<{ me: { id: string; facebook: { accessToken: string | null } } }>(caller, '{ me { id facebook { accessToken } } }');
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(answer.errors![0]!.extensions).toMatchObject({
      provider: 'facebook',
      connection: 'facebook',
      authorizeParams: expect.objectContaining({ connection: 'facebook' }),
    });
    expect(answer.errors![0]!.extensions?.authorizeParams).not.toHaveProperty('access_type');
    expect(answer.data).toEqual({ me: { id: SEED_USERS.margaret, facebook: { accessToken: null } } });
    expect(tokenEndpointCalls(h)).toBe(0);
  });

  it('reports REAUTHENTICATION_REQUIRED without a refresh token in the status', async () => {
    const answer = await h.query<{ me: { facebook: { token: TokenStatusShape } } }>(caller, '{ me { facebook { token { state hasRefreshToken } } } }');
    expect(answer.data?.me.facebook.token).toEqual({ state: 'REAUTHENTICATION_REQUIRED', hasRefreshToken: false });
    expect(tokenEndpointCalls(h)).toBe(0);
  });
});

describe("a token endpoint that refuses the gateway's client (invalid_client)", () => {
  let h: Harness;
  let url: string;
  let caller: string;
  const wrongSecret = 'GOCSPX-not-the-real-secret-0000';
  beforeAll(async () => {
    h = await startHarness();
    // Credentials in the environment take precedence over the Auth0 connection's options.
    url = (await h.startGateway({ GOOGLE_CLIENT_ID: h.sandbox.google.clientId, GOOGLE_CLIENT_SECRET: wrongSecret })).url;
    caller = await h.token(SEED_USERS.grace, 'read:user_idp_tokens');
  });
  afterAll(async () => h?.close());

  it('answers CONFIGURATION_ERROR naming the provider, not REAUTHENTICATION_REQUIRED', async () => {
    const answer = await postGraphQL<{ me: { id: string; google: { accessToken: string | null } } }>(url, caller, '{ me { id google { accessToken } } }');
    expect(errorCodes(answer)).toEqual(['CONFIGURATION_ERROR']);
    expect(answer.errors![0]!.extensions).toMatchObject({ provider: 'google-oauth2' });
    expect(answer.data?.me).toEqual({ id: SEED_USERS.grace, google: { accessToken: null } });
    expect(JSON.stringify(answer)).not.toContain(wrongSecret);
    expect(h.sandbox.google.count('token')).toBe(1);
    // The environment's credentials were used: the connection was never read for them.
    expect(h.sandbox.tenant.count('listConnections')).toBe(0);
  });

  it('does not declare the identity dead', async () => {
    const answer = await postGraphQL<{ me: { google: { token: TokenStatusShape } } }>(url, caller, '{ me { google { token { state hasRefreshToken } } } }');
    expect(answer.data?.me.google.token).toEqual({ state: 'EXPIRED', hasRefreshToken: true });
    // A later request tries again (configuration gets fixed), rather than being answered from a dead marker.
    const again = await postGraphQL(url, caller, '{ me { google { accessToken } } }');
    expect(errorCodes(again)).toEqual(['CONFIGURATION_ERROR']);
    expect(h.sandbox.google.count('token')).toBe(2);
  });
});

describe('a token endpoint that fails (5xx)', () => {
  let h: Harness;
  let caller: string;
  beforeAll(async () => {
    h = await startHarness();
    caller = await h.token(SEED_USERS.grace, 'read:user_idp_tokens');
  });
  afterAll(async () => h?.close());

  it('answers UPSTREAM_UNAVAILABLE, keeps the identity alive, and renews on the next request', async () => {
    h.sandbox.google.injectFault('token', { status: 503, body: { error: 'backend_error', error_description: 'Backend Error' } });
    const failed = await googleToken(h, caller);
    expect(errorCodes(failed)).toEqual(['UPSTREAM_UNAVAILABLE']);
    expect(failed.errors![0]!.extensions).toMatchObject({ provider: 'google-oauth2' });
    // A refresh grant is not retried blindly (a lost answer may have consumed a rotating token).
    expect(h.sandbox.google.count('token')).toBe(1);
    expect((await googleStatus(h, caller)).state).toBe('EXPIRED');
    const renewed = await googleToken(h, caller);
    expect(renewed.errors).toBeUndefined();
    expect(await userinfoStatus(h, renewed.data!.me.google!.accessToken!)).toBe(200);
    expect(h.sandbox.google.count('token')).toBe(2);
  });
});

describe('provider app credentials from the Auth0 connection', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    // Ada's Google token has expired at Google and by Auth0's estimate, before the gateway first reads her.
    h.sandbox.google.expireAccessTokens(SEED_ACCOUNTS.ada.google);
    ageAuth0Login(h, SEED_USERS.ada);
  });
  afterAll(async () => h?.close());

  it('reads the connection once for two renewals of two users', async () => {
    const [ada, grace] = await Promise.all([
      h.token(SEED_USERS.ada, 'read:user_idp_tokens').then((caller) => googleToken(h, caller)),
      h.token(SEED_USERS.grace, 'read:user_idp_tokens').then((caller) => googleToken(h, caller)),
    ]);
    expect(ada.errors).toBeUndefined();
    expect(grace.errors).toBeUndefined();
    expect(await userinfoStatus(h, ada.data!.me.google!.accessToken!)).toBe(200);
    expect(await userinfoStatus(h, grace.data!.me.google!.accessToken!)).toBe(200);
    expect(h.sandbox.google.count('token')).toBe(2);
    expect(h.sandbox.tenant.count('listConnections')).toBe(1);
  });
});

describe('scope and identities without provider tokens', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());

  it('refuses accessToken without read:user_idp_tokens on that field alone, calling no provider', async () => {
    const caller = await h.token(SEED_USERS.grace, 'openid profile');
    const answer = await h.query<{ me: { id: string; google: { connection: string; accessToken: string | null } } }>(
      caller,
      '{ me { id google { connection accessToken } } }',
    );
    expect(errorCodes(answer)).toEqual(['FORBIDDEN']);
    expect(answer.errors![0]!.extensions).toMatchObject({ requiredScope: 'read:user_idp_tokens' });
    expect(answer.errors![0]!.path).toEqual(['me', 'google', 'accessToken']);
    expect(answer.data?.me).toEqual({ id: SEED_USERS.grace, google: { connection: 'google-oauth2', accessToken: null } });
    expect(tokenEndpointCalls(h)).toBe(0);
    expect(h.sandbox.google.count('userinfo')).toBe(0);
  });

  it('gives null without an error for an identity that holds no provider token, and UNKNOWN as its state', async () => {
    const caller = await h.token(SEED_USERS.linus, 'read:user_idp_tokens');
    const answer = await h.query<{ me: { identities: { provider: string; accessToken: string | null; token: TokenStatusShape }[] } }>(
      caller,
      '{ me { identities { provider accessToken token { state expiresAt hasRefreshToken } } } }',
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.identities).toEqual([
      { provider: 'auth0', accessToken: null, token: { state: 'UNKNOWN', expiresAt: null, hasRefreshToken: false } },
    ]);
    expect(tokenEndpointCalls(h)).toBe(0);
  });

  // BUG (src/tokens/broker.ts validAccessToken → loadFromAuth0 → subject.readAuth0, src/tokens/subjects.ts
  // identitySubject): when the store holds no record, every accessToken of a token-less identity re-reads
  // the user with GET /users/{id} past the cache, although the user record in hand (read from Auth0 with
  // read:user_idp_tokens) already says the identity holds no token. Each query costs a Management call
  // (the first one two: `me` and the re-read). Remove `.fails` once fixed.
  it('costs no Management read per accessToken of a token-less identity whose user record is cached', async () => {
    const caller = await h.token(SEED_USERS.linus, 'read:user_idp_tokens');
    await h.query(caller, '{ me { id } }');
    const reads = h.sandbox.tenant.count('getUser');
    for (let i = 0; i < 3; i++) {
      const answer = await h.query(caller, '{ me { identities { accessToken } } }');
      expect(answer.errors).toBeUndefined();
    }
    expect(h.sandbox.tenant.count('getUser')).toBe(reads);
  });
});
