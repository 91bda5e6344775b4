import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodes, postGraphQL, rawUser, startHarness, type Harness } from './helpers/harness.js';

// GitHub-App user tokens (`ghu_…`, 8 hours) renew at GitHub's token endpoint with single-use refresh
// tokens (`ghr_…`): every renewal answers a new one and the one sent is dead at once, with no grace.
// The gateway must renew once however many requests need it, keep the rotated refresh token, and
// read GitHub's refusals, which come with HTTP 200, as what they are.

let h: Harness;
const NINE_HOURS_AGO = () => new Date(Date.now() - 9 * 3600_000).toISOString();

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h?.close());

/** A GitHub-App user at the fake and in Auth0 whose 8-hour token expired an hour ago (its refresh token works). */
function addExpiredAppUser(id: number, login: string): { access_token: string; refresh_token: string } {
  h.sandbox.github.addAccount({ id: String(id), login, name: login, email: `${login}@example.com`, repositories: [] });
  const issued = h.sandbox.github.issueTokens(String(id), { expiresIn: -3600 });
  const user = rawUser(`github|${id}`, { user_id: id, access_token: issued.access_token, refresh_token: issued.refresh_token, expires_in: 28_800 });
  h.sandbox.tenant.addUser({ ...user, updated_at: NINE_HOURS_AGO(), last_login: NINE_HOURS_AGO() });
  return { access_token: issued.access_token, refresh_token: issued.refresh_token! };
}

