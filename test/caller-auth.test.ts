import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodes, startHarness, type Harness } from './helpers/harness.js';

// Every way a caller token can be wrong is HTTP 401 + UNAUTHENTICATED, and nothing
// reaches the Management API for it.
const ADA = 'google-oauth2|111199914890750704174';
const ME = '{ me { id } }';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ gatewayOptions: { jwksCooldownMs: 0 } });
});
afterAll(async () => h?.close());

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function expectRejected(token: string | undefined, reason: RegExp): Promise<void> {
  const before = h.sandbox.tenant.count('getUser') + h.sandbox.tenant.count('searchUsers');
  const answer = await h.query(token, ME);
  expect(answer.status).toBe(401);
  expect(answer.data ?? null).toBeNull();
  expect(errorCodes(answer)).toEqual(['UNAUTHENTICATED']);
  expect(answer.errors?.[0]?.message).toMatch(reason);
  expect(h.sandbox.tenant.count('getUser') + h.sandbox.tenant.count('searchUsers')).toBe(before);
}

describe('caller authentication', () => {
  it('accepts a valid user token', async () => {
    const answer = await h.query(await h.token(ADA), ME);
    expect(answer.status).toBe(200);
    expect(answer.data).toEqual({ me: { id: ADA } });
  });

  it('accepts aud as an array containing the API identifier', async () => {
    const token = await h.sandbox.tenant.issueAccessToken(
      { sub: ADA, scope: 'openid' },
      { audience: [h.sandbox.tenant.audience, `${h.sandbox.tenant.issuer}userinfo`] },
    );
    expect((await h.query(token, ME)).data).toEqual({ me: { id: ADA } });
  });

  it('rejects a request without a token', async () => {
    await expectRejected(undefined, /Authorization: Bearer/);
  });

  it('answers 401 with a WWW-Authenticate challenge', async () => {
    const response = await fetch(h.main.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: ME }) });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('rejects an expired token', async () => {
    await expectRejected(await h.sandbox.tenant.issueAccessToken({ sub: ADA }, { expiresIn: -120 }), /expired/);
  });

  it('remembers a verified token only until it expires', async () => {
    // Verified tokens are remembered (by hash) so that a signature is not checked on every request;
    // the memory must not outlive the token.
    const token = await h.sandbox.tenant.issueAccessToken({ sub: ADA, scope: 'openid' }, { expiresIn: 3 });
    expect((await h.query(token, ME)).data).toEqual({ me: { id: ADA } });
    expect((await h.query(token, ME)).data).toEqual({ me: { id: ADA } });
    // Past exp and the 5 s of clock tolerance.
    await new Promise((resolve) => setTimeout(resolve, 8_500));
    await expectRejected(token, /expired/);
  }, 20_000);

  it('rejects a token for another audience', async () => {
    await expectRejected(await h.sandbox.tenant.issueAccessToken({ sub: ADA }, { audience: 'https://other.example/api' }), /"aud"/);
  });

  it('rejects a token from another issuer, including the issuer without its trailing slash', async () => {
    await expectRejected(await h.sandbox.tenant.issueAccessToken({ sub: ADA }, { issuer: 'https://evil.example/' }), /"iss"/);
    await expectRejected(await h.sandbox.tenant.issueAccessToken({ sub: ADA }, { issuer: h.sandbox.tenant.origin }), /"iss"/);
  });

  it('rejects alg none', async () => {
    const now = Math.floor(Date.now() / 1000);
    const payload = { sub: ADA, iss: h.sandbox.tenant.issuer, aud: h.sandbox.tenant.audience, iat: now, exp: now + 600 };
    await expectRejected(`${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(payload)}.`, /malformed|RS256/);
  });

  it('rejects HS256 signed with the public key', async () => {
    const pem = await h.sandbox.tenant.publicKeyPem();
    const token = await new SignJWT({ sub: ADA })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(h.sandbox.tenant.issuer)
      .setAudience(h.sandbox.tenant.audience)
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(pem));
    await expectRejected(token, /RS256/);
  });

  it('rejects a token naming an unknown key id', async () => {
    await expectRejected(await h.sandbox.tenant.issueAccessToken({ sub: ADA }, { kid: 'no-such-key' }), /unknown key/);
  });

  it('rejects a tampered signature', async () => {
    const token = await h.token(ADA);
    const [header, payload] = token.split('.');
    const forged = `${header}.${base64url({ ...JSON.parse(Buffer.from(payload!, 'base64url').toString()), sub: 'auth0|someone-else' })}.${token.split('.')[2]}`;
    await expectRejected(forged, /signature/);
  });

  it('rejects garbage and a non-Bearer scheme', async () => {
    await expectRejected('not-a-jwt', /malformed/);
    const answer = await fetch(h.main.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      body: JSON.stringify({ query: ME }),
    });
    expect(answer.status).toBe(401);
  });

  it('rejects a token without exp (it would never expire) and one without sub (no caller)', async () => {
    await expectRejected(await h.sandbox.tenant.issueAccessToken({ sub: ADA, scope: 'openid' }, { omitExpiry: true }), /"exp" claim/);
    await expectRejected(await h.sandbox.tenant.issueAccessToken({ scope: 'openid' } as unknown as { sub: string }), /"sub" claim/);
  });

  it('accepts a token carrying neither scope nor permissions: it simply grants no scope', async () => {
    const token = await h.sandbox.tenant.issueAccessToken({ sub: ADA });
    expect((await h.query(token, ME)).data).toEqual({ me: { id: ADA } });
    const forbidden = await h.query(token, `{ user(id: "${ADA}") { id } }`);
    expect(errorCodes(forbidden)).toEqual(['FORBIDDEN']);
  });

  it('remembers a verified token until it expires: it is not checked against the keys again', async () => {
    const remembered = await h.token(ADA);
    expect((await h.query(remembered, ME)).data).toEqual({ me: { id: ADA } });
    // The tenant withdraws that token's key, and a token of the new key makes the gateway load the new set.
    await h.sandbox.tenant.rotateSigningKey({ dropOld: true });
    expect((await h.query(await h.token(ADA), ME)).data).toEqual({ me: { id: ADA } });
    // Checked again, the first token would now fail (its key is gone); remembered, it still answers.
    expect((await h.query(remembered, ME)).data).toEqual({ me: { id: ADA } });
    const unseen = await h.sandbox.tenant.issueAccessToken({ sub: ADA, scope: 'openid' }, { kid: 'withdrawn-key' });
    await expectRejected(unseen, /unknown key/);
  });

  it('does not remember a token in its last second: once its key is withdrawn, it is refused', async () => {
    // Start early in a second, so the token's last second is still ahead when it is checked again.
    while (Date.now() % 1000 > 200) await new Promise((resolve) => setTimeout(resolve, 20));
    const lastSecond = await h.sandbox.tenant.issueAccessToken({ sub: ADA, scope: 'openid' }, { expiresIn: 1 });
    expect((await h.query(lastSecond, ME)).data).toEqual({ me: { id: ADA } });
    await h.sandbox.tenant.rotateSigningKey({ dropOld: true });
    expect((await h.query(await h.token(ADA), ME)).data).toEqual({ me: { id: ADA } });
    await expectRejected(lastSecond, /unknown key|expired/);
  });

  it('fetches the JWKS again when the tenant rotates its signing key', async () => {
    const jwksBefore = h.sandbox.tenant.count('jwks');
    await h.sandbox.tenant.rotateSigningKey();
    const answer = await h.query(await h.token(ADA), ME);
    expect(answer.data).toEqual({ me: { id: ADA } });
    expect(h.sandbox.tenant.count('jwks')).toBe(jwksBefore + 1);
    // The new key is cached: another request does not fetch again.
    await h.query(await h.token(ADA), ME);
    expect(h.sandbox.tenant.count('jwks')).toBe(jwksBefore + 1);
  });
});

