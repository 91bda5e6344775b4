import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_USERS } from '../sandbox/index.js';
import { errorCodes, postGraphQL, rawUser, startHarness, type GraphQLAnswer, type Harness } from './helpers/harness.js';

// Chaos on the Management API: the fake tenant stops answering user reads (every GET /users/{id}
// and search hangs), and the gateway must keep its promises. Every request answers within
// REQUEST_TIMEOUT_MS however many calls queue up behind the hung ones; after a few failed calls
// Auth0's circuit breaker opens and requests fail in milliseconds without reaching the tenant; a
// user whose cache entry has just expired is answered from it, marked stale; once the tenant
// answers again, one probe closes the breaker and data flows. The steps share one breaker, so they
// run in order. The figures are printed for the record.

const REQUEST_TIMEOUT_MS = 2000;
/** Time a request may take past its deadline: the error answer itself, and the test's own HTTP. */
const SLACK_MS = 500;
const BREAKER_FAILURES = 5;
const BREAKER_OPEN_MS = 3000;
const CACHE_TTL_SECONDS = 2;
const STALE_GRACE_SECONDS = 60;
const COLD = Array.from({ length: 8 }, (_, i) => `auth0|chaos-cold-${i}`);
/** Cached before the fault, expired by the time it is asked for again. */
const CACHED = SEED_USERS.grace;

let h: Harness;
let partner: string;
let cachedAt: number;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sends a query and measures its wall time at the client. */
async function timed(token: string, query: string, headers: Record<string, string> = {}): Promise<{ answer: GraphQLAnswer; ms: number }> {
  const started = performance.now();
  const answer = await postGraphQL(h.main.url, token, query, undefined, headers);
  return { answer, ms: Math.round(performance.now() - started) };
}

/** The tenant's user reads so far (GETs and searches). */
function userReads(): number {
  return h.sandbox.tenant.count('getUser') + h.sandbox.tenant.count('searchUsers');
}

