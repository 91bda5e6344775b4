import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { errorCodes, postGraphQL, startHarness, type Harness } from './helpers/harness.js';

// 429s wait for Auth0's reset (bounded), 5xx and timeouts are retried a bounded
// number of times, and what still fails nulls only the field that needed it.

const RATE_LIMITED = { statusCode: 429, error: 'Too Many Requests', message: 'Global limit has been reached', errorCode: 'too_many_requests' };

let h: Harness;
let partner: string;

function resetHeaders(secondsFromNow: number): Record<string, string> {
  return {
    'x-ratelimit-limit': '2',
    'x-ratelimit-remaining': '0',
    'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + secondsFromNow),
  };
}

beforeAll(async () => {
  // No user cache, so every query reaches the Management API; short timeouts keep the hang test quick.
  h = await startHarness({ env: { USER_CACHE_TTL_SECONDS: '0', UPSTREAM_TIMEOUT_MS: '500' } });
  partner = await h.token('partner-app@clients', 'read:users');
});
afterAll(async () => h?.close());
beforeEach(() => h.sandbox.clearFaults());

const USER = `{ user(id: "${SEED_USERS.linus}") { id } }`;

describe('rate limits', () => {
  it('waits for x-ratelimit-reset after a 429, then succeeds', async () => {
    h.sandbox.tenant.injectFault('getUser', { status: 429, body: RATE_LIMITED, headers: resetHeaders(1) });
    const before = h.sandbox.tenant.count('getUser');
    const answer = await h.query(partner, USER);
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ user: { id: SEED_USERS.linus } });
    expect(h.sandbox.tenant.count('getUser') - before).toBe(2);
  });

  it('fails fast with PROVIDER_RATE_LIMITED when the reset is further away than the wait budget', async () => {
    // Its own instance: after this, that instance holds back Management calls for a minute.
    const blocked = await h.startGateway();
    h.sandbox.tenant.injectFault('getUser', { status: 429, body: RATE_LIMITED, headers: resetHeaders(60) });
    const started = Date.now();
    const answer = await postGraphQL(blocked.url, partner, `{ me: user(id: "${SEED_USERS.linus}") { id } }`);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(answer.data).toEqual({ me: null });
    expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'PROVIDER_RATE_LIMITED', provider: 'auth0' });
    const retryAfter = Number(answer.errors?.[0]?.extensions?.retryAfter);
    expect(retryAfter).toBeGreaterThanOrEqual(58);
    expect(retryAfter).toBeLessThanOrEqual(61);

    // Later requests of that instance fail at once, without knocking on Auth0's door again.
    const before = h.sandbox.tenant.count('getUser');
    const again = await postGraphQL(blocked.url, partner, `{ user(id: "${SEED_USERS.alan}") { id } }`);
    expect(errorCodes(again)).toEqual(['PROVIDER_RATE_LIMITED']);
    expect(h.sandbox.tenant.count('getUser')).toBe(before);
  });

  it('smooths a burst with its own limiter instead of tripping the tenant limit', async () => {
    const limited = await startHarness({
      tenant: { rateLimit: { burst: 2, perSecond: 2 } },
      env: { USER_CACHE_TTL_SECONDS: '0', AUTH0_MAX_REQUESTS_PER_SECOND: '2', AUTH0_MAX_CONCURRENCY: '2' },
    });
    try {
      const token = await limited.token('partner-app@clients', 'read:users');
      const ids = Object.values(SEED_USERS);
      // The Management token request is not rate limited by the fake; count only user reads.
      const answers = await Promise.all(ids.map((id) => limited.query(token, `{ user(id: "${id}") { id } }`)));
      for (const [index, answer] of answers.entries()) expect(answer.data).toEqual({ user: { id: ids[index] } });
      // Five reads, no 429 retried: each user was read exactly once.
      expect(limited.sandbox.tenant.count('getUser')).toBe(ids.length);
    } finally {
      await limited.close();
    }
  });
});