/** POSTs the token endpoint the way GitHub documents the refresh grant. */
async function refreshAtFake(refreshToken: string, accept = 'application/json'): Promise<{ status: number; type: string | null; text: string }> {
  const { clientId, clientSecret, origin } = h.sandbox.github;
  const response = await fetch(`${origin}/login/oauth/access_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept },
    body: new URLSearchParams({ client_id: clientId, client_secret: clientSecret, grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
  });
  return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
}

const QUERY = '{ me { github { accessToken token { state hasRefreshToken expiresAt } profile { login } } } }';
type Answer = {
  me: { github: { accessToken: string; token: { state: string; hasRefreshToken: boolean; expiresAt: string | null }; profile: { login: string } } };
};

describe('GitHub-App user tokens', () => {
  it('renews an expired ghu_ token once for 12 concurrent requests, keeps the rotated ghr_ and uses it for the next renewal', async () => {
    const original = addExpiredAppUser(6660001, 'app-user');
    const caller = await h.token('github|6660001', 'read:user_idp_tokens');
    const before = h.sandbox.github.count('token');
    const answers = await Promise.all(Array.from({ length: 12 }, () => h.query<Answer>(caller, QUERY)));
    expect(answers.map((answer) => answer.errors)).toEqual(Array(12).fill(undefined));
    expect(h.sandbox.github.count('token') - before).toBe(1);
    const tokens = new Set(answers.map((answer) => answer.data!.me.github.accessToken));
    expect(tokens.size).toBe(1);
    const [renewed] = [...tokens];
    expect(renewed).toMatch(/^ghu_/);
    expect(renewed).not.toBe(original.access_token);
    expect(answers[0]!.data!.me.github.profile.login).toBe('app-user');
    // (The status in those answers may predate the renewal, which ran beside it.)
    const after = await h.query<Answer>(caller, '{ me { github { token { state hasRefreshToken expiresAt } } } }');
    const status = after.data!.me.github.token;
    expect(status).toMatchObject({ state: 'VALID', hasRefreshToken: true });
    // 8 hours from the renewal.
    expect(Date.parse(status.expiresAt!) - Date.now()).toBeGreaterThan(7.9 * 3600_000);

    // GitHub now refuses the renewed token (as when it is revoked): the next request renews again,
    // which only works with the ghr_ the first renewal returned (the original one is spent).
    h.sandbox.github.expireAccessTokens('6660001');
    const again = await h.query<Answer>(caller, '{ me { github { profile { login } } } }');
    expect(again.errors).toBeUndefined();
    expect(again.data!.me.github.profile.login).toBe('app-user');
    expect(h.sandbox.github.count('token') - before).toBe(2);
    const latest = await h.query<Answer>(caller, '{ me { github { accessToken } } }');
    expect(latest.data!.me.github.accessToken).toMatch(/^ghu_/);
    expect(latest.data!.me.github.accessToken).not.toBe(renewed);
    expect(h.sandbox.github.reusedRefreshTokens).toBe(0);
  });

  it('the fake refuses a reused ghr_ (single use) with HTTP 200 bad_refresh_token, in JSON or form-encoded', async () => {
    const { refresh_token } = addExpiredAppUser(6660002, 'single-use');
    const first = await refreshAtFake(refresh_token);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.text)).toMatchObject({
      access_token: expect.stringMatching(/^ghu_/),
      refresh_token: expect.stringMatching(/^ghr_/),
      expires_in: 28800,
    });
    const reused = await refreshAtFake(refresh_token);
    expect(reused.status).toBe(200);
    expect(JSON.parse(reused.text)).toMatchObject({ error: 'bad_refresh_token', error_description: 'The refresh token passed is incorrect or expired.' });
    const form = await refreshAtFake((JSON.parse(first.text) as { refresh_token: string }).refresh_token, '*/*');
    expect(form.type).toContain('application/x-www-form-urlencoded');
    expect(new URLSearchParams(form.text).get('access_token')).toMatch(/^ghu_/);
    expect(h.sandbox.github.reusedRefreshTokens).toBe(1);
  });

  it('bad_refresh_token (HTTP 200) is REAUTHENTICATION_REQUIRED naming the github connection; the rest of the response arrives', async () => {
    addExpiredAppUser(6660003, 'revoked-grant');
    h.sandbox.github.revokeRefreshTokens('6660003');
    const caller = await h.token('github|6660003', 'read:user_idp_tokens');
    const before = h.sandbox.github.count('token');
    const answer = await h.query<{ me: { id: string; github: { profile: unknown } } }>(caller, '{ me { id github { profile { login } } } }');
    expect(answer.data?.me).toEqual({ id: 'github|6660003', github: { profile: null } });
    expect(errorCodes(answer)).toEqual(['REAUTHENTICATION_REQUIRED']);
    expect(answer.errors![0]!.extensions).toMatchObject({ provider: 'github', connection: 'github', reason: 'bad_refresh_token' });
    expect(h.sandbox.github.count('token') - before).toBe(1);
    const status = await h.query<{ me: { github: { token: { state: string } } } }>(caller, '{ me { github { token { state } } } }');
    expect(status.data?.me.github.token.state).toBe('REAUTHENTICATION_REQUIRED');
  });

  it('incorrect_client_credentials (HTTP 200) is CONFIGURATION_ERROR, not a reason to sign in again', async () => {
    addExpiredAppUser(6660004, 'wrong-secret');
    const misconfigured = await h.startGateway({
      GITHUB_CLIENT_ID: h.sandbox.github.clientId,
      GITHUB_CLIENT_SECRET: 'not-the-secret-of-this-app',
      REDIS_KEY_PREFIX: `${h.env.REDIS_KEY_PREFIX}misconfigured:`,
    });
    const caller = await h.token('github|6660004');
    const answer = await postGraphQL<{ me: { github: { profile: unknown } } }>(misconfigured.url, caller, '{ me { github { profile { login } } } }');
    expect(errorCodes(answer)).toEqual(['CONFIGURATION_ERROR']);
    expect(answer.errors![0]!.extensions).toMatchObject({ provider: 'github' });
    expect(answer.errors![0]!.message).not.toContain('not-the-secret-of-this-app');
    // The grant was not spent: the gateway with the right credentials renews with the same ghr_.
    const fixed = await h.query<{ me: { github: { profile: { login: string } } } }>(caller, '{ me { github { profile { login } } } }');
    expect(fixed.errors).toBeUndefined();
    expect(fixed.data?.me.github.profile.login).toBe('wrong-secret');
  });
});

describe('OAuth-app tokens', () => {
  it('a gho_ token never expires: state UNKNOWN, no refresh token, nothing renewed', async () => {
    h.sandbox.github.addAccount({ id: '6660005', login: 'oauth-user', name: null, email: '', repositories: [] });
    const issued = h.sandbox.github.issueOAuthAppToken('6660005');
    h.sandbox.tenant.addUser({
      ...rawUser('github|6660005', { user_id: 6660005, ...issued }),
      updated_at: new Date(Date.now() - 400 * 86_400_000).toISOString(),
    });
    const before = h.sandbox.github.count('token');
    const answer = await h.query<Answer>(await h.token('github|6660005', 'read:user_idp_tokens'), QUERY);
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.me.github).toEqual({
      accessToken: issued.access_token,
      token: { state: 'UNKNOWN', hasRefreshToken: false, expiresAt: null },
      profile: { login: 'oauth-user' },
    });
    expect(h.sandbox.github.count('token')).toBe(before);
  });
});