/** A metric's value for the sample whose labels include `labels`, from the gateway's /metrics. */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(h.main.url.replace(/\/graphql$/, '/metrics'))).text();
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && wanted.every((label) => candidate.includes(label)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

function hangUserReads(): void {
  h.sandbox.tenant.injectFault('getUser', { hang: true, times: 10_000 });
  h.sandbox.tenant.injectFault('searchUsers', { hang: true, times: 10_000 });
}

beforeAll(async () => {
  h = await startHarness({
    env: {
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      // The per-attempt timeout stays at its default (10 s): the request deadline is what bounds the waits.
      UPSTREAM_BREAKER_FAILURES: String(BREAKER_FAILURES),
      UPSTREAM_BREAKER_OPEN_MS: String(BREAKER_OPEN_MS),
      USER_CACHE_TTL_SECONDS: String(CACHE_TTL_SECONDS),
      USER_STALE_GRACE_SECONDS: String(STALE_GRACE_SECONDS),
      AUTH0_MAX_CONCURRENCY: '4',
      AUTH0_MAX_REQUESTS_PER_SECOND: '100',
    },
  });
  for (const id of COLD) h.sandbox.tenant.addUser(rawUser(id));
  partner = await h.token('partner-app@clients', 'read:users');
  // Warm up (Management token, JWKS) and cache one user before the tenant fails.
  const warm = await h.query(partner, `{ user(id: "${CACHED}") { id name } }`);
  expect(warm.errors).toBeUndefined();
  cachedAt = Date.now();
}, 20_000);
afterAll(async () => h?.close());

describe('the Management API hangs', () => {
  let failedCalls = 0;

  it('answers a cold user within the request deadline, not after the attempt timeout and its retries', async () => {
    hangUserReads();
    const { answer, ms } = await timed(partner, `{ user(id: "${COLD[0]}") { id } }`);
    console.log(`chaos: one cold user against a hanging tenant answered in ${ms} ms (REQUEST_TIMEOUT_MS=${REQUEST_TIMEOUT_MS}, UPSTREAM_TIMEOUT_MS=10000)`);
    expect(answer.data).toEqual({ user: null });
    expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'auth0' });
    expect(ms).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS + SLACK_MS);
    failedCalls += 1;
  });

  it('answers a burst of 8 cold users within the deadline, the other fields intact', async () => {
    const callers = await Promise.all(COLD.map((_, i) => h.token(`burst-${i}@clients`, 'read:users')));
    const results = await Promise.all(COLD.map((id, i) => timed(callers[i]!, `{ cold: user(id: "${id}") { id } fine: users(ids: []) { id } }`)));
    const times = results.map((result) => result.ms);
    console.log(`chaos: burst of 8 cold users (concurrency 4) answered in ${Math.min(...times)}–${Math.max(...times)} ms: [${times.join(', ')}]`);
    for (const { answer, ms } of results) {
      expect(answer.data).toEqual({ cold: null, fine: [] });
      expect(errorCodes(answer)).toEqual(['UPSTREAM_UNAVAILABLE']);
      expect(ms).toBeLessThanOrEqual(REQUEST_TIMEOUT_MS + SLACK_MS);
    }
    failedCalls += 4;
    expect(await metric('idpgw_request_deadline_expired_total', { upstream: 'auth0' })).toBeGreaterThan(0);
  });

  it('opens the breaker after repeated failures; later requests fail in milliseconds without reaching the tenant', async () => {
    // The hung calls so far are the breaker's failures; one more request at most if a call was not counted.
    for (let extra = 0; extra < 2 && (await metric('idpgw_upstream_breaker_state', { upstream: 'auth0' })) !== 2; extra++) {
      await timed(partner, `{ user(id: "${COLD[1]}") { id } }`);
      failedCalls += 1;
    }
    expect(await metric('idpgw_upstream_breaker_state', { upstream: 'auth0' })).toBe(2);
    expect(await metric('idpgw_upstream_breaker_transitions_total', { upstream: 'auth0', state: 'open' })).toBe(1);

    const readsBefore = userReads();
    const fast = [];
    for (const id of COLD.slice(0, 5)) fast.push(await timed(partner, `{ user(id: "${id}") { id } }`));
    const times = fast.map((result) => result.ms);
    const reached = userReads() - readsBefore;
    console.log(
      `chaos: breaker opened after ~${failedCalls} failed Management calls; 5 requests while open answered in [${times.join(', ')}] ms, ` +
        `${reached} reached the tenant; refused: ${await metric('idpgw_upstream_breaker_refused_total', { upstream: 'auth0' })}`,
    );
    for (const { answer, ms } of fast) {
      expect(answer.errors?.[0]?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'auth0' });
      expect(ms).toBeLessThan(250);
    }
    expect(reached).toBe(0);
  });

  it('serves a user whose cache entry just expired from it, marked stale', async () => {
    const age = Date.now() - cachedAt;
    expect(age).toBeGreaterThan(CACHE_TTL_SECONDS * 1000);
    const readsBefore = userReads();
    const { answer, ms } = await timed(partner, `{ user(id: "${CACHED}") { id name } }`, { 'x-upstream-stats': '1' });
    const auth0 = (answer.extensions?.upstream as Record<string, { staleRecords?: number; staleAgeSeconds?: number }>)?.auth0;
    console.log(
      `chaos: a user cached ${Math.round(age / 100) / 10} s ago (TTL ${CACHE_TTL_SECONDS} s) answered stale in ${ms} ms; ` +
        `extensions.upstream.auth0 = ${JSON.stringify(auth0)}; stale serves counted: ${await metric('idpgw_stale_records_served_total', { upstream: 'auth0' })}`,
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toMatchObject({ user: { id: CACHED } });
    expect(auth0).toMatchObject({ staleRecords: 1 });
    expect(auth0?.staleAgeSeconds).toBeGreaterThanOrEqual(CACHE_TTL_SECONDS);
    expect(ms).toBeLessThan(REQUEST_TIMEOUT_MS);
    expect(userReads() - readsBefore).toBe(0);
    expect(await metric('idpgw_stale_records_served_total', { upstream: 'auth0' })).toBeGreaterThanOrEqual(1);
  });

  it('closes the breaker through a half-open probe once the tenant answers again', async () => {
    h.sandbox.tenant.clearFaults();
    // Until the open time is over, requests still fail at once.
    await sleep(BREAKER_OPEN_MS + 100);
    const readsBefore = userReads();
    const { answer, ms } = await timed(partner, `{ user(id: "${COLD[2]}") { id } }`);
    const state = await metric('idpgw_upstream_breaker_state', { upstream: 'auth0' });
    const probes = await metric('idpgw_upstream_breaker_transitions_total', { upstream: 'auth0', state: 'half_open' });
    console.log(`chaos: after the fault cleared, the probe request answered in ${ms} ms; breaker state ${state} (0 closed), half-open transitions ${probes}`);
    expect(answer.errors).toBeUndefined();
    expect(answer.data).toEqual({ user: { id: COLD[2] } });
    expect(userReads() - readsBefore).toBe(1);
    expect(state).toBe(0);
    expect(probes).toBe(1);

    const burst = await Promise.all(COLD.map((id) => h.query<{ user: { id: string } }>(partner, `{ user(id: "${id}") { id } }`)));
    expect(burst.map((result) => result.data?.user.id)).toEqual(COLD);
  });
});