describe('server errors and timeouts', () => {
  it('retries a 503 and succeeds', async () => {
    h.sandbox.tenant.injectFault('getUser', { status: 503, body: { statusCode: 503, error: 'Service Unavailable', message: 'down' }, times: 2 });
    const before = h.sandbox.tenant.count('getUser');
    const answer = await h.query(partner, USER);
    expect(answer.data).toEqual({ user: { id: SEED_USERS.linus } });
    expect(h.sandbox.tenant.count('getUser') - before).toBe(3);
  });

  it('gives UPSTREAM_UNAVAILABLE after its bounded retries and keeps the other fields', async () => {
    h.sandbox.tenant.injectFault('getUser', { status: 500, body: { statusCode: 500, error: 'Internal Server Error', message: 'boom' }, times: 3 });
    const answer = await h.query(partner, `{ broken: user(id: "${SEED_USERS.linus}") { id } fine: users(ids: []) { id } }`);
    expect(answer.status).toBe(200);
    expect(answer.data).toEqual({ broken: null, fine: [] });
    expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'auth0' });
    expect(answer.errors?.[0]?.path).toEqual(['broken']);
  });

  it('times out a hanging Management API and reports it as unavailable, never as re-authentication', async () => {
    h.sandbox.tenant.injectFault('getUser', { hang: true, times: 3 });
    const answer = await h.query(partner, USER);
    expect(answer.data).toEqual({ user: null });
    expect(errorCodes(answer)).toEqual(['UPSTREAM_UNAVAILABLE']);
  });

  it('falls back to per-user reads when a search times out (503)', async () => {
    h.sandbox.tenant.injectFault('searchUsers', {
      status: 503,
      body: { statusCode: 503, error: 'Service Unavailable', message: 'The query exceeded the timeout' },
      times: 3,
    });
    const ids = [SEED_USERS.linus, SEED_USERS.alan];
    const answer = await h.query(partner, 'query ($ids: [ID!]!) { users(ids: $ids) { id } }', { ids });
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ users: ids.map((id) => ({ id })) });
  });

  it('falls back to per-user reads when the tenant refuses a search query (400), and logs it as a warning', async () => {
    h.sandbox.tenant.injectFault('searchUsers', {
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: 'Query validation error', errorCode: 'invalid_query_string' },
    });
    const gets = h.sandbox.tenant.count('getUser');
    const ids = [SEED_USERS.grace, SEED_USERS.ada];
    const answer = await h.query(partner, 'query ($ids: [ID!]!) { users(ids: $ids) { id } }', { ids });
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ users: ids.map((id) => ({ id })) });
    expect(h.sandbox.tenant.count('getUser') - gets).toBe(2);
    const warning = h.main.logs.map((line) => JSON.parse(line) as Record<string, unknown>).findLast((entry) => entry.event === 'user_search_failed');
    expect(warning).toMatchObject({ level: 40, count: 2, reason: expect.stringContaining('the Management API answered HTTP 400') as unknown });
  });
});

describe('Management API token', () => {
  it('renews the token once when the Management API rejects it', async () => {
    h.sandbox.tenant.injectFault('getUser', { status: 401, body: { statusCode: 401, error: 'Unauthorized', message: 'Invalid token' } });
    const tokensBefore = h.sandbox.tenant.count('token');
    const answer = await h.query(partner, USER);
    expect(answer.data).toEqual({ user: { id: SEED_USERS.linus } });
    expect(h.sandbox.tenant.count('token') - tokensBefore).toBe(1);
  });

  it('reports rejected client credentials as CONFIGURATION_ERROR', async () => {
    const misconfigured = await h.startGateway({ AUTH0_CLIENT_SECRET: 'not-the-secret', REDIS_KEY_PREFIX: `test:${Date.now()}:bad:` });
    const response = await fetch(misconfigured.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${partner}` },
      body: JSON.stringify({ query: USER }),
    });
    const answer = (await response.json()) as { data: unknown; errors: { extensions: Record<string, unknown> }[] };
    expect(answer.data).toEqual({ user: null });
    expect(answer.errors[0]?.extensions).toMatchObject({ code: 'CONFIGURATION_ERROR', provider: 'auth0' });
  });
});