describe('scopes', () => {
  it('gives FORBIDDEN on me for a machine-to-machine caller, naming no scope', async () => {
    const answer = await h.query(await h.token('partner-app@clients', 'read:users'), ME);
    expect(answer.status).toBe(200);
    expect(errorCodes(answer)).toEqual(['FORBIDDEN']);
  });

  it('gives FORBIDDEN with requiredScope on user/users without read:users, and nulls only that field', async () => {
    const answer = await h.query(await h.token(ADA, 'openid'), `{ me { id } user(id: "${ADA}") { id } }`);
    expect(answer.data).toEqual({ me: { id: ADA }, user: null });
    expect(answer.errors).toHaveLength(1);
    expect(answer.errors?.[0]?.path).toEqual(['user']);
    expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', requiredScope: 'read:users' });
  });

  it('counts permissions (RBAC) as granted scopes', async () => {
    const token = await h.token('partner-app@clients', '', { permissions: ['read:users'] });
    const answer = await h.query(token, `{ user(id: "${ADA}") { id } }`);
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ user: { id: ADA } });
  });
});

describe('tenant keys unavailable', () => {
  it('answers 503 UPSTREAM_UNAVAILABLE, not 401, when the JWKS cannot be fetched', async () => {
    const fresh = await startHarness({ redis: false });
    try {
      fresh.sandbox.tenant.injectFault('jwks', { status: 503, body: 'unavailable', times: 5 });
      const answer = await fresh.query(await fresh.token(ADA), ME);
      expect(answer.status).toBe(503);
      expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'auth0' });
      expect(answer.errors?.[0]?.message).toMatch(/signing keys could not be fetched/);
      // Once the tenant answers again, the same token works.
      fresh.sandbox.tenant.clearFaults();
      await new Promise((resolve) => setTimeout(resolve, 50));
      const retried = await fresh.query(await fresh.token(ADA), ME);
      expect(retried.data).toEqual({ me: { id: ADA } });
    } finally {
      await fresh.close();
    }
  });

  // Whatever way the download fails, the caller's token is not blamed: 503, and no 401 that would
  // make a client throw a good token away.
  it.each([
    ['the connection is cut', { reset: true }],
    ['the tenant does not answer in time', { hang: true }],
    ['the answer is not a key set', { status: 200, body: { keys: 'none' } }],
    ['the answer is not JSON', { status: 200, body: '<html>maintenance</html>', headers: { 'content-type': 'text/html' } }],
  ])('answers 503 UPSTREAM_UNAVAILABLE when %s', async (_, fault) => {
    const fresh = await startHarness({ redis: false, gatewayOptions: { jwksTimeoutMs: 300 } });
    try {
      fresh.sandbox.tenant.injectFault('jwks', { times: 5, ...fault });
      const answer = await fresh.query(await fresh.token(ADA), ME);
      expect(answer.status).toBe(503);
      expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'auth0' });
    } finally {
      await fresh.close();
    }
  });
});
