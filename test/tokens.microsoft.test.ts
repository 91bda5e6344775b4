import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorCodes, postGraphQL, startHarness, type Harness } from './helpers/harness.js';

// Microsoft (waad) renews at <MICROSOFT_LOGIN_URL>/<tenant>/oauth2/v2.0/token with
// the connection's credentials, and keeps the new refresh token it returns every time. The
// generic OAuth2 fake stands in for the Microsoft identity platform on that path.

const USER = 'waad|alice@acme.example';
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ env: { USER_CACHE_TTL_SECONDS: '0' } });
  const fake = h.sandbox.oauth2;
  fake.options.rotate = true;
  fake.options.clientAuth = 'post';
  fake.addAccount({ id: 'alice', profile: { id: 'alice', mail: 'alice@acme.example' } });
  // The gateway reads app credentials and the tenant from the seeded acme-azure connection.
  const connection = h.sandbox.tenant.connection('acme-azure')!;
  Object.assign(connection.options, { client_id: fake.clientId, client_secret: fake.clientSecret });
  const tokens = fake.issueTokens('alice', { expiresIn: -60 });
  const threeHoursAgo = new Date(Date.now() - 3 * 3600_000).toISOString();
  h.sandbox.tenant.addUser({
    user_id: USER,
    email: 'alice@acme.example',
    created_at: threeHoursAgo,
    updated_at: threeHoursAgo,
    last_login: threeHoursAgo,
    identities: [
      {
        provider: 'waad',
        connection: 'acme-azure',
        user_id: 'alice@acme.example',
        isSocial: false,
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_in: 3599,
      },
    ],
  });
});
afterAll(async () => h?.close());

describe('Microsoft (waad) tokens', () => {
  it('renews at the tenant token endpoint with the connection credentials and keeps the rotated refresh token', async () => {
    const gateway = await h.startGateway({ MICROSOFT_LOGIN_URL: h.sandbox.oauth2.origin });
    const caller = await h.token(USER, 'read:user_idp_tokens');
    const first = await postGraphQL<{ me: { identities: { accessToken: string }[] } }>(gateway.url, caller, '{ me { identities { accessToken } } }');
    expect(first.errors).toBeUndefined();
    const token = first.data!.me.identities[0]!.accessToken;
    const api = await fetch(`${h.sandbox.oauth2.origin}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(api.status).toBe(200);
    const grants = h.sandbox.oauth2.requests.filter((request) => request.route === 'tenantToken');
    expect(grants.map((request) => request.url)).toEqual(['/acme.onmicrosoft.com/oauth2/v2.0/token']);

    // Two hours later (only Date is faked) the next renewal presents the rotated refresh token:
    // the fake revokes the family on any reuse, so none happened.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 2 * 3600_000 });
    try {
      const later = await h.token(USER, 'read:user_idp_tokens');
      const again = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${later}` },
        body: JSON.stringify({ query: '{ me { identities { accessToken token { state } } } }' }),
      }).then((response) => response.json() as Promise<{ data: { me: { identities: { accessToken: string; token: { state: string } }[] } } }>);
      expect(again.data.me.identities[0]!.accessToken).not.toBe(token);
      expect(h.sandbox.oauth2.requests.filter((request) => request.route === 'tenantToken')).toHaveLength(2);
      expect(h.sandbox.oauth2.familyRevocations).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('says CONFIGURATION_ERROR, not re-authentication, when the tenant endpoint refuses the client', async () => {
    const gateway = await h.startGateway({ MICROSOFT_LOGIN_URL: h.sandbox.oauth2.origin, REDIS_KEY_PREFIX: `test:${Date.now()}:ms:` });
    h.sandbox.oauth2.injectFault('tenantToken', {
      status: 401,
      headers: { 'www-authenticate': 'Basic' },
      body: { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' },
    });
    const caller = await h.token(USER, 'read:user_idp_tokens');
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${caller}` },
      body: JSON.stringify({ query: '{ me { identities { accessToken } } }' }),
    });
    const answer = (await response.json()) as { errors?: { extensions?: Record<string, unknown> }[] };
    expect(errorCodes({ status: 200, errors: answer.errors as never })).toEqual(['CONFIGURATION_ERROR']);
    expect(answer.errors?.[0]?.extensions?.provider).toBe('waad');
  });
});
