import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SEED_ACCOUNTS, SEED_USERS } from '../sandbox/index.js';
import { errorCodes, postGraphQL, startHarness, type Harness } from './helpers/harness.js';

// Custom OAuth 2.0 connections (Auth0 strategy `oauth2`) renew per RFC 6749 §6 at the
// token URL of the Auth0 connection (`options.tokenURL`) with its client credentials, keep a
// rotated refresh token (a rotated-out one presented again revokes the whole family at a strict
// server), and authenticate the client with HTTP Basic when OAUTH2_CONNECTIONS says `clientAuth: basic`.
//
// Only Date is faked in the rotation test: the gateway and the fakes run in this process and both
// see the clock jump past the one-hour access-token lifetime, while timers, sockets and Redis stay real.

const ADA_OAUTH2 = SEED_ACCOUNTS.ada.oauth2;
const QUERY = '{ me { identities { ... on OAuth2Identity { connection accessToken token { state hasRefreshToken } } } } }';
const AN_HOUR_AND_A_BIT = 3_600_000 + 120_000;

interface OAuth2View {
  connection?: string;
  accessToken?: string | null;
  token?: { state: string; hasRefreshToken: boolean };
}
type Answer = { me: { identities: OAuth2View[] } };

/** The OAuth2 identity of an answer (the other identities come back as empty objects). */
function oauth2Of(data: Answer | null | undefined): OAuth2View | undefined {
  return data?.me.identities.find((identity) => identity.connection === 'my-custom-oauth');
}

/** Whether the OAuth2 fake's API accepts a bearer token. */
async function apiAccepts(h: Harness, token: string): Promise<boolean> {
  const response = await fetch(`${h.sandbox.oauth2.origin}/api/me`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await response.json()) as { id?: string };
  return response.ok && body.id === ADA_OAUTH2;
}

/** Ada's oauth2 token has expired at the provider and by Auth0's estimate (login three hours ago). */
function expireAdaEverywhere(h: Harness): void {
  h.sandbox.oauth2.expireAccessTokens(ADA_OAUTH2);
  const user = h.sandbox.tenant.user(SEED_USERS.ada)!;
  const then = new Date(Date.now() - 3 * 3_600_000).toISOString();
  user.last_login = then;
  user.updated_at = then;
}

describe('a custom OAuth2 connection with strict refresh-token rotation', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    h.sandbox.oauth2.options.rotate = true;
    expireAdaEverywhere(h);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() });
  });
  afterAll(async () => {
    vi.useRealTimers();
    await h?.close();
  });

  it("renews at the connection's tokenURL with one grant, handing out a token the API accepts", async () => {
    const caller = await h.token(SEED_USERS.ada, 'read:user_idp_tokens');
    const seeded = h.sandbox.users!.tokens.ada.oauth2.access_token;
    const answer = await h.query<Answer>(caller, QUERY);
    expect(answer.errors).toBeUndefined();
    const token = oauth2Of(answer.data)?.accessToken;
    expect(token).toEqual(expect.any(String));
    expect(token).not.toBe(seeded);
    expect(await apiAccepts(h, token!)).toBe(true);
    expect(h.sandbox.oauth2.count('token')).toBe(1);
    // The gateway read the connection for its tokenURL and credentials (OAUTH2_CONNECTIONS has only apiUrl).
    expect(h.sandbox.tenant.count('listConnections')).toBe(1);
  });

  it('uses the rotated refresh token at each later expiry: one grant each, the family never revoked', async () => {
    const seen = new Set<string>();
    for (let round = 2; round <= 4; round++) {
      vi.setSystemTime(Date.now() + AN_HOUR_AND_A_BIT);
      h.sandbox.oauth2.expireAccessTokens(ADA_OAUTH2);
      const caller = await h.token(SEED_USERS.ada, 'read:user_idp_tokens');
      const answer = await h.query<Answer>(caller, QUERY);
      expect(answer.errors).toBeUndefined();
      const token = oauth2Of(answer.data)!.accessToken!;
      expect(seen.has(token)).toBe(false);
      seen.add(token);
      expect(await apiAccepts(h, token)).toBe(true);
      expect(h.sandbox.oauth2.count('token')).toBe(round);
      expect(h.sandbox.oauth2.familyRevocations).toBe(0);
    }
    const caller = await h.token(SEED_USERS.ada, 'read:user_idp_tokens');
    const status = oauth2Of((await h.query<Answer>(caller, QUERY)).data)?.token;
    expect(status).toEqual({ state: 'VALID', hasRefreshToken: true });
    expect(h.sandbox.oauth2.count('token')).toBe(4);
  });
});

describe('a custom OAuth2 connection that accepts only HTTP Basic client authentication', () => {
  let h: Harness;
  let basicUrl: string;
  beforeAll(async () => {
    h = await startHarness();
    h.sandbox.oauth2.options.clientAuth = 'basic';
    expireAdaEverywhere(h);
    const apiUrl = (JSON.parse(h.sandbox.env.OAUTH2_CONNECTIONS!) as Record<string, { apiUrl: string }>)['my-custom-oauth']!.apiUrl;
    basicUrl = (await h.startGateway({ OAUTH2_CONNECTIONS: JSON.stringify({ 'my-custom-oauth': { apiUrl, clientAuth: 'basic' } }) })).url;
  });
  afterAll(async () => h?.close());

  it('is refused with credentials in the body: CONFIGURATION_ERROR, not REAUTHENTICATION_REQUIRED', async () => {
    const caller = await h.token(SEED_USERS.ada, 'read:user_idp_tokens');
    const answer = await h.query<Answer>(caller, QUERY);
    expect(errorCodes(answer)).toEqual(['CONFIGURATION_ERROR']);
    expect(answer.errors![0]!.extensions).toMatchObject({ provider: 'oauth2' });
    expect(h.sandbox.oauth2.count('token')).toBe(1);
  });

  it('renews with clientAuth "basic" from OAUTH2_CONNECTIONS', async () => {
    const caller = await h.token(SEED_USERS.ada, 'read:user_idp_tokens');
    const answer = await postGraphQL<Answer>(basicUrl, caller, QUERY);
    expect(answer.errors).toBeUndefined();
    const token = oauth2Of(answer.data)?.accessToken;
    expect(await apiAccepts(h, token!)).toBe(true);
    expect(h.sandbox.oauth2.count('token')).toBe(2);
    expect(oauth2Of(answer.data)?.token?.hasRefreshToken).toBe(true);
  });
});
