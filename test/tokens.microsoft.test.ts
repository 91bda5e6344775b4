import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { errorCodes, postGraphQL, startHarness, type Harness } from './helpers/harness.js';

// Microsoft (waad) renews at <MICROSOFT_LOGIN_URL>/<tenant>/oauth2/v2.0/token with the connection's
// credentials. The identity platform returns a new refresh token on every refresh and leaves the
// old one working, so nothing fails if a client keeps the old one: the fake records which refresh
// token each grant presented, which shows that the gateway presents the newest.

const USER = 'waad|alice@acme.example';
const ACCOUNT = '7a1c3e5f-0000-4000-8000-00000000a11c';
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ env: { USER_CACHE_TTL_SECONDS: '0' } });
  const fake = h.sandbox.microsoft;
  fake.addAccount({ id: ACCOUNT, displayName: 'Alice', mail: 'alice@acme.example', userPrincipalName: 'alice@acme.onmicrosoft.com' });
  // The seeded acme-azure connection already holds the fake's client credentials and tenant domain.
  const tokens = fake.issueTokens(ACCOUNT, { expiresIn: -60 });
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
        user_id: ACCOUNT,
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
  it('renews at the tenant token endpoint with the connection credentials and keeps the new refresh token', async () => {
    const gateway = h.main;
    const caller = await h.token(USER, 'read:user_idp_tokens');
    const first = await postGraphQL<{ me: { identities: { accessToken: string }[] } }>(gateway.url, caller, '{ me { identities { accessToken } } }');
    expect(first.errors).toBeUndefined();
    const token = first.data!.me.identities[0]!.accessToken;
    const me = await fetch(`${h.sandbox.microsoft.origin}/v1.0/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    const grants = h.sandbox.microsoft.requests.filter((request) => request.route === 'token');
    expect(grants.map((request) => request.url)).toEqual(['/acme.onmicrosoft.com/oauth2/v2.0/token']);

    // Two hours later (only Date is faked) the next renewal presents the refresh token the first returned.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 2 * 3600_000 });
    try {
      const later = await h.token(USER, 'read:user_idp_tokens');
      const again = await postGraphQL<{ me: { identities: { accessToken: string; token: { state: string } }[] } }>(
        gateway.url,
        later,
        '{ me { identities { accessToken token { state } } } }',
      );
      expect(again.data?.me.identities[0]!.accessToken).not.toBe(token);
      const refreshes = h.sandbox.microsoft.refreshes;
      expect(refreshes).toHaveLength(2);
      expect(refreshes[1]!.presented).toBe(refreshes[0]!.returned);
      expect(refreshes[1]!.presented).not.toBe(refreshes[0]!.presented);
    } finally {
      vi.useRealTimers();
    }
  });

  it('says CONFIGURATION_ERROR, not re-authentication, when the tenant endpoint refuses the client (AADSTS7000215)', async () => {
    const gateway = await h.startGateway({ REDIS_KEY_PREFIX: `test:${Date.now()}:ms:` });
    const connection = h.sandbox.tenant.connection('acme-azure')!;
    const secret = connection.options.client_secret;
    connection.options.client_secret = 'not-the-secret-registered-in-entra';
    const grants = h.sandbox.microsoft.count('token');
    try {
      const caller = await h.token(USER, 'read:user_idp_tokens');
      const answer = await postGraphQL(gateway.url, caller, '{ me { identities { accessToken } } }');
      expect(errorCodes(answer)).toEqual(['CONFIGURATION_ERROR']);
      expect(answer.errors?.[0]?.extensions?.provider).toBe('waad');
      // The endpoint was asked (401 invalid_client) and issued nothing.
      expect(h.sandbox.microsoft.count('token') - grants).toBe(1);
      expect(h.sandbox.microsoft.refreshes).toHaveLength(2);
    } finally {
      connection.options.client_secret = secret;
    }
  });
});
